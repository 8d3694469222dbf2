"""The monthly bundle: every report for one scope, and a short written summary on top.

The tables come from independent jobs (`JOBS`): the certification rules (in two halves,
by person), the coverage head counts, leaders, and drills with turnover and the spot
check; then the reports that read the rules' decisions. `build` runs them one after
another, or on the executor it is given (`writers.bundle.worker_pool`: each worker with its
own connection; on PostgreSQL all of them read the parent's snapshot), handing each sheet
to `on_sheet` as soon as it is ready so a writer can stream it out while the rest is
computed. `writers.bundle.write_monthly` turns the bundle into xlsx, HTML and PDF.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from records import db
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
from records.reports.base import Scope, as_scope, resolve_scope
from records.reports.period import Period
from records.reports.sheet import Sheet
from records.reports.statuses import person_statuses
from records.roles import Role

TITLE = "基层应急培训演练月度报告"


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
        return title_of(self.scope)


def title_of(scope: Scope) -> str:
    return f"{TITLE}：{scope.title}"


@dataclass(frozen=True)
class Options:
    """What the jobs need besides the scope and the curriculum (picklable, for workers)."""

    seed: int
    activity: leaders.Activity = leaders.Activity.training
    min_sample: int = leaders.DEFAULT_MIN_SAMPLE
    drill_months: int = drills.DEFAULT_MONTHS
    turnover_months: int = turnover.DEFAULT_MONTHS


# The sheets in workbook order: (key, sheet name). Titles and notes: `_captions`.
SHEETS: tuple[tuple[str, str], ...] = (
    ("coverage/units", "覆盖率"), ("leaders/units", "领导参训对比"),
    ("leaders/named", "缺训领导名单"), ("certificates/units", "证书到期"),
    ("certificates/people", "到期与过期人员"), ("drills/units", "演练覆盖"),
    ("drills/types", "演练类型"), ("drills/actions", "逾期整改"),
    ("onboarding/people", "新任安监员"), ("turnover/units", "培训后离岗"),
    ("turnover/people", "离岗明细"), ("spot-check/sample", "交叉抽查"),
)


def _captions(scope: Scope, o: Options) -> dict[str, tuple[str, str]]:
    """key → (title, note) for every sheet."""
    act = o.activity
    again = (f"复现：safetrain report spot-check --seed {o.seed} --period {scope.period.code}"
             + (f" --unit {scope.unit.code}" if scope.unit is not None else "")
             + f" --as-of {scope.end}")
    return {
        "coverage/units": (
            f"{coverage.TITLE}（按单位逐级汇总）",
            "本期学时达标：本期学时不少于 年度要求 × 本期天数 ÷ 365；人员为截止日在岗者；"
            "本期演练参与率不设目标，近12个月演练参与率按每年至少 1 次。"),
        "leaders/units": (
            f"{leaders.TITLE}（{act.label}，最差在前）", leaders.note(o.min_sample)),
        "leaders/named": (leaders.MISSED_TITLE, leaders.MISSED_NOTE),
        "certificates/units": (certificates.TITLE, "到期人数为累计（60 天内含 30 天内），已续证的不计。"),
        "certificates/people": ("90 天内到期和已过期的持证人员", ""),
        "drills/units": (f"{drills.TITLE}（按单位逐级汇总）", "本单位组织或列为参演单位即算有演练。"),
        "drills/types": ("本期演练：类型与形式", ""),
        "drills/actions": ("逾期未完成的演练整改措施", ""),
        "onboarding/people": ("新任专职安监员岗前培训进度", ""),
        "turnover/units": (
            f"{turnover.TITLE}（按单位逐级汇总）",
            f"本期结束的岗位中，任职期间参加过培训且在培训后 {o.turnover_months} 个月"
            f"（{o.turnover_months * 30} 天）内离岗的。"),
        "turnover/people": ("培训后离岗人员", ""),
        "spot-check/sample": (f"{spot_check.TITLE}（随机种子 {o.seed}）", again),
    }


Tables = dict[str, pd.DataFrame]
Job = Callable[[Session, Scope, Curriculum, Options], Tables]
RULE_PARTS = 2  # the certification rules, the longest job, split by person between workers


def _rules_job(part: int) -> Job:
    def job(session: Session, scope: Scope, curriculum: Curriculum, o: Options) -> Tables:
        return {f"statuses/{part}": person_statuses(session, scope=scope, curriculum=curriculum,
                                                    part=(part, RULE_PARTS))}

    return job


def _certificates_job(session: Session, scope: Scope, curriculum: Curriculum, o: Options,
                      statuses: pd.DataFrame) -> Tables:
    """The three reports that read the rules' decisions (after the rules jobs)."""
    common = {"scope": scope, "curriculum": curriculum, "statuses": statuses}
    return {"coverage/certs": coverage.cert_counts(session, scope, statuses),
            "certificates/units": certificates.by_unit(session, **common),
            "certificates/people": certificates.people(session, **common),
            "onboarding/people": onboarding.people(session, **common)}


def _coverage_job(session: Session, scope: Scope, curriculum: Curriculum, o: Options) -> Tables:
    return {"coverage/heads": coverage.head_counts(session, scope, curriculum)}


