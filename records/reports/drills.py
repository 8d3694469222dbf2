"""Drills: units without a drill, drills by type and form, participation against plan, overdue
improvement actions.

A unit "had a drill" when it organised one or took part as a listed unit (`drill_unit`,
which always includes the organiser). Participation counts what the records say: people
present or left early plus residents counted, against the plan's figure, for drills
organised in the unit's subtree that had a plan.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from records.models import (
    ActionStatus,
    Attendance,
    Drill,
    DrillAction,
    DrillForm,
    DrillParticipation,
    DrillScope,
    DrillType,
    OrgUnit,
    UnitLevel,
    drill_unit,
)
from records.reports.base import (
    UNIT_COLUMNS,
    Scope,
    as_scope,
    days_between,
    frame,
    in_scope,
    pct,
    tree,
    units_frame,
)
from records.reports.period import Period, add_months

TITLE = "应急演练"
DEFAULT_MONTHS = 12
OPEN_ACTIONS = (ActionStatus.open, ActionStatus.in_progress)


def _recent_start(scope: Scope, months: int) -> dt.date:
    """First day of the `months` months ending on the scope's last day."""
    return add_months(scope.end, -months) + dt.timedelta(days=1)


def by_unit(session: Session, *, period: Period | str | None = None,
            as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
            months: int = DEFAULT_MONTHS, scope: Scope | None = None) -> pd.DataFrame:
    """Per unit (rolled up): drills in the period and in the last `months` months, the last
    drill, communities below without one, participation against plan, overdue actions."""
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    recent = _recent_start(scope, months)
    first = min(recent, scope.start)
    t = tree(scope)
    # Each unit's own drills (organised or listed), then summed up the tree as distinct drills.
    touched = (select(drill_unit.c.unit_id, Drill.id.label("drill_id"), Drill.held_on)
               .join(Drill, Drill.id == drill_unit.c.drill_id)
               .where(Drill.held_on.between(first, scope.end),
                      in_scope(drill_unit.c.unit_id, scope))
               .subquery("touched"))
    last = (select(drill_unit.c.unit_id, func.max(Drill.held_on).label("last"))
            .join(Drill, Drill.id == drill_unit.c.drill_id)
            .where(Drill.held_on <= scope.end, in_scope(drill_unit.c.unit_id, scope))
            .group_by(drill_unit.c.unit_id).subquery("last"))
    counts = frame(session, (
        select(t.c.ancestor_id,
               func.count(func.distinct(case((touched.c.held_on >= scope.start,
                                              touched.c.drill_id)))).label("period"),
               func.count(func.distinct(case((touched.c.held_on >= recent,
                                              touched.c.drill_id)))).label("recent"))
        .join(t, t.c.unit_id == touched.c.unit_id).group_by(t.c.ancestor_id)))
    own_last = frame(session, select(last.c.unit_id, last.c.last))
    planned, overdue = _planned_and_overdue(session, scope, t)

    out = units_frame(session, scope)

    def column(df: pd.DataFrame, name: str) -> pd.Series:
        if df.empty:
            return pd.Series(0, index=out.index, dtype="int64")
        values = out["unit_id"].map(df.set_index(df.columns[0])[name])
        return pd.to_numeric(values).fillna(0).astype("int64")

    out["本期演练次数"] = column(counts, "period")
    out[f"近{months}个月演练次数"] = column(counts, "recent")
    latest = own_last.set_index("unit_id")["last"] if not own_last.empty \
        else pd.Series(dtype=object)
    out["本单位最近演练日期"] = out["unit_id"].map(latest).map(
        lambda d: d.isoformat() if isinstance(d, dt.date) else "")
    own = _own_counts(session, scope, recent)
    own_period = out["unit_id"].map(own["period"]).fillna(0)
    own_recent = out["unit_id"].map(own["recent"]).fillna(0)
    # Streets and communities are expected to drill; the flags are left blank above them.
    drilling = out["level"] >= int(UnitLevel.street)
    out["本期无演练"] = ((own_period == 0) & drilling).map({True: "是", False: ""})
    out[f"近{months}个月无演练"] = ((own_recent == 0) & drilling).map({True: "是", False: ""})
    communities = out[out["level"] == int(UnitLevel.community)]
    silent = communities.loc[own_recent[communities.index] == 0, "unit_id"]
    links = frame(session, select(t.c.unit_id, t.c.ancestor_id))
    below = links[links["unit_id"].isin(silent)].groupby("ancestor_id")["unit_id"].nunique()
    out[f"下属社区近{months}个月无演练数"] = out["unit_id"].map(below).fillna(0).astype("int64")
    out["计划参演人数"] = column(planned, "planned")
    out["实际参演人数"] = column(planned, "actual")
    out["参演完成率%"] = pct(out["实际参演人数"], out["计划参演人数"])
    out["逾期整改项"] = column(overdue, "overdue")
    columns = [*UNIT_COLUMNS, "本期演练次数", f"近{months}个月演练次数", "本单位最近演练日期",
               "本期无演练", f"近{months}个月无演练", f"下属社区近{months}个月无演练数",
               "计划参演人数", "实际参演人数", "参演完成率%", "逾期整改项"]
    return out[columns]


