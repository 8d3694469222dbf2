"""The `safetrain` command line: the root options and every command group, assembled.

Each group lives in its own module (`*_cli.py`), sharing scripts/options.py and
scripts/output.py; this module imports them and nothing imports it but the entry point.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler

from records.instance import Instance
from scripts.admin_cli import admin_app
from scripts.attempts_cli import attempts_app
from scripts.backup_cli import backup, restore
from scripts.cert_cli import cert_app
from scripts.course_cli import course_app
from scripts.db_cli import db_app, init
from scripts.demo_cli import demo_command, demo_data
from scripts.drill_cli import drill_app
from scripts.grade_cli import grade
from scripts.hub_cli import hub_app
from scripts.options import friendly
from scripts.output import stderr
from scripts.report_cli import report_app
from scripts.roster_cli import roster_app
from scripts.training_cli import training_app

app = typer.Typer(
    name="safetrain",
    help="SafeTrain：基层应急管理人员培训、演练与持证记录。 Training, drill and certification records.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
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
    ctx.obj = Instance.from_env(home, database)


app.command()(init)
app.command("demo-data")(demo_data)
app.command("demo")(demo_command)
app.command("grade")(friendly(grade))
app.command("backup")(backup)
app.command("restore")(restore)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
