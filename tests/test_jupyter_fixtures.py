"""A small fixture city, an identity provider that works like JupyterHub, and a real Jupyter
server on a free localhost port. Shared by test_access, test_jupyter_api, test_jupyter_browser.

No tests here: pytest collects the module only for its fixtures.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from sqlalchemy.orm import Session

from records import db
from records.models import Attendance, DrillForm, DrillRole, DrillScope, DrillType, TrainingKind
from tests.helpers import add_people, id_number, pass_modules

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 11, 20)
LAW = ["law-work-safety", "law-emergency-response", "law-training-rules"]
RESCUE = ["rescue-fire", "rescue-first-aid", "rescue-disasters"]
EAST, WEST = "安和市/东城区", "安和市/西城区"
STREET = f"{EAST}/朝阳街道"
HAPPY = f"{STREET}/幸福社区"
PEACE = f"{STREET}/和平社区"
WEST_STREET = f"{WEST}/长安街道"
WEST_COMMUNITY = f"{WEST_STREET}/新华社区"
# Full ID numbers of the fixture people: no endpoint may ever return one.
IDS = {name: id_number(seq=seq) for name, seq in (
    ("张三", "101"), ("李四", "102"), ("王五", "103"), ("赵六", "104"), ("钱七", "105"),
    ("孙八", "106"), ("周九", "107"))}


@dataclass(frozen=True)
class City:
    codes: dict[str, str]  # unit path → code
    people: dict[str, int]  # name → person id


def build_city(session: Session) -> City:
    """People, posts, module results, training and a drill, as of AS_OF (2026-11-20).

    张三 zhangsan  网格员 幸福社区: 3 law modules + rescue-fire passed, first aid failed (60%),
                  5 hours (3 + 2), one drill → 未达标 (missing: modules, 3 hours).
    李四 lisi      专职安监员 朝阳街道 since 2026-10-01 → 岗前培训期 until 2026-12-30.
    王五 wangwu    主要领导 朝阳街道 → sees 朝阳街道's coverage without a grant.
    赵六 zhaoliu   工作人员 新华社区 (西城区).
    钱七 qianqi    分管领导 朝阳街道, missed the street's training.
    孙八 sunba     网格员 和平社区.   周九 zhoujiu  网格员 新华社区.
    """
    from sqlalchemy import select

    from records.drills import DrillSpec, add_drill, mark_participation
    from records.models import OrgUnit, Person
    from records.org import find_unit
    from records.training import SessionSpec, add_session, mark_attendance

    people = add_people(session, [
        ("张三", IDS["张三"], HAPPY, "网格员", "2026-01-01"),
        ("李四", IDS["李四"], STREET, "专职安监员", "2026-10-01"),
        ("王五", IDS["王五"], STREET, "主要领导", "2025-01-01"),
        ("赵六", IDS["赵六"], WEST_COMMUNITY, "工作人员", "2025-06-01"),
        ("钱七", IDS["钱七"], STREET, "分管领导", "2025-03-01"),
        ("孙八", IDS["孙八"], PEACE, "网格员", "2025-03-01"),
        ("周九", IDS["周九"], WEST_COMMUNITY, "网格员", "2025-03-01"),
    ], as_of=dt.date(2026, 10, 1))
    graded = dt.datetime(2026, 11, 5, 2, 0, tzinfo=dt.UTC)
    pass_modules(session, people["张三"], [*LAW, "rescue-fire"], graded_at=graded)
    pass_modules(session, people["张三"], ["rescue-first-aid"], graded_at=graded, passed=False,
                 percent=60.0)
    pass_modules(session, people["孙八"], [*LAW, *RESCUE], graded_at=graded)
    pass_modules(session, people["王五"], LAW, graded_at=graded)

    def person(name: str) -> Person:
        return session.scalars(select(Person).where(Person.id == people[name])).one()

    street, community = find_unit(session, STREET), find_unit(session, HAPPY)
    first, _ = add_session(session, SessionSpec(
        "应急知识集中培训", TrainingKind.classroom, street, dt.date(2026, 11, 10), 3.0))
    mark_attendance(session, first, [person("张三"), person("王五"), person("孙八")],
                    Attendance.present)
    mark_attendance(session, first, [person("钱七")], Attendance.absent)
    second, _ = add_session(session, SessionSpec(
        "灭火器使用讲座", TrainingKind.lecture, community, dt.date(2026, 11, 12), 2.0))
    mark_attendance(session, second, [person("张三")], Attendance.present)
    drill, _ = add_drill(session, DrillSpec(
        "幸福社区消防疏散演练", DrillType.fire_evacuation, DrillForm.live, DrillScope.single,
        community, dt.date(2026, 11, 15), 60))
    mark_participation(session, drill, [person("张三")], DrillRole.evacuation,
                       Attendance.present)
    session.flush()
    codes = {u.path: u.code for u in session.scalars(select(OrgUnit))}
    return City(codes, people)


def make_instance(home: Path) -> tuple[str, City]:
    """A migrated SQLite instance with the fixture city, a released module and a secret."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "secret.key").write_text("0" * 64)
    url = f"sqlite:///{home / 'safetrain.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.session_factory(engine).begin() as session:
        city = build_city(session)
        from records.access import grant
        from records.org import find_unit

        grant(session, "dcadmin", find_unit(session, EAST), by="test")
        grant(session, "xcadmin", find_unit(session, WEST), by="test")
    engine.dispose()
    release = home / "course" / "release" / "rescue-fire"
    release.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# 火灾自救与灭火器使用")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})
    nbformat.write(nb, release / "rescue-fire.ipynb")
    return url, city


