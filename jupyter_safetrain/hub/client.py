"""The server extension under JupyterHub: the panels' requests go to the records service.

The user's own server forwards each /safetrain/api request to the records service with the
server's hub token (`JUPYTERHUB_API_TOKEN`, its scopes narrowed by `Spawner.server_token_scopes`);
the service asks the hub whose token it is and answers within that person's scope. This side
never opens or creates a database and holds no records credential. 获取 / 检查作答 / 提交
(issue #20): the released notebook comes from the service into MODULE/MODULE.ipynb; the
answers are checked here without running them (`autograder.answer_check`); the saved
notebook's bytes go to the service, which stores them under the hub user's name.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from autograder import answer_check
from autograder.answer_check import MAX_NOTEBOOK_BYTES
from autograder.safe_files import Refused, read_regular
from jupyter_safetrain.handlers import API, SafeTrainHandler
from records.errors import NotFound

FORWARDED_HEADERS = ("Content-Type", "Content-Disposition")


class ForwardHandler(SafeTrainHandler):
    """GET /safetrain/api/PATH → the records service's api/PATH, as this server's owner."""

    @web.authenticated
    async def get(self, path: str) -> None:
        if self.st.problem:
            raise web.HTTPError(503, "%s", self.st.problem)
        url = self.st.records_url.rstrip("/") + "/api/" + path
        if self.request.query:
            url += "?" + self.request.query
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        try:
            response = await AsyncHTTPClient().fetch(
                url, headers={"Authorization": f"token {token}"}, raise_error=False,
                request_timeout=120, follow_redirects=False)
        except (OSError, HTTPClientError) as exc:
            self.log.error("SafeTrain：无法连接记录服务 %s：%s", self.st.records_url, exc)
            raise web.HTTPError(503, "培训记录服务暂时无法连接，请稍后再试或联系管理员") from None
        if response.code == 599:
            self.log.error("SafeTrain：无法连接记录服务 %s：%s", self.st.records_url,
                           response.error)
            raise web.HTTPError(503, "培训记录服务暂时无法连接，请稍后再试或联系管理员")
        if response.code == 403:
            self.log.warning("SafeTrain：记录服务拒绝了 %s 的 GET %s", self.login(),
                             self.request.path)
        self.set_status(response.code)
        for name in FORWARDED_HEADERS:
            if name in response.headers:
                self.set_header(name, response.headers[name])
        self.finish(response.body or b"")


async def _service(handler: SafeTrainHandler, method: str, path: str,
                   body: bytes | None = None) -> Any:
    """One request to the records service as this server's owner (its hub token)."""
    url = handler.st.records_url.rstrip("/") + "/api/" + path
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    headers = {"Authorization": f"token {token}"}
    if body is not None:
        headers["Content-Type"] = "application/x-ipynb+json"
    try:
        response = await AsyncHTTPClient().fetch(
            url, method=method, body=body, headers=headers, raise_error=False,
            request_timeout=120, follow_redirects=False)
    except (OSError, HTTPClientError) as exc:
        handler.log.error("SafeTrain：无法连接记录服务 %s：%s", handler.st.records_url, exc)
        raise web.HTTPError(503, "培训记录服务暂时无法连接，请稍后再试或联系管理员") from None
    if response.code == 599:
        raise web.HTTPError(503, "培训记录服务暂时无法连接，请稍后再试或联系管理员")
    return response


def _module_checked(handler: SafeTrainHandler, module: str) -> None:
    if handler.st.curriculum is None or module not in handler.st.curriculum.module_ids:
        raise web.HTTPError(404, "%s", f"课程目录中没有模块 {module}")


def _local_notebook(root: Path, module: str) -> Path:
    return root / module / f"{module}.ipynb"


async def _own_notebook(handler: SafeTrainHandler, module: str) -> bytes:
    """The trainee's copy of a curriculum module (404 for an unknown module or no copy)."""
    _module_checked(handler, module)
    path = _local_notebook(Path(handler.st.serverapp.root_dir), module)
    try:
        return await asyncio.to_thread(_read_own, path, module)
    except NotFound as exc:
        raise web.HTTPError(404, "%s", str(exc)) from None


