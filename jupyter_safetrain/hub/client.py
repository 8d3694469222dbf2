"""The server extension under JupyterHub: the panels' requests go to the records service.

The user's own server forwards each /safetrain/api request to the records service with the
server's hub token (`JUPYTERHUB_API_TOKEN`, its scopes narrowed by `Spawner.server_token_scopes`);
the service asks the hub whose token it is and answers within that person's scope. This side
never opens or creates a database and holds no records credential. Opening a module stays
local: it copies the released notebook from nbgrader's exchange into the trainee's folder.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from jupyter_safetrain import nbgrader_files
from jupyter_safetrain.handlers import API, SafeTrainHandler
from records.errors import NotFound, SafeTrainError
from records.instance import Instance

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


class OpenModuleHandler(SafeTrainHandler):
    """POST /me/modules/MODULE/open: fetch the released notebook through nbgrader's exchange."""

    @web.authenticated
    async def post(self, module: str) -> None:
        if self.st.curriculum is None or module not in self.st.curriculum.module_ids:
            raise web.HTTPError(404, "%s", f"课程目录中没有模块 {module}")
        root = Path(self.st.serverapp.root_dir)
        # No instance here: only what the exchange publishes can be opened.
        nowhere = Instance(home=Path("/nonexistent-safetrain-instance"), db_url="")

        def work() -> dict[str, str]:
            config = nbgrader_files.trainee_config(nowhere, root)
            path, how = nbgrader_files.open_module(config, nowhere, root, module)
            return {"module": module, "path": path, "how": how}

        try:
            self.send_json(await asyncio.to_thread(work))
        except NotFound as exc:
            raise web.HTTPError(404, "%s", str(exc)) from None
        except SafeTrainError as exc:
            raise web.HTTPError(400, "%s", str(exc)) from None


def routes() -> list[tuple[str, type[Any]]]:
    forwarded = (r"whoami|me|trainees/[a-z][a-z0-9._-]{1,31}|units/[0-9]{1,32}"
                 r"|coverage/[0-9]{1,32}|coverage/[0-9]{1,32}/bundle\.xlsx")
    return [
        (rf"{API}/(?P<path>{forwarded})", ForwardHandler),
        (rf"{API}/me/modules/(?P<module>[a-z0-9]+(?:-[a-z0-9]+)*)/open", OpenModuleHandler),
    ]
