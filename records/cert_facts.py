"""The facts the certification rules judge, gathered set-based for many people at once: the
modules each passed (first and last pass, best mark), training hours and drills in the 12
months to the day, and since when each has held a role without a break.

One path for every caller: the register (`cert_register.gather`: evaluate, issue, the
我的培训 panel) and the reports (`reports.statuses.person_statuses`) both read these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, Integer, String, any_, bindparam, case, cast, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from records.cert_rules import LOCAL_TZ, ModuleRecord, window_start
from records.drills import drills_by_person
from records.models import Attempt, DrillParticipation, TrainingAttendance
from records.training import hours_by_person


class china_day(FunctionElement[str]):  # noqa: N801 (reads like the SQL it renders)
    """The China (UTC+8) calendar day of a stored UTC moment, as 'YYYY-MM-DD' text."""

    type = String()
    inherit_cache = True
    name = "china_day"


@compiles(china_day)
def _china_day(element: china_day, compiler: Any, **kw: Any) -> str:
    (moment,) = list(element.clauses)
    return (f"to_char(({compiler.process(moment, **kw)} AT TIME ZONE 'UTC') "
            f"+ INTERVAL '8 hours', 'YYYY-MM-DD')")


@compiles(china_day, "sqlite")
def _china_day_sqlite(element: china_day, compiler: Any, **kw: Any) -> str:
    (moment,) = list(element.clauses)
    return f"date({compiler.process(moment, **kw)}, '+8 hours')"


def chunks(values: list[int], size: int = 10000) -> list[list[int]]:
    return [values[i:i + size] for i in range(0, len(values), size)]


def among(column: Any, values: list[int], dialect: str) -> Any:
    """`column` is one of `values`. On PostgreSQL one array parameter (= ANY): 10,000 bind
    parameters cost psycopg more to parse than the query takes to run."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", [int(v) for v in values],
                                        type_=postgresql.ARRAY(Integer)))
    return column.in_(values)


def attempts_cutoff(day: dt.date) -> dt.datetime:
    """Attempts graded before the end of `day` in China count."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), LOCAL_TZ).astimezone(dt.UTC)


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


@dataclass
class Activity:
    """Per person id: modules (id → ModuleRecord), hours and drills in the rules' window."""

    modules: dict[int, dict[str, ModuleRecord]] = field(default_factory=dict)
    hours: dict[int, float] = field(default_factory=dict)
    drills: dict[int, int] = field(default_factory=dict)


def activity(session: Session, person_ids: Sequence[int], day: dt.date) -> Activity:
    """Modules passed, hours and drills of `person_ids` as the rules count them on `day`."""
    out = Activity()
    percent = 100.0 * cast(Attempt.score, Float) / func.nullif(Attempt.max_score, 0)
    passed_at = case((Attempt.passed, Attempt.graded_at))
    start, cutoff = window_start(day), attempts_cutoff(day)
    # SQLite, once ANALYZE has run, answers a long IN list by scanning a year of sessions
    # and probing each id (minutes at 10,000 ids); 1,000 keeps it on the person index.
    dialect = session.get_bind().dialect.name
    size = 1000 if dialect == "sqlite" else 10000
    for chunk in chunks(sorted(set(person_ids)), size):
        for a in session.execute(
                select(Attempt.person_id, Attempt.module, china_day(func.min(passed_at)),
                       china_day(func.max(passed_at)), func.max(percent))
                .where(among(Attempt.person_id, chunk, dialect), Attempt.graded_at < cutoff)
                .group_by(Attempt.person_id, Attempt.module)):
            out.modules.setdefault(a[0], {})[a[1]] = ModuleRecord(
                _day(a[2]), _day(a[3]), float(a[4]) if a[4] is not None else None)
        # The filter goes inside the GROUP BY: PostgreSQL does not push it down itself.
        out.hours.update((p, float(h)) for p, h in session.execute(hours_by_person(start, day).where(
            among(TrainingAttendance.person_id, chunk, dialect))).all())
        out.drills.update((p, int(n)) for p, n in session.execute(drills_by_person(start, day).where(
            among(DrillParticipation.person_id, chunk, dialect))).all())
    return out


def role_since(start: dt.date, posts: Sequence[Any]) -> dt.date:
    """Start of the unbroken run of posts in this role that the post begun on `start` ends:
    an earlier post in the role ending the day before (a move between units) continues it."""
    since = start
    for p in sorted(posts, key=lambda p: p.start_date, reverse=True):
        if p.start_date < since and p.end_date is not None \
                and p.end_date >= since - dt.timedelta(days=1):
            since = p.start_date
    return since
