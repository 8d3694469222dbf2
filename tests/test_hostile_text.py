"""Text from a roster is data on every path out (issue 17, points 1 and 2).

A person named `=HYPERLINK(...)`, a unit named `朝阳<font color=red>街道` or
`幸福<link href="http://x">社区`: CSV gets a text mark, workbooks hold plain strings (never a
formula), PDF paragraphs print the markup as written, HTML escapes it. Each check first
shows the payload is live without the guard (the control), where that can be shown.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import text
from typer.testing import CliRunner

from records import db
from records.importers.table import read_rows
from records.inert import csv_field, unmark
from scripts.cli import app
from tests.test_certificates import pdf_text
from tests.test_reports import STREET, XINGFU, city
from writers import csv_text
from writers.batch_sheet import write_batch_sheet
from writers.excel import write_table

runner = CliRunner()
PERIOD = ["--period", "2026-11", "--as-of", "2026-11-30"]
FORMULA = '=HYPERLINK("http://x","张主任")'
FONT = "朝阳<font color=red>街道"
LINK = '幸福<link href="http://x">社区'


# --------------------------------------------------------------------------- the text mark


@pytest.mark.parametrize(("value", "written"), [
    ("=1+1", "'=1+1"), ("+86 138 0013 8000", "'+86 138 0013 8000"), ("-5", "'-5"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("'already", "''already"),
    ("张三", "张三"), ("a=b", "a=b"), ("", ""), (5, 5), (-5.5, -5.5), (None, None),
])
def test_csv_field_marks_what_a_spreadsheet_would_run(value, written):
    assert csv_field(value) == written
    assert unmark(csv_field(value)) == value


def test_csv_text_marks_text_columns_only():
    df = pd.DataFrame({"姓名": [FORMULA, "李四"], "电话": ["+8613800138000", "138"],
                       "差距": [-5.0, 3.0], "人数": [-1, 2], "=列": ["x", "y"]})
    got = pd.read_csv(io.StringIO(csv_text(df)), dtype=str, keep_default_na=False)
    assert list(got.columns) == ["姓名", "电话", "差距", "人数", "'=列"]
    assert list(got["姓名"]) == ["'" + FORMULA, "李四"]
    assert list(got["电话"]) == ["'+8613800138000", "138"]
    assert list(got["差距"]) == ["-5.0", "3.0"] and list(got["人数"]) == ["-1", "2"]


def test_a_file_we_wrote_reads_back_to_the_same_text(tmp_path):
    """Importers take one leading apostrophe off: a marked CSV (a rejects file, a report)
    round-trips, and so does a name that itself starts with an apostrophe."""
    names = [FORMULA, "+86 138", "-负号", "@某人", "'撇号", "''两个", "普通"]
    path = tmp_path / "rejects.csv"
    path.write_text(csv_text(pd.DataFrame({"姓名": names})), encoding="utf-8-sig")
    assert "'=HYPERLINK" in path.read_text(encoding="utf-8-sig")
    rows = dict(read_rows(path))
    assert [r[0] for n, r in sorted(rows.items()) if n > 1] == names
    book = tmp_path / "marked.xlsx"  # a hand-marked workbook cell loses its mark too
    wb = Workbook()
    wb.active.append(["姓名"])
    wb.active.append(["'0101"])
    wb.save(book)
    assert dict(read_rows(book))[2] == ["0101"]


# --------------------------------------------------------------------------- workbooks


def sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode("utf-8") for n in z.namelist()
                       if n.startswith("xl/worksheets/sheet"))


def test_listing_xlsx_holds_strings_not_formulas(tmp_path):
    df = pd.DataFrame({"姓名": [FORMULA, "@x", "+86"], "人数": [1, 2, 3]})
    out = write_table(tmp_path / "list.xlsx", df, sheet="名单")
    assert "<f>" not in sheet_xml(out)
    ws = load_workbook(out)["名单"]
    assert [c.value for c in ws["A"][1:]] == [FORMULA, "@x", "+86"]
    assert all(c.data_type == "s" for c in ws["A"][1:])
    assert [c.value for c in ws["B"][1:]] == [1, 2, 3] and ws.freeze_panes == "A2"


def test_batch_sheet_holds_strings_not_formulas(tmp_path):
    trainees = pd.DataFrame([["amy", FORMULA, "=1+2", 5.0, 10.0, 0.5, "否", 1, 2, "已评分",
                              "=cmd|' /C calc'!A0", "2026-11-01 09:00"]],
                            columns=["账号", "姓名", "单位", "得分", "满分", "得分率", "通过",
                                     "已用次数", "剩余次数", "状态", "问题", "提交时间"])
    items = pd.DataFrame([["q1", "=SUM(1)", 2.0, 1, 0, 0.0]],
                         columns=["题目", "依据", "分值", "评分人数", "答对人数", "答对率"])
    # The control: what openpyxl does with such a string when nothing stops it.
    probe = Workbook().active
    probe["A1"] = FORMULA
    assert probe["A1"].data_type == "f"
    out = write_batch_sheet(tmp_path / "grades.xlsx", trainees, items, "=标题")
    assert "<f>" not in sheet_xml(out)
    book = load_workbook(out)
    grades = book["成绩"]
    assert grades["B3"].value == FORMULA and grades["B3"].data_type == "s"
    assert grades["K3"].value == "=cmd|' /C calc'!A0" and grades["A1"].value.startswith("=标题")
    assert grades["D3"].value == 5.0 and grades["F3"].number_format == "0.0%"
    assert book["题目分析"]["B3"].value == "=SUM(1)"


# --------------------------------------------------------------------------- reports


@pytest.fixture
def hostile_url(db_url, engine, instance_env) -> str:
    """The hand-built city of test_reports, with a street, a community and a leader renamed
    as an attacker with the roster would name them."""
    street = STREET.replace("朝阳街道", FONT)
    community = XINGFU.replace("朝阳街道", FONT).replace("幸福社区", LINK)
    with db.session_factory(engine).begin() as session:
        city(session)
        for old, new in ((XINGFU, community), (STREET, street)):
            session.execute(text("UPDATE org_unit SET path = :new || substr(path, :n) "
                                 "WHERE path = :old OR path LIKE :below"),
                            {"new": new, "n": len(old) + 1, "old": old, "below": old + "/%"})
            session.execute(text("UPDATE certificate SET unit_path = :new WHERE unit_path = :old"),
                            {"new": new, "old": old})
        session.execute(text("UPDATE org_unit SET name = :new WHERE name = :old"),
                        {"new": FONT, "old": "朝阳街道"})
        session.execute(text("UPDATE org_unit SET name = :new WHERE name = :old"),
                        {"new": LINK, "old": "幸福社区"})
        session.execute(text("UPDATE person SET name = :new WHERE name = '张主任'"),
                        {"new": FORMULA})
    return db_url


def report(url: str, *args: str):
    return runner.invoke(app, ["--db", url, "report", *args, *PERIOD], catch_exceptions=False)


def test_csv_report_marks_a_formula_name(hostile_url):
    result = report(hostile_url, "leaders", "--part", "named", "--format", "csv")
    assert result.exit_code == 0, result.output
    df = pd.read_csv(io.StringIO(result.stdout), dtype=str)
    assert "'" + FORMULA in set(df["姓名"])
    text_cells = df[["单位", "姓名", "职务"]].stack().dropna()
    assert not any(v.startswith(("=", "+", "-", "@")) for v in text_cells)
    assert df["缺训场次"].str.fullmatch(r"\d+").all()  # numbers stay numbers


def test_monthly_pdf_prints_markup_as_written(hostile_url, tmp_path):
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph

    with pytest.raises(ValueError):  # the control: unescaped, reportlab parses the name
        Paragraph(f"安和市/东城区/{FONT}/{LINK}", getSampleStyleSheet()["Normal"])
    out = tmp_path / "月报"
    result = report(hostile_url, "monthly", "--seed", "7", "--out", str(out))
    assert result.exit_code == 0, result.output
    pdf = out / "monthly-2026-11.pdf"
    data = pdf.read_bytes()
    assert b"/URI" not in data and b"/Link" not in data  # no hidden link annotation
    shown = pdf_text(data)
    assert FONT in shown and LINK in shown
    if shutil.which("pdftotext"):
        plain = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                               text=True, check=True).stdout
        assert FONT in plain and LINK in plain and FORMULA in plain
    workbook = out / "monthly-2026-11.xlsx"
    assert "<f>" not in sheet_xml(workbook)
    names = {c.value for ws in load_workbook(workbook).worksheets for row in ws.iter_rows()
             for c in row if isinstance(c.value, str)}
    assert FORMULA in names and any(LINK in n for n in names)
    page = (out / "monthly-2026-11.html").read_text(encoding="utf-8")
    outside = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    assert "<font" not in outside and "<link" not in outside
    assert "朝阳&lt;font color=red&gt;街道" in outside
    assert "&lt;link href=&quot;http://x&quot;&gt;" in outside


def test_certificate_pdf_escapes_the_unit(session, tmp_path):
    import datetime as dt

    from records.models import Certificate, Person
    from records.roles import Role
    from tests.helpers import id_number
    from writers.certificate import render_pdf

    person = Person(name="张三", id_number=id_number())
    cert = Certificate(number="T-0001", code="CODE", person=person, role=Role.grid_worker,
                       holder_name="张三", unit_path=f"安和市/{FONT}/{LINK}",
                       issued_on=dt.date(2026, 11, 1), valid_from=dt.date(2026, 11, 1),
                       valid_until=dt.date(2028, 10, 31))
    out = render_pdf(cert, tmp_path / "c.pdf", modules=["<b>课程</b>", "A & B"])
    shown = pdf_text(out.read_bytes())
    assert f'安和市{FONT}幸福<link href="http:x">' in shown  # the path without its slashes
    assert "已通过课程：<b>课程</b>；A & B" in shown
    assert b"/URI" not in out.read_bytes()


def test_record_text_is_inert_in_logs_charts_rejects_and_file_names(tmp_path):
    import logging

    from records.idcard import MaskIdNumbers, mask_ids_in
    from scripts.cert_cli import _pdf_name
    from writers import charts

    assert mask_ids_in("登录 110101199003074518 失败") == "登录 1101********4518 失败"
    assert mask_ids_in("编号 T20260129-2，电话 13800138000") == "编号 T20260129-2，电话 13800138000"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "login %s", ("11010119900307451X",), None)
    MaskIdNumbers().filter(record)
    assert "11010119900307451X" not in record.getMessage()
    assert "<a" not in charts._short('安和市/<a href="http://x">点我</a>')
    name = _pdf_name("C-1", "../../etc/passwd")
    assert "/" not in name and ".." not in name


def test_terminal_tables_print_rich_markup_as_written():
    from rich.console import Console
    from rich.errors import MarkupError

    from scripts.output import to_rich

    names = ["朝阳[/]街道", "幸福[link=http://x]社区[/link]", "[bold red]张主任"]
    console = Console(width=120, force_terminal=True, color_system="truecolor")
    with pytest.raises(MarkupError):  # the control: a plain str cell is read as markup
        console.render_str(names[0], markup=True)
    with console.capture() as captured:
        console.print(to_rich(pd.DataFrame({"单位": names})))
    shown = re.sub(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\\\", "", captured.get())
    for name in names:
        assert name in shown
    assert "\x1b]8;" not in captured.get()  # no live terminal hyperlink


def test_the_import_panel_prints_a_file_name_as_written():
    from types import SimpleNamespace

    from rich.console import Console

    from scripts.output import import_panel

    report = SimpleNamespace(rows=1, people_created=0, people_updated=0, people_unchanged=1,
                             posts_opened=0, posts_closed=0, units_created=0, rejected=[],
                             dry_run=False, changed=False, file="花名册[/][link=http://x]x.csv")
    console = Console(width=120)
    with console.capture() as captured:
        console.print(import_panel(report))
    assert "花名册[/][link=http://x]x.csv" in captured.get()


def test_row_errors_quoting_markup_are_reported_not_a_crash(instance_env, tmp_path):
    from tests.helpers import HEADER, UNIT_A, id_number, write_xlsx

    assert runner.invoke(app, ["init"]).exit_code == 0
    rows = [[1, "张三", id_number(), "13800138000", UNIT_A, "[/]网格员[link=http://x]", "2024-03-01"]]
    path = write_xlsx(tmp_path / "花名册[red].xlsx", HEADER, rows)
    for extra in ([], ["--skip-invalid"]):
        result = runner.invoke(app, ["roster", "import", str(path), *extra], catch_exceptions=False)
        assert "[/]网格员[link=http://x]" in result.output, result.output
        assert "未知角色" in result.output
