"""`safetrain init` and `safetrain db ...`: create the instance, migrate, show the revision."""

from __future__ import annotations

import typer

from records import db
from scripts.options import friendly, instance
from scripts.output import stdout

db_app = typer.Typer(help="记录数据库：迁移与状态。 Records database migrations.", no_args_is_help=True)


@friendly
def init() -> None:
    """创建实例目录并把记录数据库迁移到最新。 Create the instance and migrate its database.

    Safe to run again: an up-to-date instance is left as it is.
    """
    inst = instance()
    before, after = inst.initialise()
    state = "已是最新 (up to date)" if before == after else f"{before or '空库'} → {after}"
    stdout.print(f"实例 Instance: {inst.home}\n数据库 Database: {db.shown_url(inst.db_url)}  [{state}]")


@db_app.command("upgrade")
@friendly
def db_upgrade() -> None:
    """把记录数据库迁移到程序的最新版本。 Run Alembic migrations to head."""
    before, after = instance().upgrade()
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
