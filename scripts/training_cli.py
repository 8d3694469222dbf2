"""`safetrain training ...`: sessions, attendance, sign-in sheets, hours per person.

Thin: parse, open one session, call `records.training` / `records.importers.signin`,
render.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from records import db
from scripts.options import (
    DATE_FORMATS,
    AsOfOpt,
    DryRunOpt,
    FormatOpt,
    OutOpt,
    SheetOpt,
    UnderOpt,
    UnitOpt,
    YearOpt,
    curriculum,
    day,
    friendly,
    instance,
    people_from_refs,
    unit_or_none,
    year_range,
)
from scripts.output import (
    STATE_WORDS,
    Format,
    attendance_panel,
    render,
    show_warnings,
    stdout,
)

training_app = typer.Typer(
    help="培训：登记培训、签到、导入签到表、统计学时。 Training sessions and attendance.",
    no_args_is_help=True,
)


# --------------------------------------------------------------------------- commands


@training_app.command("add")
@friendly
def add(
    title: Annotated[str, typer.Option(help="培训名称。 Title.")],
    kind: Annotated[str, typer.Option(help="形式：集中培训、专题讲座、以老带新、线上自学。 Kind.")],
    organizer: Annotated[str, typer.Option(help="组织单位（代码或完整路径）。 Organizer unit.")],
    date: Annotated[dt.datetime, typer.Option(formats=DATE_FORMATS, help="培训日期。 Date.")],
    hours: Annotated[float, typer.Option(help="学时（小时）。 Hours.")],
    trainer: Annotated[str | None, typer.Option(help="授课人。 Trainer.")] = None,
    topics: Annotated[str | None, typer.Option(help="内容/主题。 Topics.")] = None,
    module: Annotated[list[str] | None, typer.Option(
        help="涉及的课程模块 id，可重复。 Curriculum modules covered (repeatable).")] = None,
) -> None:
    """登记一次培训；同名、同日、同组织单位的培训只更新不重复。 Add (or update) a session.

    Example: safetrain training add --title 应急知识集中培训 --kind 集中培训
    --organizer 0101001 --date 2026-10-20 --hours 3 --module rescue-fire
    """
    from records.org import find_unit
    from records.training import SessionSpec, add_session, parse_kind

    try:
        parsed_kind = parse_kind(kind)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--kind") from None
    known = curriculum().module_ids
    with db.open_session(instance().db_url) as session:
        unit = find_unit(session, organizer)
        spec = SessionSpec(title, parsed_kind, unit, date.date(), hours, trainer, topics,
                           module or [])
        training, state = add_session(session, spec, known_modules=known, source="cli")
        code, unit_path = training.code, unit.path
    stdout.print(f"培训 {code}「{escape(title)}」{date.date()} {escape(unit_path)}：{STATE_WORDS[state]}",
                 highlight=False)


@training_app.command("attend")
@friendly
def attend(
    code: Annotated[str, typer.Argument(help="培训编号，如 T20261020-1。 Session code.")],
    people: Annotated[list[str], typer.Argument(
        help="人员：身份证号、账号或姓名（同名时须用前两者）。 People.")],
    status: Annotated[str, typer.Option(help="出席、缺席、请假、早退。 Presence.")] = "出席",
    minutes: Annotated[int | None, typer.Option(
        min=0, help="实际参加的分钟数（早退必填）。 Minutes attended.")] = None,
    note: Annotated[str | None, typer.Option(help="备注。 Note.")] = None,
) -> None:
    """记录人员的签到：出席、缺席、请假或早退。 Mark people at a session.

    Example: safetrain training attend T20261020-1 zhangsan lisi --status 早退 --minutes 90
    """
    from records.training import find_session, mark_attendance, parse_attendance

    try:
        parsed = parse_attendance(status)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--status") from None
    with db.open_session(instance().db_url) as session:
        training = find_session(session, code)
        report = mark_attendance(session, training, people_from_refs(session, people), parsed,
                                 minutes=minutes, note=note)
    stdout.print(attendance_panel(report))


@training_app.command("import-signin")
@friendly
def import_signin(
    file: Annotated[Path, typer.Argument(help="签到表 .xlsx 或 .csv（UTF-8 / GBK 均可）。")],
    session_code: Annotated[str | None, typer.Option(
        "--session", help="培训编号；不写时按表头上方的标题行（培训名称和日期）查找。")] = None,
    sheet: SheetOpt = None,
    under: UnderOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """导入签到表：全部有效才写入，重复导入不产生变化。 Import a sign-in sheet, all-or-nothing.

    Columns: 姓名; 身份证号 (optional); 所属单位 or 市/区/街道/社区 (optional); 签到
    (出席/缺席/请假/早退, 是/否); 时长(分钟) (optional, required for 早退); 备注.
    People are matched by ID number, or by name + unit; a name that fits two people is an
    error naming both (IDs masked). Example: safetrain training import-signin 签到表.csv
    """
    from records.importers.signin import import_signin as run_import
    from records.org import find_unit
    from records.training import find_session

    with db.open_session(instance().db_url) as session:
        training = find_session(session, session_code) if session_code else None
        scope = find_unit(session, under) if under else None
        report = run_import(session, file, training=training, sheet=sheet, under=scope)
        report.dry_run = dry_run
        if dry_run:
            raise db.Rollback
    show_warnings(file.name, report.warnings)
    stdout.print(attendance_panel(report))


@training_app.command("list")
@friendly
def list_command(
    unit: UnitOpt = None,
    year: YearOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """列出培训及签到人数。 List sessions with attendance counts."""
    from records.training import list_sessions

    start, end = year_range(year)
    with db.open_session(instance().db_url) as session:
        df = list_sessions(session, unit=unit_or_none(session, unit), start=start, end=end)
    render(df, fmt, title="培训 Training sessions", out=out)


@training_app.command("show")
@friendly
def show(
    code: Annotated[str, typer.Argument(help="培训编号。 Session code.")],
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """一次培训的签到名单（身份证号隐去中间位）。 Who attended one session."""
    from records.training import find_session, session_attendance

    with db.open_session(instance().db_url) as session:
        training = find_session(session, code)
        title = f"{training.code} {training.held_on} {training.title}（{training.hours:g} 学时）"
        df = session_attendance(session, training)
    render(df, fmt, title=title, out=out)


@training_app.command("hours")
@friendly
def hours(
    unit: UnitOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """在岗人员近12个月的培训学时与本岗位要求。 Hours per person against the role's yearly rule."""
    from records.training import hours_report

    rules = curriculum()
    when = day(as_of)
    with db.open_session(instance().db_url) as session:
        df = hours_report(session, as_of=when, unit=unit_or_none(session, unit),
                          required={r: rules.rule(r).hours_per_year for r in _roles()})
    render(df, fmt, title=f"培训学时（截至 {when}，近12个月）", out=out)


def _roles() -> list[Any]:
    from records.roles import Role

    return list(Role)
