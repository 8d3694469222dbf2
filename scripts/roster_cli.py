"""`safetrain roster ...`: import a roster (花名册), people in post by unit and role, units.

Thin: parse, open one session, call `records.importers.roster` / `records.summary` /
`records.org`, render.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from records import db
from records.models import UnitLevel
from scripts.options import friendly, instance
from scripts.output import Format, import_panel, progress_bar, render, stderr, stdout

log = logging.getLogger("safetrain")

roster_app = typer.Typer(help="花名册：导入人员、查看单位和人数。 Roster import and summaries.",
                         no_args_is_help=True)


@roster_app.command("import")
@friendly
def roster_import(
    file: Annotated[Path, typer.Argument(help="花名册 .xlsx 或 .csv（UTF-8 / GBK 均可）")],
    sheet: Annotated[str | None, typer.Option(help="工作表名称（默认第一个可见工作表）")] = None,
    as_of: Annotated[dt.datetime | None, typer.Option(
        "--as-of", formats=["%Y-%m-%d"], help="岗位变动的生效日期（默认今天）")] = None,
    under: Annotated[str | None, typer.Option(
        help="表中单位的上级路径，如 安和市/东城区/朝阳街道（表中只有社区列时用）")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只检查并显示将要发生的变化，不写入")] = False,
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help="导入有效行，把无效行连同原因写入 --rejects 文件")] = False,
    rejects: Annotated[Path | None, typer.Option(help="无效行输出 CSV（与 --skip-invalid 一起用）")] = None,
    close_missing: Annotated[bool, typer.Option(
        "--close-missing", help="表中单位里、本表未列出的人员，其岗位于 --as-of 前一日结束（人员离岗）")] = False,
) -> None:
    """导入花名册：全部有效才写入，重复导入不产生变化。 Import a roster, all-or-nothing.

    Every row is checked (ID number per GB 11643, phone, role, date, unit); any invalid row
    means nothing is written and each error names the file, row and column. A changed unit
    or role closes the old post and opens a new one dated --as-of.
    """
    from records.importers.roster import import_roster, write_rejects

    if rejects and not skip_invalid:
        raise typer.BadParameter("--rejects 需要与 --skip-invalid 一起使用", param_hint="--rejects")
    inst = instance()
    day = as_of.date() if as_of else None
    with progress_bar() as bar, db.open_session(inst.db_url) as session:
        task = bar.add_task(f"检查 {file.name}", total=None)
        report = import_roster(
            session, file, sheet=sheet, as_of=day, under=under, skip_invalid=skip_invalid,
            close_missing=close_missing,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
        report.dry_run = dry_run
        if dry_run:
            raise db.Rollback
    for warning in report.warnings:
        log.warning("%s：%s", file.name, warning)
    if report.rejected:
        target = rejects or inst.imports_dir / f"{file.stem}-rejects-{dt.datetime.now():%Y%m%d-%H%M%S}.csv"
        write_rejects(target, file, report.rejected, sheet)
        for error in report.rejected[:20]:
            stderr.print(f"[yellow]跳过[/] {escape(str(error))}", highlight=False)
        stderr.print(f"[yellow]{len({e.row for e in report.rejected})} 行无效，已跳过；明细见 {escape(str(target))}[/]",
                     highlight=False)
    stdout.print(import_panel(report))


@roster_app.command("summary")
@friendly
def roster_summary(
    level: Annotated[str, typer.Option(help="汇总到哪一级：city / district / street / community")] = "street",
    unit: Annotated[str | None, typer.Option(help="只看该单位（代码或完整路径）及其下级")] = None,
    as_of: Annotated[dt.datetime | None, typer.Option(
        "--as-of", formats=["%Y-%m-%d"], help="按这一天在岗的人员统计（默认今天）")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="输出格式")] = Format.table,
    out: Annotated[Path | None, typer.Option(help="写入文件（csv/json/xlsx）")] = None,
) -> None:
    """按单位和角色统计在岗人数。 People in post by unit and role."""
    from records.org import find_unit
    from records.summary import roster_summary as summarise

    try:
        unit_level = UnitLevel[level]
    except KeyError:
        raise typer.BadParameter("应为 city、district、street 或 community", param_hint="--level") from None
    with db.open_session(instance().db_url) as session:
        scope = find_unit(session, unit) if unit else None
        df = summarise(session, level=unit_level, as_of=as_of.date() if as_of else None, unit=scope)
    render(df, fmt, title=f"在岗人员（按{unit_level.label}和角色）", out=out)


@roster_app.command("units")
@friendly
def roster_units(
    fmt: Annotated[Format, typer.Option("--format", help="输出格式")] = Format.table,
    out: Annotated[Path | None, typer.Option(help="写入文件（csv/json/xlsx）")] = None,
) -> None:
    """列出单位及其代码。 List org units with their stable codes."""
    from records.org import list_units

    with db.open_session(instance().db_url) as session:
        df = list_units(session)
    render(df, fmt, title="单位", out=out)
