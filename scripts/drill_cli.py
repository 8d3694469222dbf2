"""`safetrain drill ...`: drills, participation, evaluation, improvement actions.

Thin: parse, open one session, call `records.drills` / `records.importers.drills`, render.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

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
    day,
    friendly,
    instance,
    people_from_refs,
    unit_or_none,
    year_range,
)
from scripts.output import STATE_WORDS, Format, attendance_panel, render, show_warnings, stdout

drill_app = typer.Typer(
    help="应急演练：登记、参演人员、评估、整改措施。 Drills, participation, after-action review.",
    no_args_is_help=True,
)
CodeArg = Annotated[str, typer.Argument(help="演练编号，如 D20261015-1。 Drill code.")]


def _parsed(parse, text: str, hint: str):  # noqa: ANN001, ANN202 (small local adapter)
    try:
        return parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None


@drill_app.command("add")
@friendly
def add(
    title: Annotated[str, typer.Option(help="演练名称。 Title.")],
    drill_type: Annotated[str, typer.Option(
        "--type", help="类型：消防疏散、地震避险、防汛、危化品泄漏、燃气泄漏、防台风、地质灾害、其他。")],
    organizer: Annotated[str, typer.Option(help="组织单位（代码或完整路径）。 Organizer.")],
    date: Annotated[dt.datetime, typer.Option(formats=DATE_FORMATS, help="演练日期。 Date.")],
    minutes: Annotated[int, typer.Option(min=1, help="时长（分钟）。 Duration in minutes.")],
    form: Annotated[str, typer.Option(help="桌面演练 或 实战演练。 Tabletop or live.")] = "实战演练",
    scope: Annotated[str, typer.Option(help="单项演练 或 综合演练。 Single or combined.")] = "单项演练",
    plan: Annotated[str | None, typer.Option(help="所演练的应急预案名称。 Plan exercised.")] = None,
    scenario: Annotated[str | None, typer.Option(help="情景设置。 Scenario.")] = None,
    unit: Annotated[list[str] | None, typer.Option(
        "--unit", help="参演单位（可重复）；组织单位自动计入。 Units taking part.")] = None,
    planned: Annotated[int | None, typer.Option(min=0, help="计划参演人数。 Planned.")] = None,
    residents: Annotated[int | None, typer.Option(
        min=0, help="参演居民人数（多数不在花名册中）。 Residents taking part.")] = None,
) -> None:
    """登记一次演练；同名、同日、同组织单位的演练只更新不重复。 Add (or update) a drill.

    Example: safetrain drill add --title 幸福社区消防疏散演练 --type 消防疏散
    --organizer 0101001001 --date 2026-10-15 --minutes 60 --planned 120 --residents 80
    """
    from records.drills import DrillSpec, add_drill, parse_drill_type, parse_form, parse_scope
    from records.org import find_unit

    spec_type = _parsed(parse_drill_type, drill_type, "--type")
    spec_form = _parsed(parse_form, form, "--form")
    spec_scope = _parsed(parse_scope, scope, "--scope")
    with db.open_session(instance().db_url) as session:
        org = find_unit(session, organizer)
        units = [find_unit(session, u) for u in unit or []]
        spec = DrillSpec(title, spec_type, spec_form, spec_scope, org, date.date(), minutes,
                         plan, scenario, units, planned, residents)
        drill, state = add_drill(session, spec, source="cli")
        code = drill.code
    stdout.print(f"演练 {code}「{escape(title)}」{date.date()}：{STATE_WORDS[state]}", highlight=False)


@drill_app.command("attend")
@friendly
def attend(
    code: CodeArg,
    people: Annotated[list[str], typer.Argument(help="人员：身份证号、账号或姓名。 People.")],
    role: Annotated[str, typer.Option(
        help="演练角色：指挥、疏散引导、救护、通讯联络、警戒、后勤保障、参演人员、观摩评估、居民。")] = "参演人员",
    status: Annotated[str, typer.Option(help="出席、缺席、请假、早退。 Presence.")] = "出席",
) -> None:
    """记录参演人员及其角色。 Record people taking part, with their role in the drill.

    Example: safetrain drill attend D20261015-1 wangwu --role 指挥
    """
    from records.drills import find_drill, mark_participation, parse_drill_role
    from records.training import parse_attendance

    parsed_role = _parsed(parse_drill_role, role, "--role")
    parsed_status = _parsed(parse_attendance, status, "--status")
    with db.open_session(instance().db_url) as session:
        drill = find_drill(session, code)
        report = mark_participation(session, drill, people_from_refs(session, people),
                                    parsed_role, parsed_status)
    stdout.print(attendance_panel(report, "参演记录"))


@drill_app.command("import")
@friendly
def import_participants(
    file: Annotated[Path, typer.Argument(help="参演人员名单 .xlsx 或 .csv。")],
    drill_code: Annotated[str | None, typer.Option(
        "--drill", help="演练编号；不写时按表头上方的标题行（演练名称和日期）查找。")] = None,
    sheet: SheetOpt = None,
    under: UnderOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """导入一次演练的参演名单（全部有效才写入）。 Import a drill's participant list.

    Columns as a sign-in sheet plus 演练角色 (指挥, 疏散引导, 救护, 观摩评估, 居民, ...).
    Rows with role 居民 and no ID number that are not in the roster count as residents.
    Example: safetrain drill import 演练签到.xlsx --drill D20261015-1
    """
    from records.drills import find_drill
    from records.importers.drills import import_participation
    from records.org import find_unit

    with db.open_session(instance().db_url) as session:
        drill = find_drill(session, drill_code) if drill_code else None
        scope = find_unit(session, under) if under else None
        report = import_participation(session, file, drill=drill, sheet=sheet, under=scope)
        report.dry_run = dry_run
        if dry_run:
            raise db.Rollback
    show_warnings(file.name, report.warnings)
    stdout.print(attendance_panel(report, "参演记录"))


@drill_app.command("import-list")
@friendly
def import_list(
    file: Annotated[Path, typer.Argument(help="演练台账 .xlsx 或 .csv，一行一次演练。")],
    sheet: SheetOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """导入演练台账（一行一次演练，全部有效才写入）。 Import a register of drills.

    Columns: 演练名称, 类型, 形式, 规模, 应急预案, 情景, 组织单位, 参演单位 (、separated),
    日期, 时长(分钟), 计划人数, 居民人数. Example: safetrain drill import-list 演练台账.xlsx
    """
    from records.importers.drills import import_drills

    with db.open_session(instance().db_url) as session:
        report = import_drills(session, file, sheet=sheet)
        report.dry_run = dry_run
        if dry_run:
            raise db.Rollback
    stdout.print(attendance_panel(report, "演练"))


@drill_app.command("list")
@friendly
def list_command(
    unit: UnitOpt = None,
    year: YearOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """列出演练：计划与实际参演人数、评估、未完成整改。 List drills."""
    from records.drills import list_drills

    start, end = year_range(year)
    with db.open_session(instance().db_url) as session:
        df = list_drills(session, unit=unit_or_none(session, unit), start=start, end=end)
    render(df, fmt, title="应急演练 Drills", out=out)


@drill_app.command("show")
@friendly
def show(code: CodeArg, fmt: FormatOpt = Format.table, out: OutOpt = None) -> None:
    """一次演练的参演人员（身份证号隐去中间位）、评估和整改措施。 One drill in full."""
    from records.drills import drill_participants, find_drill, list_actions

    with db.open_session(instance().db_url) as session:
        drill = find_drill(session, code)
        people = drill_participants(session, drill)
        actions = list_actions(session, as_of=dt.date.today(), drill=drill, include_closed=True)
        ev = drill.evaluation
        head = (f"{drill.code} {drill.held_on} {drill.title}｜{drill.drill_type.label}·"
                f"{drill.form.label}·{drill.scope.label}｜{drill.organizer.path}｜"
                f"{drill.duration_minutes} 分钟｜预案：{drill.plan or '—'}｜"
                f"参演单位：{'、'.join(u.name for u in drill.units)}｜居民 {drill.residents} 人")
        review = (f"评估（{ev.evaluated_on}，{ev.evaluator or '—'}，{ev.rating or '—'}）："
                  f"做得好：{ev.went_well or '—'}；发现问题：{ev.findings or '—'}"
                  if ev else "尚未评估：用 `safetrain drill evaluate` 记录")
    if fmt is Format.table:
        stdout.print(escape(head), highlight=False)
        stdout.print(escape(review), highlight=False)
        render(actions, fmt, title="整改措施")
    render(people, fmt, title="参演人员", out=out)


@drill_app.command("evaluate")
@friendly
def evaluate(
    code: CodeArg,
    went_well: Annotated[list[str] | None, typer.Option(
        "--went-well", help="做得好的方面（可重复）。 What went well.")] = None,
    finding: Annotated[list[str] | None, typer.Option(
        "--finding", help="发现的问题（可重复）。 Findings.")] = None,
    evaluator: Annotated[str | None, typer.Option(help="评估人/评估组。 Evaluator.")] = None,
    rating: Annotated[str | None, typer.Option(help="结论：优秀、良好、合格、不合格。")] = None,
    date: Annotated[dt.datetime | None, typer.Option(
        formats=DATE_FORMATS, help="评估日期（默认今天）。 Date.")] = None,
) -> None:
    """记录演练评估（复盘）：做得好的、发现的问题。 After-action review of a drill.

    Example: safetrain drill evaluate D20261015-1 --went-well 3分钟内完成疏散
    --finding 3号楼疏散指示灯损坏 --rating 良好
    """
    from records.drills import evaluate_drill, find_drill

    with db.open_session(instance().db_url) as session:
        drill = find_drill(session, code)
        state = evaluate_drill(session, drill, evaluated_on=day(date), evaluator=evaluator,
                               rating=rating, went_well=went_well or [], findings=finding or [])
    stdout.print(f"演练 {code.upper()} 的评估：{STATE_WORDS[state]}")


@drill_app.command("add-action")
@friendly
def add_action(
    code: CodeArg,
    action: Annotated[str, typer.Argument(help="整改措施。 The improvement action.")],
    owner: Annotated[str, typer.Option(help="责任人或责任单位。 Owner.")],
    due: Annotated[dt.datetime, typer.Option(formats=DATE_FORMATS, help="整改期限。 Due date.")],
) -> None:
    """为演练添加整改措施（责任人、期限），跟踪到完成。 Add an improvement action.

    Example: safetrain drill add-action D20261015-1 "更换3号楼疏散指示灯" --owner 物业公司
    --due 2026-11-15
    """
    from records.drills import add_action as add
    from records.drills import find_drill

    with db.open_session(instance().db_url) as session:
        item, state = add(session, find_drill(session, code), description=action, owner=owner,
                          due_on=due.date())
        number = item.id
    stdout.print(f"整改措施 #{number}：{STATE_WORDS[state]}")


@drill_app.command("close-action")
@friendly
def close_action(
    action_id: Annotated[int, typer.Argument(help="整改措施编号（`drill actions` 的第一列）。")],
    status: Annotated[str, typer.Option(
        help="done 已完成 / in_progress 整改中 / cancelled 已取消 / open 待整改。")] = "done",
    note: Annotated[str | None, typer.Option(help="完成情况或取消原因。 Note.")] = None,
    date: Annotated[dt.datetime | None, typer.Option(
        formats=DATE_FORMATS, help="完成日期（默认今天）。 Date.")] = None,
) -> None:
    """更新整改措施状态（默认标记为已完成）。 Close (or move) an improvement action."""
    from records.drills import update_action
    from records.models import ActionStatus

    lookup = {s.value: s for s in ActionStatus} | {s.label: s for s in ActionStatus}
    if status not in lookup:
        raise typer.BadParameter(f"应为：{'、'.join(s.label for s in ActionStatus)}",
                                 param_hint="--status")
    with db.open_session(instance().db_url) as session:
        item, changed = update_action(session, action_id, lookup[status], on=day(date), note=note)
        label = item.status.label
    stdout.print(f"整改措施 #{action_id}：{label}" + ("" if changed else "（没有变化）"))


@drill_app.command("actions")
@friendly
def actions(
    unit: UnitOpt = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只看已过期限仍未完成的。")] = False,
    closed: Annotated[bool, typer.Option("--all", help="包括已完成、已取消的。")] = False,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """演练整改措施清单（默认未完成的）。 Improvement actions; --overdue for late ones."""
    from records.drills import list_actions

    when = day(as_of)
    with db.open_session(instance().db_url) as session:
        df = list_actions(session, as_of=when, unit=unit_or_none(session, unit),
                          overdue=overdue, include_closed=closed)
    title = f"逾期整改措施（截至 {when}）" if overdue else "整改措施"
    render(df, fmt, title=title, out=out)
