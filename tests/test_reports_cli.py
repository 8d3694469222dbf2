"""`safetrain report ...` as a user meets it, on both databases; the files people open."""

from __future__ import annotations

import io
import re
import shutil

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from demo import activity as demo_activity
from demo import city as demo_city
from records import db
from scripts.cli import app
from tests.test_reports import NUMBERS, STREET, city

runner = CliRunner()
PERIOD = ["--period", "2026-11", "--as-of", "2026-11-30"]
FULL_ID = re.compile(r"\d{17}[\dX]")


@pytest.fixture
def url(db_url, engine, instance_env) -> str:
    """A database holding the hand-built city of test_reports, and a tmp instance for files."""
    with db.session_factory(engine).begin() as session:
        city(session)
    return db_url


def invoke(url: str, *args: str):
    result = runner.invoke(app, ["--db", url, "report", *args], catch_exceptions=False)
    return result


def csv(result) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(result.stdout), dtype=str)


@pytest.mark.parametrize(("args", "first_column", "check"), [
    (["coverage", "--level", "street"], "单位代码",
     lambda df: list(df["单位"]) == [STREET, "安和市/东城区/光明街道"]),
    (["leaders", "--part", "named"], "单位代码",
     lambda df: df.iloc[0]["姓名"] == "张主任" and df.iloc[0]["缺训场次"] == "2"),
    (["leaders", "--activity", "all", "--level", "street"], "单位代码",
     lambda df: (df.iloc[0]["场次"], df.iloc[0]["含下级场次"]) == ("2", "6")),
    (["certificates", "--part", "people"], "单位",
     lambda df: list(df["姓名"]) == ["网格甲", "安监E", "工作丙"]),
    (["drills", "--part", "actions"], "单位代码", lambda df: list(df["逾期天数"]) == ["152"]),
    (["drills", "--part", "types"], "演练类型", lambda df: df.iloc[-1]["合计"] == "2"),
    (["onboarding"], "单位", lambda df: list(df["姓名"]) == ["新安监G", "新安监F"]),
    (["turnover", "--part", "people"], "单位", lambda df: set(df["姓名"]) == {"周网格", "离职H"}),
    (["spot-check", "--seed", "42"], "序号", lambda df: len(df) == 2),
])
def test_each_report_as_csv(url, args, first_column, check):
    result = invoke(url, *args, *PERIOD, "--format", "csv")
    assert result.exit_code == 0, result.output
    df = csv(result)
    assert df.columns[0] == first_column
    assert check(df), df.to_string()
    assert not FULL_ID.search(result.stdout)


@pytest.mark.parametrize("name", ["coverage", "leaders", "certificates", "drills", "onboarding",
                                  "turnover", "spot-check"])
def test_each_report_as_a_terminal_table(url, name):
    result = invoke(url, name, *PERIOD, "--unit", STREET)
    assert result.exit_code == 0, result.output
    assert "安和市/东城区/朝阳街道 2026年11月" in result.stdout
    assert not FULL_ID.search(result.output)


def test_spot_check_prints_its_seed_and_redraws(url):
    first = invoke(url, "spot-check", *PERIOD, "--format", "csv")
    seed = re.search(r"seed = (\d+)", first.stderr).group(1)
    assert f"--seed {seed}" in first.stderr
    again = invoke(url, "spot-check", *PERIOD, "--format", "csv", "--seed", seed)
    assert again.stdout == first.stdout


