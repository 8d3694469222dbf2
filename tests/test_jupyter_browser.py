"""Both panels in a real JupyterLab, in Debian's headless Chromium driven by Playwright.

Single-user mode as a trainee would run it: `SAFETRAIN_LOGIN=wangwu jupyter lab` with a
token. 王五 is a street leader (so a trainee) and is granted his district, so he sees both
panels and can drill down 区 → 街道 → 社区. Screenshots go to test-artifacts/ (or
$SAFETRAIN_ARTIFACTS). Skips, saying why, only when Chromium or Playwright is missing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from records import db
from records.access import grant
from records.curriculum import load_curriculum
from records.org import find_unit
from records.people import find_person
from records.reports import coverage
from records.reports.base import resolve_scope
from records.trainee_status import trainee_status
from tests import test_jupyter_fixtures as fixtures
from tests.test_jupyter_fixtures import AS_OF, EAST, ROOT, jupyter_server

jupyter_home = fixtures.jupyter_home  # a module-scoped fixture: one instance here

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 90_000  # one step (JupyterLab's first load included) on a busy 2-core machine
LOGIN = "wangwu"


def artifacts() -> Path:
    path = Path(os.environ.get("SAFETRAIN_ARTIFACTS") or ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    if not Path(CHROMIUM).is_file():
        pytest.skip("Chromium is not installed: `make chromium` installs Debian's package "
                    "(apt-get install chromium); this machine could not")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: `pip install -e .[dev]`")
    installed = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "safetrain"
    built = ROOT / "jupyter_safetrain" / "labextension" / "package.json"
    if not installed.is_dir() or \
            json.loads((installed / "package.json").read_text()) != json.loads(built.read_text()):
        pytest.fail(f"the JupyterLab extension in {installed} is missing or older than the "
                    "build in jupyter_safetrain/labextension: run `pip install -e .` (make does)")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, args=FLAGS, locale="zh-CN", viewport={"width": 1400, "height": 1000},
            accept_downloads=True)
        context.set_default_timeout(WAIT_MS)
        yield context
        context.close()


@pytest.fixture(scope="module")
def lab(jupyter_home):
    tmp, url, _ = jupyter_home
    engine = db.make_engine(url)
    with db.session_factory(engine).begin() as session:
        grant(session, LOGIN, find_unit(session, EAST), by="test")
    engine.dispose()
    token = secrets.token_hex(16)
    with jupyter_server(tmp, tmp / "instance", app="lab", identity=False, token=token,
                        extra_env={"SAFETRAIN_LOGIN": LOGIN}, startup=120) as server:
        server.token = token  # type: ignore[attr-defined]
        server.db_url = url  # type: ignore[attr-defined]
        yield server


def _number(text: str) -> float:
    return float(text.replace("%", "").strip())


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    yield page
    # Whatever happened, leave a picture of the last screen for whoever reads the failure.
    page.screenshot(path=str(artifacts() / "jupyter-last-screen.png"), full_page=True)
    page.close()


def test_both_panels_show_the_records(lab, page):
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.goto(f"{lab.url}/lab?token={lab.token}")
    engine = db.make_engine(lab.db_url)
    with db.session_factory(engine).begin() as session:
        me = trainee_status(session, load_curriculum(), find_person(session, trainee_id=LOGIN),
                            as_of=AS_OF)
        scope = resolve_scope(session, as_of=AS_OF, unit="0101", today=AS_OF)
        cov = coverage.by_unit(session, scope=scope).set_index("单位代码")
    engine.dispose()

    # 我的培训, from the launcher.
    launcher = page.locator(".jp-Launcher")
    launcher.get_by_text("我的培训", exact=True).click()
    hours = page.locator("[data-st=hours]")
    hours.wait_for()
    assert hours.inner_text() == f"{me.hours:g} / {me.hours_required:g}" == "3 / 12"
    assert page.locator("[data-st=drills]").inner_text() == "0 / 1"
    assert page.locator("[data-st=cert-principal_leader]").inner_text() == me.roles[0].status_label
    assert page.locator("[data-st=module-law-work-safety]").inner_text() == "已通过"
    assert page.locator("[data-st=module-rescue-fire]").inner_text() == "未开始"
    assert "1101********" in page.locator(".st-head").first.inner_text()
    page.screenshot(path=str(artifacts() / "jupyter-my-training.png"), full_page=True)

    # The module button fetches the released notebook and opens it.
    page.locator("button[data-module=rescue-fire]").click()
    page.locator(".jp-NotebookPanel").first.wait_for()
    assert (lab.root / "rescue-fire" / "rescue-fire.ipynb").is_file()
    if page.locator(".jp-Dialog").count():  # e.g. a kernel prompt: not what is tested here
        page.keyboard.press("Escape")

    # 培训覆盖, from the launcher: the district, then a street, then a community.
    page.locator(".lm-TabBar-tab", has_text="Launcher").first.click()
    launcher.get_by_text("培训覆盖", exact=True).click()
    table = page.locator("[data-st=table-coverage]")
    table.wait_for()
    district = table.locator("tr", has_text="安和市/东城区").first.locator("td")
    columns = page.locator("[data-st=table-coverage] th").all_inner_texts()
    shown = dict(zip(columns, district.all_inner_texts(), strict=True))
    for column in ("在岗人数", "必修模块通过率%", "本期学时达标率%", "本期演练参与率%"):
        assert _number(shown[column]) == pytest.approx(float(cov.loc["0101", column])), column
    assert page.locator("[data-st=section-coverage] svg.st-chart").count() == 1
    assert page.locator("[data-st=section-leaders] svg.st-chart").count() == 1
    page.locator("[data-st=table-coverage] tr.st-drill", has_text="朝阳街道").click()
    page.locator("[data-st=crumbs]", has_text="朝阳街道").wait_for()
    page.locator("[data-st=table-coverage] tr.st-drill", has_text="幸福社区").click()
    crumbs = page.locator("[data-st=crumbs]", has_text="幸福社区")
    crumbs.wait_for()
    assert crumbs.inner_text().replace(" ", "") == "东城区›朝阳街道›幸福社区"
    community = page.locator("[data-st=table-coverage] tr", has_text="幸福社区").first
    assert _number(community.locator("td").nth(columns.index("在岗人数")).inner_text()) == \
        float(cov.loc["0101001002", "在岗人数"])
    page.locator("[data-st=crumbs] a", has_text="东城区").click()
    page.locator("[data-st=table-coverage] tr", has_text="安和市/东城区").first.wait_for()
    page.screenshot(path=str(artifacts() / "jupyter-coverage.png"), full_page=True)

    # The monthly Excel bundle downloads as a workbook.
    with page.expect_download() as download:
        page.locator("[data-st=download]").click()
    saved = artifacts() / "jupyter-bundle.xlsx"
    download.value.save_as(saved)
    assert zipfile.is_zipfile(saved)
    errors = [c for c in console if c.startswith("error") and "safetrain" in c.lower()]
    assert not errors, errors
