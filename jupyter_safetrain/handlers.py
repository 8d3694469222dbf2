"""JSON endpoints under /safetrain/api/. Each request: who is asking, may they, call records.

Every answer goes through `send_json`, which masks anything shaped like a resident ID
number, so no full ID leaves the server even if a library function forgot to mask one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from sqlalchemy.orm import Session, sessionmaker
from tornado import web

from jupyter_safetrain import coverage, nbgrader_files
from records import idcard
from records.access import (
    AccessDenied,
    Viewer,
    child_units,
    find_unit_by_code,
    require_person,
    require_unit,
    viewer_for,
)
from records.attempts import trainee_allowances
from records.curriculum import Curriculum
from records.errors import NotFound, SafeTrainError
from records.models import OrgUnit
from records.people import find_person
from records.trainee_status import trainee_status

T = TypeVar("T")
API = "/safetrain/api"
# An 18-character resident ID (GB 11643): region, birth date 18xx-20xx, sequence, check.
ID_NUMBER = re.compile(
    r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"(?![0-9A-Za-z])")


def mask_ids(text: str) -> str:
    return ID_NUMBER.sub(lambda m: idcard.mask(m.group(0)), text)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def unit_json(unit: OrgUnit) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "path": unit.path,
            "level": unit.level.name, "level_label": unit.level.label}


class RecordsJSONMixin:
    """What the single-user endpoints and the hub's records service share: one transaction
    per request as the asking viewer, library errors as 4xx (refusals logged by `refused`),
    masked JSON out, errors as JSON with the Chinese message readable."""

    def refused(self, login: str, exc: AccessDenied) -> None:
        raise NotImplementedError

    async def as_viewer(self, sessions: sessionmaker[Session], login: str, day: dt.date,
                        leaders_see_their_units: bool, fn: Callable[[Session, Viewer], T]) -> T:
        """fn(session, viewer) in a worker thread, one transaction for the request."""
        def work() -> T:
            with sessions.begin() as session:
                viewer = viewer_for(session, login, as_of=day,
                                    leaders_see_their_units=leaders_see_their_units)
                return fn(session, viewer)

        try:
            return await asyncio.to_thread(work)
        except AccessDenied as exc:
            self.refused(login, exc)
            raise web.HTTPError(403, "%s", str(exc)) from None
        except NotFound as exc:
            raise web.HTTPError(404, "%s", str(exc)) from None
        except SafeTrainError as exc:
            raise web.HTTPError(400, "%s", str(exc)) from None

    def send_json(self: Any, data: Any) -> None:
        text = json.dumps(data, default=_plain, ensure_ascii=False)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(mask_ids(text))

    def write_error(self: Any, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        message = exc.log_message % exc.args if isinstance(exc, web.HTTPError) \
            and exc.log_message else self._reason
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(mask_ids(json.dumps({"message": message, "status": status_code},
                                        ensure_ascii=False)))


class SafeTrainHandler(RecordsJSONMixin, ExtensionHandlerMixin, APIHandler):
    """Identity, scope errors as 403 (logged), library errors as 4xx, JSON out."""

    @property
    def st(self) -> Any:  # the SafeTrainApp
        return self.extensionapp

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.current_user is None:  # refuse (and log) before any method runs
            self.log.warning("SafeTrain：拒绝了来自 %s 的 %s %s：未登录",
                             self.request.remote_ip, self.request.method, self.request.path)
            raise web.HTTPError(403, "未登录 (not authenticated)")

    def login(self) -> str:
        user = self.current_user
        if user is None:  # prepare() refuses these already; keep the check next to its use
            raise web.HTTPError(403, "未登录 (not authenticated)")
        return self.st.fixed_login or user.username.strip().lower()

    async def run(self, fn: Callable[[Session, Viewer], T]) -> T:
        """fn(session, viewer) in a worker thread, one transaction for the request."""
        if self.st.problem:
            raise web.HTTPError(503, "%s", self.st.problem)
        login, day = self.login(), self.st.day()

        return await self.as_viewer(self.st.sessions, login, day,
                                    self.st.leaders_see_their_units, fn)

    def refused(self, login: str, exc: AccessDenied) -> None:
        self.log.warning("SafeTrain：拒绝 %s 的 %s %s（403）：%s", login, self.request.method,
                         self.request.path, exc)


class WhoAmIHandler(SafeTrainHandler):
    @web.authenticated
    async def get(self) -> None:
        def answer(session: Session, viewer: Viewer) -> dict[str, Any]:
            return {"login": viewer.login, "name": viewer.name,
                    "trainee": viewer.person_id is not None, "admin": viewer.is_admin,
                    "as_of": self.st.day(),
                    "scopes": [{"code": s.code, "name": s.name, "path": s.path,
                                "level": s.level.name, "level_label": s.level.label,
                                "source": s.source} for s in viewer.scopes]}

        self.send_json(await self.run(answer))


class TraineeHandler(SafeTrainHandler):
    """GET /me (oneself) or /trainees/LOGIN (oneself, or an administrator of their unit)."""

    @web.authenticated
    async def get(self, login: str | None = None) -> None:
        day, root = self.st.day(), Path(self.st.serverapp.root_dir)
        hint = ("单用户 JupyterLab 请这样启动：SAFETRAIN_LOGIN=你的账号 jupyter lab"
                if not self.st.under_hub and not self.st.fixed_login
                else "请确认 JupyterLab 的登录名与花名册中的账号一致")

        def pending(trainee_id: str) -> dict[str, dt.datetime]:
            config = nbgrader_files.trainee_config(self.st.instance, root)
            return nbgrader_files.pending_submissions(config, self.st.instance, trainee_id)

        def answer(session: Session, viewer: Viewer) -> Any:
            return my_training(session, viewer, login, day=day, curriculum=self.st.curriculum,
                               pending=pending, hint=hint)

        self.send_json(await self.run(answer))


def my_training(session: Session, viewer: Viewer, login: str | None, *, day: dt.date,
                curriculum: Curriculum, pending: Callable[[str], dict[str, dt.datetime]],
                hint: str) -> dict[str, Any]:
    """我的培训 for `login` (None: the viewer), if the viewer may see it, with attempts left.

    `pending(trainee_id)` gives submissions not yet in records; `hint` says how to log in
    with the roster's 账号 when the viewer is not in the roster."""
    if login is None and viewer.person_id is None:
        raise NotFound(f"账号 {viewer.login} 不在花名册中，没有个人培训记录。{hint}。")
    try:
        person = find_person(session, trainee_id=login or viewer.login)
    except NotFound:  # someone else's login: 403 whether or not it exists (no probing)
        raise AccessDenied(f"账号 {viewer.login} 无权查看人员 {login} 的记录") from None
    require_person(session, viewer, person, as_of=day)
    status = trainee_status(session, curriculum, person, as_of=day,
                            submitted=pending(person.trainee_id))
    return with_attempts(dataclasses.asdict(status), trainee_allowances(
        session, curriculum, person.trainee_id), dt.datetime.now(dt.UTC))


