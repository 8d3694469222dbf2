"""`safetrain course ...`: release modules to trainees and validate them before release.

Thin layer over `autograder.course`: parse, call, render. Registered in scripts/cli.py as
`app.add_typer(course_app, name="course")`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from scripts.options import FormatOpt, OutOpt, instance, messages
from scripts.output import Format, render, stderr

course_app = typer.Typer(
    help="课程模块：发布与检查。 Course modules: release and validate.",
    no_args_is_help=True,
    rich_markup_mode="markdown",  # reflow the docstrings' wrapped lines
)

ModulesArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="MODULE", help="模块 id，如 rescue-fire。 Module ids.", show_default=False
    ),
]


@contextmanager
def _bar(total: int) -> Iterator[Callable[[str, str], None]]:
    """A progress bar on stderr; yields progress(module, step). Step "" marks a module done."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task("", total=total)

        def progress(module: str, step: str) -> None:
            if step:
                bar.update(task, description=escape(f"{module}: {step}"))
            else:
                bar.advance(task)

        yield progress


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _roles_text(roles: set) -> str:
    from records.roles import Role

    missing = [r.label for r in Role if r not in roles]
    if not missing:
        return "全体"
    if len(missing) <= 2 and len(roles) > 2:
        return f"全体（{'、'.join(missing)}除外）"
    return "、".join(r.label for r in Role if r in roles)


@course_app.command("list")
def list_command(fmt: FormatOpt = Format.table, out: OutOpt = None) -> None:
    """列出课程模块：题数、总分、及格线、必修角色。 List modules with items and points."""
    from records.roles import Role

    with messages():
        from autograder import course
        infos = course.catalogue()
    df = pd.DataFrame(
        [(i.module.id, i.module.title, i.module.version, i.items, _number(i.points),
          i.module.pass_mark, i.module.estimated_minutes,
          _roles_text({Role(r) for r in i.module.required_for}),
          f"{i.required_from or ''}")
         for i in infos],
        columns=["模块", "名称", "版本", "题数", "总分", "及格%", "分钟", "必修角色", "必修自"],
    )
    render(df, fmt, title="课程模块 Modules", out=out)


@course_app.command("release")
def release_command(
    modules: ModulesArg = None,
    all_modules: Annotated[
        bool, typer.Option("--all", help="发布全部模块。 Release every module.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="未改动也重新生成。 Regenerate unchanged modules too.")
    ] = False,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """把模块的学员版发布到实例（`release/模块/`）。 Generate the trainee version of modules.

    Safe to run again: a module whose source has not changed since its last release is left
    as it is, unless --force is given. Example: `safetrain course release rescue-fire`.
    """
    if bool(modules) == all_modules:
        raise typer.BadParameter(
            "请写出模块 id，或用 --all（二者选一）。 Name modules or use --all."
        )
    inst = instance()
    with messages():
        from autograder import course

        ids = course.release_modules(modules or None)
        results = []
        with _bar(len(ids)) as progress:
            for module in ids:
                results += course.release(inst, [module], force=force, progress=progress)
                progress(module, "")
    df = pd.DataFrame(
        [(r.module, r.status.label, _number(r.max_score), str(r.path)) for r in results],
        columns=["模块", "状态", "总分", "发布目录"],
    )
    render(df, fmt, title=f"发布结果 Release（{inst.course_dir}）", out=out)


@course_app.command("validate")
def validate_command(
    modules: ModulesArg = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """检查模块能否发布、评分是否正确（默认全部）。 Check modules before release (default: all).

    For each module, in a throwaway course: it is listed in curriculum.yml, the notebook is
    well formed (unique grade ids, points > 0, at least 12 items, cites, hidden tests), the
    release leaks no answer, the reference solution scores full marks, a blank notebook
    scores 0 and the known wrong answers in `courses/checks/MODULE.yml` score as stated.
    Exits 1 if any check fails. Needs no instance or database.
    """
    with messages():
        from autograder import validation

        ids = validation.validate_modules(modules or None)
        reports = []
        with _bar(len(ids)) as progress:
            for module in ids:
                reports += validation.validate([module], progress=progress)
                progress(module, "")
    rows = [
        (r.module, c.label, "✔ 通过" if c.passed else "✘ 未通过", c.reason)
        for r in reports
        for c in r.checks
    ]
    df = pd.DataFrame(rows, columns=["模块", "检查项", "结果", "说明"])
    render(df, fmt, title="模块检查 Validate", out=out)
    failed = [r.module for r in reports if not r.passed]
    if failed:
        stderr.print(
            f"[bold red]{len(failed)}/{len(reports)} 个模块未通过 / failed:[/] {', '.join(failed)}"
        )
        raise typer.Exit(1)
    stderr.print(f"[green]全部 {len(reports)} 个模块通过 / all modules passed[/]")
