"""The demo city's year of post changes: people who moved between units, and leavers."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from demo.rows import LEADERS, SOURCE, Holder, day, months, weighted
from records.models import Person, Post, UnitLevel
from records.reports.period import add_months
from records.roles import Role


def moves(session: Session, rng: random.Random, units: list[Any],
           holders: dict[int, list[Holder]], end: dt.date, count: int) -> int:
    """Posts that ended during the year, without touching anyone's current post.

    People whose current post began during the year held another post before it (moved in),
    and each month about 0.8% of the head count left for good: people no longer on the
    roster, whose posts ended that month. Re-importing the roster changes none of this.
    Returns the number of posts that ended; `holders` gets them (sign-in sheets follow).
    """
    from demo.city import _person  # the city's own name and ID-number generator
    from records.people import allocate_trainee_id

    communities = [u.id for u in units if u.level == UnitLevel.community]
    streets = [u.id for u in units if u.level == UnitLevel.street]
    if not communities:
        return 0
    first = add_months(end.replace(day=1), -(count - 1))
    moved_before = set(session.scalars(select(Post.person_id).where(Post.end_date.is_not(None))))
    posts: list[dict[str, Any]] = []
    for unit_id in sorted(holders):
        for h in list(holders[unit_id]):
            if h.end is not None or not first + dt.timedelta(days=30) <= h.start <= end \
                    or h.person_id in moved_before or h.role in LEADERS or rng.random() > 0.6:
                continue
            pool = streets if h.role is Role.inspector else communities
            target = rng.choice(pool)
            if target == unit_id:
                continue
            ended = h.start - dt.timedelta(days=1)
            started = ended - dt.timedelta(days=rng.randrange(200, 1500))
            posts.append({"person_id": h.person_id, "unit_id": target, "role": h.role,
                          "start_date": started, "end_date": ended, "source": SOURCE})

    head_count = sum(1 for hs in holders.values() for h in hs if h.end is None)
    ids = set(session.scalars(select(Person.id_number)))
    taken = set(session.scalars(select(Person.trainee_id)))
    leavers: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for start, last in months(end, count):
        for _ in range(max(1, round(head_count * 0.008))):
            role = weighted(rng, ((Role.staff, 50), (Role.grid_worker, 40), (Role.inspector, 10)))
            unit_id = rng.choice(streets if role is Role.inspector and streets else communities)
            left = day(rng, start, last)
            p = _person(rng, ids, role, (), left)
            person = {"id_number": p.id_number, "name": p.name, "phone": p.phone,
                      "trainee_id": allocate_trainee_id(p.name, taken)}
            # A quarter stayed only days or weeks: some were never trained there.
            tenure = rng.randrange(5, 30) if rng.random() < 0.25 else rng.randrange(120, 2000)
            post = {"unit_id": unit_id, "role": role, "end_date": left, "source": SOURCE,
                    "start_date": left - dt.timedelta(days=tenure)}
            leavers.append((person, post))
    connection = session.connection()
    if leavers:
        connection.execute(insert(Person.__table__), [person for person, _ in leavers])
        numbers = [person["id_number"] for person, _ in leavers]
        person_ids: dict[str, int] = {}
        for i in range(0, len(numbers), 5000):
            person_ids.update(session.execute(select(Person.id_number, Person.id).where(
                Person.id_number.in_(numbers[i:i + 5000]))).all())
        posts += [{**post, "person_id": person_ids[person["id_number"]]}
                  for person, post in leavers]
    if posts:
        connection.execute(insert(Post.__table__), posts)
    for post in posts:
        holders[post["unit_id"]].append(Holder(-1, post["person_id"], post["role"],
                                                post["start_date"], post["end_date"]))
    return len(posts)
