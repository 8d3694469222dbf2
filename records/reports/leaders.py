"""Leaders against the staff of their own unit: who actually attends what the unit holds.

For every training session (and, with activity="drill"/"all", every drill) held in the
period, the people expected are those holding a post in the holding unit on that day:
主要领导, 分管领导, and staff (专职安监员, 网格员, 工作人员; volunteers are not expected).
Each expected person is then present or left early (attended), excused (请假: not counted
against the rate, shown apart), absent, or missing from the sign-in sheet altogether — the
last is what "heard a summary afterwards" looks like in the records, and counts as missed.

Rate = attended ÷ (expected − excused), pooled over people and sessions (人次).

Two measures per unit (`NOTE` says the same to the reader):
- 本级: the unit's own leaders and own staff at the unit's own sessions. It is the headline
  (rates, gaps, order, summary, named list) for streets and communities: a street's two
  leaders cannot hide behind busy communities.
- 含下级: the same pooled over the sessions of the unit and every unit below it, each judged
  against the holding unit's own people. Separate columns for every unit; the headline for
  districts and the city, whose rows are about their whole area.

A session organised by a higher unit (a district training for street leaders) counts only
for the organiser's own people: the records do not say whom the organiser invited, so
nobody else is expected there. A street leader who attends gets the hours (coverage,
certification) but is neither credited nor blamed in this comparison. Someone who moved
mid-period is expected where they held a post on the day; a leader of two units is expected
at both units' sessions.

A rate resting on fewer than `min_sample` 人次 (after 请假) is marked 样本少; units whose
leaders' or staff's headline rate is 样本少 are ranked after the others of their level.
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
    UnitLevel,
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
MISSED_NOTE = ("本级：各单位举办的活动中缺席、请假或签到表上没有记录的本单位主要领导和分管领导"
               "（缺训场次 = 缺席 + 无签到记录，请假另列）。上级单位举办的活动不计入。")


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
GROUPS_OF = {"主要领导": (1,), "分管领导": (2,), "领导": (1, 2), "工作人员": (3,)}
SUMS = ("expected", "attended", "excused", "absent", "missing")
DEFAULT_MIN_SAMPLE = 10
OWN, POOLED = "本级", "含下级"
POOLED_COLUMNS = ("场次", "领导参训率%", "领导应到人次", "工作人员参训率%", "工作人员应到人次",
                  "领导差距(百分点)", "缺训领导人数")
# The headline first (what the order and the summary use), then the two kinds of leader,
# the counts behind them, and the pooled figures.
COLUMNS = [*UNIT_COLUMNS, "口径", "场次", "领导参训率%", "领导应到人次", "工作人员参训率%",
           "工作人员应到人次", "领导差距(百分点)", "样本少", "主要领导参训率%", "主要领导应到人次",
           "分管领导参训率%", "分管领导应到人次", "主要领导差距(百分点)", "分管领导差距(百分点)",
           "领导实到人次", "领导请假人次", "领导缺席人次", "领导无签到记录人次", "工作人员实到人次",
           "缺训领导人数", *(f"{POOLED}{c}" for c in POOLED_COLUMNS)]


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


def note(min_sample: int = DEFAULT_MIN_SAMPLE) -> str:
    """What the units table's columns mean, for the report's notes."""
    return (f"{OWN}：本单位的主要领导、分管领导与本单位工作人员在本单位举办的活动中的参训情况，"
            f"是街道/乡镇和社区/村的标题数字，也是同级排序、摘要和缺训领导名单的依据；"
            f"{POOLED}：本单位和所有下级单位举办的活动合计（每场只算举办单位自己的人员），"
            f"是区/县和市的标题数字，每个单位另列「{POOLED}」各列；「口径」列写明标题数字用哪一种。"
            "参训率 = 参加 ÷（应到 − 请假）；差距 = 领导参训率 − 工作人员参训率（百分点，"
            "负数表示领导低于工作人员）；签到表上没有记录算缺训。"
            f"参训率所依据的人次（应到 − 请假）少于 {min_sample} 的标「样本少」，"
            "这样的单位排在同级其他单位之后。上级单位举办的培训只计举办单位自己的人员："
            "下级领导参加的计入其学时，但不计入本表。")


def small_sample(df: pd.DataFrame) -> pd.Series:
    """Rows of a units table whose headline comparison (领导 against 工作人员) is 样本少."""
    return df["样本少"].fillna("").map(lambda s: bool({"领导", "工作人员"} & set(s.split("、")))) \
        .astype(bool)


def _per_person(session: Session, scope: Scope, activity: Activity) -> pd.DataFrame:
    """Counts per holding unit and rank, one row per leader (staff: one row per unit)."""
    p = _presence(scope, activity)
    leader = case((p.c.rank <= 2, p.c.person_id)).label("person_id")
    rows = frame(session, select(p.c.unit_id, leader, p.c.rank, *_counts(p))
                 .group_by(p.c.unit_id, p.c.rank, leader))
    for column in ("unit_id", "rank", *SUMS):
        rows[column] = pd.to_numeric(rows[column]).fillna(0).astype("int64")
    return rows


def _event_counts(session: Session, scope: Scope, activity: Activity,
                  unit_ids: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Events held per unit (本级) and in its subtree (含下级), aligned with `unit_ids`."""
    ev = _events(scope, activity)
    t = tree(scope)
    distinct = func.count(func.distinct(ev.c.kind + ev.c.code)).label("events")
    own = frame(session, select(ev.c.unit_id.label("key"), distinct).group_by(ev.c.unit_id))
    pooled = frame(session, select(t.c.ancestor_id.label("key"), distinct)
                   .join(t, t.c.unit_id == ev.c.unit_id).group_by(t.c.ancestor_id))

    def align(df: pd.DataFrame) -> pd.Series:
        counts = pd.to_numeric(df.set_index("key")["events"]) if len(df) else pd.Series(
            dtype="int64")
        return unit_ids.map(counts).fillna(0).astype("int64").reset_index(drop=True)

    return align(own), align(pooled)