def _planned_and_overdue(session: Session, scope: Scope, t: Any) -> tuple[pd.DataFrame,
                                                                          pd.DataFrame]:
    """Per ancestor unit: participants planned and present in the period's drills it
    organised (residents included), and their improvement actions open past due."""
    people = (select(DrillParticipation.drill_id, func.count().label("n"))
              .where(DrillParticipation.status.in_([Attendance.present, Attendance.left_early]))
              .group_by(DrillParticipation.drill_id).subquery("people"))
    planned = frame(session, (
        select(t.c.ancestor_id,
               func.sum(Drill.planned_participants).label("planned"),
               func.sum(func.coalesce(people.c.n, 0) + Drill.residents).label("actual"))
        .join(t, t.c.unit_id == Drill.organizer_id)
        .outerjoin(people, people.c.drill_id == Drill.id)
        .where(Drill.held_on.between(scope.start, scope.end),
               Drill.planned_participants.is_not(None))
        .group_by(t.c.ancestor_id)))
    overdue = frame(session, (
        select(t.c.ancestor_id, func.count(DrillAction.id).label("overdue"))
        .join(Drill, Drill.id == DrillAction.drill_id)
        .join(t, t.c.unit_id == Drill.organizer_id)
        .where(DrillAction.status.in_(OPEN_ACTIONS), DrillAction.due_on < scope.end,
               Drill.held_on <= scope.end)
        .group_by(t.c.ancestor_id)))
    return planned, overdue


def _own_counts(session: Session, scope: Scope, recent: dt.date) -> pd.DataFrame:
    """Drills each unit itself organised or took part in: in the period, in the recent window."""
    stmt = (select(drill_unit.c.unit_id,
                   func.count(case((Drill.held_on >= scope.start, 1))).label("period"),
                   func.count(case((Drill.held_on >= recent, 1))).label("recent"))
            .join(Drill, Drill.id == drill_unit.c.drill_id)
            .where(Drill.held_on.between(min(recent, scope.start), scope.end),
                   in_scope(drill_unit.c.unit_id, scope))
            .group_by(drill_unit.c.unit_id))
    df = frame(session, stmt)
    return df.set_index("unit_id") if not df.empty else pd.DataFrame(
        columns=["period", "recent"], dtype="int64")


def by_type(session: Session, *, period: Period | str | None = None,
            as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
            scope: Scope | None = None) -> pd.DataFrame:
    """Drills organised in scope in the period, by type: tabletop/live, single/combined,
    people taking part and residents."""
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    people = (select(DrillParticipation.drill_id, func.count().label("n"))
              .where(DrillParticipation.status.in_([Attendance.present, Attendance.left_early]))
              .group_by(DrillParticipation.drill_id).subquery("people"))
    stmt = (select(Drill.drill_type,
                   func.count(case((Drill.form == DrillForm.tabletop, 1))).label("tabletop"),
                   func.count(case((Drill.form == DrillForm.live, 1))).label("live"),
                   func.count(case((Drill.scope == DrillScope.combined, 1))).label("combined"),
                   func.count().label("total"),
                   func.sum(func.coalesce(people.c.n, 0)).label("people"),
                   func.sum(Drill.residents).label("residents"))
            .outerjoin(people, people.c.drill_id == Drill.id)
            .where(Drill.held_on.between(scope.start, scope.end),
                   in_scope(Drill.organizer_id, scope))
            .group_by(Drill.drill_type))
    rows = {r.drill_type: r for r in session.execute(stmt)}
    data = []
    for kind in DrillType:
        r = rows.get(kind)
        if r is None:
            continue
        data.append((kind.label, r.tabletop, r.live, r.combined, r.total, int(r.people or 0),
                     int(r.residents or 0)))
    columns = ["演练类型", "桌面演练", "实战演练", "其中综合演练", "合计", "在册人员参演人次",
               "居民参演人次"]
    out = pd.DataFrame(data, columns=columns)
    if not out.empty:
        total = ["合计", *(int(out[c].sum()) for c in columns[1:])]
        out.loc[len(out)] = total
    return out


def overdue_actions(session: Session, *, period: Period | str | None = None,
                    as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
                    scope: Scope | None = None) -> pd.DataFrame:
    """Improvement actions still open after their due date, longest overdue first."""
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    late = days_between(scope.end, DrillAction.due_on)
    stmt = (select(OrgUnit.code, OrgUnit.path, Drill.code.label("drill_code"), Drill.title,
                   Drill.held_on, DrillAction.description, DrillAction.owner, DrillAction.due_on,
                   DrillAction.status, late.label("late"))
            .join(Drill, Drill.id == DrillAction.drill_id)
            .join(OrgUnit, OrgUnit.id == Drill.organizer_id)
            .where(and_(DrillAction.status.in_(OPEN_ACTIONS), DrillAction.due_on < scope.end,
                        Drill.held_on <= scope.end),
                   in_scope(Drill.organizer_id, scope))
            .order_by(late.desc(), OrgUnit.code, DrillAction.id))
    rows = session.execute(stmt).all()
    return pd.DataFrame(
        [(r.code, r.path, r.drill_code, r.title, r.held_on.isoformat(), r.description, r.owner,
          r.due_on.isoformat(), r.status.label, int(r.late)) for r in rows],
        columns=["单位代码", "组织单位", "演练编号", "演练名称", "演练日期", "整改措施", "责任人",
                 "整改期限", "状态", "逾期天数"])