def with_attempts(status: dict[str, Any], limits: dict[str, Any],
                  now: dt.datetime) -> dict[str, Any]:
    """Each module of a 我的培训 answer with attempts used, allowed and left, and when the
    next submission can be graded if the cooldown is still running (else None)."""
    for module in status["modules"]:
        limit = limits.get(module["id"])
        if limit is None:
            continue
        due = limit.next_at if limit.left and limit.next_at and limit.next_at > now else None
        module.update(attempts_used=limit.used, attempts_allowed=limit.allowed,
                      attempts_left=limit.left, next_attempt_at=due)
    return status


class OpenModuleHandler(SafeTrainHandler):
    """POST /me/modules/MODULE/open: fetch (or copy) the released notebook, say where it is."""

    @web.authenticated
    async def post(self, module: str) -> None:
        root = Path(self.st.serverapp.root_dir)

        def answer(session: Session, viewer: Viewer) -> dict[str, str]:
            if module not in self.st.curriculum.module_ids:
                raise NotFound(f"课程目录中没有模块 {module}")
            config = nbgrader_files.trainee_config(self.st.instance, root)
            path, how = nbgrader_files.open_module(config, self.st.instance, root, module)
            return {"module": module, "path": path, "how": how}

        self.send_json(await self.run(answer))


