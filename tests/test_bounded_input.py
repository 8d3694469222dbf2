"""Bounded input (issue 17, point 3): the bombs are refused in seconds and in little memory;
random bytes, random workbooks and random CSV never end in a traceback or a partial write.

Memory is measured in a child process (its own peak RSS), since this one's peak is shared
with every test before it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import func, select

from records.errors import InputFileError, SafeTrainError
from records.importers import bounds
from records.importers.drills import import_drills, import_participation
from records.importers.roster import import_roster
from records.importers.signin import import_signin
from records.importers.table import read_rows
from records.models import Base, Drill, TrainingSession
from tests.bombs import (
    PARTS,
    SST_HEAD,
    ods,
    ods_row,
    one_long_string,
    repeated_ods,
    shared_strings_bomb,
    sheet,
    sparse_sheet,
    unreferenced_cells,
    write_zip,
)
from tests.helpers import AS_OF, HEADER, UNIT_A, UNIT_B, id_number, write_xlsx
from tests.test_reports import city

ROOT = Path(__file__).resolve().parents[1]
PEAK_MB = 600
SECONDS = 10

PROBE = """
import json, resource, sys, time
from pathlib import Path
from records.errors import SafeTrainError
from records.importers.table import read_rows
start = time.monotonic()
try:
    rows = sum(1 for _ in read_rows(Path(sys.argv[1])))
    error = None
except SafeTrainError as exc:
    rows, error = None, str(exc)
print(json.dumps({"rows": rows, "error": error, "seconds": time.monotonic() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def probe(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(path)], cwd=ROOT, check=True,
                          capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout)


@pytest.mark.parametrize(("build", "says"), [
    (shared_strings_bomb, "解压后超过 200 MB"),
    (one_long_string, "超过 32,767 个字符"),
    (sparse_sheet, "20,000 行 × 702 列"),
    (unreferenced_cells, "用到第 20,001 列"),
    (repeated_ods, "20,000 行 × 1,000 列"),
])
def test_bombs_are_refused_fast_in_little_memory(tmp_path, build, says):
    path = build(tmp_path / "花名册.xlsx")
    got = probe(path)
    assert got["error"] and says in got["error"] and "花名册.xlsx" in got["error"], got
    assert "已拒绝" in got["error"]
    assert got["seconds"] < SECONDS and got["peak_mb"] < PEAK_MB, got


@pytest.mark.parametrize("xml", [
    '<row r="1"><c r="A1" t="inlineStr"><is><t>x</is></row>',  # broken nesting
    '<row r="1"><c r="A1" t="s"><v>99</v></c></row>',  # no such shared string
    '<row r="1"><c r="A0"><v>1</v></c></row>',  # no row 0
    '<row r="1"><c r="A1" t="inlineStr"><is><t>&bogus;</t></is></c></row>',
    '<row r="1"><c r="A1" t="b"><v>7</v></c></row>',
    '<row r="1"><c r="A1" t="e"><v>#WHAT</v></c></row>',
    '<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row></sheetData',  # cut short
])
def test_malformed_sheet_xml_is_a_chinese_error_not_a_traceback(tmp_path, xml):
    """What a byte-mutated roster ended in before: calamine's XML errors, uncaught."""
    path = write_zip(tmp_path / "花名册.xlsx", {**PARTS, "xl/worksheets/sheet1.xml": sheet(xml),
                                               "xl/sharedStrings.xml": SST_HEAD.decode()
                                               + "<si><t>a</t></si></sst>"})
    with pytest.raises(InputFileError, match="花名册.xlsx 无法作为 Excel 文件读取"):
        list(read_rows(path))


def test_an_unsupported_zip_version_is_a_chinese_error(tmp_path, valid_roster):
    """Found by the mutation property: zipfile raises NotImplementedError for it."""
    data = bytearray(valid_roster)
    data[data.find(b"PK\x01\x02") + 6] = 64  # "needs version 6.4 to extract"
    path = tmp_path / "花名册.xlsx"
    path.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match="花名册.xlsx 无法作为 Excel 文件打开"):
        list(read_rows(path))


@pytest.mark.parametrize("raw", [b"\xff\xfeA", b"\xff\xfe\x00\xd8A\x00", b"\xfe\xff\xdc\x00"])
def test_broken_utf16_is_a_chinese_error(tmp_path, raw):
    path = tmp_path / "签到表.csv"
    path.write_bytes(raw)
    with pytest.raises(InputFileError, match="签到表.csv：文件以 UTF-16 标记开头"):
        list(read_rows(path))


def test_the_caps_hold_for_csv_while_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "签到表.csv"
    path.write_text("姓名,单位\n" + "张三,朝阳街道\n" * 50, encoding="utf-8")
    assert sum(1 for _ in read_rows(path)) == 51
    monkeypatch.setattr(bounds, "MAX_ROWS", 20)
    with pytest.raises(InputFileError, match="签到表.csv：超过 20 行"):
        list(read_rows(path))
    monkeypatch.setattr(bounds, "MAX_FILE_BYTES", 100)
    with pytest.raises(InputFileError, match="文件大于"):
        list(read_rows(path))
    monkeypatch.undo()
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(["x"] * 2000) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="第1行有 2,000 列"):
        list(read_rows(wide))
    long = tmp_path / "long.csv"
    long.write_text("姓名\n" + "长" * 40_000 + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="第2行第1列超过 32,767 个字符"):
        list(read_rows(long))


