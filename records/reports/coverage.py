"""Coverage by unit, rolled up 社区 → 街道 → 区 → 市: who is in post, trained, drilled, certified.

People are those in post on the report's last day, in the unit of that post (someone who
moved mid-period counts where they are now; their hours and drills go with them). Shares:
- 必修模块通过率: every module the role requires passed (an attempt marked passed) by then;
- 本期学时达标率: hours credited in the period ≥ the role's yearly hours × days / 365;
- 本期演练参与率: took part (present or left early) in at least one drill in the period
  (shown without a target), and 近12个月演练参与率 the same over the 12 months to the last
  day, which is what the one-drill-a-year rule asks;
- 持证/即将到期/已过期: the certification rules' decision on the last day.
A street's row counts each person once, however many posts they hold below it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import String, and_, case, cast, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from records.cert_rules import CertStatus, window_start
from records.curriculum import Curriculum, load_curriculum
from records.drills import drills_by_person
from records.models import Attempt, Attendance, Drill, DrillParticipation, OrgUnit, Post
from records.people import posts_held_on
from records.reports.base import (
    UNIT_COLUMNS,
    Scope,
    as_scope,
    frame,
    in_scope,
    pct,
    tree,
    units_frame,
)
from records.reports.certificates import cert_flags, rollup_people
from records.reports.period import Period
from records.reports.statuses import person_statuses
from records.roles import ROLE_LABELS, Role
from records.training import hours_by_person

TITLE = "培训覆盖率"
_DAYS_PER_YEAR = 365


def required_hours(curriculum: Curriculum, role: Role, scope: Scope) -> float:
    """Hours a person in `role` should have in the scope's days (yearly hours, pro rata)."""
    return round(curriculum.rule(role).hours_per_year * scope.days / _DAYS_PER_YEAR, 2)


def _facts(scope: Scope, curriculum: Curriculum):  # noqa: ANN202 (a SQLAlchemy CTE)
    """One row per post held on the last day: person, unit, role and four 0/1 facts."""
    held = posts_held_on(scope.end).where(in_scope(Post.unit_id, scope)).subquery("held")
    role = cast(held.c.role, String)
    # Required modules passed, counted per post: a literal (role, module) condition keeps
    # this one indexed join from post to attempt (a join to a table of pairs was 3× slower).
    # Only modules in force on the last day count: one with a later effective_from is not
    # required yet, so it neither lowers the pass rate nor counts when passed early.
    modules = {r: curriculum.required_modules(r, on=scope.end) for r in Role}
    required = [and_(role == r.value, Attempt.module.in_(ids)) for r, ids in modules.items() if ids]
    passed = (select(held.c.id.label("post_id"),
                     func.count(func.distinct(case((or_(*required), Attempt.module))))
                     .label("n_ok"))
              .join(Attempt, Attempt.person_id == held.c.person_id)
              .where(Attempt.passed.is_(True), Attempt.graded_at < scope.attempts_cutoff())
              .group_by(held.c.id).subquery("passed")) if required else None
    n_required = case({r.value: len(ids) for r, ids in modules.items()},
                      value=role, else_=0)
    hours = hours_by_person(scope.start, scope.end).subquery("hours")
    drills = drills_by_person(scope.start, scope.end).subquery("drills")
    year = (select(DrillParticipation.person_id.label("person_id"),
                   literal(1).label("drills"))
            .join(Drill, Drill.id == DrillParticipation.drill_id)
            .where(Drill.held_on.between(window_start(scope.end), scope.end),
                   DrillParticipation.status.in_([Attendance.present, Attendance.left_early]))
            .distinct().subquery("drills_year"))
    need = case({r.value: required_hours(curriculum, r, scope) for r in Role},
                value=role, else_=0.0)
    hours_ok = func.coalesce(hours.c.hours, 0.0) + 1e-9 >= need
    modules_ok = (func.coalesce(passed.c.n_ok, 0) if passed is not None else 0) >= n_required

    stmt = (select(held.c.person_id, held.c.unit_id, role.label("role"),
                   func.count().over(partition_by=held.c.person_id).label("posts"),
                   case((modules_ok, 1), else_=0).label("modules_ok"),
                   case((hours_ok, 1), else_=0).label("hours_ok"),
                   case((func.coalesce(drills.c.drills, 0) > 0, 1), else_=0).label("drill_ok"),
                   case((func.coalesce(year.c.drills, 0) > 0, 1), else_=0)
                   .label("drill_year_ok"))
            .select_from(held)
            .outerjoin(hours, hours.c.person_id == held.c.person_id)
            .outerjoin(drills, drills.c.person_id == held.c.person_id)
            .outerjoin(year, year.c.person_id == held.c.person_id))
    if passed is not None:
        stmt = stmt.outerjoin(passed, passed.c.post_id == held.c.id)
    return stmt.cte("facts")


