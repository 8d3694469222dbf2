"""What every command module shares: the common options, the instance the root command
chose, errors turned into messages and exit codes, and small argument helpers.

Command modules import this (and scripts.output); nothing here imports a command module,
and scripts/cli.py only assembles the groups, so the modules form no circle.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape

from records.errors import ImportRowsError, SafeTrainError
from records.instance import Instance
from scripts.output import Format, stderr

F = TypeVar("F", bound=Callable[..., Any])
DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"]

FormatOpt = Annotated[Format, typer.Option("--format", help="输出格式。 Output format.")]
OutOpt = Annotated[Path | None, typer.Option(help="写入文件（csv/json/xlsx）。 Write to a file.")]
UnitOpt = Annotated[str | None, typer.Option(
    "--unit", help="只看该单位（代码或完整路径）及其下级。 Unit code or path.")]
AsOfOpt = Annotated[dt.datetime | None, typer.Option(
    "--as-of", formats=DATE_FORMATS, help="按这一天计算（默认今天）。 Day of evaluation.")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="只检查并显示结果，不写入。 Check only, write nothing.")]
SheetOpt = Annotated[str | None, typer.Option(help="工作表名称（默认第一个可见工作表）。 Sheet.")]
YearOpt = Annotated[int | None, typer.Option(help="只看这一年。 Calendar year.")]
UnderOpt = Annotated[str | None, typer.Option(
    help="表中只有姓名、没有单位时，在该单位下查找（默认：组织单位所在街道）。 Where to look up names.")]


def instance() -> Instance:
    """The instance the root command chose (--home/--db, kept as the root context's obj),
    else SAFETRAIN_HOME / ./instance (a command group invoked on its own, as tests do)."""
    try:  # Typer bundles its own click (typer._click); older Typer runs on click itself
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover
        from click import get_current_context
    ctx = get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    return obj if isinstance(obj, Instance) else Instance.from_env()


def show_row_errors(exc: ImportRowsError, limit: int = 200) -> None:
    for error in exc.errors[:limit]:
        stderr.print(f"[red]✗[/] {escape(str(error))}", highlight=False)
    if len(exc.errors) > limit:
        stderr.print(f"……另有 {len(exc.errors) - limit} 处错误未列出（可用 --skip-invalid --rejects 导出全部）")
    stderr.print(f"[bold red]{escape(str(exc))}[/]", highlight=False)


@contextmanager
def messages() -> Iterator[None]:
    """A SafeTrainError inside becomes its message on stderr and its exit code."""
    try:
        yield
    except ImportRowsError as exc:
        show_row_errors(exc)
        raise typer.Exit(exc.exit_code) from None
    except SafeTrainError as exc:
        stderr.print(f"[bold red]错误 Error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


def friendly(fn: F) -> F:
    """A command whose SafeTrainError is a clear message and its exit code, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with messages():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.date.today()


def year_range(year: int | None) -> tuple[dt.date | None, dt.date | None]:
    """1 January to 31 December of `year`, or no bounds."""
    return (dt.date(year, 1, 1), dt.date(year, 12, 31)) if year else (None, None)


def unit_or_none(session: Any, ref: str | None) -> Any:
    from records.org import find_unit

    return find_unit(session, ref) if ref else None


def people_from_refs(session: Any, refs: list[str]) -> list[Any]:
    from records.importers.matching import find_person_ref

    people = {p.id: p for p in (find_person_ref(session, ref) for ref in refs)}
    return list(people.values())


def curriculum() -> Any:
    from records.curriculum import load_curriculum

    return load_curriculum()
