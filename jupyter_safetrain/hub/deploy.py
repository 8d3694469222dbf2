"""A JupyterHub deployment under one prefix (default /opt/safetrain), as `safetrain hub` runs it.

    PREFIX/            0755, every user can traverse it
      env/             the deployment's Python environment (make hub-env), readable by all
      proxy/           configurable-http-proxy from npm (make hub-env)
      courses/         curriculum.yml only (what the panels need; no notebooks, no answers)
      home/            one home per trainee's system user, each 0700
      hub/             0700 root: jupyterhub_config.py, the hub's database and cookie secret,
                       settings.json, users.json (the system users this deployment created)
      records/         0700 the records service's user: its instance, with db.url (the
                       PostgreSQL URL and password), secret.key and the event log anchor

The hub runs as root, started by `safetrain hub start` with a clean environment; the records
service is a managed JupyterHub service running as its own system user; user servers run as
their trainee's system user. Only the records folder holds a records credential.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import distinct, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from jupyter_safetrain.hub import (
    ACCESS_SCOPE,
    RECORDS_URL_ENV,
    SCOPE_INSTRUCT,
    SCOPE_OWN,
    SCOPE_UNITS,
    SERVICE_NAME,
)
from records import db
from records.errors import NotInitialised, SafeTrainError
from records.instance import DB_URL_FILENAME, Instance

log = logging.getLogger(__name__)
DEFAULT_PREFIX = Path("/opt/safetrain")
LOGIN_RE = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,9}-$")


class DeployError(SafeTrainError):
    exit_code = 6


@dataclass
class Settings:
    """What `safetrain hub init` decided and `start` may override (hub/settings.json)."""

    user_prefix: str = "st-"
    ip: str = "127.0.0.1"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    service_port: int = 8082
    instructors: list[str] = field(default_factory=list)
    hub_admins: list[str] = field(default_factory=list)
    as_of: str = ""

    @property
    def service_user(self) -> str:
        # A leading underscore: no roster 账号 (which starts with a letter) can ever map to it.
        return f"_{self.user_prefix}records"


@dataclass(frozen=True)
class Layout:
    prefix: Path

    @property
    def env(self) -> Path:
        return self.prefix / "env"

    @property
    def proxy(self) -> Path:
        return self.prefix / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"

    @property
    def courses(self) -> Path:
        return self.prefix / "courses"

    @property
    def homes(self) -> Path:
        return self.prefix / "home"

    @property
    def jupyter_config(self) -> Path:
        """Jupyter configuration every user server reads (JUPYTER_CONFIG_PATH): root's, 0755."""
        return self.prefix / "jupyter"

    @property
    def hub(self) -> Path:
        return self.prefix / "hub"

    @property
    def records(self) -> Path:
        return self.prefix / "records"

    @property
    def settings_file(self) -> Path:
        return self.hub / "settings.json"

    @property
    def config_file(self) -> Path:
        return self.hub / "jupyterhub_config.py"

    @property
    def registry_file(self) -> Path:
        return self.hub / "users.json"

    def check_software(self) -> None:
        missing = [p for p in (self.env / "bin" / "jupyterhub",
                               self.env / "bin" / "jupyterhub-singleuser", self.proxy)
                   if not p.exists()]
        if missing:
            raise DeployError(f"部署环境不完整（缺少 {missing[0]}）：请先在 SafeTrain 目录运行 "
                              f"`make hub-env HUB_PREFIX={self.prefix}`")

    def load_settings(self) -> Settings:
        try:
            data = json.loads(self.settings_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotInitialised(f"{self.prefix} 还不是 SafeTrain 部署：请先运行 "
                                 f"`safetrain hub init --prefix {self.prefix} ...`") from None
        return Settings(**data)

    def save_settings(self, settings: Settings) -> None:
        self.hub.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.hub.chmod(0o700)
        tmp = self.settings_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(settings), ensure_ascii=False, indent=2),
                       encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(self.settings_file)

    def db_url(self) -> str:
        try:
            return (self.records / DB_URL_FILENAME).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise NotInitialised(f"{self.records / DB_URL_FILENAME} 不存在：请先运行 "
                                 "`safetrain hub init`") from None


def check_prefix(prefix: str) -> str:
    if not PREFIX_RE.match(prefix):
        raise DeployError(f"系统用户名前缀「{prefix}」不可用：须是 1–10 个小写字母或数字、"
                          "以字母开头、以连字符结尾，如 st-")
    return prefix


def write_credentials(layout: Layout, url: str) -> Instance:
    """The records instance under PREFIX/records: db.url (0600) and secret.key (0600)."""
    prefix = layout.prefix
    prefix.mkdir(parents=True, exist_ok=True)
    prefix.chmod(0o755)
    instance = Instance.from_env(layout.records)
    instance.create_dirs()
    target = layout.records / DB_URL_FILENAME
    tmp = target.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(url + "\n")
    tmp.replace(target)
    if not instance.secret_file.exists():
        instance.secret_file.write_text(secrets.token_hex(32))
    instance.secret_file.chmod(0o600)
    return Instance.from_env(layout.records)


