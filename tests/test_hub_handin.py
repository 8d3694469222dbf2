"""获取 / 检查作答 / 提交 / feedback on a hub, without a real hub (issue #20).

The records service behind the stand-in hub of tests/test_hub_service.py: the submitter is
the hub user the token belongs to (never a name in the request), the time is the service's,
a notebook that would not parse is refused in Chinese and nothing is kept; the hand-in
folder is private and `grade --from exchange` reads it with the intake rules (regular files
only, owned by the folder's owner). A real `jupyter server` in hub mode does 获取, 检查作答
and 提交 through the service. The real hub, PAM and system users: tests/test_hub_e2e.py.
"""

from __future__ import annotations

import json
import os
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import handin
from autograder.submissions import STAMP
from records.errors import InputFileError
from records.instance import Instance
from tests.test_hub_service import OWN, PREFIX, TOKENS, Running, running_service
from tests.test_jupyter_fixtures import AS_OF, jupyter_server, make_instance

MODULE = "rescue-fire"
TOKENS["t-sunba"] = {"kind": "user", "name": "sunba", "scopes": OWN}


def answer(source: str, item: str) -> nbformat.NotebookNode:
    return new_code_cell(source, metadata={"nbgrader": {
        "grade": False, "solution": True, "grade_id": f"{item}_answer", "locked": False,
        "schema_version": 3}})


def released() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_markdown_cell("# 火灾自救与灭火器使用"),
        answer('# 第1题（单选）：把一个答案字母写在引号里\nq01 = ""', "q01"),
        answer("# 第2题（判断）：填 True 或 False\nq02 = None", "q02")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})


RELEASED = released()  # one set of cell ids, so equal answers give equal bytes


def answered(q01: str = '"D"') -> bytes:
    import copy

    nb = copy.deepcopy(RELEASED)
    nb.cells[1].source = f"# 第1题（单选）：把一个答案字母写在引号里\nq01 = {q01}"
    nb.cells[2].source = "# 第2题（判断）：填 True 或 False\nq02 = True"
    return nbformat.writes(nb).encode()


