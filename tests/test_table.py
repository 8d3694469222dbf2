"""Reading spreadsheets as people keep them."""

import datetime as dt

import pytest

from records.errors import InputFileError
from records.importers.roster_rows import read_roster_table
from records.importers.table import clean_text, column_letter, parse_date
from tests.helpers import HEADER, UNIT_A, id_number, write_csv, write_xlsx

ROW = ["1", "张三", id_number(), "13800138000", UNIT_A, "网格员", "2024-03-01"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_encodings_are_detected(tmp_path, encoding):
    path = write_csv(tmp_path / "r.csv", [",".join(HEADER), ",".join(ROW)], encoding)
    table = read_roster_table(path)
    [(number, record)] = list(table.records())
    assert number == 2
    assert clean_text(record["name"]) == "张三"
    assert clean_text(record["unit"]) == UNIT_A


def test_title_rows_and_blank_rows_keep_excel_numbering(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", HEADER, [ROW, [], ROW], blank_rows_after_title=2)
    table = read_roster_table(path)
    assert table.header_row == 4
    assert [n for n, _ in table.records()] == [5, 7]


def test_header_variants_and_english_aliases(tmp_path):
    header = ["序 号", "姓名*", "公民身份号码（必填）", "联系电话", "区（县）", "街道", "村（社区）", "职务",
              "入职日期", "备注"]
    path = write_xlsx(tmp_path / "r.xlsx", header, [])
    table = read_roster_table(path)
    assert {"name", "id_number", "phone", "district", "street", "community", "role",
            "start_date"} <= set(table.columns)
    assert "备注" in table.unknown_headers
    english = write_csv(tmp_path / "e.csv", ["name,id_number,phone,unit,role,start_date,login"])
    assert set(read_roster_table(english).columns) == {
        "name", "id_number", "phone", "unit", "role", "start_date", "login"}


def test_semicolon_and_tab_delimiters(tmp_path):
    for sep in (";", "\t"):
        path = write_csv(tmp_path / "r.csv", [sep.join(HEADER), sep.join(ROW)])
        assert len(list(read_roster_table(path).records())) == 1


def test_no_header_found_names_the_file_and_what_it_saw(tmp_path):
    path = write_csv(tmp_path / "notes.csv", ["hello,world", "1,2"])
    with pytest.raises(InputFileError, match=r"notes\.csv.*没有找到表头.*hello"):
        read_roster_table(path)


def test_two_columns_meaning_the_same_field_are_refused(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["姓名,身份证号,手机号,联系电话,所属单位,岗位"])
    with pytest.raises(InputFileError, match="联系电话.*同一项"):
        read_roster_table(path)


def test_missing_role_or_unit_column(tmp_path):
    with pytest.raises(InputFileError, match="角色"):
        read_roster_table(write_csv(tmp_path / "a.csv", ["姓名,身份证号,所属单位"]))
    with pytest.raises(InputFileError, match="单位列"):
        read_roster_table(write_csv(tmp_path / "b.csv", ["姓名,身份证号,岗位"]))


def test_unsupported_missing_and_broken_files(tmp_path):
    (tmp_path / "r.pdf").write_bytes(b"%PDF")
    with pytest.raises(InputFileError, match="不支持的文件类型"):
        read_roster_table(tmp_path / "r.pdf")
    with pytest.raises(InputFileError, match="找不到文件"):
        read_roster_table(tmp_path / "nope.xlsx")
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip at all")
    with pytest.raises(InputFileError, match="broken.xlsx.*无法作为 Excel"):
        read_roster_table(tmp_path / "broken.xlsx")


def test_sheet_selection(tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", HEADER, [ROW], sheet="人员")
    assert read_roster_table(path, "人员").header_row == 3
    with pytest.raises(InputFileError, match="没有名为「名单」的工作表；现有工作表：人员"):
        read_roster_table(path, "名单")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01", dt.date(2024, 3, 1)),
        ("2024/3/1", dt.date(2024, 3, 1)),
        ("2024.3.1", dt.date(2024, 3, 1)),
        ("2024年3月1日", dt.date(2024, 3, 1)),
        ("２０２４－０３－０１", dt.date(2024, 3, 1)),
        ("20240301", dt.date(2024, 3, 1)),
        (45352, dt.date(2024, 3, 1)),
        (dt.datetime(2024, 3, 1, 8, 0), dt.date(2024, 3, 1)),
        ("2024-03-01 00:00:00", dt.date(2024, 3, 1)),
    ],
)
def test_parse_date_forms(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["2024-02-30", "三月一日", "2024-13-01"])
def test_parse_date_refuses_non_dates(value):
    with pytest.raises(ValueError, match="日期"):
        parse_date(value)


def test_clean_text_and_column_letters():
    assert clean_text("\u3000１２３\u200b ") == "123"
    assert clean_text(13800138000.0) == "13800138000"
    assert [column_letter(i) for i in (0, 25, 26, 27)] == ["A", "Z", "AA", "AB"]
