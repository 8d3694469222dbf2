"""Leaders against the staff of their own unit: who actually attends what the unit holds.

For every training session (and, with activity="drill"/"all", every drill) held in the
period, the people expected are those holding a post in the holding unit on that day:
主要领导, 分管领导, and staff (专职安监员, 网格员, 工作人员; volunteers are not expected).
Each expected person is then present or left early (attended), excused (请假: not counted
against the rate, shown apart), absent, or missing from the sign-in sheet altogether — the
last is what "heard a summary afterwards" looks like in the records, and counts as missed.

Rate = attended ÷ (expected − excused), pooled over people and sessions (人次). A unit's
row covers sessions held by it and by the units below it, each judged against the holding
unit's own people. Someone who moved mid-period is expected where they held a post on the
day; a leader of two units is expected at both units' sessions.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import pandas as pd
from sqlalchemy import String, and_, case, cast, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from records import idcard
from records.models import (
    Drill,
    DrillParticipation,
    OrgUnit,
    Person,
    Post,
    TrainingAttendance,
    TrainingSession,
    drill_unit,
)
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
from records.reports.period import Period
from records.roles import Role

TITLE = "领导参训对比"
MISSED_TITLE = "缺训领导名单"


class Activity(enum.StrEnum):
    training = "training"
    drill = "drill"
    all = "all"

    @property
    def label(self) -> str:
        return {"training": "培训", "drill": "演练", "all": "培训和演练"}[self.value]


# rank 1 主要领导, 2 分管领导, 3 staff; a person with two posts in one unit takes the lower rank.
GROUPS = {1: "主要领导", 2: "分管领导", 3: "工作人员"}
EXPECTED_ROLES = (Role.principal_leader, Role.deputy_leader, Role.inspector, Role.grid_worker,
                  Role.staff)
TOOK_PART = ("present", "left_early")


def _events(scope: Scope, activity: Activity) -> Any:
    """(kind, event_id, code, unit_id, held_on) held in scope in the period."""
    parts = []
    if activity in (Activity.training, Activity.all):
        parts.append(
            select(literal("T", String).label("kind"), TrainingSession.id.label("event_id"),
                   TrainingSession.code.label("code"),
                   TrainingSession.organizer_id.label("unit_id"), TrainingSession.held_on)
            .where(TrainingSession.held_on.between(scope.start, scope.end),
                   in_scope(TrainingSession.organizer_id, scope)))
    if activity in (Activity.drill, Activity.all):
        parts.append(
            select(literal("D", String).label("kind"), Drill.id.label("event_id"),
                   Drill.code.label("code"), drill_unit.c.unit_id.label("unit_id"),
                   Drill.held_on)
            .join(drill_unit, drill_unit.c.drill_id == Drill.id)
            .where(Drill.held_on.between(scope.start, scope.end),
                   in_scope(drill_unit.c.unit_id, scope)))
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("ev")


def _presence(scope: Scope, activity: Activity) -> Any:
    """One row per event and expected person: unit_id, person_id, rank, code, status."""
    ev = _events(scope, activity)
    rank = case((Post.role == Role.principal_leader, 1), (Post.role == Role.deputy_leader, 2),
                else_=3)
    expected = (
        select(ev.c.kind, ev.c.event_id, ev.c.code, ev.c.unit_id, Post.person_id,
               func.min(rank).label("rank"))
        .join(Post, and_(Post.unit_id == ev.c.unit_id, Post.start_date <= ev.c.held_on,
                         or_(Post.end_date.is_(None), Post.end_date >= ev.c.held_on)))
        .where(Post.role.in_(EXPECTED_ROLES))
        .group_by(ev.c.kind, ev.c.event_id, ev.c.code, ev.c.unit_id, Post.person_id)
        .subquery("expected"))
    # Only the sign-in tables the activity needs (a join to the other costs a hash of it).
    columns = [expected.c.unit_id, expected.c.person_id, expected.c.rank, expected.c.code]
    training = and_(expected.c.kind == "T", TrainingAttendance.session_id == expected.c.event_id,
                    TrainingAttendance.person_id == expected.c.person_id)
    drill = and_(expected.c.kind == "D", DrillParticipation.drill_id == expected.c.event_id,
                 DrillParticipation.person_id == expected.c.person_id)
    if activity is Activity.training:
        return (select(*columns, cast(TrainingAttendance.status, String).label("status"))
                .outerjoin(TrainingAttendance, training).subquery("presence"))
    if activity is Activity.drill:
        return (select(*columns, cast(DrillParticipation.status, String).label("status"))
                .outerjoin(DrillParticipation, drill).subquery("presence"))
    status = func.coalesce(cast(TrainingAttendance.status, String),
                           cast(DrillParticipation.status, String))
    return (select(*columns, status.label("status"))
            .outerjoin(TrainingAttendance, training).outerjoin(DrillParticipation, drill)
            .subquery("presence"))


def _counts(p: Any) -> list[Any]:
    took = p.c.status.in_(TOOK_PART)
    return [
        func.count().label("expected"),
        func.sum(case((took, 1), else_=0)).label("attended"),
        func.sum(case((p.c.status == "excused", 1), else_=0)).label("excused"),
        func.sum(case((p.c.status == "absent", 1), else_=0)).label("absent"),
        func.sum(case((p.c.status.is_(None), 1), else_=0)).label("missing"),
    ]


def _activity(value: Activity | str) -> Activity:
    if isinstance(value, Activity):
        return value
    for a in Activity:
        if value in (a.value, a.label):
            return a
    raise ValueError(f"活动类型「{value}」应为 training（培训）、drill（演练）或 all（培训和演练）")


def by_unit(session: Session, *, period: Period | str | None = None,
            as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
            activity: Activity | str = Activity.training,
            scope: Scope | None = None) -> pd.DataFrame:
    """Per unit (rolled up): attendance rate of 主要领导, 分管领导 and staff, and the gaps.

    Gaps are leaders' rate minus staff's, in percentage points (negative: leaders attend
    less). Level by level from the top, and within a level worst first: the largest leader
    gap, then the lowest leader rate; units with nothing to compare last.
    """
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    activity = _activity(activity)
    p = _presence(scope, activity)
    # Leaders one row each (to count the distinct ones who missed); staff one row per unit.
    leader = case((p.c.rank <= 2, p.c.person_id)).label("person_id")
    per_person = (select(p.c.unit_id, leader, p.c.rank, *_counts(p))
                  .group_by(p.c.unit_id, p.c.rank, leader).subquery("per_person"))
    t = tree(scope)
    missed = (per_person.c.rank <= 2) & ((per_person.c.absent + per_person.c.missing) > 0)
    rolled = frame(session, (
        select(t.c.ancestor_id, per_person.c.rank,
               *(func.sum(per_person.c[c]).label(c)
                 for c in ("expected", "attended", "excused", "absent", "missing")),
               func.count(func.distinct(case((missed, per_person.c.person_id))))
               .label("missed_leaders"))
        .join(t, t.c.unit_id == per_person.c.unit_id)
        .group_by(t.c.ancestor_id, per_person.c.rank)))
    ev = _events(scope, activity)
    events = frame(session, (
        select(t.c.ancestor_id, func.count(func.distinct(ev.c.kind + ev.c.code)).label("events"))
        .join(t, t.c.unit_id == ev.c.unit_id).group_by(t.c.ancestor_id)))

    out = units_frame(session, scope)
    out["场次"] = out["unit_id"].map(events.set_index("ancestor_id")["events"]) \
        .fillna(0).astype("int64")
    for column in ("expected", "attended", "excused", "absent", "missing", "missed_leaders"):
        rolled[column] = pd.to_numeric(rolled[column]).fillna(0).astype("int64")

    def group(ranks: tuple[int, ...]) -> pd.DataFrame:
        sub = rolled[rolled["rank"].isin(ranks)].groupby("ancestor_id")[
            ["expected", "attended", "excused", "absent", "missing", "missed_leaders"]].sum()
        return sub.reindex(out["unit_id"]).fillna(0).astype("int64").reset_index(drop=True)

    principal, deputy, leaders, staff = group((1,)), group((2,)), group((1, 2)), group((3,))

    def rate(g: pd.DataFrame) -> pd.Series:
        return pct(g["attended"], g["expected"] - g["excused"])

    out["主要领导参训率%"] = rate(principal)
    out["分管领导参训率%"] = rate(deputy)
    out["领导参训率%"] = rate(leaders)
    out["工作人员参训率%"] = rate(staff)
    out["领导差距(百分点)"] = (out["领导参训率%"] - out["工作人员参训率%"]).round(1)
    out["主要领导差距(百分点)"] = (out["主要领导参训率%"] - out["工作人员参训率%"]).round(1)
    out["分管领导差距(百分点)"] = (out["分管领导参训率%"] - out["工作人员参训率%"]).round(1)
    out["领导应到人次"] = leaders["expected"]
    out["领导实到人次"] = leaders["attended"]
    out["领导请假人次"] = leaders["excused"]
    out["领导缺席人次"] = leaders["absent"]
    out["领导无签到记录人次"] = leaders["missing"]
    out["工作人员应到人次"] = staff["expected"]
    out["工作人员实到人次"] = staff["attended"]
    out["缺训领导人数"] = leaders["missed_leaders"]
    # Level by level (city, districts, streets, communities), worst first within each.
    out = out.sort_values(["level", "领导差距(百分点)", "领导参训率%", "单位代码"],
                          na_position="last", kind="stable")
    columns = [*UNIT_COLUMNS, "场次", "主要领导参训率%", "分管领导参训率%", "领导参训率%",
               "工作人员参训率%", "领导差距(百分点)", "主要领导差距(百分点)", "分管领导差距(百分点)",
               "领导应到人次", "领导实到人次", "领导请假人次", "领导缺席人次", "领导无签到记录人次",
               "工作人员应到人次", "工作人员实到人次", "缺训领导人数"]
    return out[columns].reset_index(drop=True)


def missed(session: Session, *, period: Period | str | None = None,
           as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
           activity: Activity | str = Activity.training,
           scope: Scope | None = None) -> pd.DataFrame:
    """Named leaders who missed (absent, not on the sheet, or excused) sessions their unit held.

    One row per leader and unit; most sessions missed first. ID numbers masked.
    """
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    p = _presence(scope, _activity(activity))
    note = case((p.c.status == "absent", p.c.code + "（缺席）"),
                (p.c.status == "excused", p.c.code + "（请假）"),
                (p.c.status.is_(None), p.c.code + "（无签到记录）"))
    stmt = (
        select(OrgUnit.code.label("unit_code"), OrgUnit.path, Person.name, Person.id_number,
               p.c.rank, *_counts(p),
               func.aggregate_strings(note, "、").label("which"))
        .join(OrgUnit, OrgUnit.id == p.c.unit_id)
        .join(Person, Person.id == p.c.person_id)
        .where(p.c.rank <= 2)
        .group_by(OrgUnit.code, OrgUnit.path, Person.id, Person.name, Person.id_number, p.c.rank)
    )
    rows = frame(session, stmt)
    columns = ["单位代码", "单位", "姓名", "身份证号", "职务", "应参加场次", "参加", "请假", "缺席",
               "无签到记录", "缺训场次", "参训率%", "未参加（编号）"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    for column in ("expected", "attended", "excused", "absent", "missing"):
        rows[column] = pd.to_numeric(rows[column]).fillna(0).astype("int64")
    rows = rows[rows["expected"] > rows["attended"]].copy()
    rows["missed"] = rows["absent"] + rows["missing"]
    rows["rate"] = pct(rows["attended"], rows["expected"] - rows["excused"]).to_numpy()
    rows["which"] = rows["which"].fillna("").map(lambda s: "、".join(sorted(s.split("、"))))
    rows = rows.sort_values(["missed", "rate", "unit_code", "name"],
                            ascending=[False, True, True, True], na_position="last")
    out = pd.DataFrame({
        "单位代码": rows["unit_code"], "单位": rows["path"], "姓名": rows["name"],
        "身份证号": rows["id_number"].map(idcard.mask), "职务": rows["rank"].map(GROUPS),
        "应参加场次": rows["expected"], "参加": rows["attended"], "请假": rows["excused"],
        "缺席": rows["absent"], "无签到记录": rows["missing"], "缺训场次": rows["missed"],
        "参训率%": rows["rate"], "未参加（编号）": rows["which"],
    })
    return out.reset_index(drop=True)
