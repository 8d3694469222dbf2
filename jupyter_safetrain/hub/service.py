"""The records service: a JupyterHub service, its own process and system user, and the only
holder of the records database URL and the instance secret.

It reads the URL from its instance's private `db.url` file (never a command line or an
environment variable). A request carries a hub token (a user's server forwards the panels'
requests with its own `JUPYTERHUB_API_TOKEN`); the service asks the hub who the token's
owner is and which scopes the token holds (`HubAuth`), requires
`access:services!service=safetrain-records` and the endpoint's custom scope, and then scopes
the answer itself from the records: a trainee sees their own record, a leader their unit
while in post, an administrator the units granted with `safetrain admin grant`. Every
refusal is logged. Answers are masked like the single-user endpoints (no full ID number).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

from jupyterhub.services.auth import HubAuth, HubAuthenticated, UserNotAllowed, check_scopes
from sqlalchemy.orm import Session, sessionmaker
from tornado import web
from tornado.ioloop import IOLoop
from traitlets.config import Config

from autograder import handin
from autograder.answer_check import MAX_NOTEBOOK_BYTES
from jupyter_safetrain import coverage, nbgrader_files
from jupyter_safetrain.handlers import (
    RecordsJSONMixin,
    my_training,
    send_bundle,
    unit_answer,
    unit_json,
    visible_unit,
)
from jupyter_safetrain.hub import ACCESS_SCOPE, SCOPE_OWN, SCOPE_UNITS, SERVICE_NAME
from records import db
from records.access import (
    AccessDenied,
    Viewer,
    today,
)
from records.curriculum import Curriculum, load_curriculum
from records.errors import SafeTrainError
from records.instance import Instance

log = logging.getLogger("safetrain.records_service")
T = TypeVar("T")
AS_OF_ENV = "SAFETRAIN_AS_OF"


@dataclass
class Records:
    """What every request of the service shares: the instance, one engine, the curriculum."""

    instance: Instance
    sessions: sessionmaker[Session] | None
    curriculum: Curriculum | None
    as_of: dt.date | None = None
    problem: str | None = None  # why the service cannot answer (told to every request)
    leaders_see_their_units: bool = True

    def day(self) -> dt.date:
        return self.as_of or today()

    @classmethod
    def open(cls, instance: Instance, as_of: dt.date | None = None) -> Records:
        engine = db.make_engine(instance.db_url)
        try:
            db.check_schema(engine)
            curriculum = load_curriculum()
        except SafeTrainError as exc:
            log.error("记录服务无法提供数据：%s", exc)
            return cls(instance, None, None, as_of, str(exc))
        return cls(instance, db.session_factory(engine), curriculum, as_of)


class RecordsHandler(RecordsJSONMixin, HubAuthenticated, web.RequestHandler):
    """Hub identity and scopes first (refusals logged), then one transaction per request."""

    required_scope = SCOPE_OWN

    def initialize(self, records: Records, hub_auth: HubAuth) -> None:
        self.records = records
        self.hub_auth = hub_auth

    @property
    def hub_scopes(self) -> set[str]:
        return {ACCESS_SCOPE}

    def get_current_user(self) -> Any:  # set by prepare(); never a blocking hub call
        return getattr(self, "_hub_user", None)

    async def prepare(self) -> None:
        model = await self.hub_auth.get_user(self, sync=False)
        where = f"{self.request.method} {self.request.path}"
        if not model:
            log.warning("记录服务：拒绝来自 %s 的 %s：未登录或令牌无效", self.request.remote_ip, where)
            raise web.HTTPError(403, "未登录 (not authenticated)")
        try:
            model = self.check_hub_user(model)
        except UserNotAllowed:
            log.warning("记录服务：拒绝 %s 的 %s：令牌没有 %s 权限", model.get("name"), where,
                        ACCESS_SCOPE)
            raise web.HTTPError(403, "无权使用培训记录服务") from None
        if model.get("kind", "user") != "user":
            log.warning("记录服务：拒绝服务 %s 的 %s：只接受用户的请求", model.get("name"), where)
            raise web.HTTPError(403, "只接受用户的请求")
        if not check_scopes({self.required_scope}, set(model.get("scopes", []))):
            log.warning("记录服务：拒绝 %s 的 %s：令牌没有 %s 权限", model["name"], where,
                        self.required_scope)
            raise web.HTTPError(403, f"账号 {model['name']} 无权查看这些记录")
        self._hub_user = model

    @property
    def login(self) -> str:
        return str(self._hub_user["name"]).strip().lower()

    async def run(self, fn: Callable[[Session, Viewer], T]) -> T:
        if self.records.problem or self.records.sessions is None:
            raise web.HTTPError(503, "%s", self.records.problem or "记录库不可用")
        return await self.as_viewer(self.records.sessions, self.login, self.records.day(),
                                    self.records.leaders_see_their_units, fn)

    def refused(self, login: str, exc: AccessDenied) -> None:
        log.warning("记录服务：拒绝 %s 的 %s %s：%s", login, self.request.method,
                    self.request.path, exc)


class WhoAmI(RecordsHandler):
    async def get(self) -> None:
        day = self.records.day()

        def answer(session: Session, viewer: Viewer) -> dict[str, Any]:
            return {"login": viewer.login, "name": viewer.name,
                    "trainee": viewer.person_id is not None, "admin": viewer.is_admin,
                    "as_of": day, "hub": True,
                    "scopes": [{"code": s.code, "name": s.name, "path": s.path,
                                "level": s.level.name, "level_label": s.level.label,
                                "source": s.source} for s in viewer.scopes]}

        self.send_json(await self.run(answer))


class Trainee(RecordsHandler):
    """GET api/me (oneself) or api/trainees/LOGIN (oneself, or whoever's units cover them)."""

    async def get(self, login: str | None = None) -> None:

        day, records = self.records.day(), self.records

        def pending(trainee_id: str) -> dict[str, dt.datetime]:
            found = nbgrader_files.pending_submissions(Config(), records.instance, trainee_id)
            for module, when in handin.received_at(records.instance, trainee_id).items():
                earlier = found.get(module)  # nbgrader's times are naive UTC
                if earlier is None or (earlier if earlier.tzinfo else
                                       earlier.replace(tzinfo=dt.UTC)) < when:
                    found[module] = when
            return found

        def answer(session: Session, viewer: Viewer) -> Any:
            got = my_training(session, viewer, login, day=day, curriculum=records.curriculum,
                              pending=pending,
                              hint="请确认 JupyterHub 的登录名与花名册中的账号一致")
            return {**got, "hub": True}  # the panel offers 获取 / 检查作答 / 提交

        self.send_json(await self.run(answer))


class Unit(RecordsHandler):
    required_scope = SCOPE_UNITS

    async def get(self, code: str) -> None:
        self.send_json(await self.run(lambda session, viewer: unit_answer(session, viewer, code)))


class Coverage(RecordsHandler):
    required_scope = SCOPE_UNITS

    async def get(self, code: str) -> None:
        period, day, curriculum = self.get_argument("period", None), self.records.day(), \
            self.records.curriculum

        def answer(session: Session, viewer: Viewer) -> dict[str, Any]:
            unit = visible_unit(session, viewer, code)
            return {"unit": unit_json(unit),
                    **coverage.figures(session, curriculum, unit, as_of=day, period=period)}

        self.send_json(await self.run(answer))


class Bundle(RecordsHandler):
    required_scope = SCOPE_UNITS

    async def get(self, code: str) -> None:
        period, day, curriculum = self.get_argument("period", None), self.records.day(), \
            self.records.curriculum

        def answer(session: Session, viewer: Viewer) -> tuple[str, bytes]:
            unit = visible_unit(session, viewer, code)
            return coverage.bundle(session, curriculum, unit, as_of=day, period=period)

        filename, data = await self.run(answer)
        send_bundle(self, filename, data,
                    lambda: log.error("记录服务：%s 含未隐去的身份证号，拒绝发送", filename))


def routes(prefix: str) -> list[tuple[str, type[RecordsHandler]]]:
    """The single-user endpoints' paths (see handlers.routes), under the service's prefix,
    and 获取 / 提交 / feedback (`jupyter_safetrain.hub.handin_service`)."""
    from jupyter_safetrain.hub.handin_service import MODULE, Feedback, Release, Submission

    api = prefix.rstrip("/") + "/api"
    code = r"(?P<code>[0-9]{1,32})"
    return [
        (rf"{api}/whoami", WhoAmI),
        (rf"{api}/me", Trainee),
        (rf"{api}/trainees/(?P<login>[a-z][a-z0-9._-]{{1,31}})", Trainee),
        (rf"{api}/units/{code}", Unit),
        (rf"{api}/coverage/{code}", Coverage),
        (rf"{api}/coverage/{code}/bundle\.xlsx", Bundle),
        (rf"{api}/me/modules/{MODULE}/release", Release),
        (rf"{api}/me/modules/{MODULE}/submission", Submission),
        (rf"{api}/me/modules/{MODULE}/feedback", Feedback),
    ]


def make_app(records: Records, hub_auth: HubAuth, prefix: str) -> web.Application:
    args = {"records": records, "hub_auth": hub_auth}
    return web.Application([(path, handler, args) for path, handler in routes(prefix)],
                           xsrf_cookies=False, max_body_size=MAX_NOTEBOOK_BYTES + 1024)


def _logging() -> None:
    from records.idcard import MaskIdNumbers

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(levelname)1.1s %(asctime)s %(name)s] %(message)s"))
    handler.addFilter(MaskIdNumbers())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def main() -> None:
    """Run as the hub starts it: JUPYTERHUB_SERVICE_URL / _PREFIX / _API_URL / _API_TOKEN
    from the hub, SAFETRAIN_HOME naming the service's private instance."""
    _logging()
    if os.environ.get("JUPYTERHUB_SERVICE_NAME", SERVICE_NAME) != SERVICE_NAME:
        log.warning("记录服务的名称应为 %s", SERVICE_NAME)
    instance = Instance.from_env()
    as_of = os.environ.get(AS_OF_ENV, "").strip()
    records = Records.open(instance, dt.date.fromisoformat(as_of) if as_of else None)
    try:  # where 提交 keeps hand-ins; `grade --from exchange` reads it (autograder.handin)
        handin.ensure_root(instance)
    except (OSError, SafeTrainError) as exc:
        log.error("记录服务无法准备提交目录 %s：%s", handin.handin_root(instance), exc)
    hub_auth = HubAuth(cache_max_age=30)
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    app = make_app(records, hub_auth, prefix)
    app.listen(url.port or 80, url.hostname or "127.0.0.1", xheaders=True)
    log.info("记录服务已启动：%s%s，实例 %s，数据库 %s", url.geturl().rstrip("/"), prefix,
             instance.home, "PostgreSQL" if instance.db_url.startswith("postgresql")
             else "SQLite")
    IOLoop.current().start()


if __name__ == "__main__":
    main()