def test_the_cli_refuses_a_bomb_and_writes_nothing(db_url, engine, instance_env, tmp_path):
    from typer.testing import CliRunner

    from scripts.cli import app
    from tests.helpers import table_counts

    before = table_counts(engine)
    for command in (("roster", "import"), ("training", "import-signin"), ("drill", "import-list")):
        result = CliRunner().invoke(app, ["--db", db_url, *command,
                                          str(sparse_sheet(tmp_path / "炸弹.xlsx"))])
        assert result.exit_code == 2, result.output
        assert "炸弹.xlsx" in result.output and "已拒绝" in result.output
        assert "Traceback" not in result.output
    assert table_counts(engine) == before


def test_ods_padding_as_libreoffice_writes_it_is_free(tmp_path):
    padding = ('<table:table-row table:number-rows-repeated="1048573"><table:table-cell '
               'table:number-columns-repeated="1024"/></table:table-row>')
    path = ods(tmp_path / "签到表.ods", ods_row("姓名", "签到") + ods_row("张三", "出席")
               + padding)
    assert [r for _, r in read_rows(path)] == [["姓名", "签到"], ["张三", "出席"]]


def test_a_real_roster_is_within_the_caps(tmp_path):
    rows = [[n, f"人员{n}", id_number(seq=f"{n % 1000:03d}"), "", UNIT_A, "网格员", "2024-03-01"]
            for n in range(1, 2001)]
    path = write_xlsx(tmp_path / "r.xlsx", HEADER, rows)
    assert sum(1 for _ in read_rows(path)) == 2003  # title, blank, header, 2,000 people


# --------------------------------------------------------------------------- properties


def all_counts(session) -> dict[str, int]:
    return {t.name: session.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables}


@pytest.fixture
def targets(session):
    """The hand-built city (people, sessions, drills) and one session and drill of it."""
    city(session)
    training = session.scalars(select(TrainingSession).order_by(TrainingSession.id)).first()
    drill = session.scalars(select(Drill).order_by(Drill.id)).first()
    return {
        "roster": lambda path: import_roster(session, path, as_of=AS_OF),
        "signin": lambda path: import_signin(session, path, training=training),
        "signin-by-title": lambda path: import_signin(session, path),
        "participants": lambda path: import_participation(session, path, drill=drill),
        "drills": lambda path: import_drills(session, path),
    }


