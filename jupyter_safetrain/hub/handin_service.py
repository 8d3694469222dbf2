"""The records service's 获取 / 提交 / feedback endpoints (issue #20), for the trainee the
hub says is asking (`RecordsHandler`: token, service scope, own-record scope).

- GET  api/me/modules/MODULE/release: the released (student) notebook's bytes;
- POST api/me/modules/MODULE/submission: the body is the notebook; kept by
  `autograder.handin` under the hub user's name with this service's receipt time, unless
  `autograder.answer_check` finds an answer that would not parse (422, in Chinese);
- GET  api/me/modules/MODULE/feedback: the asker's own released feedback page, as data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from tornado import web

from autograder import answer_check, handin
from autograder.answer_check import MAX_NOTEBOOK_BYTES
from autograder.safe_files import Refused, read_regular
from jupyter_safetrain.hub.service import RecordsHandler, log
from records.access import AccessDenied, Viewer
from records.errors import NotFound

MODULE = r"(?P<module>[a-z0-9]+(?:-[a-z0-9]+)*)"


class ModuleHandler(RecordsHandler):
    """A module of the curriculum, for the trainee the hub says is asking."""

    def module_entry(self, module: str) -> Any:
        curriculum = self.records.curriculum
        if curriculum is None or module not in curriculum.module_ids:
            raise web.HTTPError(404, "%s", f"课程目录中没有模块 {module}")
        return curriculum.module(module)

    @staticmethod
    def trainee(viewer: Viewer) -> str:
        if viewer.person_id is None:
            raise AccessDenied(f"账号 {viewer.login} 不在花名册中，不能获取或提交模块")
        return viewer.login


class Release(ModuleHandler):
    """GET api/me/modules/MODULE/release: 获取, the released (student) notebook's bytes."""

    async def get(self, module: str) -> None:
        self.module_entry(module)
        path = self.records.instance.course_dir / "release" / module / f"{module}.ipynb"

        def answer(session: Session, viewer: Viewer) -> bytes:
            self.trainee(viewer)
            try:
                return read_regular(path, MAX_NOTEBOOK_BYTES, f"{module}.ipynb")[0]
            except Refused:
                raise NotFound(f"模块 {module} 尚未发布：请管理员运行 "
                               f"`safetrain course release {module}`") from None

        data = await self.run(answer)
        self.set_header("Content-Type", "application/x-ipynb+json")
        self.finish(data)


class Submission(ModuleHandler):
    """POST api/me/modules/MODULE/submission: 提交. The body is the notebook; the submitter is
    the hub user the token belongs to, the time is this service's. A notebook whose answers
    do not parse (or hold Chinese quotes or full-width characters) is refused with what to
    fix (422) and nothing is kept; empty answers are accepted and reported back."""

    async def post(self, module: str) -> None:
        self.module_entry(module)
        data = self.request.body
        instance = self.records.instance

        released = instance.course_dir / "release" / module / f"{module}.ipynb"

        def answer(session: Session, viewer: Viewer) -> dict[str, Any]:
            login = self.trainee(viewer)
            if not released.is_file():
                raise NotFound(f"模块 {module} 尚未发布，不能提交")
            problems = answer_check.check_bytes(data)  # in the worker thread, not the loop
            refusing = answer_check.blocking(problems)
            if refusing:
                log.info("记录服务：%s 提交的 %s 未通过检查作答（%d 处），未保存", login, module,
                         len(refusing))
                return {"refused": [p.as_dict() for p in refusing]}
            received = handin.store(instance, module, login, data)
            return {"module": module, "login": login, "received": received,
                    "problems": [p.as_dict() for p in problems]}

        result = await self.run(answer)
        if "refused" in result:
            self.set_status(422)
            first = result["refused"][0]["message"]
            self.send_json({"message": f"未提交：{first}", "problems": result["refused"],
                            "status": 422})
            return
        self.send_json(result)


class Feedback(ModuleHandler):
    """GET api/me/modules/MODULE/feedback: the feedback page grading released for the asker
    (what it shows per attempt is decided when it is written: ReleaseItemFeedback). Sent as
    data for a script-less frame; the panel never inserts it as live HTML."""

    async def get(self, module: str) -> None:
        self.module_entry(module)
        course = self.records.instance.course_dir

        def answer(session: Session, viewer: Viewer) -> dict[str, Any]:
            login = self.trainee(viewer)
            path = course / "feedback" / login / module / f"{module}.html"
            try:
                html = read_regular(path, MAX_NOTEBOOK_BYTES, f"{module}.html")[0]
            except Refused:
                raise NotFound(f"模块 {module} 还没有发布给你的反馈") from None
            return {"module": module, "html": html.decode("utf-8", "replace")}

        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
        self.send_json(await self.run(answer))