def _measure(rows: pd.DataFrame, unit_ids: pd.Series, events: pd.Series,
             min_sample: int) -> pd.DataFrame:
    """The rates, gaps and counts per unit from per-person rows keyed by `key`."""
    def group(ranks: tuple[int, ...]) -> pd.DataFrame:
        sub = rows[rows["rank"].isin(ranks)].groupby("key")[list(SUMS)].sum()
        return sub.reindex(unit_ids).fillna(0).astype("int64").reset_index(drop=True)

    groups = {name: group(ranks) for name, ranks in GROUPS_OF.items()}
    basis = {name: g["expected"] - g["excused"] for name, g in groups.items()}
    out = pd.DataFrame({"场次": events})
    for name, g in groups.items():
        out[f"{name}参训率%"] = pct(g["attended"], basis[name])
        out[f"{name}应到人次"] = g["expected"]
    for name in ("领导", "主要领导", "分管领导"):
        out[f"{name}差距(百分点)"] = (out[f"{name}参训率%"] - out["工作人员参训率%"]).round(1)
    leaders, staff = groups["领导"], groups["工作人员"]
    out["领导实到人次"] = leaders["attended"]
    out["领导请假人次"] = leaders["excused"]
    out["领导缺席人次"] = leaders["absent"]
    out["领导无签到记录人次"] = leaders["missing"]
    out["工作人员实到人次"] = staff["attended"]
    missed = rows[(rows["rank"] <= 2) & ((rows["absent"] + rows["missing"]) > 0)] \
        .groupby("key")["person_id"].nunique()
    out["缺训领导人数"] = unit_ids.map(missed).fillna(0).astype("int64").reset_index(drop=True)
    # A rate on 1..min_sample-1 人次 is 样本少 (none at all is no rate, not a small one).
    small = {name: ((b > 0) & (b < min_sample)).to_numpy() for name, b in basis.items()}
    out["样本少"] = ["、".join(n for n in GROUPS_OF if small[n][i]) for i in range(len(out))]
    out["small"] = small["领导"] | small["工作人员"]  # the headline comparison is small
    return out


