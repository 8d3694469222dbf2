"""The `safetrain` command line: parse, open one session, call the library, render."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.logging import RichHandler
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from sqlalchemy.engine import make_url

from records import db
from records.errors import ImportRowsError, SafeTrainError
from records.instance import Instance
from records.models import UnitLevel
from scripts.admin_cli import admin_app
from scripts.attempts_cli import attempts_app
from scripts.backup_cli import backup, restore
from scripts.cert_cli import cert_app
from scripts.course_cli import course_app
from scripts.drill_cli import drill_app
from scripts.grade_cli import grade
from scripts.hub_cli import hub_app
from scripts.output import Format, render, stderr, stdout
from scripts.report_cli import report_app
from scripts.training_cli import training_app

log = logging.getLogger("safetrain")
F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="safetrain",
    help="SafeTrain：基层应急管理人员培训、演练与持证记录。 Training, drill and certification records.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="记录数据库：迁移与状态。 Records database migrations.", no_args_is_help=True)
roster_app = typer.Typer(help="花名册：导入人员、查看单位和人数。 Roster import and summaries.",
                         no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(roster_app, name="roster")
app.add_typer(course_app, name="course")
app.add_typer(training_app, name="training")
app.add_typer(drill_app, name="drill")
app.add_typer(cert_app, name="cert")
app.add_typer(report_app, name="report")
app.add_typer(admin_app, name="admin")
app.add_typer(attempts_app, name="attempts")
app.add_typer(hub_app, name="hub")

_state: dict[str, Instance] = {}


def instance() -> Instance:
    return _state.get("instance") or Instance.from_env()


def friendly(fn: F) -> F:
    """Turn SafeTrainError into a clear message and its exit code, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ImportRowsError as exc:
            show_row_errors(exc)
            raise typer.Exit(exc.exit_code) from None
        except SafeTrainError as exc:
            stderr.print(f"[bold red]错误 Error:[/] {exc}")
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def show_row_errors(exc: ImportRowsError, limit: int = 200) -> None:
    for error in exc.errors[:limit]:
        stderr.print(f"[red]✗[/] {error}", highlight=False)
    if len(exc.errors) > limit:
        stderr.print(f"……另有 {len(exc.errors) - limit} 处错误未列出（可用 --skip-invalid --rejects 导出全部）")
    stderr.print(f"[bold red]{exc}[/]")


def progress_bar() -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                    TaskProgressColumn(), TimeRemainingColumn(), console=stderr, transient=True)


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        help="实例目录（默认 ./instance 或 $SAFETRAIN_HOME）。 Instance directory.")] = None,
    database: Annotated[str | None, typer.Option(
        "--db", help="记录数据库 URL（默认实例内的 SQLite，或 $SAFETRAIN_DB）。 Records database URL.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="显示调试日志。 Debug logging.")] = False,
) -> None:
    from records.idcard import MaskIdNumbers

    handler = RichHandler(console=stderr, show_path=False)
    handler.addFilter(MaskIdNumbers())
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[handler], force=True)
    # Alembic narrates every connection at INFO; only migrations that run are worth showing.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)
    # nbgrader narrates every file it copies; its warnings and errors still show.
    logging.getLogger("autograder.course.nbgrader").setLevel(
        logging.DEBUG if verbose else logging.WARNING)
    _state["instance"] = ctx.obj = Instance.from_env(home, database)


@app.command()
@friendly
def init() -> None:
    """创建实例目录并把记录数据库迁移到最新。 Create the instance and migrate its database.

    Safe to run again: an up-to-date instance is left as it is.
    """
    inst = instance()
    inst.create_dirs()
    if not inst.secret_file.exists():
        inst.secret_file.write_text(secrets.token_hex(32))
        inst.secret_file.chmod(0o600)
    before, after = _upgrade(inst)
    state = "已是最新 (up to date)" if before == after else f"{before or '空库'} → {after}"
    shown = make_url(inst.db_url).render_as_string(hide_password=True)
    stdout.print(f"实例 Instance: {inst.home}\n数据库 Database: {shown}  [{state}]")


def _upgrade(inst: Instance) -> tuple[str | None, str]:
    """Migrate with the instance's secret (the event log's genesis needs it), then anchor."""
    from records.certificates import load_secret
    from records.event_log import anchor_if_missing, anchor_path

    secret = load_secret(inst.secret_file) if inst.secret_file.exists() else None
    engine = db.make_engine(inst.db_url)
    try:
        before, after = db.upgrade(engine, secret=secret)
        with db.session_factory(engine).begin() as session:
            anchor_if_missing(session, anchor_path(inst.home))
    finally:
        engine.dispose()
    return before, after


