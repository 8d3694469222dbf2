"""The /safetrain/api endpoints on a real `jupyter server`: identity, scope, figures, masking.

The server runs with an identity provider that works like JupyterHub (each token is one
user), so one server answers trainees, administrators and leaders.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from records import db
from records.curriculum import load_curriculum
from records.people import find_person
from records.reports import coverage, leaders
from records.reports.base import resolve_scope
from records.roles import Role
from records.trainee_status import trainee_status
from tests import test_jupyter_fixtures as fixtures
from tests.test_jupyter_fixtures import AS_OF, IDS, jupyter_server

jupyter_home = fixtures.jupyter_home  # a module-scoped fixture: one instance here

API = "/safetrain/api"


@pytest.fixture(scope="module")
def server(jupyter_home):
    tmp, url, city = jupyter_home
    submitted = tmp / "instance" / "course" / "submitted" / "zhangsan" / "rescue-disasters"
    submitted.mkdir(parents=True)
    (submitted / "timestamp.txt").write_text("2026-11-18 09:30:00.000000 UTC")
    with jupyter_server(tmp, tmp / "instance") as srv:
        srv.city = city  # type: ignore[attr-defined]
        srv.db_url = url  # type: ignore[attr-defined]
        yield srv


def test_unauthenticated_requests_are_refused_and_logged(server):
    for method, path in (("GET", "/whoami"), ("GET", "/me"), ("GET", "/coverage/0101"),
                         ("GET", "/trainees/zhangsan"), ("POST", "/me/modules/rescue-fire/open"),
                         ("GET", "/coverage/0101/bundle.xlsx")):
        status, _ = server.request(API + path, method=method)
        assert status == 403, path
    status, _ = server.request(API + "/me", token="wrong-token")
    assert status == 403
    assert "的 GET /safetrain/api/me：未登录" in server.log.read_text()


def test_whoami(server):
    me = server.json(f"{API}/whoami", login="zhangsan")
    assert (me["name"], me["trainee"], me["admin"], me["as_of"]) == ("张三", True, False,
                                                                     "2026-11-20")
    admin = server.json(f"{API}/whoami", login="dcadmin")
    assert (admin["trainee"], admin["admin"]) == (False, True)
    assert [s["code"] for s in admin["scopes"]] == ["0101"]
    stranger = server.json(f"{API}/whoami", login="nobody")
    assert (stranger["trainee"], stranger["admin"]) == (False, False)


def test_trainee_sees_own_figures(server):
    me = server.json(f"{API}/me", login="zhangsan")
    engine = db.make_engine(server.db_url)
    with db.session_factory(engine).begin() as session:
        expected = trainee_status(
            session, load_curriculum(), find_person(session, trainee_id="zhangsan"), as_of=AS_OF,
            submitted={"rescue-disasters": dt.datetime(2026, 11, 18, 9, 30, tzinfo=dt.UTC)})
    engine.dispose()
    assert (me["hours"], me["hours_required"], me["drills"]) == (5.0, 8.0, 1)
    assert me["hours"] == expected.hours
    assert {m["id"]: m["status"] for m in me["modules"]} == \
        {m.id: m.status for m in expected.modules}
    by_id = {m["id"]: m for m in me["modules"]}
    assert by_id["rescue-disasters"]["status"] == "submitted"  # found in the instance's submitted/
    # A module required only from a later day says so (people in post get the grace period).
    upcoming = [m for m in load_curriculum().modules
                if m.effective_from and m.effective_from > AS_OF and Role.grid_worker in m.required_for]
    for module in upcoming:
        got = by_id[module.id]
        assert got["required_from"] == module.effective_from.isoformat()
        assert got["status_label"] == f"未开始（{module.effective_from:%Y-%m-%d} 起必修）"
    assert by_id["rescue-disasters"]["required_from"] is None
    assert me["roles"][0]["status_label"] == "岗前培训逾期"
    assert me["masked_id"].startswith("1101********")
    assert server.json(f"{API}/trainees/zhangsan", login="zhangsan") == me


def test_trainee_cannot_read_another_trainee(server):
    status, body = server.request(f"{API}/trainees/lisi", login="zhangsan")
    assert status == 403 and "lisi" in json.loads(body)["message"]
    assert "SafeTrain：拒绝 zhangsan 的 GET /safetrain/api/trainees/lisi（403）" \
        in server.log.read_text()
    assert server.request(f"{API}/coverage/0101001002", login="zhangsan")[0] == 403
    assert server.request(f"{API}/units/0101001002", login="zhangsan")[0] == 403
    # A login or unit that does not exist is refused alike: no probing for who is in the roster.
    assert server.request(f"{API}/trainees/nosuchperson", login="zhangsan")[0] == 403
    assert server.request(f"{API}/trainees/nosuchperson", login="dcadmin")[0] == 403
    assert server.request(f"{API}/units/0999", login="dcadmin")[0] == 403


def test_not_in_roster_has_no_own_page(server):
    status, body = server.request(f"{API}/me", login="nobody")
    assert status == 404 and "不在花名册" in json.loads(body)["message"]


def test_district_admin_is_held_to_their_district(server):
    assert server.json(f"{API}/units/0101", login="dcadmin")["children"][0]["name"] == "朝阳街道"
    assert server.request(f"{API}/trainees/zhangsan", login="dcadmin")[0] == 200
    for path in ("/coverage/0102", "/units/0102", "/coverage/01", "/units/0102001001",
                 "/trainees/zhaoliu", "/coverage/0102/bundle.xlsx"):
        status, _ = server.request(API + path, login="dcadmin")
        assert status == 403, path
    assert server.request(f"{API}/coverage/0102", login="xcadmin")[0] == 200
    assert server.request(f"{API}/coverage/0101", login="xcadmin")[0] == 403


def test_leader_sees_own_street_only(server):
    assert server.request(f"{API}/coverage/0101001", login="wangwu")[0] == 200
    assert server.request(f"{API}/coverage/0101001002", login="wangwu")[0] == 200  # below
    assert server.request(f"{API}/coverage/0101", login="wangwu")[0] == 403  # above
    crumbs = server.json(f"{API}/units/0101001002", login="wangwu")["trail"]
    assert [c["code"] for c in crumbs] == ["0101001"]  # not up to the district


def test_coverage_figures_are_the_report_functions(server):
    got = server.json(f"{API}/coverage/0101", login="dcadmin")
    assert got["period"] == "2026-11" and "截至11月20日" in got["title"]
    sections = {s["key"]: s for s in got["sections"]}
    engine = db.make_engine(server.db_url)
    with db.session_factory(engine).begin() as session:
        scope = resolve_scope(session, period=None, as_of=AS_OF, unit="0101", today=AS_OF)
        cov = coverage.by_unit(session, scope=scope)
        gap = leaders.by_unit(session, scope=scope)
    engine.dispose()
    want = json.loads(cov[cov["单位代码"].isin(["0101", "0101001"])].to_json(orient="values"))
    assert sections["coverage"]["rows"] == want
    assert sections["coverage"]["columns"] == list(cov.columns)
    row = dict(zip(sections["coverage"]["columns"], sections["coverage"]["rows"][0],
                   strict=True))
    assert (row["在岗人数"], row["必修模块通过率%"], row["本期学时达标率%"]) == (5, 20.0, 60.0)
    want = json.loads(gap[gap["单位代码"].isin(["0101", "0101001"])].to_json(orient="values"))
    assert sections["leaders"]["rows"] == want
    lead = dict(zip(sections["leaders"]["columns"], sections["leaders"]["rows"][0], strict=True))
    assert (lead["主要领导参训率%"], lead["分管领导参训率%"], lead["工作人员参训率%"]) == \
        (100.0, 0.0, 50.0)
    assert [r[2] for r in sections["missed"]["rows"]] == ["钱七"]
    other = server.json(f"{API}/coverage/0101?period=2026-10", login="dcadmin")
    assert other["period"] == "2026-10"


def test_no_full_id_number_leaves_the_server(server):
    bodies = []
    for login, path in (("zhangsan", "/me"), ("dcadmin", "/coverage/0101"),
                        ("dcadmin", "/trainees/lisi"), ("dcadmin", "/coverage/0101001002"),
                        ("wangwu", "/me"), ("dcadmin", "/units/0101")):
        status, body = server.request(API + path, login=login)
        assert status == 200, path
        bodies.append(body.decode())
    text = "\n".join(bodies)
    assert "1101********" in text
    for number in IDS.values():
        assert number not in text


def test_open_module_copies_the_release_once(server):
    opened = server.json(f"{API}/me/modules/rescue-fire/open", login="zhangsan", method="POST")
    assert opened == {"module": "rescue-fire", "path": "rescue-fire/rescue-fire.ipynb",
                      "how": "copied"}
    notebook = server.root / "rescue-fire" / "rescue-fire.ipynb"
    notebook.write_text(notebook.read_text().replace("火灾", "火灾（我的笔记）"))
    again = server.json(f"{API}/me/modules/rescue-fire/open", login="zhangsan", method="POST")
    assert again["how"] == "existing" and "我的笔记" in notebook.read_text()  # never overwritten
    status, body = server.request(f"{API}/me/modules/rescue-disasters/open", login="zhangsan",
                                  method="POST")
    assert status == 404 and "尚未发布" in json.loads(body)["message"]
    assert server.request(f"{API}/me/modules/no-such-module/open", login="zhangsan",
                          method="POST")[0] == 404


def test_open_module_uses_nbgrader_fetch_when_the_exchange_has_it(tmp_path):
    import nbformat
    from traitlets.config import Config

    from jupyter_safetrain.nbgrader_files import open_module
    from records.instance import Instance

    exchange = tmp_path / "exchange"
    outbound = exchange / "safetrain" / "outbound" / "rescue-fire"
    outbound.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), outbound / "rescue-fire.ipynb")
    os.chmod(exchange, 0o777)
    config = Config()
    config.CourseDirectory.course_id = "safetrain"
    config.Exchange.root = str(exchange)
    root = tmp_path / "home"
    root.mkdir()
    path, how = open_module(config, Instance.from_env(tmp_path / "instance"), root, "rescue-fire")
    assert (path, how) == ("rescue-fire/rescue-fire.ipynb", "fetched")
    assert (root / path).is_file()


def test_mask_ids_catches_id_shaped_text():
    from jupyter_safetrain.handlers import mask_ids

    number = IDS["张三"]
    assert mask_ids(f'{{"x": "{number}", "phone": "13800138000"}}') == \
        f'{{"x": "{number[:4]}********{number[-4:]}", "phone": "13800138000"}}'
    assert mask_ids("T20261110-1 2026-11-20 0101001002") == "T20261110-1 2026-11-20 0101001002"


def test_single_user_login_is_ignored_under_jupyterhub(monkeypatch):
    from jupyter_safetrain.app import SafeTrainApp

    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    assert SafeTrainApp(login="WangWu").fixed_login == "wangwu"
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "x")
    assert SafeTrainApp(login="wangwu").fixed_login == ""


def test_monthly_bundle_downloads_for_the_unit(server):
    import io

    from openpyxl import load_workbook

    status, body = server.request(f"{API}/coverage/0101001/bundle.xlsx?period=2026-11",
                                  login="dcadmin")
    assert status == 200
    book = load_workbook(io.BytesIO(body), read_only=True)
    assert {"覆盖率", "领导参训对比", "缺训领导名单"} <= set(book.sheetnames)
    cells = " ".join(str(c) for row in book["缺训领导名单"].iter_rows(values_only=True)
                     for c in row if c is not None)
    assert "钱七" in cells and IDS["钱七"] not in cells
    assert server.request(f"{API}/coverage/0101001/bundle.xlsx", login="zhangsan")[0] == 403


def test_an_uninitialised_instance_says_what_to_do(tmp_path):
    with jupyter_server(tmp_path, tmp_path / "empty-instance") as srv:
        status, body = srv.request(f"{API}/whoami", login="zhangsan")
    assert status == 503 and "safetrain init" in json.loads(body)["message"]