def _leaders_job(session: Session, scope: Scope, curriculum: Curriculum, o: Options) -> Tables:
    return {"leaders/units": leaders.by_unit(session, activity=o.activity,
                                             min_sample=o.min_sample, scope=scope),
            "leaders/named": leaders.missed(session, activity=o.activity, scope=scope)}


def _drills_job(session: Session, scope: Scope, curriculum: Curriculum, o: Options) -> Tables:
    return {"drills/units": drills.by_unit(session, months=o.drill_months, scope=scope),
            "drills/types": drills.by_type(session, scope=scope),
            "drills/actions": drills.overdue_actions(session, scope=scope),
            "turnover/units": turnover.by_unit(session, months=o.turnover_months, scope=scope),
            "turnover/people": turnover.people(session, months=o.turnover_months, scope=scope),
            "spot-check/sample": spot_check.sample(session, seed=o.seed, scope=scope)}


# Independent jobs, in the order workers take them (100k people: about 0.8, 0.9, 2 + 2
# and 1.7 s): short ones first, so the workbook can be written while the rest run; the
# certificates job follows as soon as every rules part is in (`_statuses`).
JOBS: dict[str, Job] = {
    "leaders": _leaders_job, "drills": _drills_job,
    **{f"rules-{i}": _rules_job(i) for i in range(RULE_PARTS)},
    "coverage": _coverage_job,
}


def _statuses(tables: Tables) -> pd.DataFrame | None:
    """Every person's status once all rules parts are in (parts in order: same rows
    whether the parts ran here or on workers)."""
    parts = [tables.get(f"statuses/{i}") for i in range(RULE_PARTS)]
    if any(p is None for p in parts):
        return None
    return pd.concat(parts, ignore_index=True)


def _table(key: str, tables: Tables) -> pd.DataFrame | None:
    """The sheet `key` from the jobs' tables, or None while a part is missing."""
    if key == "coverage/units":
        if "coverage/heads" in tables and "coverage/certs" in tables:
            return coverage.combine(tables["coverage/heads"], tables["coverage/certs"])
        return None
    return tables.get(key)


def _run_job(name: str, url: str, period: Period, end: dt.date, unit_code: str | None,
             snapshot: str | None, curriculum: Curriculum, o: Options,
             statuses: pd.DataFrame | None = None) -> Tables:
    """One job in a worker: its own connection, the parent's snapshot on PostgreSQL."""
    engine = db.make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            if snapshot:
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                session.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            if session.get_bind().dialect.name == "postgresql":
                # The jobs already use every core: PostgreSQL's own parallel workers for
                # one query would only compete with them.
                session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
            scope = resolve_scope(session, period=period, as_of=end, unit=unit_code)
            if name == "certificates":
                assert statuses is not None
                return _certificates_job(session, scope, curriculum, o, statuses)
            return JOBS[name](session, scope, curriculum, o)
    finally:
        engine.dispose()


def build(session: Session, *, period: Period | str | None = None,
          as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
          curriculum: Curriculum | None = None, seed: int | None = None,
          activity: leaders.Activity | str = leaders.Activity.training,
          min_sample: int = leaders.DEFAULT_MIN_SAMPLE,
          drill_months: int = drills.DEFAULT_MONTHS,
          turnover_months: int = turnover.DEFAULT_MONTHS,
          scope: Scope | None = None, pool: Executor | None = None,
          on_sheet: Callable[[Sheet], None] | None = None) -> Bundle:
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    curriculum = curriculum or load_curriculum()
    o = Options(spot_check.new_seed() if seed is None else seed, leaders._activity(activity),
                min_sample, drill_months, turnover_months)
    captions = _captions(scope, o)
    tables: Tables = {}
    ready: dict[str, Sheet] = {}

    def arrived(new: Tables) -> None:
        tables.update(new)
        for key, name in SHEETS:
            df = None if key in ready else _table(key, tables)
            if df is not None:
                title, note = captions[key]
                ready[key] = Sheet(key, name, title, df, note)
                if on_sheet is not None:
                    on_sheet(ready[key])

    if pool is None:
        for job in JOBS.values():
            arrived(job(session, scope, curriculum, o))
        statuses = _statuses(tables)
        assert statuses is not None
        arrived(_certificates_job(session, scope, curriculum, o, statuses))
    else:
        bind = session.get_bind()
        url = bind.url.render_as_string(hide_password=False)
        snapshot = (session.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                    if bind.dialect.name == "postgresql" else None)
        code = scope.unit.code if scope.unit is not None else None

        def submit(name: str, statuses: pd.DataFrame | None = None) -> Future[Tables]:
            return pool.submit(_run_job, name, url, scope.period, scope.end, code, snapshot,
                               curriculum, o, statuses)

        pending = {submit(name) for name in JOBS}
        certs_sent = False
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                arrived(future.result())
            statuses = None if certs_sent else _statuses(tables)
            if statuses is not None:
                pending.add(submit("certificates", statuses))
                certs_sent = True
    bundle = Bundle(scope, [ready[key] for key, _ in SHEETS], [], o.seed)
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
    lines.extend(leaders.summary(lead, bundle.sheet("leaders/named").df, noun=noun,
                                 level=_comparison_level(lead, scope),
                                 top_code=None if root is None else root["单位代码"]))

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
