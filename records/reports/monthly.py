"""The monthly bundle: every report for one scope, and a short written summary on top.

`build` runs the certification rules once and hands the result to the three reports that
need it; the writers (scripts/writers) turn the bundle into xlsx, HTML and PDF.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.orm import Session

from records.curriculum import Curriculum, load_curriculum
from records.models import OrgUnit, UnitLevel
from records.reports import (
    certificates,
    coverage,
    drills,
    leaders,
    onboarding,
    spot_check,
    turnover,
)
from records.reports.base import Scope, as_scope
from records.reports.period import Period
from records.reports.statuses import person_statuses
from records.roles import Role

TITLE = "基层应急培训演练月度报告"


@dataclass
class Sheet:
    """One table of the bundle: `key` is report/part, `name` the sheet name (≤ 31 chars)."""

    key: str
    name: str
    title: str
    df: pd.DataFrame
    note: str = ""


@dataclass
class Bundle:
    scope: Scope
    sheets: list[Sheet]
    summary: list[str]
    seed: int
    generated: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))

    def sheet(self, key: str) -> Sheet:
        return next(s for s in self.sheets if s.key == key)

    @property
    def title(self) -> str:
        return f"{TITLE}：{self.scope.title}"


def build(session: Session, *, period: Period | str | None = None,
          as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
          curriculum: Curriculum | None = None, seed: int | None = None,
          activity: leaders.Activity | str = leaders.Activity.training,
          drill_months: int = drills.DEFAULT_MONTHS,
          turnover_months: int = turnover.DEFAULT_MONTHS,
          scope: Scope | None = None) -> Bundle:
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    curriculum = curriculum or load_curriculum()
    statuses = person_statuses(session, scope=scope, curriculum=curriculum)
    common = {"scope": scope}
    act = leaders._activity(activity)
    sample = spot_check.sample(session, seed=seed, **common)
    seed = int(sample.attrs["seed"])
    sheets = [
        Sheet("coverage/units", "覆盖率", f"{coverage.TITLE}（按单位逐级汇总）",
              coverage.by_unit(session, curriculum=curriculum, statuses=statuses, **common),
              "本期学时达标：本期学时不少于 年度要求 × 本期天数 ÷ 365；人员为截止日在岗者；本期演练参与率不设目标，近12个月演练参与率按每年至少 1 次。"),
        Sheet("leaders/units", "领导参训对比", f"{leaders.TITLE}（{act.label}，最差在前）",
              leaders.by_unit(session, activity=act, **common),
              "参训率 = 参加 ÷（应到 - 请假）；差距 = 领导参训率 - 工作人员参训率（百分点，负数表示领导低于工作人员）；签到表上没有记录算缺训。"),
        Sheet("leaders/named", "缺训领导名单", leaders.MISSED_TITLE,
              leaders.missed(session, activity=act, **common),
              "本单位举办的培训中缺席、请假或签到表上没有记录的主要领导和分管领导。"),
        Sheet("certificates/units", "证书到期", certificates.TITLE,
              certificates.by_unit(session, curriculum=curriculum, statuses=statuses, **common),
              "到期人数为累计（60 天内含 30 天内），已续证的不计。"),
        Sheet("certificates/people", "到期与过期人员", "90 天内到期和已过期的持证人员",
              certificates.people(session, curriculum=curriculum, statuses=statuses, **common)),
        Sheet("drills/units", "演练覆盖", f"{drills.TITLE}（按单位逐级汇总）",
              drills.by_unit(session, months=drill_months, **common),
              "本单位组织或列为参演单位即算有演练。"),
        Sheet("drills/types", "演练类型", "本期演练：类型与形式",
              drills.by_type(session, **common)),
        Sheet("drills/actions", "逾期整改", "逾期未完成的演练整改措施",
              drills.overdue_actions(session, **common)),
        Sheet("onboarding/people", "新任安监员", "新任专职安监员岗前培训进度",
              onboarding.people(session, curriculum=curriculum, statuses=statuses, **common)),
        Sheet("turnover/units", "培训后离岗", f"{turnover.TITLE}（按单位逐级汇总）",
              turnover.by_unit(session, months=turnover_months, **common),
              f"本期结束的岗位中，任职期间参加过培训且在培训后 {turnover_months} 个月"
              f"（{turnover_months * 30} 天）内离岗的。"),
        Sheet("turnover/people", "离岗明细", "培训后离岗人员",
              turnover.people(session, months=turnover_months, **common)),
        Sheet("spot-check/sample", "交叉抽查", f"{spot_check.TITLE}（随机种子 {seed}）", sample,
              f"复现：safetrain report spot-check --seed {seed} --period {scope.period.code}"
              + (f" --unit {scope.unit.code}" if scope.unit is not None else "")
              + f" --as-of {scope.end}"),
    ]
    bundle = Bundle(scope, sheets, [], seed)
    bundle.summary = summarise(bundle, drill_months=drill_months,
                               turnover_months=turnover_months)
    return bundle


# --------------------------------------------------------------------------- summary


def _root(df: pd.DataFrame) -> pd.Series | None:
    return df.iloc[0] if not df.empty else None


def _comparison_level(df: pd.DataFrame, scope: Scope) -> UnitLevel:
    """Streets, unless the scope is one street or community: then communities."""
    if scope.unit is not None and scope.unit.level >= UnitLevel.street:
        return UnitLevel.community
    return UnitLevel.street


def _num(value: float) -> str:
    return f"{value:,.1f}".removesuffix(".0")


def summarise(bundle: Bundle, *, drill_months: int = drills.DEFAULT_MONTHS,
              turnover_months: int = turnover.DEFAULT_MONTHS) -> list[str]:
    """A few sentences a leader reads first, every figure from the tables below."""
    scope = bundle.scope
    noun = scope.period.noun
    lines: list[str] = []
    cov = bundle.sheet("coverage/units").df
    root = _root(cov)
    if root is None or root["在岗人数"] == 0:
        lines.append(f"{scope.title}：范围内没有在岗人员记录。")
    else:
        def share(column: str) -> str:
            value = root[column]
            return "—" if pd.isna(value) else f"{_num(value)}%"

        lines.append(
            f"{root['单位']}在岗 {root['在岗人数']:,} 人：必修模块通过率 {share('必修模块通过率%')}，"
            f"{noun}学时达标率 {share('本期学时达标率%')}，{noun}参加演练 {share('本期演练参与率%')}"
            f"（近12个月 {share('近12个月演练参与率%')}），"
            f"持证率 {share('持证率%')}。")

    lead = bundle.sheet("leaders/units").df
    level = _comparison_level(lead, scope)
    rows = lead[(lead["层级"] == level.label) & lead["主要领导差距(百分点)"].notna()]
    unit_word = "街道/乡镇" if level is UnitLevel.street else "社区/村"
    if rows.empty:
        lines.append(f"{noun}没有可比较的培训签到记录（没有举办培训，或缺少主要领导/工作人员的记录）。")
    else:
        behind = rows[rows["主要领导差距(百分点)"] < 0]
        if behind.empty:
            lines.append(f"{noun}有培训记录的 {len(rows)} 个{unit_word}中，"
                         f"主要领导参训率都不低于本单位工作人员。")
        else:
            worst = behind.sort_values("主要领导差距(百分点)").iloc[0]
            lines.append(
                f"{noun} {len(behind):,} 个{unit_word}（共 {len(rows):,} 个有培训记录）主要领导参训率低于"
                f"本单位工作人员，平均低 {_num(-behind['主要领导差距(百分点)'].mean())} 个百分点；"
                f"差距最大的是 {worst['单位']}（主要领导 {_num(worst['主要领导参训率%'])}%，"
                f"工作人员 {_num(worst['工作人员参训率%'])}%）。")
    top = None
    if root is not None:
        match = lead[lead["单位代码"] == root["单位代码"]]
        top = match.iloc[0] if not match.empty else None
    if top is not None and pd.notna(top["领导参训率%"]) and pd.notna(top["工作人员参训率%"]):
        named = bundle.sheet("leaders/named").df
        absent = int(top["领导缺席人次"])
        missing = int(top["领导无签到记录人次"])
        diff = top["领导参训率%"] - top["工作人员参训率%"]
        relation = (f"低 {_num(-diff)} 个百分点" if diff < 0 else
                    f"高 {_num(diff)} 个百分点" if diff > 0 else "持平")
        lines.append(
            f"{top['单位']}领导参训率 {_num(top['领导参训率%'])}%，比工作人员"
            f"（{_num(top['工作人员参训率%'])}%）{relation}；"
            f"{int(top['缺训领导人数']):,} 名领导有缺训（缺席 {absent:,} 人次，签到表上无记录 {missing:,} 人次，"
            f"另请假 {int(top['领导请假人次']):,} 人次），名单见“缺训领导名单”（{len(named):,} 行）。")

    cert = bundle.sheet("certificates/units").df
    croot = _root(cert)
    if croot is not None:
        share = "" if pd.isna(croot["持证率%"]) else f"（{_num(croot['持证率%'])}%）"
        lines.append(f"证书：持证 {croot['持证人数']:,} 人{share}；30 天内到期 "
                     f"{croot['30天内到期']:,} 人，90 天内到期 {croot['90天内到期']:,} 人，"
                     f"已过期 {croot['已过期']:,} 人，已撤销 {croot['已撤销']:,} 人。")

    dr = bundle.sheet("drills/units").df
    if not dr.empty:
        communities = dr[dr["层级"] == UnitLevel.community.label]
        silent = int((communities[f"近{drill_months}个月无演练"] == "是").sum())
        droot = _root(dr)
        actions = len(bundle.sheet("drills/actions").df)
        lines.append(f"演练：{noun}共 {droot['本期演练次数']:,} 次；近 {drill_months} 个月没有演练的社区/村 "
                     f"{silent:,} 个（共 {len(communities):,} 个）；逾期未完成的整改措施 {actions:,} 项。")

    onb = bundle.sheet("onboarding/people").df
    if not onb.empty:
        late = int((onb["逾期天数"] > 0).sum())
        lines.append(f"近一年新任{Role.inspector.label} {len(onb)} 人，其中 {late} 人岗前培训逾期未完成。")

    turn = bundle.sheet("turnover/units").df
    troot = _root(turn)
    label = f"培训后{turnover_months}个月内离岗"
    if troot is not None and troot["本期离岗人数"] > 0:
        lines.append(f"{noun}离岗 {troot['本期离岗人数']:,} 人，其中 {troot[label]:,} 人在培训后 "
                     f"{turnover_months} 个月内离岗，带走培训 {_num(troot['流失学时'])} 学时。")

    sample = bundle.sheet("spot-check/sample").df
    if not sample.empty:
        streets = int((sample["抽查层级"] == UnitLevel.street.label).sum())
        communities = int((sample["抽查层级"] == UnitLevel.community.label).sum())
        lines.append(f"交叉抽查：随机抽取 {streets} 个街道/乡镇、{communities} 个社区/村"
                     f"（随机种子 {bundle.seed}，任何人可用同一种子复现）。")
    return lines