def attempt(session, importer, path: Path) -> None:
    """Import `path`: it works, or a SafeTrainError is raised with nothing written."""
    savepoint = session.begin_nested()
    before = all_counts(session)
    try:
        importer(path)
    except SafeTrainError:
        assert all_counts(session) == before, path.name
    finally:
        savepoint.rollback()


# A CI-sized run; SAFETRAIN_FUZZ_EXAMPLES=2000 for a deeper one by hand.
PROPERTY = settings(max_examples=int(os.environ.get("SAFETRAIN_FUZZ_EXAMPLES", "40")),
                    deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
IMPORTERS = ["roster", "signin", "signin-by-title", "participants", "drills"]
HEADERS = ["姓名", "身份证号", "手机号", "所属单位", "岗位", "任职日期", "签到", "签到情况",
           "时长（分钟）", "演练角色", "演练名称", "日期", "演练类型", "组织单位", "序号", "备注"]
TEXT = st.one_of(st.text(max_size=30), st.sampled_from(
    ["=1+1", "'=SUM(A1)", "+86 138", "@x", "出席", "缺席", "请假", "到", "2026-11-05",
     "2026年11月5日", "99999999", UNIT_A, UNIT_B, "张主任", "网格员", "消防", id_number()]))
CELL = st.one_of(st.none(), TEXT, st.integers(-10**12, 10**12),
                 st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                 st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)))


@pytest.fixture(scope="module")
def valid_roster(tmp_path_factory) -> bytes:
    path = write_xlsx(tmp_path_factory.mktemp("roster") / "r.xlsx", HEADER,
                      [[1, "张三", id_number(), "13800138000", UNIT_A, "网格员", "2024-03-01"],
                       [2, "李四", id_number(seq="123"), "", UNIT_B, "主要领导", None]])
    return path.read_bytes()


@pytest.mark.parametrize("kind", IMPORTERS)
@PROPERTY
@given(data=st.tuples(st.sampled_from([b"", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf",
                                        b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"]),
                       st.binary(max_size=4096)).map(b"".join),
       suffix=st.sampled_from([".xlsx", ".csv", ".xls", ".ods"]))
def test_random_bytes_never_crash(session, targets, tmp_path, kind, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    attempt(session, targets[kind], path)


@PROPERTY
@given(flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 255)), min_size=1,
                      max_size=12))
def test_byte_mutated_rosters_never_crash(session, targets, tmp_path, valid_roster, flips):
    data = bytearray(valid_roster)
    for where, value in flips:
        data[where % len(data)] = value
    path = tmp_path / "mutated.xlsx"
    path.write_bytes(bytes(data))
    attempt(session, targets["roster"], path)


@pytest.mark.parametrize("kind", IMPORTERS)
@PROPERTY
@given(header=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=8),
       rows=st.lists(st.lists(CELL, max_size=9), max_size=6), title=st.booleans())
def test_random_workbooks_never_crash(session, targets, tmp_path, kind, header, rows, title):
    book = Workbook()
    ws = book.active
    if title:
        ws.append(["2026年11月5日 幸福社区消防培训签到表"])
    ws.append(header)
    for row in rows:  # openpyxl itself refuses control characters: leave them out
        ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
    path = tmp_path / "random.xlsx"
    book.save(path)
    attempt(session, targets[kind], path)


@pytest.mark.parametrize("kind", IMPORTERS)
@PROPERTY
@given(header=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=8),
       rows=st.lists(st.lists(TEXT, max_size=9), max_size=6),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
       delimiter=st.sampled_from([",", "\t", ";"]))
def test_random_csv_never_crash(session, targets, tmp_path, kind, header, rows, encoding,
                                delimiter):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / "random.csv"
    path.write_bytes(buffer.getvalue().encode(encoding, errors="replace"))
    attempt(session, targets[kind], path)