@db_app.command("upgrade")
@friendly
def db_upgrade() -> None:
    """把记录数据库迁移到程序的最新版本。 Run Alembic migrations to head."""
    before, after = _upgrade(instance())
    stdout.print(f"数据库版本 {before or '空库'} → {after}" if before != after else f"已是最新版本 {after}")


@db_app.command("status")
@friendly
def db_status() -> None:
    """显示数据库版本，以及是否需要迁移。 Show the current and head revisions."""
    engine = db.make_engine(instance().db_url)
    try:
        current, head = db.current_revision(engine), db.head_revision()
    finally:
        engine.dispose()
    stdout.print(f"数据库 {db.safe_url(engine)}\n当前版本 current: {current or '(未初始化)'}\n最新版本 head: {head}")
    if current != head:
        raise typer.Exit(3)


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
            stderr.print(f"[yellow]跳过[/] {error}", highlight=False)
        stderr.print(f"[yellow]{len({e.row for e in report.rejected})} 行无效，已跳过；明细见 {target}[/]")
    stdout.print(import_panel(report))


def import_panel(report: Any) -> Panel:
    lines = [
        f"数据行 rows: {report.rows}",
        f"新增人员 people created: {report.people_created}",
        f"更新人员 people updated: {report.people_updated}",
        f"未变人员 unchanged: {report.people_unchanged}",
        f"新开岗位 posts opened: {report.posts_opened}",
        f"结束岗位 posts closed: {report.posts_closed}",
        f"新建单位 units created: {report.units_created}",
    ]
    if report.rejected:
        lines.append(f"跳过的行 rows skipped: {len({e.row for e in report.rejected})}")
    if report.dry_run:
        title, style = f"{report.file}：试运行，未写入 (dry run, nothing written)", "yellow"
    elif report.changed:
        title, style = f"{report.file}：已导入 (imported)", "green"
    else:
        title, style = f"{report.file}：没有变化 (no changes)", "blue"
    return Panel("\n".join(lines), title=title, border_style=style, expand=False)


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
    import pandas as pd
    from sqlalchemy import select

    from records.models import OrgUnit

    with db.open_session(instance().db_url) as session:
        rows = session.execute(select(OrgUnit.code, OrgUnit.level, OrgUnit.path)
                               .order_by(OrgUnit.code)).all()
    df = pd.DataFrame([(r.code, r.level.label, r.path) for r in rows], columns=["代码", "层级", "单位"])
    render(df, fmt, title="单位", out=out)


@app.command("demo-data")
@friendly
def demo_data(
    people: Annotated[int, typer.Option(min=10, max=2_000_000, help="人数")] = 2000,
    seed: Annotated[int, typer.Option(help="随机种子：同一种子生成同一座城市")] = 1,
    xlsx: Annotated[Path | None, typer.Option(help="同时写成 xlsx 花名册")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="同时写成 CSV 花名册（UTF-8 带 BOM）")] = None,
    no_db: Annotated[bool, typer.Option("--no-db", help="只写文件，不写入数据库")] = False,
    activity: Annotated[bool, typer.Option(
        "--activity", help="再生成一年的培训、签到、演练、成绩、证书和人员调动（同一种子结果相同）")] = False,
) -> None:
    """生成一座虚构城市（安和市）的人员，写入数据库和/或花名册文件。 Synthetic city."""
    from demo import city as demo_city

    with progress_bar() as bar:
        task = bar.add_task("生成人员", total=people)
        city = demo_city.generate(people, seed, progress=lambda d, t: bar.update(task, completed=d))
        if xlsx:
            bar.update(task, description=f"写入 {xlsx.name}")
            demo_city.write_roster_xlsx(city, xlsx)
        if csv_path:
            demo_city.write_roster_csv(city, csv_path)
    if not no_db:
        with db.open_session(instance().db_url) as session:
            report = demo_city.load(session, city, seed)
        stdout.print(import_panel(report))
        if activity:
            from scripts.demo import demo_activity

            demo_activity(instance(), seed)
    for path in (xlsx, csv_path):
        if path:
            stdout.print(f"花名册已写入 {path}")


@app.command()
@friendly
def demo(
    people: Annotated[int, typer.Option(min=50, help="演示城市的人数")] = 2000,
) -> None:
    """演示：生成城市 → 写出 xlsx 花名册 → 导入 → 按单位和角色汇总。 Run the demo."""
    from scripts.demo import run_demo

    run_demo(instance(), people=people)


app.command("grade")(friendly(grade))
app.command("backup")(backup)
app.command("restore")(restore)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
