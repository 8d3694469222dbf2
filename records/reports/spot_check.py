"""A reproducible random sample of units for cross-verification visits (交叉抽查).

Like the 四川 rule (20% of streets, 10% of communities): in each district `street_rate` of
its streets, and in each street `community_rate` of its communities, at least one where
there are any. The draw for one parent uses `random.Random(f"{seed}/{parent code}")` over
its children sorted by code, so the same seed and the same tree give the same sample on
any machine and Python version, and adding units elsewhere leaves it unchanged. Use a seed
nobody could guess beforehand (the default is random) and publish it with the sample.

Each sampled unit comes with what the records claim for the period (people in post,
sessions held, sign-ins, drills, leaders' attendance), which the visit checks on site.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from records.models import (
    Attendance,
    OrgUnit,
    TrainingAttendance,
    TrainingSession,
    UnitLevel,
    drill_unit,
)
from records.models import Drill as DrillModel
from records.people import posts_held_on
from records.reports.base import Scope, as_scope, frame, tree, units_frame
from records.reports.period import Period

TITLE = "交叉抽查样本"
STREET_RATE = 0.20
COMMUNITY_RATE = 0.10
COLUMNS = ["序号", "抽查层级", "单位代码", "单位", "抽样比例", "在岗人数", "本期培训场次",
           "本期培训签到人次", "本期演练次数"]


def new_seed() -> int:
    """A fresh six-digit seed, short enough to read out or print."""
    return 100000 + secrets.randbelow(900000)


def draw(codes_by_parent: dict[str, list[str]], rate: float, seed: int) -> list[str]:
    """Sample ⌈rate × n⌉ (at least 1) codes from each parent's children, reproducibly."""
    chosen: list[str] = []
    for parent in sorted(codes_by_parent):
        codes = sorted(codes_by_parent[parent])
        if not codes or rate <= 0:
            continue
        k = min(len(codes), max(1, math.ceil(rate * len(codes) - 1e-9)))
        chosen += random.Random(f"{seed}/{parent}").sample(codes, k)
    return sorted(chosen)


def sample(session: Session, *, seed: int | None = None, period: Period | str | None = None,
           as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
           street_rate: float = STREET_RATE, community_rate: float = COMMUNITY_RATE,
           scope: Scope | None = None) -> pd.DataFrame:
    """The sample with the records' figures for each unit; df.attrs['seed'] holds the seed."""
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    seed = new_seed() if seed is None else seed
    units = units_frame(session, scope)
    root = scope.unit.id if scope.unit is not None else None
    by_id = units.set_index("unit_id")
    picks: list[tuple[str, float]] = []
    for level, rate in ((UnitLevel.street, street_rate), (UnitLevel.community, community_rate)):
        children = units[(units["level"] == int(level)) & (units["unit_id"] != root)]
        groups: dict[str, list[str]] = {}
        for code, parent in zip(children["单位代码"], children["parent_id"], strict=True):
            key = by_id.loc[parent, "单位代码"] if parent in by_id.index else ""
            groups.setdefault(str(key), []).append(code)
        picks += [(code, rate) for code in draw(groups, rate, seed)]
    out = pd.DataFrame(columns=COLUMNS)
    out.attrs["seed"] = seed
    if not picks:
        return out
    chosen = units.set_index("单位代码").loc[[c for c, _ in picks]].reset_index()
    chosen["抽样比例"] = [f"{rate:.0%}" for _, rate in picks]
    figures = _figures(session, scope, list(chosen["unit_id"]))
    for column in ("在岗人数", "本期培训场次", "本期培训签到人次", "本期演练次数"):
        chosen[column] = chosen["unit_id"].map(figures[column]).fillna(0).astype("int64") \
            if not figures.empty else 0
    chosen = chosen.sort_values(["level", "单位代码"]).reset_index(drop=True)
    chosen["序号"] = range(1, len(chosen) + 1)
    chosen["抽查层级"] = chosen["层级"]
    out = chosen[COLUMNS].copy()
    out.attrs["seed"] = seed
    return out


def _figures(session: Session, scope: Scope, unit_ids: list[int]) -> pd.DataFrame:
    """What the records say about each sampled unit (its whole subtree) in the period."""
    t = tree(scope)
    picked = select(t.c.unit_id, t.c.ancestor_id).where(t.c.ancestor_id.in_(unit_ids)) \
        .subquery("picked")
    held = posts_held_on(scope.end).subquery("held")
    people = frame(session, (
        select(picked.c.ancestor_id, func.count(func.distinct(held.c.person_id)).label("n"))
        .join(held, held.c.unit_id == picked.c.unit_id).group_by(picked.c.ancestor_id)))
    took = TrainingAttendance.status.in_([Attendance.present, Attendance.left_early])
    sessions = frame(session, (
        select(picked.c.ancestor_id,
               func.count(func.distinct(TrainingSession.id)).label("sessions"),
               func.count(case((took, TrainingAttendance.id))).label("signed"))
        .join(TrainingSession, TrainingSession.organizer_id == picked.c.unit_id)
        .outerjoin(TrainingAttendance, TrainingAttendance.session_id == TrainingSession.id)
        .where(TrainingSession.held_on.between(scope.start, scope.end))
        .group_by(picked.c.ancestor_id)))
    drills = frame(session, (
        select(picked.c.ancestor_id, func.count(func.distinct(DrillModel.id)).label("drills"))
        .join(drill_unit, drill_unit.c.unit_id == picked.c.unit_id)
        .join(DrillModel, DrillModel.id == drill_unit.c.drill_id)
        .where(DrillModel.held_on.between(scope.start, scope.end))
        .group_by(picked.c.ancestor_id)))
    out = pd.DataFrame(index=pd.Index(unit_ids, name="unit_id"))
    for df, column, name in ((people, "n", "在岗人数"), (sessions, "sessions", "本期培训场次"),
                             (sessions, "signed", "本期培训签到人次"),
                             (drills, "drills", "本期演练次数")):
        out[name] = out.index.map(df.set_index("ancestor_id")[column]) if not df.empty else 0
    return out