def migrate(instance: Instance) -> tuple[str | None, str]:
    """As `safetrain init`: Alembic to head with the instance's secret, then the anchor."""
    from records.cert_codes import load_secret
    from records.event_log import anchor_if_missing, anchor_path

    engine = db.make_engine(instance.db_url)
    try:
        before, after = db.upgrade(engine, secret=load_secret(instance.secret_file))
        with db.session_factory(engine).begin() as session:
            anchor_if_missing(session, anchor_path(instance.home))
    finally:
        engine.dispose()
    return before, after


@dataclass
class HubUsers:
    """Who may log in, and the SafeTrain role each login holds, from the records on a day."""

    trainees: set[str] = field(default_factory=set)
    leaders: set[str] = field(default_factory=set)
    administrators: set[str] = field(default_factory=set)
    instructors: set[str] = field(default_factory=set)

    @property
    def allowed(self) -> set[str]:
        return self.trainees | self.leaders | self.administrators | self.instructors


def hub_users(session: Session, *, as_of: dt.date, instructors: list[str]) -> HubUsers:
    """Trainees: everyone holding a post on `as_of`; leaders: 主要领导/分管领导 in post;
    administrators: logins with a grant (`safetrain admin grant`); instructors: named."""
    from records.models import AdminScope, Person
    from records.people import posts_held_on
    from records.roles import Role

    held = posts_held_on(as_of).subquery()
    lead = posts_held_on(as_of, roles=[Role.principal_leader, Role.deputy_leader]).subquery()
    trainees = set(session.scalars(select(distinct(Person.trainee_id))
                                   .join(held, held.c.person_id == Person.id)))
    leaders = set(session.scalars(select(distinct(Person.trainee_id))
                                  .join(lead, lead.c.person_id == Person.id)))
    admins = set(session.scalars(select(distinct(AdminScope.login))))
    users = HubUsers(trainees, leaders, admins, set(instructors))
    for kind in ("trainees", "leaders", "administrators", "instructors"):
        names = getattr(users, kind)
        bad = {n for n in names if not (n and LOGIN_RE.match(n))}
        if bad:
            log.warning("%d 个账号不符合 JupyterHub 用户名规则，未加入：%s", len(bad),
                        "、".join(sorted(bad)[:5]))
        setattr(users, kind, names - bad)
    return users


# nbgrader's instructor tools are not offered on the hub: trainers grade with
# `safetrain grade MODULE --from exchange` (docs/hub.md), trainees hand in from 我的培训.
NBGRADER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list", "nbgrader.server_extensions.validate_assignment")
NBGRADER_LAB_EXTENSION = "@jupyter/nbgrader"
# Chinese login, home, spawn and error pages: templates that extend JupyterHub's own.
TEMPLATES = Path(__file__).with_name("templates")


def publish_curriculum(layout: Layout) -> None:
    """What user servers read, where they can: curriculum.yml (and nothing else of
    courses/), and the lab's page configuration that leaves out nbgrader's lab extension."""
    from records.curriculum import courses_dir

    layout.courses.mkdir(parents=True, exist_ok=True)
    layout.courses.chmod(0o755)
    target = layout.courses / "curriculum.yml"
    shutil.copyfile(courses_dir() / "curriculum.yml", target)
    target.chmod(0o644)
    labconfig = layout.jupyter_config / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    for folder in (layout.jupyter_config, labconfig):
        folder.chmod(0o755)
    page = labconfig / "page_config.json"
    page.write_text(json.dumps({"disabledExtensions": {NBGRADER_LAB_EXTENSION: True}}, indent=1))
    page.chmod(0o644)


