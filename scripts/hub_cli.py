"""`safetrain hub ...`: a JupyterHub for trainees on one server (docs/hub.md).

Thin: parse, call `jupyter_safetrain.hub.deploy` / `users` / `pgcheck`, render. Run as root.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from records.errors import SafeTrainError

F = TypeVar("F", bound=Callable[..., Any])
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

hub_app = typer.Typer(
    help="JupyterHub：每个学员一个系统用户和服务器，记录服务单独持有数据库凭据。"
         " A JupyterHub for trainees; the records service alone holds the credentials.",
    no_args_is_help=True,
)
PrefixOpt = Annotated[Path, typer.Option(
    help="部署目录（make hub-env HUB_PREFIX=… 建好的环境所在处）。 Deployment prefix.")]
PasswordStdinOpt = Annotated[bool, typer.Option(
    "--password-stdin", help="从标准输入读密码（一行），不提示。 Read the password from stdin.")]


def friendly(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SafeTrainError as exc:
            err.print(f"[bold red]错误 Error:[/] {escape(str(exc))}")
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _root_only() -> None:
    if os.geteuid() != 0:
        err.print("[bold red]错误:[/] safetrain hub 需要以 root 运行（要创建系统用户、以各用户身份启动服务器）")
        raise typer.Exit(6)


def _password(stdin: bool, what: str) -> str:
    if stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = typer.prompt(what, hide_input=True, confirmation_prompt=True)
    if not value:
        raise typer.BadParameter("密码不能为空")
    return value


def _traversable(prefix: Path) -> None:
    from jupyter_safetrain.hub.deploy import DeployError

    for folder in [prefix, *prefix.parents]:
        if folder.exists() and not folder.stat().st_mode & 0o001:
            if folder == prefix:
                folder.chmod(folder.stat().st_mode | 0o755)
                continue
            raise DeployError(f"其他用户无法进入 {folder}（权限 {oct(folder.stat().st_mode & 0o777)}）："
                              "部署目录须放在所有用户都能进入的位置，如 /opt/safetrain")


@hub_app.command("init")
@friendly
def init(
    db: Annotated[str, typer.Option(
        "--db", help="PostgreSQL 地址，不含密码，如 postgresql+psycopg://safetrain_records@127.0.0.1:5432/safetrain。"
                     " The records database URL, without its password.")],
    prefix: PrefixOpt = Path("/opt/safetrain"),
    password_stdin: PasswordStdinOpt = False,
    user_prefix: Annotated[str, typer.Option(
        help="学员系统用户名前缀：账号 zhangsan → 系统用户 st-zhangsan。 System user prefix.")] = "st-",
) -> None:
    """保存记录服务的数据库凭据（仅记录服务可读）、创建记录服务用户并迁移数据库；可重复运行。

    The password is asked for (or read from stdin), checked, and written with the URL to
    PREFIX/records/db.url (0600, the service's user): never to a command line.
    """
    from sqlalchemy.engine import make_url

    from jupyter_safetrain.hub import deploy, pgcheck, users

    _root_only()
    parsed = make_url(db)
    if parsed.password:
        raise typer.BadParameter("地址里不要写密码（命令行对本机所有用户可见）：用提示或 --password-stdin 输入",
                                 param_hint="--db")
    if parsed.get_backend_name() != "postgresql":
        raise typer.BadParameter("JupyterHub 部署须用 PostgreSQL（SQLite 只用于单用户 make demo）",
                                 param_hint="--db")
    layout = deploy.Layout(prefix.resolve())
    layout.check_software()
    _traversable(layout.prefix)
    try:
        settings = layout.load_settings()
    except SafeTrainError:
        settings = deploy.Settings()
    settings.user_prefix = deploy.check_prefix(user_prefix)
    password = _password(password_stdin, f"{parsed.username} 的数据库密码")
    url = parsed.set(password=password).render_as_string(hide_password=False)
    pgcheck.require_password(url)
    registry = users.Registry(layout.registry_file)
    layout.save_settings(settings)
    users.ensure_user(settings.service_user, layout.records, registry, system=True,
                      comment="SafeTrain records service")
    instance = deploy.write_credentials(layout, url)
    before, after = deploy.migrate(instance)
    users.chown_tree(layout.records, settings.service_user)
    state = "已是最新" if before == after else f"{before or '空库'} → {after}"
    out.print(f"部署 {layout.prefix}：记录服务用户 {settings.service_user}，"
              f"数据库 {deploy.describe_url(url)}（{state}）")
    out.print(f"下一步：导入花名册（SAFETRAIN_HOME={layout.records} safetrain roster import …），"
              f"然后 safetrain hub start --prefix {layout.prefix}")


@hub_app.command("start")
@friendly
def start(
    prefix: PrefixOpt = Path("/opt/safetrain"),
    ip: Annotated[str | None, typer.Option(help="对外地址（默认 127.0.0.1）。 Public IP.")] = None,
    port: Annotated[int | None, typer.Option(help="对外端口（默认 8000）。 Public port.")] = None,
    hub_port: Annotated[int | None, typer.Option(help="Hub 内部端口（默认 8081）。")] = None,
    proxy_api_port: Annotated[int | None, typer.Option(help="代理 API 端口（默认 8001）。")] = None,
    service_port: Annotated[int | None, typer.Option(help="记录服务端口（默认 8082）。")] = None,
    instructor: Annotated[list[str] | None, typer.Option(
        help="教员账号（可重复）。 Instructor login (repeatable).")] = None,
    as_of: Annotated[str | None, typer.Option(
        help="本次按这一天计算（演示与测试；不保存）。 Evaluate on this day (this run only).")] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="只检查并写配置，不启动。 Check and write the config only.")] = False,
) -> None:
    """启动 JupyterHub（前台运行）：检查数据库要求密码、按花名册创建系统用户、写配置、启动。

    Refuses to start when the database lets anyone in without a password. Runs in the
    foreground (Ctrl-C stops it); run it again after a roster import to update who may log in.
    """
    from jupyter_safetrain.hub import deploy, pgcheck, users
    from records import db
    from records.access import today
    from records.instance import Instance

    _root_only()
    layout = deploy.Layout(prefix.resolve())
    settings = layout.load_settings()
    for name, value in (("ip", ip), ("port", port), ("hub_port", hub_port),
                        ("proxy_api_port", proxy_api_port), ("service_port", service_port)):
        if value is not None:
            setattr(settings, name, value)
    if instructor is not None:
        settings.instructors = sorted({i.strip().lower() for i in instructor})
    if as_of is not None:
        settings.as_of = dt.date.fromisoformat(as_of).isoformat() if as_of else ""
    layout.check_software()
    _traversable(layout.prefix)
    url = layout.db_url()
    pgcheck.require_password(url)
    instance = Instance.from_env(layout.records)
    day = dt.date.fromisoformat(settings.as_of) if settings.as_of else today()
    with db.open_session(instance.db_url) as session:
        who = deploy.hub_users(session, as_of=day, instructors=settings.instructors)
    layout.save_settings(dataclasses.replace(settings, as_of=""))  # a demo day is not kept
    registry = users.Registry(layout.registry_file)
    users.ensure_user(settings.service_user, layout.records, registry, system=True,
                      comment="SafeTrain records service")
    layout.homes.mkdir(parents=True, exist_ok=True)
    layout.homes.chmod(0o755)
    report = users.sync_trainees(who.allowed, settings.user_prefix, layout.homes, registry)
    allowed = who.allowed - {login for login, _ in report.refused}
    deploy.publish_curriculum(layout)
    users.chown_tree(layout.records, settings.service_user)
    layout.records.chmod(0o700)
    config = deploy.write_config(layout, deploy.render_config(layout, settings, who, allowed))
    out.print(f"可登录账号 {len(allowed)} 个（学员 {len(who.trainees & allowed)}、领导 "
              f"{len(who.leaders & allowed)}、管理员 {len(who.administrators & allowed)}、教员 "
              f"{len(who.instructors & allowed)}）；新建系统用户 {len(report.created)} 个")
    for login, reason in report.refused[:20]:
        err.print(f"[yellow]未能为账号 {escape(login)} 准备系统用户：{escape(reason)}[/]")
    out.print(f"配置 {config}；记录服务以 {settings.service_user} 运行")
    if check:
        return
    out.print(f"JupyterHub 启动中：{deploy.public_url(settings)}（Ctrl-C 停止）")
    sys.stdout.flush()
    os.chdir(layout.hub)
    jupyterhub = str(layout.env / "bin" / "jupyterhub")
    os.execve(jupyterhub, [jupyterhub, "-f", str(config)], deploy.hub_environment(layout))


@hub_app.command("passwd")
@friendly
def passwd(
    login: Annotated[str, typer.Argument(help="花名册账号。 Roster login.")],
    prefix: PrefixOpt = Path("/opt/safetrain"),
    password_stdin: PasswordStdinOpt = False,
) -> None:
    """设置学员登录密码（其系统用户的密码，PAM 认证用）。 Set a trainee's login password."""
    from jupyter_safetrain.hub import deploy, users

    _root_only()
    layout = deploy.Layout(prefix.resolve())
    settings = layout.load_settings()
    name = settings.user_prefix + login.strip().lower()
    users.set_password(name, _password(password_stdin, f"{login} 的新密码"),
                       users.Registry(layout.registry_file))
    out.print(f"已设置账号 {escape(login)}（系统用户 {name}）的密码")