# --------------------------------------------------------------------------- Jupyter server


class TokenUsers(IdentityProvider):
    """Like JupyterHub: the request's token names its user (token `as-LOGIN` → LOGIN)."""

    def get_user(self, handler: Any) -> User | None:
        token = self.get_token(handler) or ""
        if not token.startswith("as-"):
            return None
        handler._token_authenticated = True  # API clients: no XSRF cookie, as with hub tokens
        return User(username=token.removeprefix("as-"))

    @property
    def auth_enabled(self) -> bool:
        return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Server extensions the panels do not need: fewer imports, faster start.
QUIET_EXTENSIONS = {
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.validate_assignment": False,
    "nbgrader.server_extensions.course_list": False,
    "jupyter_lsp": False,
    "jupyter_server_terminals": False,
    "notebook": False,
}


@dataclass
class Server:
    url: str
    log: Path
    root: Path

    def request(self, path: str, *, login: str | None = None, method: str = "GET",
                token: str | None = None) -> tuple[int, bytes]:
        headers = {}
        if token or login:
            headers["Authorization"] = f"token {token or 'as-' + str(login)}"
        req = urllib.request.Request(self.url + path, method=method, headers=headers,
                                     data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, path: str, **kwargs: Any) -> Any:
        status, body = self.request(path, **kwargs)
        assert status == 200, (status, body.decode("utf-8", "replace"))
        return json.loads(body)


@contextmanager
def jupyter_server(tmp: Path, home: Path, *, app: str = "server", identity: bool = True,
                   token: str = "", extra_env: dict[str, str] | None = None,
                   startup: float = 90.0) -> Iterator[Server]:
    """`jupyter server` (or `jupyter lab`) in a subprocess on a free port, stopped afterwards."""
    config_dir, root = tmp / "jupyter-config", tmp / "notebooks"
    config_dir.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    extensions = {"jupyter_safetrain": True, **QUIET_EXTENSIONS}
    if app == "server":
        extensions["jupyterlab"] = False
    server_config: dict[str, Any] = {"ServerApp": {"jpserver_extensions": extensions}}
    if identity:
        server_config["ServerApp"]["identity_provider_class"] = \
            "tests.test_jupyter_fixtures.TokenUsers"
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(server_config))
    # A fresh JupyterLab profile that does not ask about Jupyter news (its toast hides buttons).
    settings = tmp / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config_dir),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "lab-workspaces"),
           "JUPYTER_DATA_DIR": str(tmp / "jupyter-data"), "JUPYTER_RUNTIME_DIR": str(tmp / "rt"),
           "SAFETRAIN_HOME": str(home), "SAFETRAIN_AS_OF": AS_OF.isoformat(),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           **(extra_env or {})}
    env.pop("SAFETRAIN_DB", None)
    if "JUPYTERHUB_API_TOKEN" not in (extra_env or {}):  # hub mode only when a test asks
        env.pop("JUPYTERHUB_API_TOKEN", None)
    log = tmp / f"jupyter-{port}.log"
    command = [sys.executable, "-m", "jupyter", app, "--no-browser", f"--port={port}",
               "--ip=127.0.0.1", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
               f"--IdentityProvider.token={token}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI runs as root
        command.append("--allow-root")
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=tmp)
    server = Server(f"http://127.0.0.1:{port}", log, root)
    try:
        deadline = time.monotonic() + startup
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter {app} exited:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(server.url + "/api", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter {app} did not start in {startup:.0f} s:\n"
                                f"{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def jupyter_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, City]:
    tmp = tmp_path_factory.mktemp("jupyter")
    url, city = make_instance(tmp / "instance")
    return tmp, url, city


__all__ = ["AS_OF", "IDS", "City", "Server", "build_city", "jupyter_server", "make_instance"]
