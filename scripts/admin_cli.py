"""`safetrain admin ...`: which units a Jupyter login may see in the 培训覆盖 panel.

Thin: parse, open one session, call `records.access`, render.
"""

from __future__ import annotations

import getpass
import re
from typing import Annotated

import typer
from rich.markup import escape

from records import db
from records.idcard import mask
from scripts.options import AsOfOpt, FormatOpt, OutOpt, day, friendly, instance
from scripts.output import Format, render, stderr, stdout

admin_app = typer.Typer(
    help="管理员范围：哪个账号可在 JupyterLab 里查看哪些单位。 Administrator scopes.",
    no_args_is_help=True,
)
LoginArg = Annotated[str, typer.Argument(
    help="Jupyter/JupyterHub 登录名（即账号、trainee id）。 Jupyter user name.")]
# An ID number typed where a login belongs (or used as one) is shown masked, never whole.
_ID_LIKE = re.compile(r"\d{17}[\dXx]|\d{15}")


def masked(login: str) -> str:
    """A login with every ID-number-like run masked (1101********1234)."""
    return _ID_LIKE.sub(lambda m: mask(m.group()), login)


def shown(login: str) -> str:
    """A login as echoed to the terminal: masked, markup escaped."""
    return escape(masked(login))


def checked(login: str) -> str:
    """The login as stored; a usage error (masked, never a traceback) when it is unusable."""
    from records.people import normalise_login

    try:
        return normalise_login(login)
    except ValueError as exc:
        raise typer.BadParameter(masked(str(exc)), param_hint="LOGIN") from None


UnitArg = Annotated[str, typer.Argument(help="单位代码或完整路径，如 0101。 Unit code or path.")]


@admin_app.command("grant")
@friendly
def grant(
    login: LoginArg,
    unit: UnitArg,
    note: Annotated[str | None, typer.Option(help="备注，如授权依据。 Note.")] = None,
) -> None:
    """允许该账号查看某单位及其全部下级的培训覆盖情况；重复授权不产生变化。 Grant a scope.

    Example: safetrain admin grant wangfang 0101   (北湾区 and everything below it)
    """
    from records.access import grant as grant_scope
    from records.org import find_unit

    login = checked(login)
    with db.open_session(instance().db_url) as session:
        target = find_unit(session, unit)
        state = grant_scope(session, login, target, by=getpass.getuser(), note=note)
        path = target.path
    word = "已授权 (granted)" if state == "created" else "已有此授权，没有变化 (unchanged)"
    stdout.print(f"{shown(login.strip().lower())} → {escape(path)}：{word}", highlight=False)


@admin_app.command("revoke")
@friendly
def revoke(
    login: LoginArg,
    unit: Annotated[str | None, typer.Argument(
        help="单位代码或路径；与 --all 二选一。 Unit code or path.")] = None,
    all_units: Annotated[bool, typer.Option(
        "--all", help="撤销该账号的全部授权。 Revoke every scope of the login.")] = False,
) -> None:
    """撤销授权；没有这项授权时说明并正常结束。 Revoke a scope (or --all).

    Leader posts are not grants: a 主要领导/分管领导 sees their own unit while they hold the post.
    """
    from records.access import revoke as revoke_scope
    from records.org import find_unit

    if (unit is None) == (not all_units):
        raise typer.BadParameter("请给出单位，或用 --all 撤销全部。 Give a UNIT or --all.")
    login = checked(login)
    with db.open_session(instance().db_url) as session:
        removed = revoke_scope(session, login, find_unit(session, unit) if unit else None)
    if not removed:
        stdout.print(f"{shown(login)} 没有这项授权，没有变化 (nothing to revoke)", highlight=False)
    for path in removed:
        stdout.print(f"{shown(login)} → {escape(path)}：已撤销 (revoked)", highlight=False)


@admin_app.command("list")
@friendly
def list_scopes(
    login: Annotated[str | None, typer.Option("--login", help="只看这个账号。 One login.")] = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """列出全部管理员授权。 List administrator grants."""
    from records.access import list_grants

    with db.open_session(instance().db_url) as session:
        df = list_grants(session, login=login)
    df["账号"] = df["账号"].map(masked)
    render(df, fmt, title="管理员授权", out=out)


@admin_app.command("show")
@friendly
def show(login: LoginArg, as_of: AsOfOpt = None) -> None:
    """这个账号在 JupyterLab 里是谁、能看哪些单位（含领导岗位带来的范围）。 Who is LOGIN?"""
    import pandas as pd

    from records.access import viewer_for

    with db.open_session(instance().db_url) as session:
        viewer = viewer_for(session, login.strip().lower(), as_of=day(as_of))
    who = viewer.name or "不在花名册（只能作为管理员）"
    stdout.print(f"账号 {shown(viewer.login)}：{escape(who)}", highlight=False)
    if not viewer.scopes:
        stderr.print("没有可查看的单位：用 `safetrain admin grant` 授权。")
        return
    source = {"grant": "授权", "leader": "领导岗位"}
    render(pd.DataFrame([(s.code, s.path, s.level.label, source[s.source]) for s in viewer.scopes],
                        columns=["单位代码", "单位", "层级", "来源"]), title="可查看的单位")
