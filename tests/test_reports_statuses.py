"""The reports' statuses are the certificate register's decisions (both databases).

`records.reports.statuses` asks the rules only where the verdict depends on more than the
certificate rows; here every person's status is compared with
`records.cert_register.evaluate_people`, which asks the rules about everyone.
"""

from __future__ import annotations

import datetime as dt

import pytest

from demo import activity as demo_activity
from demo import city as demo_city
from records import db
from records.cert_register import evaluate_people
from records.curriculum import load_curriculum
from records.reports.statuses import person_statuses
from records.roles import Role
from tests.test_reports import city

NEVER_CERTIFIED = {"eligible", "onboarding", "overdue", "missing"}


def compare(session, day: dt.date) -> int:
    curriculum = load_curriculum()
    ours = person_statuses(session, as_of=day, period=f"{day:%Y-%m}", curriculum=curriculum,
                           new_roles=tuple(Role))
    by_key = {(r.person_id, r.role): r for r in ours.itertuples()}
    register = evaluate_people(session, curriculum, as_of=day)
    assert len(register) == len(ours)
    for e in register:
        mine = by_key[(e.held.person_id, e.held.role.value)]
        d = e.decision
        where = f"{e.held.name} {e.held.role.label} on {day}"
        if mine.status == "none":
            assert d.status.value in NEVER_CERTIFIED and not e.facts.certificates, where
            continue
        assert mine.status == d.status.value, where
        assert mine.unit_id == e.held.unit_id and mine.role_since == e.facts.role_since, where
        if d.current is not None:
            assert mine.days_left == (d.current.valid_until - day).days, where
        if d.status.value not in ("issued", "expiring"):
            assert mine.modules_missing == ",".join(d.modules_missing), where
            assert mine.deadline == d.deadline, where
    return len(register)


def test_statuses_match_the_register_on_the_hand_built_city(session):
    city(session)
    for day in (dt.date(2026, 11, 30), dt.date(2026, 12, 15), dt.date(2027, 3, 1)):
        assert compare(session, day) == 14  # 钱 is deputy of two units: judged once


def test_statuses_match_the_register_on_a_demo_city(db_url):
    with db.open_session(db_url) as session:
        demo_city.load(session, demo_city.generate(1500, seed=11), seed=11)
        demo_activity.generate(session, seed=11, secret=b"k" * 32)
    with db.open_session(db_url) as session:
        for day in (dt.date(2026, 11, 30), dt.date(2026, 5, 31)):
            assert compare(session, day) > 1400
        statuses = {r.status for r in person_statuses(
            session, as_of=dt.date(2026, 11, 30), new_roles=tuple(Role)).itertuples()}
    # The demo city exercises every branch the shortcut takes.
    assert {"issued", "expiring", "lapsed", "eligible", "none"} <= statuses


@pytest.mark.parametrize("roles", [(Role.inspector,), ()])
def test_only_new_people_of_the_roles_asked_are_evaluated(session, roles):
    city(session)
    df = person_statuses(session, as_of=dt.date(2026, 11, 30), new_roles=roles, names=True)
    new = df[df["name"].isin(["新安监F", "新安监G"])]
    if roles:
        assert set(new["status"]) == {"onboarding", "overdue"}
    else:
        assert set(new["status"]) == {"none"}