def render_config(layout: Layout, settings: Settings, users: HubUsers,
                  allowed: set[str]) -> str:
    """jupyterhub_config.py: literal values only (each `repr`), JupyterHub's own classes."""
    env_bin = layout.env / "bin"
    records_url = f"http://127.0.0.1:{settings.service_port}/services/{SERVICE_NAME}/"
    service_env = {"SAFETRAIN_HOME": str(layout.records),
                   "SAFETRAIN_COURSES": str(layout.courses), "LANG": "C.UTF-8"}
    if settings.as_of:
        service_env["SAFETRAIN_AS_OF"] = settings.as_of
    own = [ACCESS_SCOPE, SCOPE_OWN]

    def members(names: set[str]) -> list[str]:
        return sorted(names & allowed)

    values: list[tuple[str, Any]] = [
        ("JupyterHub.bind_url", f"http://{settings.ip}:{settings.port}"),
        ("JupyterHub.hub_ip", "127.0.0.1"),
        ("JupyterHub.hub_port", settings.hub_port),
        ("JupyterHub.db_url", f"sqlite:///{layout.hub / 'jupyterhub.sqlite'}"),
        ("JupyterHub.cookie_secret_file", str(layout.hub / "jupyterhub_cookie_secret")),
        ("JupyterHub.pid_file", str(layout.hub / "jupyterhub.pid")),
        ("JupyterHub.template_paths", [str(TEMPLATES)]),
        ("JupyterHub.template_vars", {
            "announcement_login": "SafeTrain 培训：请用花名册中的账号和管理员设置的密码登录。"}),
        ("ConfigurableHTTPProxy.command", [str(layout.proxy)]),
        ("ConfigurableHTTPProxy.api_url", f"http://127.0.0.1:{settings.proxy_api_port}"),
        ("ConfigurableHTTPProxy.pid_file", str(layout.hub / "proxy.pid")),
        ("JupyterHub.authenticator_class",
         "jupyter_safetrain.hub.spawn.SafeTrainPAMAuthenticator"),
        ("SafeTrainPAMAuthenticator.system_user_prefix", settings.user_prefix),
        ("Authenticator.allowed_users", set(sorted(allowed))),
        ("Authenticator.allow_all", False),
        ("Authenticator.allow_existing_users", False),
        ("Authenticator.admin_users", set(settings.hub_admins) & allowed),
        ("JupyterHub.spawner_class", "jupyter_safetrain.hub.spawn.SafeTrainSpawner"),
        ("SafeTrainSpawner.system_user_prefix", settings.user_prefix),
        ("Spawner.cmd", [str(env_bin / "jupyterhub-singleuser")]),
        ("Spawner.default_url", "/lab"),
        ("Spawner.start_timeout", 120),
        ("Spawner.http_timeout", 90),
        ("Spawner.environment", {RECORDS_URL_ENV: records_url,
                                 "SAFETRAIN_COURSES": str(layout.courses),
                                 "JUPYTER_CONFIG_PATH": str(layout.jupyter_config),
                                 "LANG": "C.UTF-8"}),
        # No instructor tools in user servers (a command line wins over every config file).
        ("Spawner.args", [f"--ServerApp.jpserver_extensions={name}=False"
                          for name in NBGRADER_SERVER_EXTENSIONS]),
        ("Spawner.server_token_scopes", ["users:activity!user", "access:servers!server",
                                         ACCESS_SCOPE, SCOPE_OWN, SCOPE_UNITS]),
        ("JupyterHub.custom_scopes", {
            SCOPE_OWN: {"description": "查看本人的培训记录（我的培训）"},
            SCOPE_UNITS: {"description": "查看有权单位的培训覆盖（培训覆盖）"},
            SCOPE_INSTRUCT: {"description": "查看课程与学员服务器状态（教员）"},
        }),
        ("JupyterHub.load_roles", [
            {"name": "safetrain-trainee", "description": "学员：我的培训",
             "scopes": own, "users": members(users.trainees)},
            {"name": "safetrain-leader", "description": "领导：在任期间看本单位的培训覆盖",
             "scopes": [*own, SCOPE_UNITS], "users": members(users.leaders)},
            {"name": "safetrain-administrator", "description": "管理员：看授权单位的培训覆盖",
             "scopes": [*own, SCOPE_UNITS], "users": members(users.administrators)},
            {"name": "safetrain-instructor", "description": "教员：课程与学员服务器状态",
             "scopes": [*own, SCOPE_INSTRUCT, "list:users", "read:users:activity",
                        "read:servers"], "users": members(users.instructors)},
        ]),
        ("JupyterHub.services", [{
            "name": SERVICE_NAME,
            "url": f"http://127.0.0.1:{settings.service_port}",
            "command": [str(env_bin / "python"), "-m", "jupyter_safetrain.hub.service"],
            "user": settings.service_user,
            "cwd": str(layout.records),
            "environment": service_env,
            "display": False,
        }]),
    ]
    lines = ["# Written by `safetrain hub start` on each start: edit settings.json or the",
             "# command's options instead. Literal values only.", "c = get_config()  # noqa"]
    lines += [f"c.{key} = {value!r}" for key, value in values]
    return "\n".join(lines) + "\n"


def write_config(layout: Layout, text: str) -> Path:
    fd = os.open(layout.config_file, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    layout.config_file.chmod(0o600)
    return layout.config_file


def hub_environment(layout: Layout) -> dict[str, str]:
    """The hub's whole environment: nothing of the caller's (no SAFETRAIN_DB, no PG*)."""
    path = [str(layout.env / "bin"), str(layout.proxy.parent), "/usr/local/sbin",
            "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    return {"PATH": os.pathsep.join(path), "LANG": "C.UTF-8", "HOME": str(layout.hub),
            "SAFETRAIN_COURSES": str(layout.courses)}


def public_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.ip in ("", "0.0.0.0") else settings.ip
    return f"http://{host}:{settings.port}/"


def describe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