def _read_own(path: Path, module: str) -> bytes:
    """The trainee's notebook: a regular file only (no link), within the cap."""
    try:
        return read_regular(path, MAX_NOTEBOOK_BYTES + 1, f"{module}/{module}.ipynb")[0]
    except Refused as exc:
        raise NotFound(f"找不到 {module}/{module}.ipynb（{exc}）：请先点 获取") from None


class OpenModuleHandler(SafeTrainHandler):
    """POST /me/modules/MODULE/open: 获取. The released notebook comes from the records
    service into MODULE/MODULE.ipynb; work already there is never overwritten."""

    @web.authenticated
    async def post(self, module: str) -> None:
        _module_checked(self, module)
        root = Path(self.st.serverapp.root_dir)
        dest = _local_notebook(root, module)
        if dest.parent.is_symlink() or dest.is_symlink():
            raise web.HTTPError(400, "%s", f"{module} 是符号链接：请改名后再获取")
        if dest.exists():
            self.send_json({"module": module, "path": f"{module}/{module}.ipynb",
                            "how": "existing"})
            return
        response = await _service(self, "GET", f"me/modules/{module}/release")
        if response.code != 200:
            self.set_status(response.code)
            self.finish(response.body or b"")
            return

        def write() -> None:
            dest.parent.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(response.body)

        try:
            await asyncio.to_thread(write)
        except FileExistsError:
            pass
        except OSError as exc:
            raise web.HTTPError(400, "%s", f"无法写入 {module}/{module}.ipynb（{exc.strerror}）") \
                from None
        self.send_json({"module": module, "path": f"{module}/{module}.ipynb", "how": "fetched"})


class CheckHandler(SafeTrainHandler):
    """GET /me/modules/MODULE/check: 检查作答 on the trainee's notebook (parsed, never run)."""

    @web.authenticated
    async def get(self, module: str) -> None:
        data = await _own_notebook(self, module)
        problems = answer_check.check_bytes(data)
        self.send_json({"module": module, "problems": [p.as_dict() for p in problems],
                        "ready": not answer_check.blocking(problems)})


class SubmitHandler(SafeTrainHandler):
    """POST /me/modules/MODULE/submit: 提交. Checked here first (nothing leaves when an answer
    would not parse), then the bytes go to the records service, which checks again, names
    the submitter from the hub token and keeps its own receipt time. Save the notebook first:
    what is on disk is what is handed in."""

    @web.authenticated
    async def post(self, module: str) -> None:
        data = await _own_notebook(self, module)
        refusing = answer_check.blocking(answer_check.check_bytes(data))
        if refusing:
            self.set_status(422)
            self.send_json({"message": f"未提交：{refusing[0].message}", "status": 422,
                            "problems": [p.as_dict() for p in refusing]})
            return
        response = await _service(self, "POST", f"me/modules/{module}/submission", data)
        if response.code == 403:
            self.log.warning("SafeTrain：记录服务拒绝了 %s 的提交 %s", self.login(), module)
        self.set_status(response.code)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(response.body or b"")


def routes() -> list[tuple[str, type[Any]]]:
    forwarded = (r"whoami|me|trainees/[a-z][a-z0-9._-]{1,31}|units/[0-9]{1,32}"
                 r"|coverage/[0-9]{1,32}|coverage/[0-9]{1,32}/bundle\.xlsx"
                 r"|me/modules/[a-z0-9]+(?:-[a-z0-9]+)*/feedback")
    module = r"(?P<module>[a-z0-9]+(?:-[a-z0-9]+)*)"
    return [
        (rf"{API}/(?P<path>{forwarded})", ForwardHandler),
        (rf"{API}/me/modules/{module}/open", OpenModuleHandler),
        (rf"{API}/me/modules/{module}/check", CheckHandler),
        (rf"{API}/me/modules/{module}/submit", SubmitHandler),
    ]
