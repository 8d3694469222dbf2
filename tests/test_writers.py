"""The workbook writer: sheets filled in any order, and nothing left behind on failure."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from records.reports.sheet import Sheet
from writers.excel import ExcelBook, write_workbook


def _sheets() -> list[Sheet]:
    units = pd.DataFrame({"单位代码": ["01", "0101"], "单位": ["安和市", "安和市/东城区"],
                          "在岗人数": [120, 80], "持证率%": [55.5, None]})
    people = pd.DataFrame({"单位": ["安和市/东城区"], "姓名": ["张三"], "逾期天数": [12]})
    return [Sheet("a/units", "覆盖率", "培训覆盖率", units, "说明"),
            Sheet("b/people", "覆盖率", "重名的表", people),  # same name: made unique
            Sheet("c/empty", "空表", "没有数据的表", pd.DataFrame({"单位": []}))]


def _cells(path: Path) -> dict[str, list[tuple]]:
    book = load_workbook(path)
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in book}


def test_sheets_filled_out_of_order_give_the_same_workbook(tmp_path):
    sheets = _sheets()
    write_workbook(tmp_path / "in-order.xlsx", sheets, title="月报", summary=["一句话。"])
    book = ExcelBook(tmp_path / "any-order.xlsx", [(s.key, s.name) for s in sheets],
                     title="月报")
    for sheet in reversed(sheets):
        book.add(sheet)
    book.close(sheets, summary=["一句话。"])
    expected = _cells(tmp_path / "in-order.xlsx")
    assert list(expected) == ["摘要", "覆盖率", "覆盖率2", "空表"]
    assert _cells(tmp_path / "any-order.xlsx") == expected
    assert expected["覆盖率"][3] == ("01", "安和市", 120, 55.5)
    assert expected["覆盖率"][4][:3] == ("0101", "安和市/东城区", 80)
    assert expected["空表"][3] == ("（没有数据）",)


def test_a_discarded_workbook_leaves_no_file_and_no_temporary_rows(tmp_path):
    before = set(Path(tempfile.gettempdir()).glob("safetrain-xlsx-*"))
    sheets = _sheets()
    book = ExcelBook(tmp_path / "never.xlsx", [(s.key, s.name) for s in sheets], title="月报")
    book.add(sheets[0])
    assert set(Path(tempfile.gettempdir()).glob("safetrain-xlsx-*")) - before
    book.discard()
    assert not (tmp_path / "never.xlsx").exists()
    assert set(Path(tempfile.gettempdir()).glob("safetrain-xlsx-*")) == before


def test_a_background_writer_gives_the_same_workbook_and_reports_its_failure(tmp_path):
    sheets = _sheets()
    write_workbook(tmp_path / "in-order.xlsx", sheets, title="月报", summary=["一句话。"])
    book = ExcelBook(tmp_path / "threaded.xlsx", [(s.key, s.name) for s in sheets],
                     title="月报", background=True)
    for sheet in reversed(sheets):
        book.add(sheet)
    book.close(sheets, summary=["一句话。"])
    assert _cells(tmp_path / "threaded.xlsx") == _cells(tmp_path / "in-order.xlsx")

    book = ExcelBook(tmp_path / "broken.xlsx", [(s.key, s.name) for s in sheets],
                     title="月报", background=True)
    book.add(Sheet("not/declared", "x", "x", pd.DataFrame()))  # fails in the thread
    try:
        book.close(sheets)
    except KeyError as exc:
        assert "not/declared" in str(exc)
    else:
        raise AssertionError("the writer thread's failure was not raised")
    assert not (tmp_path / "broken.xlsx").exists()