def call(service: Running, path: str, token: str | None, body: bytes | None = None,
         method: str = "GET") -> tuple[int, bytes]:
    headers = {"Authorization": f"token {token}"} if token else {}
    req = urllib.request.Request(service.url + PREFIX + path, data=body, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("hub-handin")
    make_instance(tmp / "instance")
    nbformat.write(RELEASED, tmp / "instance" / "course" / "release" / MODULE / f"{MODULE}.ipynb")
    with running_service(tmp / "instance", AS_OF) as running:
        yield running


def test_fetch_gives_the_released_notebook_to_trainees_only(service: Running) -> None:
    status, body = call(service, f"api/me/modules/{MODULE}/release", "t-zhangsan")
    assert status == 200 and "".join(json.loads(body)["cells"][1]["source"]).endswith('q01 = ""')
    assert call(service, f"api/me/modules/{MODULE}/release", None)[0] == 403
    assert call(service, f"api/me/modules/{MODULE}/release", "t-no-access")[0] == 403
    status, body = call(service, "api/me/modules/no-such-module/release", "t-zhangsan")
    assert status == 404 and "no-such-module" in json.loads(body)["message"]
    status, body = call(service, "api/me/modules/law-work-safety/release", "t-zhangsan")
    assert status == 404 and "尚未发布" in json.loads(body)["message"]
    status, body = call(service, "api/me/modules/law-work-safety/submission", "t-zhangsan",
                        answered(), "POST")
    assert status == 404 and "尚未发布" in json.loads(body)["message"]


def test_submission_is_kept_under_the_hub_user_with_the_service_time(service: Running) -> None:
    import datetime as dt

    before = dt.datetime.now(dt.UTC)
    status, body = call(service, f"api/me/modules/{MODULE}/submission", "t-zhangsan",
                        answered(), "POST")
    result = json.loads(body)
    assert status == 200, result
    assert result["login"] == "zhangsan" and result["problems"] == []
    assert dt.datetime.fromisoformat(result["received"]) >= before
    instance = Instance.from_env(service.home)
    kept = handin.notebook_path(instance, MODULE, "zhangsan")
    assert kept.read_bytes() == answered()
    for path in (handin.handin_root(instance), kept.parent.parent, kept.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # 我的培训 shows it as handed in, waiting for grading.
    me = json.loads(call(service, "api/me", "t-zhangsan")[1])
    [fire] = [m for m in me["modules"] if m["id"] == MODULE]
    assert fire["status"] == "submitted" or fire["submitted_at"]  # (zhangsan passed it once)
    # Nothing in the request names the submitter: lisi's token hands in as lisi, whatever
    # the path or the notebook says.
    status, _ = call(service, f"api/me/modules/{MODULE}/submission?login=zhangsan", "t-lisi",
                     answered('"A"'), "POST")
    assert status == 200
    assert kept.read_bytes() == answered()
    assert handin.notebook_path(instance, MODULE, "lisi").read_bytes() == answered('"A"')
    assert call(service, f"api/me/modules/{MODULE}/submission", None, answered(), "POST")[0] == 403


def test_an_answer_that_would_not_parse_is_refused_in_chinese(service: Running) -> None:
    instance = Instance.from_env(service.home)
    status, body = call(service, f"api/me/modules/{MODULE}/submission", "t-wangwu",
                        answered("“D”"), "POST")
    result = json.loads(body)
    assert status == 422
    assert result["message"].startswith("未提交：") and "中文引号" in result["message"]
    assert 'q01 = "D"' in result["message"]
    assert not handin.notebook_path(instance, MODULE, "wangwu").exists()
    status, body = call(service, f"api/me/modules/{MODULE}/submission", "t-wangwu",
                        b"not a notebook", "POST")
    assert status == 422 and "notebook" in json.loads(body)["message"]
    # Empty answers are accepted and reported back.
    status, body = call(service, f"api/me/modules/{MODULE}/submission", "t-wangwu",
                        nbformat.writes(RELEASED).encode(), "POST")
    assert status == 200 and {p["kind"] for p in json.loads(body)["problems"]} == {"empty"}


def test_only_roster_people_fetch_or_hand_in(service: Running) -> None:
    for path, body, method in ((f"api/me/modules/{MODULE}/release", None, "GET"),
                               (f"api/me/modules/{MODULE}/submission", answered(), "POST")):
        status, text = call(service, path, "t-dcadmin", body, method)
        assert status == 403 and "花名册" in json.loads(text)["message"]
    assert not handin.notebook_path(Instance.from_env(service.home), MODULE, "dcadmin").exists()


def test_feedback_is_the_askers_own_as_data(service: Running) -> None:
    instance = Instance.from_env(service.home)
    assert call(service, f"api/me/modules/{MODULE}/feedback", "t-zhangsan")[0] == 404
    page = instance.course_dir / "feedback" / "zhangsan" / MODULE / f"{MODULE}.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html><body><p>得分 8 / 10</p><script>alert(1)</script></body></html>")
    status, body = call(service, f"api/me/modules/{MODULE}/feedback", "t-zhangsan")
    assert status == 200 and "得分 8 / 10" in json.loads(body)["html"]
    assert call(service, f"api/me/modules/{MODULE}/feedback", "t-lisi")[0] == 404


def test_grading_reads_the_hand_ins_with_the_intake_rules(service: Running,
                                                          tmp_path: Path) -> None:
    instance = Instance.from_env(service.home)
    submitted = tmp_path / "submitted"
    intake = handin.from_handin(instance, submitted, MODULE)
    assert {"zhangsan", "lisi"} <= set(intake.placed) and not intake.refused
    assert (submitted / "zhangsan" / MODULE / f"{MODULE}.ipynb").read_bytes() == answered()
    assert (submitted / "zhangsan" / MODULE / STAMP).is_file()
    assert set(handin.from_handin(instance, submitted, MODULE).unchanged) >= {"zhangsan"}
    # A link dropped in, or a file someone else owns, is refused for that trainee only.
    evil = handin.handin_root(instance) / MODULE / "zhaoliu"
    evil.mkdir()
    (evil / f"{MODULE}.ipynb").symlink_to(handin.notebook_path(instance, MODULE, "zhangsan"))
    if os.geteuid() == 0:
        other = handin.handin_root(instance) / MODULE / "qianqi"
        other.mkdir()
        (other / f"{MODULE}.ipynb").write_bytes(answered())
        os.chown(other / f"{MODULE}.ipynb", 65534, 65534)
    intake = handin.from_handin(instance, submitted, MODULE)
    assert "zhaoliu" in intake.refused and "zhangsan" not in intake.refused
    if os.geteuid() == 0:
        assert "属主" in intake.refused["qianqi"]
    # A hand-in folder others can write to proves nothing: grading stops with one line.
    root = handin.handin_root(instance)
    root.chmod(0o777)
    try:
        with pytest.raises(InputFileError, match="可被他人写入"):
            handin.from_handin(instance, submitted, MODULE)
    finally:
        root.chmod(0o700)
    with pytest.raises(InputFileError, match="找不到交换目录"):
        handin.from_handin(Instance.from_env(tmp_path / "elsewhere"), submitted, MODULE)
    # A hub's instance (hub init wrote db.url) reads its hand-ins even before the service
    # made the folder: never a silent fall-back to nbgrader's exchange.
    hub_home = tmp_path / "hub-records"
    hub_home.mkdir()
    (hub_home / "db.url").write_text("postgresql+psycopg://x@127.0.0.1/x")
    hub_instance = Instance(home=hub_home, db_url="postgresql+psycopg://x@127.0.0.1/x")
    assert handin.has_handin(hub_instance) and not handin.has_handin(
        Instance.from_env(tmp_path / "elsewhere"))
    assert handin.ensure_root(hub_instance).is_dir()
    assert stat.S_IMODE(handin.handin_root(hub_instance).stat().st_mode) == 0o700


def test_hub_mode_server_fetches_checks_and_submits(service: Running, tmp_path: Path) -> None:
    nowhere = tmp_path / "no-instance"
    env = {"JUPYTERHUB_API_TOKEN": "t-sunba", "SAFETRAIN_RECORDS_URL": service.url + PREFIX,
           "SAFETRAIN_HOME": str(nowhere)}
    with jupyter_server(tmp_path, nowhere, extra_env=env) as server:
        opened = server.json(f"/safetrain/api/me/modules/{MODULE}/open", login="dcadmin",
                             method="POST")
        assert opened == {"module": MODULE, "path": f"{MODULE}/{MODULE}.ipynb", "how": "fetched"}
        local = server.root / MODULE / f"{MODULE}.ipynb"
        assert stat.S_IMODE(local.stat().st_mode) == 0o600
        local.write_bytes(answered("“D”"))
        again = server.json(f"/safetrain/api/me/modules/{MODULE}/open", login="dcadmin",
                            method="POST")
        assert again["how"] == "existing" and local.read_bytes() == answered("“D”")
        check = server.json(f"/safetrain/api/me/modules/{MODULE}/check", login="dcadmin")
        assert not check["ready"] and check["problems"][0]["kind"] == "chinese_quote"
        status, body = server.request(f"/safetrain/api/me/modules/{MODULE}/submit",
                                      login="dcadmin", method="POST")
        assert status == 422 and "中文引号" in json.loads(body)["message"]
        instance = Instance.from_env(service.home)
        assert not handin.notebook_path(instance, MODULE, "sunba").exists()
        local.write_bytes(answered())
        assert server.json(f"/safetrain/api/me/modules/{MODULE}/check", login="dcadmin")["ready"]
        # Whoever the request names (the server's identity says dcadmin), the hand-in is the
        # server owner's: the service names the submitter from the server's hub token.
        status, body = server.request(f"/safetrain/api/me/modules/{MODULE}/submit",
                                      login="dcadmin", method="POST")
        assert status == 200 and json.loads(body)["login"] == "sunba", body
        assert handin.notebook_path(instance, MODULE, "sunba").read_bytes() == answered()
        # A link in place of the notebook is not read.
        local.unlink()
        local.symlink_to("/etc/passwd")
        assert server.request(f"/safetrain/api/me/modules/{MODULE}/submit", login="dcadmin",
                              method="POST")[0] == 404


def test_batch_sheet_with_timed_and_untimed_attempts(tmp_path: Path) -> None:
    """The hub's first grading ended in a traceback: attempts recorded without a time (older
    imports) next to one with the hand-in's time gave the batch sheet a NaT to format."""
    import datetime as dt

    from sqlalchemy import select

    from autograder.batch_report import trainee_rows
    from records import db
    from records.curriculum import load_curriculum
    from records.models import Attempt, AttemptStatus, Person

    url, city = make_instance(tmp_path / "instance")
    engine = db.make_engine(url)
    with db.session_factory(engine).begin() as session:
        person = session.scalars(select(Person).where(Person.id == city.people["张三"])).one()
        when = dt.datetime(2026, 11, 19, 9, tzinfo=dt.UTC)
        session.add(Attempt(trainee_id=person.trainee_id, person_id=person.id,
                            module="rescue-disasters", module_version="1.0",
                            submission_sha256="x" * 64, score=42.0, max_score=42.0, passed=True,
                            status=AttemptStatus.graded, graded_at=when, submitted_at=when))
        session.flush()
        rows = trainee_rows(session, load_curriculum().module("rescue-disasters"))
    engine.dispose()
    times = dict(zip(rows["账号"], rows["提交时间"], strict=True))
    assert times["zhangsan"] == "2026-11-19 09:00" and times["sunba"] == ""