def test_report_xlsx_is_formatted(url, tmp_path):
    out = tmp_path / "leaders.xlsx"
    result = invoke(url, "leaders", *PERIOD, "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert book.sheetnames == ["摘要", "按单位（最差在前）", "缺训领导名单"]
    ws = book["按单位（最差在前）"]
    assert ws.freeze_panes == "C4"  # title, note, header frozen; code and unit columns too
    header = [c.value for c in ws[3]]
    assert header[:7] == ["单位代码", "单位", "层级", "口径", "场次", "领导参训率%", "领导应到人次"]
    assert ws["A4"].value == "01" and ws["B4"].value == "安和市"
    rate = header.index("领导参训率%") + 1
    assert ws.cell(4, rate).value == 42.9 and ws.cell(4, rate).number_format == '0.0"%"'
    gap = header.index("领导差距(百分点)") + 1
    assert ws.cell(4, gap).number_format == "+0.0;-0.0;0.0"
    assert ws.cell(4, header.index("场次") + 1).number_format == "#,##0"
    rules = [rule.formula[0] for cf in ws.conditional_formatting for rule in cf.rules]
    assert any("<60" in f for f in rules) and any("<=-10" in f for f in rules)
    assert ws.auto_filter.ref.startswith("A3:")
    named = book["缺训领导名单"]
    ids = [c.value for c in named["D"][3:]]
    assert NUMBERS["张主任"] not in ids and all(re.fullmatch(r"\d{4}\*{8}\d{3}[\dX]", i) for i in ids)


def test_report_html_is_self_contained(url, tmp_path):
    out = tmp_path / "coverage.html"
    result = invoke(url, "coverage", *PERIOD, "--format", "html", "--out", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "Plotly.newPlot" in page and "培训覆盖率" in page
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import|url\(http", page)
    assert 'class="num bad"' in page or 'class="bad num"' in page


def test_monthly_bundle_files(url, tmp_path):
    out = tmp_path / "月报"
    result = invoke(url, "monthly", *PERIOD, "--seed", "7", "--min-sample", "1",
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "本级领导参训率低于本单位工作人员" in result.stdout
    files = sorted(p.name for p in out.iterdir())
    assert files == ["monthly-2026-11.html", "monthly-2026-11.pdf", "monthly-2026-11.xlsx"]
    book = load_workbook(out / "monthly-2026-11.xlsx")
    assert book.sheetnames[0] == "摘要" and len(book.sheetnames) == 13
    summary = " ".join(str(c.value) for c in book["摘要"]["B"] if c.value)
    assert "平均低 50 个百分点" in summary and "随机种子 7" in summary
    for ws in book.worksheets[1:]:
        assert ws.freeze_panes is not None, ws.title
        header = [c.value for c in ws[3] if c.value]
        assert header and all(re.search(r"[\u4e00-\u9fff]", h) for h in header), ws.title
        for row in ws.iter_rows(min_row=4, values_only=True):
            assert not any(isinstance(v, str) and FULL_ID.search(v) for v in row), ws.title
    page = (out / "monthly-2026-11.html").read_text(encoding="utf-8")
    assert "平均低 50 个百分点" in page and page.count("Plotly.newPlot") >= 3
    assert not re.search(r"<script[^>]+src=", page) and not FULL_ID.search(
        re.sub(r"<script.*?</script>", "", page, flags=re.S))
    assert (out / "monthly-2026-11.pdf").read_bytes()[:5] == b"%PDF-"


@pytest.mark.skipif(not any(shutil.which(b) for b in ("chromium", "chromium-browser",
                                                      "google-chrome")),
                    reason="no Chromium here to take the chart picture")
def test_monthly_chart_png(url, tmp_path):
    png = tmp_path / "chart.png"
    result = invoke(url, "monthly", *PERIOD, "--seed", "7", "--out", str(tmp_path),
                    "--no-xlsx", "--no-pdf", "--no-html", "--chart-png", str(png))
    assert result.exit_code == 0, result.output
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_mistakes_say_what_to_do(url):
    bad = invoke(url, "coverage", "--period", "2026-13")
    assert bad.exit_code == 1 and "统计期" in bad.output
    missing = invoke(url, "coverage", *PERIOD, "--unit", "9999")
    assert missing.exit_code == 1 and "9999" in missing.output
    level = invoke(url, "coverage", *PERIOD, "--level", "province")
    assert level.exit_code == 2 and "未知层级" in level.output
    part = invoke(url, "leaders", *PERIOD, "--part", "everyone", "--format", "csv")
    assert part.exit_code == 2 and "units、named" in part.output
    future = invoke(url, "coverage", "--period", "2030-01", "--as-of", "2026-11-30")
    assert future.exit_code == 1 and "早于" in future.output


def test_reports_on_an_empty_database(db_url, instance_env, tmp_path):
    for name in ("coverage", "leaders", "certificates", "drills", "onboarding", "turnover",
                 "spot-check"):
        result = invoke(db_url, name, *PERIOD, "--format", "csv")
        assert result.exit_code == 0, (name, result.output)
        assert csv(result).empty and len(csv(result).columns) > 2
    monthly = invoke(db_url, "monthly", *PERIOD, "--out", str(tmp_path))
    assert monthly.exit_code == 0, monthly.output
    assert "没有在岗人员" in monthly.stdout


# --------------------------------------------------------------------------- demo activity


def _fingerprint(url: str) -> dict[str, object]:
    from sqlalchemy import func, select

    from records.models import (
        Attempt,
        Certificate,
        Drill,
        DrillParticipation,
        Post,
        TrainingAttendance,
        TrainingSession,
    )

    with db.open_session(url) as s:
        out: dict[str, object] = {
            m.__tablename__: s.scalar(select(func.count()).select_from(m))
            for m in (TrainingSession, TrainingAttendance, Drill, DrillParticipation, Attempt,
                      Certificate, Post)}
        out["statuses"] = sorted(s.execute(
            select(TrainingAttendance.status, func.count()).group_by(TrainingAttendance.status)
        ).all())
        out["codes"] = s.scalars(select(TrainingSession.code).order_by(TrainingSession.code)
                                 .limit(5)).all()
    return out


def test_demo_activity_is_deterministic_and_idempotent(db_url, tmp_path):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    engine = db.make_engine(other)
    db.upgrade(engine)
    engine.dispose()
    people = demo_city.generate(400, seed=3)
    for url in (db_url, other):
        with db.open_session(url) as s:
            demo_city.load(s, people, seed=3)
            report = demo_activity.generate(s, seed=3, secret=b"x" * 32)
        assert report.attendance > 3000 and report.moves > 0
    assert _fingerprint(db_url) == _fingerprint(other)
    with db.open_session(db_url) as s:
        assert demo_activity.generate(s, seed=3).skipped
        from records.reports import leaders

        top = leaders.by_unit(s, period="2026", as_of=demo_activity.DEFAULT_END).iloc[0]
    assert top["领导参训率%"] < top["工作人员参训率%"] - 5  # something for the report to show


def test_demo_data_activity_from_the_cli(instance_env):
    assert runner.invoke(app, ["init"]).exit_code == 0
    first = runner.invoke(app, ["demo-data", "--people", "300", "--seed", "2", "--activity"])
    assert first.exit_code == 0, first.output
    assert "签到记录 attendance" in first.stdout
    again = runner.invoke(app, ["demo-data", "--people", "300", "--seed", "2", "--activity"])
    assert "没有变化" in again.stdout and "结束岗位 posts closed: 0" in again.stdout


def test_monthly_that_fails_midway_writes_no_files(url, tmp_path, monkeypatch):
    from records.errors import SafeTrainError
    from records.reports import monthly

    def broken(*args):
        raise SafeTrainError("演练记录读不出来")

    monkeypatch.setitem(monthly.JOBS, "drills", broken)
    out = tmp_path / "out"
    result = invoke(url, "monthly", *PERIOD, "--out", str(out))
    assert result.exit_code != 0 and "演练记录读不出来" in result.output
    assert not out.exists() or not any(out.iterdir())
