"""A real JupyterHub, started by the README's command, whose records service alone holds the
records credentials (issue #19). Bounded: the whole module must finish within 180 s.

The test makes its own PostgreSQL cluster (initdb on a free port, scram passwords), its own
deployment prefix (the software from `make hub-env`, linked in), its own system users (a
random prefix), and removes all of them afterwards, also on failure. Trainee A (张三) logs in
through PAM, gets a server, and from A's kernel hunts for a records credential: the
environment, every readable /proc/*/environ and cmdline, the files under the deployment, and
password-less connections to the records database as the service role and as postgres.
Trainee B (李四) gets 403 for A's record through B's own server. The hub's pages and
JupyterLab are in Chinese. Headless Chromium shows the login page and 我的培训 for A
(screenshots in a temporary folder, or in $SAFETRAIN_SCREENSHOTS: `make screenshots` writes
docs/). Skips, saying why, when something is missing, except under
CI=true, where that is a failure.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.test_jupyter_fixtures import AS_OF, IDS, build_city, free_port

ROOT = Path(__file__).resolve().parents[1]
SOFTWARE = Path(os.environ.get("SAFETRAIN_HUB_PREFIX", "/opt/safetrain"))
SAFETRAIN = [sys.executable, "-m", "scripts.cli"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BUDGET_S = 180
ROLE, DBNAME = "safetrain_records", "safetrain"
A, B = "zhangsan", "lisi"
STARTED: dict[str, float] = {}  # when the hub fixture began (collection can be long before)


def need(ok: bool, why: str) -> None:
    """Skip when something is missing; under CI=true fail instead (nothing may silently skip)."""
    if not ok:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {why}")
        pytest.skip(why)


def run(cmd: list[str], *, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)
    if check and done.returncode != 0:
        raise AssertionError(f"{cmd[:3]} → {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class Cluster:
    folder: Path
    port: int
    superuser_password: str
    role_password: str
    bin: Path

    def url(self, user: str = ROLE, password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql+psycopg://{user}{secret}@127.0.0.1:{self.port}/{DBNAME}"

    def hba(self, *, trust: bool) -> None:
        """scram-sha-256 for everyone, or (to test the refusal) trust first."""
        method = "trust" if trust else "scram-sha-256"
        text = (f"local all all {method}\nhost all all 127.0.0.1/32 {method}\n"
                f"host all all ::1/128 {method}\n")
        hba = self.folder / "data" / "pg_hba.conf"
        hba.write_text(text)
        self.pg_ctl("reload")
        time.sleep(0.3)

    def pg_ctl(self, *args: str) -> None:
        run(["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D",
             str(self.folder / "data"), *args])


@contextlib.contextmanager
def own_cluster() -> Iterator[Cluster]:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    need(bool(bins), "PostgreSQL server binaries (initdb) are missing: apt-get install postgresql")
    need(_exists("postgres"), "there is no postgres system user to run a test cluster")
    folder = Path(tempfile.mkdtemp(prefix="safetrain-pg-"))
    os.chmod(folder, 0o700)
    shutil.chown(folder, "postgres", "postgres")
    cluster = Cluster(folder, free_port(), secrets.token_urlsafe(18), secrets.token_urlsafe(18),
                      Path(bins[-1]).parent)
    pwfile = folder / "pw"
    pwfile.write_text(cluster.superuser_password + "\n")
    shutil.chown(pwfile, "postgres", "postgres")
    pwfile.chmod(0o600)
    started = False
    try:
        run(["runuser", "-u", "postgres", "--", str(cluster.bin / "initdb"), "-D",
             str(folder / "data"), "-U", "postgres", f"--pwfile={pwfile}",
             "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        pwfile.unlink()
        options = (f"-p {cluster.port} -k {folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c shared_buffers=16MB")
        cluster.pg_ctl("-o", options, "-l", str(folder / "pg.log"), "-w", "-t", "30", "start")
        started = True
        import psycopg
        from psycopg import sql

        with psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres",
                             password=cluster.superuser_password, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(cluster.role_password)))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(DBNAME), sql.Identifier(ROLE)))
        yield cluster
    finally:
        if started:
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                cluster.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


# --------------------------------------------------------------------------- the hub


@dataclass
class Hub:
    prefix: Path
    user_prefix: str
    url: str
    log: Path
    cluster: Cluster
    passwords: dict[str, str]
    proc: subprocess.Popen | None = None
    started: list[str] = field(default_factory=list)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _kill_processes_of(uids: set[int]) -> None:
    """Whatever still runs as the test's own users (servers, kernels, the service)."""
    import psutil

    for proc in psutil.process_iter(["uids"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["uids"] and proc.info["uids"].real in uids:
                proc.kill()


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    need(hasattr(os, "geteuid") and os.geteuid() == 0,
         "the hub test creates system users and runs the hub as root")
    need((SOFTWARE / "env" / "bin" / "jupyterhub").exists()
         and (SOFTWARE / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy").exists(),
         f"the deployment software is missing in {SOFTWARE}: run `make hub-env`")
    need(shutil.which("useradd") is not None, "useradd is missing")
    STARTED["hub"] = time.monotonic()
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(own_cluster())
        prefix = Path(tempfile.mkdtemp(prefix="safetrain-hub-", dir="/tmp"))
        stack.callback(shutil.rmtree, prefix, True)
        prefix.chmod(0o755)
        for part in ("env", "proxy"):
            (prefix / part).symlink_to(SOFTWARE / part)
        user_prefix = f"t{secrets.token_hex(3)}-"
        stack.callback(_remove_users, prefix, user_prefix)
        ports = [free_port() for _ in range(4)]
        logs = Path(tempfile.mkdtemp(prefix="safetrain-hub-logs-"))  # 0700, outside the prefix
        stack.callback(shutil.rmtree, logs, True)
        hub = Hub(prefix, user_prefix, f"http://127.0.0.1:{ports[0]}/", logs / "hub.log",
                  cluster, {A: secrets.token_urlsafe(12), B: secrets.token_urlsafe(12)})
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFETRAIN_", "PG"))}
        env["PYTHONPATH"] = str(ROOT)

        def safetrain(*args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess:
            return run([*SAFETRAIN, *args], input=stdin, env=env, cwd=ROOT, check=check)

        # README: `safetrain hub init` (the password on stdin, never on a command line).
        safetrain("hub", "init", "--prefix", str(prefix), "--db", cluster.url(),
                  "--password-stdin", "--user-prefix", user_prefix,
                  stdin=cluster.role_password + "\n")
        _populate(cluster.url(password=cluster.role_password))
        # A database that lets anyone in without a password: `hub start` refuses.
        cluster.hba(trust=True)
        refused = safetrain("hub", "start", "--prefix", str(prefix), "--check", check=False)
        cluster.hba(trust=False)
        assert refused.returncode == 6, refused.stdout + refused.stderr
        assert "不用密码就能以" in refused.stderr and "拒绝启动" in refused.stderr
        # With passwords required: users made, config written, nothing started (--check).
        checked = safetrain("hub", "start", "--prefix", str(prefix), "--check")
        assert "可登录账号 8 个（学员 7、领导 2、管理员 1、教员 0）；新建系统用户 8 个" in checked.stdout
        # README: `safetrain hub start`, here on free ports and on the fixture's day.
        log = hub.log.open("wb")
        stack.callback(log.close)
        hub.proc = subprocess.Popen(
            [*SAFETRAIN, "hub", "start", "--prefix", str(prefix), "--port", str(ports[0]),
             "--hub-port", str(ports[1]), "--proxy-api-port", str(ports[2]),
             "--service-port", str(ports[3]), "--as-of", AS_OF.isoformat()],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        stack.callback(_stop, hub.proc)
        for login, password in hub.passwords.items():
            _wait_for_user(prefix / "hub" / "users.json", user_prefix + login, hub)
            safetrain("hub", "passwd", login, "--prefix", str(prefix), "--password-stdin",
                      stdin=password + "\n")
        _wait_for(hub, "hub/health")
        assert "新建系统用户 0 个" in hub.log.read_text(errors="replace")  # idempotent
        yield hub


def _populate(url: str) -> None:
    from records import db
    from records.access import grant
    from records.org import find_unit
    from tests.test_jupyter_fixtures import EAST

    engine = db.make_engine(url)
    with db.session_factory(engine).begin() as session:
        build_city(session)
        grant(session, "dcadmin", find_unit(session, EAST), by="test")
    engine.dispose()


def _remove_users(prefix: Path, user_prefix: str) -> None:
    names = set()
    with contextlib.suppress(FileNotFoundError, ValueError):
        names = set(json.loads((prefix / "hub" / "users.json").read_text()))
    names = {n for n in names if n.startswith((user_prefix, "_" + user_prefix))}
    uids = set()
    for name in names:
        with contextlib.suppress(KeyError):
            uids.add(pwd.getpwnam(name).pw_uid)
    _kill_processes_of(uids)
    time.sleep(0.5 if uids else 0)
    for name in sorted(names):
        subprocess.run(["userdel", "--remove", "--force", name], capture_output=True, check=False)
    leftover = [n for n in names if _exists(n)]
    assert not leftover, f"system users left behind: {leftover}"


def _wait_for_user(registry: Path, name: str, hub: Hub, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(FileNotFoundError, ValueError):
            if name in json.loads(registry.read_text()) and _exists(name):
                return
        if hub.proc and hub.proc.poll() is not None:
            pytest.fail(f"safetrain hub start exited:\n{hub.log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"user {name} was not created:\n{hub.log.read_text()[-4000:]}")
        time.sleep(0.2)


def _wait_for(hub: Hub, path: str, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while True:
        if hub.proc and hub.proc.poll() is not None:
            pytest.fail(f"the hub exited:\n{hub.log.read_text()[-4000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(hub.url + path, timeout=5).status_code == 200:
                return
        if time.monotonic() > deadline:
            pytest.fail(f"the hub did not answer {path}:\n{hub.log.read_text()[-4000:]}")
        time.sleep(0.3)


# --------------------------------------------------------------------------- as a trainee


def login(hub: Hub, name: str, password: str):  # noqa: ANN201 (a requests.Session)
    """Log in through the hub's login form (PAM), then make an API token as that user."""
    import requests

    session = requests.Session()
    session.get(hub.url + "hub/login", timeout=30)
    xsrf = session.cookies.get("_xsrf", "")
    answer = session.post(hub.url + "hub/login", timeout=60, allow_redirects=False,
                          data={"username": name, "password": password, "_xsrf": xsrf})
    assert answer.status_code == 302, (answer.status_code, answer.text[-500:])
    made = session.post(hub.url + f"hub/api/users/{name}/tokens", timeout=30,
                        headers={"X-XSRFToken": session.cookies.get("_xsrf", xsrf)},
                        json={"note": "e2e", "expires_in": 900})
    assert made.status_code == 201, (made.status_code, made.text)
    session.headers["Authorization"] = f"token {made.json()['token']}"
    return session


def start_server(hub: Hub, session, name: str) -> None:  # noqa: ANN001
    answer = session.post(hub.url + f"hub/api/users/{name}/server", timeout=60)
    assert answer.status_code in (201, 202), (answer.status_code, answer.text)


def wait_server(hub: Hub, session, name: str, timeout: float = 120) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        model = session.get(hub.url + f"hub/api/users/{name}", timeout=30).json()
        server = model.get("servers", {}).get("")
        if server and server.get("ready"):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{name}'s server is not ready: {model}\n{hub.log.read_text()[-4000:]}")
        time.sleep(0.5)


def run_in_kernel(hub: Hub, session, name: str, code: str, timeout: float = 90) -> str:  # noqa: ANN001
    """Start a kernel on the user's server, run `code`, return what it printed."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    base = hub.url + f"user/{name}/api/kernels"
    kernel = session.post(base, json={"name": "python3"}, timeout=60)
    assert kernel.status_code == 201, (kernel.status_code, kernel.text)
    kernel_id = kernel.json()["id"]
    msg_id = uuid.uuid4().hex
    message = {"header": {"msg_id": msg_id, "username": name, "session": uuid.uuid4().hex,
                          "msg_type": "execute_request", "version": "5.3",
                          "date": dt.datetime.now(dt.UTC).isoformat()},
               "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
               "content": {"code": code, "silent": False, "store_history": False,
                           "user_expressions": {}, "allow_stdin": False,
                           "stop_on_error": True}}

    async def talk() -> str:
        url = base.replace("http://", "ws://") + f"/{kernel_id}/channels"
        conn = await websocket_connect(HTTPRequest(url, headers={
            "Authorization": session.headers["Authorization"]}))
        await conn.write_message(json.dumps(message))
        printed: list[str] = []
        while True:
            raw = await asyncio.wait_for(conn.read_message(), timeout)
            assert raw is not None, "the kernel's websocket closed"
            reply = json.loads(raw)
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = reply["msg_type"]
            if kind == "stream":
                printed.append(reply["content"]["text"])
            elif kind == "error":
                raise AssertionError("\n".join(reply["content"]["traceback"]))
            elif kind == "status" and reply["content"]["execution_state"] == "idle":
                conn.close()
                return "".join(printed)

    try:
        return asyncio.run(talk())
    finally:
        session.delete(f"{base}/{kernel_id}", timeout=30)


HUNT = r'''
import base64, json, os, pwd
needles = [n.encode() for n in json.loads(base64.b64decode(NEEDLES))]
found, denied, counts = {}, [], {"environ": 0, "cmdline": 0, "files": 0}

def look(where, data):
    hits = [i for i, n in enumerate(needles) if n in data]
    if hits:
        found[where] = hits

look("os.environ", "\n".join(f"{k}={v}" for k, v in os.environ.items()).encode())
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for part in ("environ", "cmdline"):
            try:
                with open(f"/proc/{pid}/{part}", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            counts[part] += 1
            look(f"/proc/{pid}/{part}", data)
for root, dirs, files in os.walk(PREFIX, onerror=lambda e: denied.append(e.filename)):
    for name in files:
        path = os.path.join(root, name)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as f:
                data = f.read(8_000_000)
        except OSError:
            denied.append(path)
            continue
        counts["files"] += 1
        look(path, data)
databases = {}
import psycopg
for user in (ROLE, "postgres"):
    for host in ("127.0.0.1", "/var/run/postgresql", "/tmp"):
        try:
            psycopg.connect(host=host, port=PORT, dbname=DBNAME, user=user, connect_timeout=5).close()
            databases[f"{user}@{host}"] = "CONNECTED"
        except Exception as exc:
            databases[f"{user}@{host}"] = str(exc).strip().splitlines()[-1][:200]
print(json.dumps({"me": pwd.getpwuid(os.getuid()).pw_name, "found": found, "counts": counts,
                  "denied": denied, "databases": databases}))
'''


def test_trainee_kernel_finds_no_records_credential_and_b_is_refused(hub: Hub) -> None:
    secret_key = (hub.prefix / "records" / "secret.key").read_text().strip()
    needles = [hub.cluster.role_password, hub.cluster.superuser_password, secret_key,
               f"{ROLE}:{hub.cluster.role_password}@"]
    # A wrong password does not log in.
    import requests

    wrong = requests.Session()
    wrong.get(hub.url + "hub/login", timeout=30)
    answer = wrong.post(hub.url + "hub/login", timeout=60, allow_redirects=False,
                        data={"username": A, "password": "not-" + hub.passwords[A],
                              "_xsrf": wrong.cookies.get("_xsrf", "")})
    assert answer.status_code != 302 and "jupyterhub-session-id" not in wrong.cookies
    # The login page again, in Chinese (JupyterHub sends no charset: the page says UTF-8).
    assert "账号或密码不正确" in answer.content.decode()

    a, b = login(hub, A, hub.passwords[A]), login(hub, B, hub.passwords[B])
    start_server(hub, a, A)
    start_server(hub, b, B)
    wait_server(hub, a, A)

    code = (HUNT.replace("PREFIX", repr(str(hub.prefix))).replace("ROLE", repr(ROLE))
            .replace("PORT", str(hub.cluster.port)).replace("DBNAME", repr(DBNAME))
            .replace("NEEDLES", repr(base64.b64encode(json.dumps(needles).encode()).decode())))
    hunt = json.loads(run_in_kernel(hub, a, A, code).strip().splitlines()[-1])
    print(f"hunt from A's kernel ({hunt['me']}): read {hunt['counts']}, refused "
          f"{len(hunt['denied'])} paths, found {hunt['found']}, databases {hunt['databases']}")
    assert hunt["me"] == hub.user_prefix + A  # A's kernel runs as A's own system user
    assert hunt["found"] == {}, f"a records credential is readable from A's kernel: {hunt['found']}"
    assert hunt["counts"]["cmdline"] > 10 and hunt["counts"]["files"] > 0  # it did look
    assert any(p.startswith(str(hub.prefix / "records")) for p in hunt["denied"])
    assert any(p.startswith(str(hub.prefix / "hub")) for p in hunt["denied"])
    assert str(hub.prefix / "home" / (hub.user_prefix + B)) in hunt["denied"]  # B's notebooks
    for where, outcome in hunt["databases"].items():
        assert outcome != "CONNECTED", f"{where} let A's kernel in without a password"
    for user in (ROLE, "postgres"):
        assert "password" in hunt["databases"][f"{user}@127.0.0.1"], hunt["databases"]

    # A's own record, through A's server and the records service.
    me = a.get(hub.url + f"user/{A}/safetrain/api/me", timeout=60)
    assert me.status_code == 200, (me.status_code, me.text)
    assert me.json()["name"] == "张三" and me.json()["hours"] == 5.0
    assert IDS["张三"] not in me.text and me.json()["masked_id"].startswith("1101********")

    # B, through B's own server: 403 for A's record, logged by the service; B's own is fine.
    wait_server(hub, b, B)
    other = b.get(hub.url + f"user/{B}/safetrain/api/trainees/{A}", timeout=60)
    assert other.status_code == 403, (other.status_code, other.text)
    assert b.get(hub.url + f"user/{B}/safetrain/api/me", timeout=60).json()["name"] == "李四"
    assert b.get(hub.url + f"user/{B}/safetrain/api/coverage/0101001", timeout=60).status_code == 403
    assert f"记录服务：拒绝 {B}" in hub.log.read_text(errors="replace")
    # B's own API token straight at the service: the same answer.
    direct = b.get(hub.url + f"services/safetrain-records/api/trainees/{A}", timeout=60)
    assert direct.status_code == 403


def test_hub_pages_and_jupyterlab_are_in_chinese(hub: Hub) -> None:
    """JupyterHub's pages come from jupyter_safetrain/hub/templates (Chinese, extending the
    stock ones); JupyterLab starts in zh_CN (the language pack and overrides.json of the env)."""
    import requests

    # JupyterHub sends no charset with its pages (they say UTF-8 in a meta tag).
    page = requests.get(hub.url + "hub/login", timeout=30)
    text = page.content.decode()
    assert page.status_code == 200
    for label in ("登录", "账号", "密码", "SafeTrain 培训：请用花名册中的账号"):
        assert label in text, label
    assert "Sign in" not in text and "Username" not in text
    a = login(hub, A, hub.passwords[A])
    home = a.get(hub.url + "hub/home", timeout=30)
    text = home.content.decode()
    assert home.status_code == 200
    for label in ("我的服务器", "首页", "退出"):
        assert label in text, label
    assert "My Server" not in text and "Logout" not in text
    missing = a.get(hub.url + "hub/no-such-page", timeout=30)
    assert missing.status_code == 404 and "页面不存在" in missing.content.decode()
    # The server's lab settings: the locale the env's overrides.json sets, and the pack.
    wait_server(hub, a, A)
    lab = hub.url + f"user/{A}/lab/api"
    plugin = a.get(lab + "/settings/@jupyterlab/translation-extension:plugin", timeout=60)
    assert plugin.status_code == 200, plugin.text[:500]
    assert plugin.json()["schema"]["properties"]["locale"]["default"] == "zh_CN"
    packs = a.get(lab + "/translations", timeout=60).json()["data"]
    assert "zh_CN" in packs, list(packs)


@contextlib.contextmanager
def my_training_page(hub: Hub, height: int) -> Iterator[tuple[Any, Path]]:
    """A's 我的培训 open in JupyterLab in headless Chromium (logged in through the hub's
    login page), and the folder for screenshots."""
    need(Path(CHROMIUM).is_file(), "Chromium is not installed: `make chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "Playwright is not installed: `pip install -e .[dev]`")
    folder = Path(os.environ.get("SAFETRAIN_SCREENSHOTS") or tempfile.mkdtemp(prefix="hub-shots-"))
    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        try:
            page = browser.new_page(locale="zh-CN", viewport={"width": 1400, "height": height})
            page.set_default_timeout(60_000)
            page.goto(hub.url + "hub/login")
            page.get_by_text("账号：").wait_for()
            page.screenshot(path=str(folder / "hub-login.png"))
            page.fill("#username_input", A)
            page.fill("#password_input", hub.passwords[A])
            page.click("#login_submit")
            page.wait_for_load_state()
            page.goto(hub.url + f"user/{A}/lab")
            page.wait_for_url(f"**/user/{A}/lab**", timeout=90_000)
            page.locator(".jp-Launcher").get_by_text("我的培训", exact=True).click()
            yield page, folder
        finally:
            browser.close()


def test_chromium_shows_my_training_for_a(hub: Hub) -> None:
    with my_training_page(hub, 1000) as (page, folder):
        hours = page.locator("[data-st=hours]")
        hours.wait_for()
        assert hours.inner_text() == "5 / 8"
        assert "1101********" in page.locator(".st-head").first.inner_text()
        # JupyterLab itself in Chinese: the menu bar, from the zh-CN language pack.
        assert "文件" in page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
        page.screenshot(path=str(folder / "hub-my-training.png"), full_page=True)
    assert (folder / "hub-my-training.png").stat().st_size > 10_000
    assert (folder / "hub-login.png").stat().st_size > 10_000


# --------------------------------------------------------------------------- hand in (#20)

MODULE = "rescue-disasters"  # required for A, never attempted in the fixture city


def _answers() -> dict[str, str]:
    """{grade_id: the solution's code} from the module's source: what a trainee who knows
    every answer would type."""
    source = json.loads((ROOT / "courses" / "source" / MODULE / f"{MODULE}.ipynb").read_text())
    answers = {}
    for cell in source["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution") and not meta.get("grade"):
            text = "".join(cell["source"])
            inside = text.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]
            answers[meta["grade_id"]] = inside.strip("\n")
    return answers


def _answered(released: dict, answers: dict[str, str], wrong_quotes: bool) -> dict:
    notebook = json.loads(json.dumps(released))
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers and not cell["metadata"]["nbgrader"].get("grade"):
            cell["source"] = answers[grade_id]
    if wrong_quotes:  # a Chinese input method's quotes in the first single-choice item
        for cell in notebook["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("solution") and '"' in cell["source"]:
                cell["source"] = cell["source"].replace('"', "“", 1).replace('"', "”", 1)
                break
    return notebook


def _kernel_tries(hub: Hub, session, name: str, paths: dict[str, str]) -> dict[str, str]:  # noqa: ANN001
    code = ("import json, os\nout = {}\nfor what, path in json.loads(PATHS).items():\n"
            "    try:\n"
            "        if what.startswith('write'):\n"
            "            os.makedirs(os.path.dirname(path), exist_ok=True)\n"
            "            open(path, 'w').write('{}')\n"
            "        else:\n"
            "            open(path, 'rb').read()\n"
            "        out[what] = 'DONE'\n"
            "    except OSError as exc:\n"
            "        out[what] = type(exc).__name__\n"
            "print(json.dumps(out))\n").replace("PATHS", repr(json.dumps(paths)))
    return json.loads(run_in_kernel(hub, session, name, code).strip().splitlines()[-1])


def test_a_hands_in_b_cannot_impersonate_the_trainer_grades_a_sees_feedback(hub: Hub) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFETRAIN_", "PG"))}
    env["PYTHONPATH"] = str(ROOT)
    records = hub.prefix / "records"
    # The trainer releases the module into the deployment's records instance (README).
    run([*SAFETRAIN, "--home", str(records), "course", "release", MODULE], env=env, cwd=ROOT)
    # Grading before anyone handed in reads the deployment's (empty) hand-in folder, made by
    # the service at start, never nbgrader's exchange: one Chinese line, no traceback.
    assert (records / "handin").is_dir()
    early = run([*SAFETRAIN, "--home", str(records), "grade", MODULE, "--from", "exchange",
                 "--workers", "1"], env=env, cwd=ROOT, check=False)
    assert early.returncode == 0 and f"没有找到 {MODULE} 的提交" in early.stderr, early.stderr
    assert "Traceback" not in early.stderr and "nbgrader" not in early.stderr
    a, b = login(hub, A, hub.passwords[A]), login(hub, B, hub.passwords[B])
    for session, name in ((a, A), (b, B)):
        session.post(hub.url + f"hub/api/users/{name}/server", timeout=60)  # 400: running
        wait_server(hub, session, name)
    mine = hub.url + f"user/{A}/safetrain/api/me/modules/{MODULE}"

    # No instructor tools in A's server: no formgrader, nbgrader's lab extension disabled.
    assert a.get(hub.url + f"user/{A}/formgrader", timeout=60).status_code == 404
    lab = a.get(hub.url + f"user/{A}/lab", timeout=60).text
    import re

    found = re.search(r'<script id="jupyter-config-data"[^>]*>(.*?)</script>', lab, re.S)
    assert found, lab[:2000]
    config = json.loads(found.group(1))
    assert "@jupyter/nbgrader" in config["disabledExtensions"], config["disabledExtensions"]

    # 获取: the released notebook into A's folder.
    fetched = a.post(mine + "/open", timeout=60)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["how"] == "fetched"
    contents = hub.url + f"user/{A}/api/contents/{MODULE}/{MODULE}.ipynb"
    released = a.get(contents, timeout=60).json()["content"]
    answers = _answers()

    # A answers with a Chinese input method's quotes: 检查作答 says so, 提交 refuses.
    put = {"type": "notebook", "format": "json"}
    wrong = _answered(released, answers, wrong_quotes=True)
    assert a.put(contents, json={**put, "content": wrong}, timeout=60).status_code == 200
    check = a.get(mine + "/check", timeout=60).json()
    assert not check["ready"] and check["problems"][0]["kind"] == "chinese_quote", check
    assert "中文引号" in check["problems"][0]["message"]
    refused = a.post(mine + "/submit", timeout=60)
    assert refused.status_code == 422 and refused.json()["message"].startswith("未提交：")
    handin = records / "handin" / MODULE / A / f"{MODULE}.ipynb"
    assert not handin.exists()
    # Fixed: checked clean, handed in under A's hub name with the service's time.
    right = _answered(released, answers, wrong_quotes=False)
    assert a.put(contents, json={**put, "content": right}, timeout=60).status_code == 200
    assert a.get(mine + "/check", timeout=60).json() == {"module": MODULE, "problems": [],
                                                         "ready": True}
    submitted = a.post(mine + "/submit", timeout=60)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["login"] == A
    assert handin.stat().st_uid == records.stat().st_uid  # the service's, not A's

    # B cannot hand in as A: through the API the name is B's token's; on disk B can neither
    # drop a folder named for A into the hand-ins nor read A's hand-in or notebook.
    tries = _kernel_tries(hub, b, B, {
        "write-as-A": str(records / "handin" / MODULE / A / "x.ipynb"),
        "write-new": str(records / "handin" / MODULE / f"{A}-2" / f"{MODULE}.ipynb"),
        "read-handin": str(handin),
        "read-A-home": str(hub.prefix / "home" / (hub.user_prefix + A) / MODULE / f"{MODULE}.ipynb"),
    })
    assert tries == {k: "PermissionError" for k in tries}, tries
    via_b = b.post(hub.url + f"user/{B}/safetrain/api/me/modules/{MODULE}/submit?login={A}",
                   timeout=60)
    assert via_b.status_code == 404  # B has not fetched: nothing of B's to hand in
    assert handin.read_bytes() and not (records / "handin" / MODULE / B).exists()

    # The trainer grades on the hub (README): the same batch grader and sandbox.
    graded = run([*SAFETRAIN, "--home", str(records), "grade", MODULE, "--from", "exchange",
                  "--workers", "1"], env=env, cwd=ROOT, check=False)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert "Traceback" not in graded.stderr
    feedback_page = records / "course" / "feedback" / A / MODULE / f"{MODULE}.html"
    assert feedback_page.stat().st_uid == records.stat().st_uid  # the service can read it

    # The hub runs on the fixture's day (--as-of AS_OF) while the grading just now recorded
    # today's time: put the new attempt on that day, as if graded then.
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=hub.cluster.port, dbname=DBNAME, user=ROLE,
                         password=hub.cluster.role_password, autocommit=True) as conn:
        moved = conn.execute(
            "UPDATE attempt SET graded_at = %s, submitted_at = %s WHERE trainee_id = %s"
            " AND module = %s AND graded_at > %s",
            (dt.datetime.combine(AS_OF, dt.time(10), dt.UTC),
             dt.datetime.combine(AS_OF, dt.time(9), dt.UTC), A, MODULE,
             dt.datetime.combine(AS_OF, dt.time(23), dt.UTC))).rowcount
    assert moved == 1
    # A sees the score and the feedback (data for a script-less frame).
    answer = a.get(hub.url + f"user/{A}/safetrain/api/me", timeout=60)
    log = hub.log.read_text(errors="replace")
    assert answer.status_code == 200, (answer.text, log[log.rfind("Traceback") - 200:][:4000])
    me = answer.json()
    [module] = [m for m in me["modules"] if m["id"] == MODULE]
    assert module["best_percent"] == 100.0 and module["status"] == "passed", module
    feedback = a.get(mine + "/feedback", timeout=60)
    assert feedback.status_code == 200 and "<html" in feedback.json()["html"].lower()
    assert b.get(hub.url + f"user/{B}/safetrain/api/me/modules/{MODULE}/feedback",
                 timeout=60).status_code == 404
    _panel_shows_score_and_feedback(hub)


def _panel_shows_score_and_feedback(hub: Hub) -> None:
    """我的培训 in Chromium: 获取 / 检查作答 / 提交 on the module, the score, and 反馈 in a frame
    with sandbox="" (a screenshot: hub-handin.png next to hub-my-training.png)."""
    with my_training_page(hub, 1100) as (page, folder):
        row = f"[data-module={MODULE}]"
        for action in ("fetch", "check", "submit", "feedback"):
            page.locator(f"{row}[data-action={action}]").wait_for()
        assert page.locator(f"[data-st=module-{MODULE}]").inner_text() == "已通过"
        page.locator(f"{row}[data-action=check]").click()
        assert "没有发现问题" in page.locator("[data-st=note]").inner_text()
        page.locator(f"{row}[data-action=feedback]").click()
        frame = page.locator("iframe[data-st=feedback]")
        frame.wait_for()
        assert frame.get_attribute("sandbox") == ""
        frame.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(folder / "hub-handin.png"), full_page=True)
    print(f"screenshot: {folder / 'hub-handin.png'}")


def test_within_budget(hub: Hub) -> None:
    """Everything above, from the cluster's creation on (teardown adds about 20 s)."""
    elapsed = time.monotonic() - STARTED["hub"]
    assert elapsed < BUDGET_S - 25, f"the hub test took {elapsed:.0f} s (budget {BUDGET_S} s)"
