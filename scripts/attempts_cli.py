"""`safetrain attempts ...`: attempts used and left per module, and extra attempts granted.

Thin: parse, open one session, call `records.attempts`, render. Limits come from
`courses/curriculum.yml` (`max_attempts`, `cooldown_hours` per module).
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from records import db
from scripts.options import FormatOpt, OutOpt, friendly, instance
from scripts.output import Format, render, stdout

if TYPE_CHECKING:
    from records.curriculum import Module

attempts_app = typer.Typer(
    help="提交次数：每个模块已用、剩余的评分次数，以及管理员追加的次数。 Attempt limits.",
    no_args_is_help=True,
)
TraineeArg = Annotated[str, typer.Argument(help="学员账号（trainee id）。 Trainee login.")]
ModuleArg = Annotated[str, typer.Argument(help="模块 id，如 rescue-fire。 Module id.")]


def _module(module: str) -> Module:
    from records.curriculum import courses_dir, load_curriculum

    return load_curriculum(courses_dir() / "curriculum.yml").module(module)


@attempts_app.command("grant")
@friendly
def grant(
    trainee: TraineeArg,
    module: ModuleArg,
    reason: Annotated[str, typer.Option(
        help="追加原因（必填，记入日志），如“系统故障补考”。 Why (logged).")],
    count: Annotated[int, typer.Option(help="追加几次（1–20）。 How many.")] = 1,
) -> None:
    """给学员在某模块上追加评分次数，并记入日志；每运行一次追加一次。 Grant extra attempts.

    Example: safetrain attempts grant zhangsan rescue-fire --count 1 --reason "网络故障，补考一次"
    """
    from records.attempts import allowances, grant_attempts

    entry = _module(module)
    with db.open_session(instance().db_url) as session:
        grant_attempts(session, trainee, entry, count, reason, by=getpass.getuser())
        allowance = allowances(session, entry, [trainee.strip()])[trainee.strip()]
    stdout.print(f"{escape(trainee.strip())} · {module}：追加 {count} 次 (granted)；"
                 f"已用 {allowance.used} 次，剩余 {allowance.left} 次", highlight=False)


@attempts_app.command("list")
@friendly
def list_grants(
    trainee: Annotated[str | None, typer.Option("--trainee", help="只看这个账号。 One trainee.")] = None,
    module: Annotated[str | None, typer.Option("--module", help="只看这个模块。 One module.")] = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """列出追加次数的日志（谁、何时、给谁、哪个模块、几次、为什么）。 List grants."""
    from records.attempts import grant_log

    if module is not None:
        _module(module)  # an unknown module is an error, not an empty list
    with db.open_session(instance().db_url) as session:
        df = grant_log(session, trainee_id=trainee, module=module)
    render(df, fmt, title="追加次数记录", out=out)


@attempts_app.command("status")
@friendly
def status(
    module: ModuleArg,
    trainee: Annotated[str | None, typer.Option("--trainee", help="只看这个账号。 One trainee.")] = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """某模块每位学员已用、追加、剩余的次数，以及冷却期内的下次可评分时间。 Attempts per trainee."""
    from records.attempts import usage_table

    entry = _module(module)
    with db.open_session(instance().db_url) as session:
        df = usage_table(session, entry, trainee_id=trainee)
    render(df, fmt, title=f"{module} 提交次数（上限 {entry.max_attempts} 次，"
                          f"间隔 {entry.cooldown_hours:g} 小时）", out=out)