def counts_by_unit(session: Session, scope: Scope, curriculum: Curriculum) -> pd.DataFrame:
    """Distinct people per unit (rolled up) and role, with the shares' numerators.

    role is None on the rows that count everyone, so a person in two roles counts once.
    People with one post (nearly all) are counted per unit and summed up the tree; the few
    with several posts are counted distinct per ancestor, which is exact and far cheaper
    than counting everyone distinct.
    """
    facts = _facts(scope, curriculum)
    t = tree(scope)
    flags = ("modules_ok", "hours_ok", "drill_ok", "drill_year_ok")
    single = facts.c.posts == 1
    per_unit = (select(facts.c.unit_id, facts.c.role, func.count().label("people"),
                       *(func.sum(facts.c[f]).label(f) for f in flags))
                .where(single).group_by(facts.c.unit_id, facts.c.role).subquery("per_unit"))

    def summed(role: Any) -> Any:
        stmt = (select(t.c.ancestor_id, role.label("role"),
                       func.sum(per_unit.c.people).label("people"),
                       *(func.sum(per_unit.c[f]).label(f) for f in flags))
                .join(t, t.c.unit_id == per_unit.c.unit_id))
        return stmt.group_by(t.c.ancestor_id, per_unit.c.role) if role is per_unit.c.role \
            else stmt.group_by(t.c.ancestor_id)

    def distinct(role: Any) -> Any:
        stmt = (select(t.c.ancestor_id, role.label("role"),
                       func.count(func.distinct(facts.c.person_id)).label("people"),
                       *(func.count(func.distinct(case((facts.c[f] == 1, facts.c.person_id))))
                         .label(f) for f in flags))
                .join(t, t.c.unit_id == facts.c.unit_id).where(~single))
        return stmt.group_by(t.c.ancestor_id, facts.c.role) if role is facts.c.role \
            else stmt.group_by(t.c.ancestor_id)

    none = literal(None, String)
    counts = frame(session, union_all(summed(per_unit.c.role), summed(none),
                                      distinct(facts.c.role), distinct(none)))
    if counts.empty:
        return counts
    for column in ("people", *flags):
        counts[column] = pd.to_numeric(counts[column]).fillna(0).astype("int64")
    counts["role"] = counts["role"].astype(object).where(counts["role"].notna(), None)
    return counts.groupby(["ancestor_id", "role"], dropna=False, as_index=False).sum()


def by_unit(session: Session, *, period: Period | str | None = None,
            as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
            curriculum: Curriculum | None = None, statuses: pd.DataFrame | None = None,
            scope: Scope | None = None) -> pd.DataFrame:
    """Every unit in scope, in tree order, with head counts by role and the coverage shares."""
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    curriculum = curriculum or load_curriculum()
    if statuses is None:
        statuses = person_statuses(session, scope=scope, curriculum=curriculum)
    return combine(head_counts(session, scope, curriculum), cert_counts(session, scope, statuses))


def head_counts(session: Session, scope: Scope, curriculum: Curriculum) -> pd.DataFrame:
    """The SQL half of `by_unit`: units in tree order, people by role and the numerators."""
    units = units_frame(session, scope)
    counts = counts_by_unit(session, scope, curriculum)
    out = units.copy()
    roles = counts[counts["role"].notna()]
    heads = roles.pivot_table(index="ancestor_id", columns="role", values="people",
                              aggfunc="sum", fill_value=0)
    for role in Role:
        column = heads[role.value] if role.value in heads else pd.Series(dtype="int64")
        out[ROLE_LABELS[role]] = out["unit_id"].map(column).fillna(0).astype("int64")
    totals = counts[counts["role"].isna()].set_index("ancestor_id")
    for column in ("people", "modules_ok", "hours_ok", "drill_ok", "drill_year_ok"):
        out[column] = out["unit_id"].map(totals[column]).fillna(0).astype("int64")
    return out


def cert_counts(session: Session, scope: Scope, statuses: pd.DataFrame) -> pd.DataFrame:
    """The rules' half of `by_unit`: certified, expiring and lapsed people per unit."""
    flags = cert_flags(statuses)[["person_id", "unit_id", "certified", "lapsed"]]
    flags = flags.assign(expiring=statuses["status"] == CertStatus.expiring.value)
    return rollup_people(session, scope, flags,
                         {"certified": "持证人数", "expiring": "即将到期", "lapsed": "已过期"})


def combine(heads: pd.DataFrame, certs: pd.DataFrame) -> pd.DataFrame:
    """`head_counts` and `cert_counts` as the coverage table with its shares."""
    out = heads.merge(certs.drop(columns=["在岗人数"], errors="ignore"), on="unit_id", how="left")
    for column in ("持证人数", "即将到期", "已过期"):
        out[column] = out[column].fillna(0).astype("int64") if column in out else 0

    out["在岗人数"] = out["people"]
    out["必修模块通过率%"] = pct(out["modules_ok"], out["people"])
    out["本期学时达标率%"] = pct(out["hours_ok"], out["people"])
    out["本期演练参与率%"] = pct(out["drill_ok"], out["people"])
    out["近12个月演练参与率%"] = pct(out["drill_year_ok"], out["people"])
    out["持证率%"] = pct(out["持证人数"], out["people"])
    columns = [*UNIT_COLUMNS, *ROLE_LABELS.values(), "在岗人数", "必修模块通过率%",
               "本期学时达标率%", "本期演练参与率%", "近12个月演练参与率%", "持证人数", "持证率%", "即将到期", "已过期"]
    return out[columns]
