"""The records service and the server extension's hub mode, without a real hub.

A stand-in for the hub's `GET /hub/api/user` answers for a few tokens (each a user with the
scopes its roles and `Spawner.server_token_scopes` would give); the service asks it through
JupyterHub's own `HubAuth`. Checked: who may see what (trainee: own record; leader: own unit
while in post; administrator: granted units), refusals logged, masked answers; and a real
`jupyter server` in hub mode forwarding to the service with its hub token and opening no
database. The real hub, PAM and system users: tests/test_hub_e2e.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado import web
from tornado.ioloop import IOLoop

from jupyter_safetrain.hub import ACCESS_SCOPE, SCOPE_OWN, SCOPE_UNITS, SERVICE_NAME
from tests.test_jupyter_fixtures import AS_OF, IDS, free_port, jupyter_server, make_instance

PREFIX = f"/services/{SERVICE_NAME}/"
OWN = [ACCESS_SCOPE, SCOPE_OWN, "users:activity!user"]
UNITS = [*OWN, SCOPE_UNITS]
TOKENS: dict[str, dict[str, Any]] = {
    "t-zhangsan": {"kind": "user", "name": "zhangsan", "scopes": OWN},
    "t-lisi": {"kind": "user", "name": "lisi", "scopes": OWN},
    # lisi's token asking for more than lisi holds would not get it from the hub: same as OWN.
    "t-wangwu": {"kind": "user", "name": "wangwu", "scopes": UNITS},
    "t-dcadmin": {"kind": "user", "name": "dcadmin", "scopes": UNITS},
    "t-zhangsan-units": {"kind": "user", "name": "zhangsan", "scopes": UNITS},
    "t-no-access": {"kind": "user", "name": "zhangsan", "scopes": [SCOPE_OWN]},
    "t-service": {"kind": "service", "name": "cull-idle", "scopes": UNITS},
}


class FakeHubUser(web.RequestHandler):
    """GET /hub/api/user: the token's owner and the token's scopes, as JupyterHub answers."""

    def get(self) -> None:
        token = self.request.headers.get("Authorization", "").removeprefix("token ")
        model = TOKENS.get(token)
        if model is None:
            raise web.HTTPError(403)
        scopes = [f"{s}={model['name']}" if s.endswith("!user") else s for s in model["scopes"]]
        self.finish({**model, "scopes": scopes, "groups": [], "admin": False})


class Running:
    def __init__(self, url: str, home: Path, loop: IOLoop) -> None:
        self.url, self.home, self.loop = url, home, loop

    def request(self, path: str, token: str | None = None, prefix: str = PREFIX,
                base: str | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"token {token}"} if token else {}
        req = urllib.request.Request((base or self.url) + prefix + path, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


def _serve(home: Path, as_of: Any, ready: threading.Event, box: dict[str, Any]) -> None:
    from jupyterhub.services.auth import HubAuth

    from jupyter_safetrain.hub.service import Records, make_app
    from records.instance import Instance

    asyncio.set_event_loop(asyncio.new_event_loop())
    hub_port, port = free_port(), free_port()
    web.Application([(r"/hub/api/user", FakeHubUser)]).listen(hub_port, "127.0.0.1")
    auth = HubAuth(api_url=f"http://127.0.0.1:{hub_port}/hub/api", api_token="t-service")
    records = Records.open(Instance.from_env(home), as_of)
    make_app(records, auth, PREFIX).listen(port, "127.0.0.1")
    box["url"], box["loop"] = f"http://127.0.0.1:{port}", IOLoop.current()
    ready.set()
    IOLoop.current().start()


@contextlib.contextmanager
def running_service(home: Path, as_of: Any) -> Iterator[Running]:
    ready, box = threading.Event(), {}
    thread = threading.Thread(target=_serve, args=(home, as_of, ready, box), daemon=True)
    thread.start()
    assert ready.wait(30), "the records service did not start"
    try:
        yield Running(box["url"], home, box["loop"])
    finally:
        box["loop"].add_callback(box["loop"].stop)
        thread.join(10)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("hub-service")
    make_instance(tmp / "instance")
    with running_service(tmp / "instance", AS_OF) as running:
        running.tmp = tmp  # type: ignore[attr-defined]
        yield running


def test_trainee_sees_own_record_only(service: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    status, body = service.request("api/me", "t-zhangsan")
    me = json.loads(body)
    assert status == 200 and me["name"] == "张三" and me["hours"] == 5.0
    assert me["masked_id"].startswith("1101********") and IDS["张三"] not in body.decode()
    assert service.request("api/trainees/zhangsan", "t-zhangsan")[0] == 200
    status, body = service.request("api/trainees/lisi", "t-zhangsan")
    assert status == 403 and "lisi" in json.loads(body)["message"]
    assert service.request("api/trainees/nosuchperson", "t-zhangsan")[0] == 403  # no probing
    # No units scope (a trainee's role): the coverage endpoints refuse before any query.
    assert service.request("api/coverage/0101001002", "t-zhangsan")[0] == 403
    assert service.request("api/units/0101001002", "t-zhangsan")[0] == 403
    # The scope alone is not enough: a trainee holding it still sees no unit.
    assert service.request("api/coverage/0101001002", "t-zhangsan-units")[0] == 403
    refusals = [r.getMessage() for r in caplog.records if "记录服务：拒绝" in r.getMessage()]
    assert any("zhangsan" in m and "trainees/lisi" in m for m in refusals), refusals
    assert any(SCOPE_UNITS in m for m in refusals), refusals


def test_leader_sees_own_street_and_administrator_their_district(service: Running) -> None:
    assert service.request("api/coverage/0101001", "t-wangwu")[0] == 200
    assert service.request("api/coverage/0101001002", "t-wangwu")[0] == 200
    assert service.request("api/coverage/0101", "t-wangwu")[0] == 403  # above his street
    assert service.request("api/trainees/zhangsan", "t-wangwu")[0] == 200  # in his street
    assert service.request("api/trainees/zhaoliu", "t-wangwu")[0] == 403  # 西城区
    status, body = service.request("api/coverage/0101", "t-dcadmin")
    assert status == 200 and IDS["钱七"] not in body.decode()
    assert service.request("api/coverage/0102", "t-dcadmin")[0] == 403
    assert service.request("api/whoami", "t-dcadmin")[0] == 200
    scopes = json.loads(service.request("api/whoami", "t-dcadmin")[1])["scopes"]
    assert [s["code"] for s in scopes] == ["0101"]
    status, body = service.request("api/coverage/0101001/bundle.xlsx", "t-dcadmin")
    assert status == 200 and body[:2] == b"PK"


def test_without_the_service_scope_or_a_user_nothing(service: Running) -> None:
    for token in (None, "wrong", "t-no-access", "t-service"):
        for path in ("api/me", "api/whoami", "api/coverage/0101"):
            status, body = service.request(path, token)
            assert status == 403, (token, path)
            assert "message" in json.loads(body)


def test_a_leader_out_of_post_sees_nothing(tmp_path: Path) -> None:
    import datetime as dt

    make_instance(tmp_path / "instance")
    with running_service(tmp_path / "instance", dt.date(2024, 6, 1)) as before_post:
        assert before_post.request("api/coverage/0101001", "t-wangwu")[0] == 403


def test_hub_mode_server_forwards_with_its_token_and_opens_no_database(
        service: Running, tmp_path: Path) -> None:
    nowhere = tmp_path / "no-instance"
    env = {"JUPYTERHUB_API_TOKEN": "t-zhangsan",
           "SAFETRAIN_RECORDS_URL": service.url + PREFIX,
           "SAFETRAIN_HOME": str(nowhere)}
    with jupyter_server(tmp_path, nowhere, extra_env=env) as server:
        me = server.json("/safetrain/api/me", login="zhangsan")
        assert me["name"] == "张三" and IDS["张三"] not in json.dumps(me, ensure_ascii=False)
        # Whoever the request names, the service answers for the server's owner (its token).
        assert server.request("/safetrain/api/trainees/lisi", login="zhangsan")[0] == 403
        assert server.request("/safetrain/api/coverage/0101001", login="zhangsan")[0] == 403
        assert server.request("/safetrain/api/me", token="wrong")[0] == 403
        log = server.log.read_text()
    assert "JupyterHub 模式" in log and "本服务器不打开数据库" in log
    assert not nowhere.exists()  # no instance folder, no SQLite file: nothing opened
