"""`safetrain report ...`: coverage, leaders, certificates, drills, onboarding, turnover,
spot-check, and the monthly bundle (xlsx + offline HTML + PDF, optionally a chart PNG).

Thin: parse, open one session, call `records.reports.*`, hand the DataFrames to a writer.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from records import db
from records.models import UnitLevel
from records.roles import parse_role
from scripts.options import AsOfOpt, UnitOpt, friendly, instance
from scripts.output import (
    Format,
    render,
    show_bundle,
    stderr,
    stdout,
    to_rich,
    write_monthly_bundle,
)

if TYPE_CHECKING:  # the reports (pandas, the rules) load only when a report runs
    import pandas as pd
    from sqlalchemy.orm import Session

    from records.reports import Scope

report_app = typer.Typer(
    help="报表：覆盖率、领导参训对比、证书到期、演练、岗前培训、培训后离岗、交叉抽查、月报。"
         " Reports from the records.",
    no_args_is_help=True,
)


class ReportFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    xlsx = "xlsx"
    html = "html"


PeriodOpt = Annotated[str | None, typer.Option(
    "--period", help="统计期：2026-11（月）、2026-Q4（季度）或 2026（年）；默认 --as-of 所在月。")]
FormatOpt = Annotated[ReportFormat, typer.Option(
    "--format", help="table（终端）、csv、json、xlsx（格式化工作簿）、html（离线网页，含图表）。")]
OutOpt = Annotated[Path | None, typer.Option(
    "--out", help="输出文件；xlsx/html 默认写到 实例/reports/。 Output file.")]
LevelOpt = Annotated[list[str] | None, typer.Option(
    "--level", help="只列这些层级（可重复）：city/district/street/community 或 市/区/街道/社区。")]
PartOpt = Annotated[str | None, typer.Option(
    "--part", help="csv/json 只能输出一张表：选哪张（默认第一张）。")]

_LEVEL_WORDS = {
    **{level.name: level for level in UnitLevel},
    **{level.label: level for level in UnitLevel},
    "区": UnitLevel.district, "县": UnitLevel.district, "街道": UnitLevel.street,
    "乡镇": UnitLevel.street, "镇": UnitLevel.street, "社区": UnitLevel.community,
    "村": UnitLevel.community, **{str(int(level)): level for level in UnitLevel},
}


def _levels(words: list[str] | None) -> list[UnitLevel]:
    out = []
    for word in words or []:
        level = _LEVEL_WORDS.get(word.strip().lower()) or _LEVEL_WORDS.get(word.strip())
        if level is None:
            raise typer.BadParameter(f"未知层级「{word}」：应为 city、district、street、community",
                                     param_hint="--level")
        out.append(level)
    return out


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


def _default_path(name: str, scope: Scope, ext: str) -> Path:
    unit = f"-{scope.unit.code}" if scope.unit is not None else ""
    return instance().reports_dir / f"{name}-{scope.period.code}{unit}.{ext}"


def run_report(name: str, compute: Callable[[Session, Scope], dict[str, pd.DataFrame]], *,
               period: str | None, unit: str | None, as_of: dt.datetime | None,
               fmt: ReportFormat, out: Path | None, levels: list[str] | None = None,
               part: str | None = None, notes: dict[str, str] | None = None,
               terminal: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] | None = None,
               ) -> Scope:
    """Open one session, compute the report's tables, write them in the chosen format.

    `notes`: part → what its columns mean (under the terminal table, in the file's sheet);
    `terminal`: part → what a terminal table shows instead of every column."""
    from records.reports import REPORTS, resolve_scope
    from records.reports.base import level_filter
    from records.reports.sheet import Sheet
    from writers.bundle import cover_meta

    info = REPORTS[name]
    wanted_levels = _levels(levels)
    if part is not None and part not in {p.key for p in info.parts}:
        options = "、".join(p.key for p in info.parts)
        raise typer.BadParameter(f"{name} 没有「{part}」这张表，可选：{options}",
                                 param_hint="--part")
    with db.open_session(instance().db_url) as session:
        scope = resolve_scope(session, period=period, as_of=_day(as_of), unit=unit)
        frames = compute(session, scope)
    frames = {k: level_filter(df, wanted_levels) for k, df in frames.items()}
    titles = {p.key: p.title for p in info.parts}
    heading = f"{info.title}：{scope.title}"
    if fmt is ReportFormat.table:
        for key, df in frames.items():
            shown = _for_terminal(df)
            if key in (terminal or {}) and not df.empty:
                shown = terminal[key](shown)
            _print_table(shown, f"{heading} · {titles[key]}")
            if (notes or {}).get(key):
                stdout.print(f"注：{notes[key]}", style="dim", markup=False, highlight=False)
        return scope
    if fmt in (ReportFormat.csv, ReportFormat.json):
        key = part or info.parts[0].key
        render(frames[key], Format(fmt.value), out=out)
        return scope
    sheets = [Sheet(f"{name}/{key}", titles[key][:31], f"{info.title} · {titles[key]}", df,
                    (notes or {}).get(key, "")) for key, df in frames.items()]
    target = out or _default_path(name, scope, fmt.value)
    if fmt is ReportFormat.xlsx:
        from writers.excel import write_workbook

        write_workbook(target, sheets, title=heading, meta=cover_meta(scope))
    else:
        from writers.html import write_html

        write_html(target, sheets, title=heading, meta=[f"{k}：{v}" for k, v in cover_meta(scope)])
    stderr.print(f"已写入 {target}", highlight=False)
    return scope


def _print_table(df: pd.DataFrame, title: str) -> None:
    """A terminal table; piped, as wide as it needs (report tables have up to 19 columns)."""
    import sys

    from rich.console import Console

    from writers import display_width

    console = stdout
    if not sys.stdout.isatty():
        widths = [max([display_width(str(c)), *(display_width(str(v)) for v in df[c])])
                  for c in df.columns]
        console = Console(width=max(80, min(400, sum(widths) + 3 * len(widths) + 4)))
    console.print(to_rich(df, title=title))


def _for_terminal(df: pd.DataFrame) -> pd.DataFrame:
    """Percentages and gaps to one decimal (still numbers, so right-aligned)."""
    out = df.copy()
    for column in out.columns:
        if (str(column).endswith("%") or "差距" in str(column)) and len(out):
            out[column] = out[column].astype(float).round(1)
    return out


# --------------------------------------------------------------------------- commands


@report_app.command("coverage")
@friendly
def coverage(period: PeriodOpt = None, unit: UnitOpt = None, as_of: AsOfOpt = None,
             level: LevelOpt = None, fmt: FormatOpt = ReportFormat.table,
             out: OutOpt = None) -> None:
    """每个单位（逐级汇总）：各角色人数、必修模块通过率、本期学时达标率、本期参加演练、持证/到期/过期。

    Example: safetrain report coverage --period 2026-11 --unit 0101 --level street
    """
    from records.reports import coverage as report

    run_report("coverage", lambda s, sc: {"units": report.by_unit(s, scope=sc)},
               period=period, unit=unit, as_of=as_of, fmt=fmt, out=out, levels=level)


MinSampleOpt = Annotated[int, typer.Option(
    "--min-sample", min=1,
    help="参训率所依据的人次（应到 − 请假）少于此数时标「样本少」，排在同级其他单位之后。")]


def _short_unit(path: str) -> str:
    """The last two parts of a unit path (东城区/朝阳街道): a terminal is narrow."""
    return "/".join(path.split("/")[-2:])


def _leaders_terminal(df: pd.DataFrame) -> pd.DataFrame:
    """The headline and the 人次 it rests on, in 100 columns; every column is in the files."""
    from records.reports.leaders import small_sample

    out = df[["单位", "口径", "领导参训率%", "领导应到人次", "工作人员参训率%", "工作人员应到人次",
              "领导差距(百分点)", "含下级领导差距(百分点)"]].copy()
    out["单位"] = out["单位"].map(_short_unit)
    out.insert(7, "样本", small_sample(df).map({True: "少", False: ""}))
    out.columns = ["单位", "口径", "领导%", "领导应到", "工作人员%", "工作人员应到", "差距", "样本",
                   "含下级"]
    return out


def _named_terminal(df: pd.DataFrame) -> pd.DataFrame:
    out = df[["单位", "姓名", "职务", "应参加场次", "参加", "请假", "缺训场次", "未参加（编号）"]].copy()
    out["单位"] = out["单位"].map(_short_unit)
    out["未参加（编号）"] = out["未参加（编号）"].str.replace("、", " ")  # lets the column wrap
    out.columns = ["单位", "姓名", "职务", "应参加", "参加", "请假", "缺训", "未参加（编号）"]
    return out


@report_app.command("leaders")
@friendly
def leaders(period: PeriodOpt = None, unit: UnitOpt = None, as_of: AsOfOpt = None,
            activity: Annotated[str, typer.Option(
                help="比较哪类活动：training（培训）、drill（演练）、all（两者）。")] = "training",
            min_sample: MinSampleOpt = 10,
            level: LevelOpt = None, part: PartOpt = None,
            fmt: FormatOpt = ReportFormat.table, out: OutOpt = None) -> None:
    """主要领导、分管领导与本单位工作人员的参训率和差距（最差在前），以及缺训领导名单。

    Expected at a session: everyone in post in the holding unit that day (volunteers
    aside). Not on the sign-in sheet counts as missed; 请假 is shown apart and not counted
    against the rate. Streets and communities are judged at their own level (本级: own
    leaders, own staff, own sessions); districts and the city on everything below them
    (含下级), shown as extra columns for every unit. Parts: units, named.
    Example: safetrain report leaders --period 2026-Q4 --level street
    """
    from records.reports import leaders as report

    try:
        act = report._activity(activity)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--activity") from None
    run_report("leaders", lambda s, sc: {
        "units": report.by_unit(s, scope=sc, activity=act, min_sample=min_sample),
        "named": report.missed(s, scope=sc, activity=act)},
        period=period, unit=unit, as_of=as_of, fmt=fmt, out=out, levels=level, part=part,
        notes={"units": report.note(min_sample), "named": report.MISSED_NOTE},
        terminal={"units": _leaders_terminal, "named": _named_terminal})


@report_app.command("certificates")
@friendly
def certificates(period: PeriodOpt = None, unit: UnitOpt = None, as_of: AsOfOpt = None,
                 within: Annotated[int, typer.Option(
                     min=1, max=366, help="人员名单列出多少天内到期的证书。")] = 90,
                 level: LevelOpt = None, part: PartOpt = None,
                 fmt: FormatOpt = ReportFormat.table, out: OutOpt = None) -> None:
    """证书：30/60/90 天内到期、已过期、已撤销，按单位；以及到期和过期人员名单。

    Statuses are the certification rules' (safetrain cert evaluate). Parts: units, people.
    Example: safetrain report certificates --as-of 2026-11-30 --part people --format csv
    """
    from records.reports import certificates as report
    from records.reports.statuses import person_statuses

    def compute(s: Session, sc: Scope) -> dict[str, pd.DataFrame]:
        statuses = person_statuses(s, scope=sc)
        return {"units": report.by_unit(s, scope=sc, statuses=statuses),
                "people": report.people(s, scope=sc, statuses=statuses, within=within)}

    run_report("certificates", compute, period=period, unit=unit, as_of=as_of, fmt=fmt,
               out=out, levels=level, part=part)


@report_app.command("drills")
@friendly
def drills(period: PeriodOpt = None, unit: UnitOpt = None, as_of: AsOfOpt = None,
           months: Annotated[int, typer.Option(
               min=1, max=60, help="“近 N 个月无演练”的 N。")] = 12,
           level: LevelOpt = None, part: PartOpt = None,
           fmt: FormatOpt = ReportFormat.table, out: OutOpt = None) -> None:
    """演练：本期和近 N 个月没有演练的单位、类型与形式、参演人数对比计划、逾期整改。

    Parts: units, types, actions.
    Example: safetrain report drills --period 2026 --months 12 --level community
    """
    from records.reports import drills as report

    run_report("drills", lambda s, sc: {
        "units": report.by_unit(s, scope=sc, months=months),
        "types": report.by_type(s, scope=sc),
        "actions": report.overdue_actions(s, scope=sc)},
        period=period, unit=unit, as_of=as_of, fmt=fmt, out=out, levels=level, part=part)


@report_app.command("onboarding")
@friendly
def onboarding(period: PeriodOpt = None, unit: UnitOpt = None, as_of: AsOfOpt = None,
               role: Annotated[list[str] | None, typer.Option(
                   "--role", help="岗位（可重复），默认 专职安监员。")] = None,
               within_days: Annotated[int, typer.Option(
                   min=1, max=3650, help="任职不超过多少天算新任。")] = 365,
               fmt: FormatOpt = ReportFormat.table, out: OutOpt = None) -> None:
    """新任专职安监员：在岗天数、必修模块通过情况、岗前培训期限状态（逾期在前）。

    Example: safetrain report onboarding --unit 0101 --role 专职安监员 --role 网格员
    """
    from records.reports import onboarding as report

    try:
        roles = [parse_role(r) for r in role] if role else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from None
    kwargs: dict[str, Any] = {"within_days": within_days}
    if roles:
        kwargs["roles"] = roles
    run_report("onboarding", lambda s, sc: {"people": report.people(s, scope=sc, **kwargs)},
               period=period, unit=unit, as_of=as_of, fmt=fmt, out=out)


@report_app.command("turnover")
@friendly
def turnover(period: PeriodOpt = None, unit: UnitOpt = None, as_of: AsOfOpt = None,
             months: Annotated[int, typer.Option(
                 min=1, max=36, help="培训后多少个月内离岗算“培训即流失”（按每月 30 天）。")] = 6,
             level: LevelOpt = None, part: PartOpt = None,
             fmt: FormatOpt = ReportFormat.table, out: OutOpt = None) -> None:
    """培训后离岗：本期结束岗位中，任职期间受训、培训后 N 个月内离岗的人，按单位和名单。

    Parts: units, people (with where they went).
    Example: safetrain report turnover --period 2026 --months 6 --part people
    """
    from records.reports import turnover as report

    run_report("turnover", lambda s, sc: {
        "units": report.by_unit(s, scope=sc, months=months),
        "people": report.people(s, scope=sc, months=months)},
        period=period, unit=unit, as_of=as_of, fmt=fmt, out=out, levels=level, part=part)


@report_app.command("spot-check")
@friendly
def spot_check(period: PeriodOpt = None, unit: UnitOpt = None, as_of: AsOfOpt = None,
               seed: Annotated[int | None, typer.Option(
                   help="随机种子：同一种子、同一单位树抽出同一样本；默认随机生成并打印。")] = None,
               street_rate: Annotated[float, typer.Option(
                   min=0.0, max=1.0, help="每个区抽取街道/乡镇的比例。")] = 0.2,
               community_rate: Annotated[float, typer.Option(
                   min=0.0, max=1.0, help="每个街道抽取社区/村的比例。")] = 0.1,
               fmt: FormatOpt = ReportFormat.table, out: OutOpt = None) -> None:
    """交叉抽查：可复现的随机样本（默认每区 20% 街道、每街道 10% 社区），附记录中的数字供现场核对。

    Example: safetrain report spot-check --period 2026-11 --seed 240531
    """
    from records.reports import spot_check as report

    drawn: dict[str, int] = {}

    def compute(s: Session, sc: Scope) -> dict[str, pd.DataFrame]:
        df = report.sample(s, scope=sc, seed=seed, street_rate=street_rate,
                           community_rate=community_rate)
        drawn["seed"] = int(df.attrs["seed"])
        return {"sample": df}

    scope = run_report("spot-check", compute, period=period, unit=unit, as_of=as_of, fmt=fmt,
                       out=out)
    again = (f"safetrain report spot-check --seed {drawn['seed']} --period {scope.period.code}"
             f" --as-of {scope.end}" + (f" --unit {scope.unit.code}" if scope.unit else "")
             + (f" --street-rate {street_rate:g}" if street_rate != 0.2 else "")
             + (f" --community-rate {community_rate:g}" if community_rate != 0.1 else ""))
    stderr.print(f"随机种子 seed = {drawn['seed']}；复现：{again}", highlight=False)


@report_app.command("monthly")
@friendly
def monthly(
    period: PeriodOpt = None, unit: UnitOpt = None, as_of: AsOfOpt = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="输出目录（默认 实例/reports/）。 Output folder.")] = None,
    seed: Annotated[int | None, typer.Option(help="交叉抽查的随机种子（默认随机，写入报告）。")] = None,
    activity: Annotated[str, typer.Option(
        help="领导对比的活动：training（培训）、drill（演练）、all。")] = "training",
    min_sample: MinSampleOpt = 10,
    xlsx: Annotated[bool, typer.Option("--xlsx/--no-xlsx", help="写 Excel 工作簿。")] = True,
    html: Annotated[bool, typer.Option("--html/--no-html", help="写离线 HTML（含图表）。")] = True,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="写可打印的 PDF 摘要。")] = True,
    chart_png: Annotated[Path | None, typer.Option(
        "--chart-png", help="另存一张图表图片（PNG，用本机 Chromium 无头截图）。")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="并行计算的进程数（默认 CPU 核数，最多 5：表格分 5 个作业；1 = 不并行）。")] = None,
) -> None:
    """月报：上述全部报表一次生成——Excel 工作簿、离线 HTML（含图表和摘要）、PDF 摘要。

    Example: safetrain report monthly --period 2026-11 --unit 0101 --chart-png 月报.png
    """
    written = write_monthly_bundle(
        instance().db_url, out or instance().reports_dir, period=period, as_of=_day(as_of),
        unit=unit, seed=seed, activity=activity, min_sample=min_sample, xlsx=xlsx, html=html,
        pdf=pdf, chart_png=chart_png, workers=workers)
    show_bundle(written)