def by_unit(session: Session, *, period: Period | str | None = None,
            as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
            activity: Activity | str = Activity.training,
            min_sample: int = DEFAULT_MIN_SAMPLE, scope: Scope | None = None) -> pd.DataFrame:
    """Per unit: attendance rate of 主要领导, 分管领导 and staff, the gaps, and the 人次 each
    rate rests on; 本级 as the headline for streets and communities, 含下级 for districts and
    the city, and 含下级 columns for every unit (module docstring).

    Gaps are leaders' rate minus staff's, in percentage points (negative: leaders attend
    less). Level by level from the top, and within a level worst first: the largest leader
    gap, then the lowest leader rate; 样本少 after those, units with nothing to compare last.
    """
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    activity = _activity(activity)
    out = units_frame(session, scope)
    unit_ids = out["unit_id"]
    per_person = _per_person(session, scope, activity)
    t = tree(scope)
    links = frame(session, select(t.c.unit_id, t.c.ancestor_id))
    links = links.astype("int64") if len(links) else pd.DataFrame(
        {"unit_id": pd.Series(dtype="int64"), "ancestor_id": pd.Series(dtype="int64")})
    own_events, pooled_events = _event_counts(session, scope, activity, unit_ids)
    own = _measure(per_person.assign(key=per_person["unit_id"]), unit_ids, own_events,
                   min_sample)
    pooled = _measure(per_person.merge(links, on="unit_id").rename(columns={"ancestor_id": "key"}),
                      unit_ids, pooled_events, min_sample)
    is_own = (out["level"] >= int(UnitLevel.street)).to_numpy()
    head = own.copy()
    head.loc[~is_own] = pooled.loc[~is_own]
    out = pd.concat([out.reset_index(drop=True), head], axis=1)
    out["口径"] = [OWN if o else POOLED for o in is_own]
    for column in POOLED_COLUMNS:
        out[f"{POOLED}{column}"] = pooled[column]
    # Level by level (city, districts, streets, communities), worst first within each.
    out["nothing"] = out["领导差距(百分点)"].isna()
    out = out.sort_values(["level", "nothing", "small", "领导差距(百分点)", "领导参训率%", "单位代码"],
                          na_position="last", kind="stable")
    return out[COLUMNS].reset_index(drop=True)


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


def _n(value: float) -> str:
    return f"{value:,.1f}".removesuffix(".0")


def summary(lead: pd.DataFrame, named: pd.DataFrame, *, noun: str, level: UnitLevel,
            top_code: str | None) -> list[str]:
    """The monthly summary's sentences on leaders: 本级 at `level`, in the table's order
    (样本少 aside), then the scope's top unit (`top_code`) on its headline measure (口径)."""
    rows = lead[(lead["层级"] == level.label) & lead["领导差距(百分点)"].notna()]
    unit_word = "街道/乡镇" if level is UnitLevel.street else "社区/村"
    lines: list[str] = []
    small = small_sample(rows)
    firm = rows[~small]
    aside = f"；另有 {int(small.sum()):,} 个样本少，未计入" if small.any() else ""
    behind = firm[firm["领导差距(百分点)"] < 0]
    if rows.empty:
        lines.append(f"{noun}没有可比较的签到记录（没有举办培训，或缺少领导/工作人员的记录）。")
    elif firm.empty:
        lines.append(f"{noun}有签到记录的 {len(rows):,} 个{unit_word}样本都太少"
                     f"（见“样本少”列），不作比较。")
    elif behind.empty:
        lines.append(f"{noun}样本足够的 {len(firm):,} 个{unit_word}中，本级领导参训率都不低于"
                     f"本单位工作人员{aside}。")
    else:
        worst = behind.iloc[0]  # the table's order: worst first
        lines.append(
            f"{noun} {len(behind):,} 个{unit_word}（共 {len(firm):,} 个样本足够）本级领导参训率低于"
            f"本单位工作人员，平均低 {_n(-behind['领导差距(百分点)'].mean())} 个百分点；"
            f"差距最大的是 {worst['单位']}（领导 {_n(worst['领导参训率%'])}%，"
            f"应到 {int(worst['领导应到人次']):,} 人次；工作人员 {_n(worst['工作人员参训率%'])}%，"
            f"应到 {int(worst['工作人员应到人次']):,} 人次）{aside}。")
    match = lead[lead["单位代码"] == top_code]
    top = match.iloc[0] if not match.empty else None
    if top is not None and pd.notna(top["领导参训率%"]) and pd.notna(top["工作人员参训率%"]):
        diff = top["领导参训率%"] - top["工作人员参训率%"]
        relation = (f"低 {_n(-diff)} 个百分点" if diff < 0 else
                    f"高 {_n(diff)} 个百分点" if diff > 0 else "持平")
        lines.append(
            f"{top['单位']}（{top['口径']}）领导参训率 {_n(top['领导参训率%'])}%，比工作人员"
            f"（{_n(top['工作人员参训率%'])}%）{relation}；"
            f"{int(top['缺训领导人数']):,} 名领导有缺训（缺席 {int(top['领导缺席人次']):,} 人次，"
            f"签到表上无记录 {int(top['领导无签到记录人次']):,} 人次，"
            f"另请假 {int(top['领导请假人次']):,} 人次），名单见“缺训领导名单”（{len(named):,} 行）。")
    return lines
