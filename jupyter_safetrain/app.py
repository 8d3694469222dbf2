"""The server extension: settings (traits), one engine per server process, the routes."""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from traitlets import Bool, Unicode, default, validate

from records import db
from records.access import today
from records.curriculum import Curriculum, load_curriculum
from records.errors import SafeTrainError
from records.instance import Instance

LOGIN_ENV = "SAFETRAIN_LOGIN"
AS_OF_ENV = "SAFETRAIN_AS_OF"


class SafeTrainApp(ExtensionApp):
    """SafeTrain panels: each request is answered for the login behind it, within its scope."""

    name = "safetrain"
    load_other_extensions = True

    home = Unicode(
        "", config=True,
        help="实例目录（默认 $SAFETRAIN_HOME，或服务器启动目录下的 ./instance）。"
             " Instance directory, as for the `safetrain` command.",
    )
    db_url = Unicode(
        "", config=True,
        help="记录数据库 URL（默认 $SAFETRAIN_DB，或实例里的 SQLite）。 Records database URL.",
    )
    login = Unicode(
        config=True,
        help="单用户 JupyterLab：这台服务器属于哪个账号（花名册中的账号 / trainee id），"
             "凡通过认证的请求都算作此人。默认取 $SAFETRAIN_LOGIN。在 JupyterHub 下不要设置："
             "此时每个请求按 Hub 的用户名识别，本项被忽略。"
             " Single-user server: the login (trainee id) of the person it belongs to; every"
             " authenticated request is theirs. Ignored under JupyterHub, where the hub's user"
             " name identifies each request.",
    )
    leaders_see_their_units = Bool(
        True, config=True,
        help="主要领导、分管领导在任职期间可查看本单位及下级的培训覆盖（无需另行授权）。"
             " Leaders see their own unit's coverage while they hold the post.",
    )
    as_of = Unicode(
        config=True,
        help="按这一天（YYYY-MM-DD）计算，而不是今天；用于演示与测试。默认取 $SAFETRAIN_AS_OF。"
             " Evaluate on this day instead of today (demos, tests).",
    )

    records_url = Unicode(
        config=True,
        help="JupyterHub 下：记录服务的地址（默认 $SAFETRAIN_RECORDS_URL，由 safetrain hub 设置）。"
             "此时本扩展不打开任何数据库，请求以本服务器的 Hub 令牌转给记录服务。"
             " Under JupyterHub: the records service's URL; the extension opens no database.",
    )

    @default("records_url")
    def _records_url_default(self) -> str:
        from jupyter_safetrain.hub import RECORDS_URL_ENV

        return os.environ.get(RECORDS_URL_ENV, "")

    @default("login")
    def _login_default(self) -> str:
        return os.environ.get(LOGIN_ENV, "")

    @default("as_of")
    def _as_of_default(self) -> str:
        return os.environ.get(AS_OF_ENV, "")

    @validate("as_of")
    def _check_as_of(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"].strip()
        if value:
            dt.date.fromisoformat(value)  # ValueError names the bad value
        return value

    # Set in initialize_settings.
    instance: Instance
    engine: Engine | None = None
    sessions: sessionmaker[Session] | None = None
    curriculum: Curriculum | None = None
    problem: str | None = None  # why the panels cannot work (told to every request)

    @property
    def under_hub(self) -> bool:
        return "JUPYTERHUB_API_TOKEN" in os.environ

    @property
    def fixed_login(self) -> str:
        """The single-user login, or "" when each request names its user (JupyterHub)."""
        return "" if self.under_hub else self.login.strip().lower()

    def day(self) -> dt.date:
        return dt.date.fromisoformat(self.as_of) if self.as_of else today()

    def initialize_settings(self) -> None:
        from jupyter_safetrain.literal_config import install

        install()  # before any nbgrader handler loads a config file from a writable folder
        _mask_ids_in_logs(self.log)
        if self.under_hub and self.login:
            self.log.warning("SafeTrain：在 JupyterHub 下忽略 SafeTrainApp.login=%r，"
                             "每个请求以 JupyterHub 的用户名识别", self.login)
        if self.under_hub:  # hub mode: the records service answers; no database here
            self._initialize_hub_mode()
            return
        self.instance = Instance.from_env(self.home or None, self.db_url or None)
        self.engine = db.make_engine(self.instance.db_url)
        self.sessions = db.session_factory(self.engine)
        try:
            db.check_schema(self.engine)
            self.curriculum = load_curriculum()
        except SafeTrainError as exc:
            self.problem = str(exc)
            self.log.error("SafeTrain 面板已关闭：%s", exc)
        who = self.fixed_login or ("JupyterHub 用户名" if self.under_hub
                                   else "Jupyter 用户名（可设 SAFETRAIN_LOGIN）")
        self.log.info("SafeTrain：实例 %s，数据库 %s，账号 %s", self.instance.home,
                      db.safe_url(self.engine), who)

    def _initialize_hub_mode(self) -> None:
        try:
            self.curriculum = load_curriculum()
        except SafeTrainError as exc:  # only "open module" needs it
            self.log.warning("SafeTrain：课程目录不可用：%s", exc)
        if not self.records_url:
            self.problem = "JupyterHub 未配置培训记录服务（SAFETRAIN_RECORDS_URL）：请联系管理员"
            self.log.error("SafeTrain 面板已关闭：%s", self.problem)
        self.log.info("SafeTrain：JupyterHub 模式，记录服务 %s（本服务器不打开数据库）",
                      self.records_url or "（未配置）")

    def initialize_handlers(self) -> None:
        if self.under_hub:
            from jupyter_safetrain.hub.client import routes as hub_routes

            self.handlers.extend(hub_routes())
            return
        from jupyter_safetrain.handlers import routes

        self.handlers.extend(routes())

    async def stop_extension(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def _mask_ids_in_logs(logger: logging.Logger | logging.LoggerAdapter) -> None:
    """Every handler of the server's log and the root log masks ID numbers."""
    from records.idcard import MaskIdNumbers

    base = logger.logger if isinstance(logger, logging.LoggerAdapter) else logger
    for handler in [*base.handlers, *logging.getLogger().handlers]:
        if not any(isinstance(f, MaskIdNumbers) for f in handler.filters):
            handler.addFilter(MaskIdNumbers())