def visible_unit(session: Session, viewer: Viewer, code: str) -> OrgUnit:
    """The unit, if the viewer may see it; an unknown code is refused the same way."""
    try:
        unit = find_unit_by_code(session, code)
    except NotFound:
        raise AccessDenied(f"账号 {viewer.login} 无权查看单位 {code}") from None
    require_unit(viewer, unit)
    return unit


class UnitHandler(SafeTrainHandler):
    """GET /units/CODE: the unit, the way back up (within scope) and its children."""

    @web.authenticated
    async def get(self, code: str) -> None:
        self.send_json(await self.run(lambda session, viewer: unit_answer(session, viewer, code)))


def unit_answer(session: Session, viewer: Viewer, code: str) -> dict[str, Any]:
    """The unit, the way back up (within the viewer's scope) and its children."""
    unit = visible_unit(session, viewer, code)
    crumbs, parent = [], unit.parent
    while parent is not None and viewer.covers(parent):
        crumbs.insert(0, unit_json(parent))
        parent = parent.parent
    return {**unit_json(unit), "trail": crumbs,
            "children": [unit_json(c) for c in child_units(session, unit)]}


class CoverageHandler(SafeTrainHandler):
    """GET /coverage/CODE[?period=2026-11]: the report figures for the unit and its children."""

    @web.authenticated
    async def get(self, code: str) -> None:
        period = self.get_argument("period", None)
        day = self.st.day()

        def answer(session: Session, viewer: Viewer) -> dict[str, Any]:
            unit = visible_unit(session, viewer, code)
            return {"unit": unit_json(unit),
                    **coverage.figures(session, self.st.curriculum, unit, as_of=day,
                                       period=period)}

        self.send_json(await self.run(answer))


class BundleHandler(SafeTrainHandler):
    """GET /coverage/CODE/bundle.xlsx[?period=2026-11]: the monthly Excel bundle for the unit."""

    @web.authenticated
    async def get(self, code: str) -> None:
        period = self.get_argument("period", None)
        day = self.st.day()

        def answer(session: Session, viewer: Viewer) -> tuple[str, bytes]:
            unit = visible_unit(session, viewer, code)
            return coverage.bundle(session, self.st.curriculum, unit, as_of=day, period=period)

        filename, data = await self.run(answer)
        send_bundle(self, filename, data, lambda: self.log.error(
            "SafeTrain：拒绝发送 %s：其中有未遮蔽的身份证号", filename))


def send_bundle(handler: web.RequestHandler, filename: str, data: bytes,
                log_refusal: Callable[[], None]) -> None:
    """The workbook as a download; refused (500, logged) if it holds an unmasked ID number."""
    if coverage.has_id_numbers(data, ID_NUMBER):
        log_refusal()
        raise web.HTTPError(500, "报表含未隐去的身份证号，已拒绝下载（请报告此问题）")
    handler.set_header("Content-Type",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    handler.set_header("Content-Disposition",
                       f"attachment; filename=\"bundle.xlsx\"; filename*=UTF-8''{quote(filename)}")
    handler.finish(data)


def routes() -> list[tuple[str, type[SafeTrainHandler]]]:
    code = r"(?P<code>[0-9]{1,32})"
    return [
        (rf"{API}/whoami", WhoAmIHandler),
        (rf"{API}/me", TraineeHandler),
        (rf"{API}/trainees/(?P<login>[a-z][a-z0-9._-]{{1,31}})", TraineeHandler),
        (rf"{API}/me/modules/(?P<module>[a-z0-9]+(?:-[a-z0-9]+)*)/open", OpenModuleHandler),
        (rf"{API}/units/{code}", UnitHandler),
        (rf"{API}/coverage/{code}", CoverageHandler),
        (rf"{API}/coverage/{code}/bundle\.xlsx", BundleHandler),
    ]

