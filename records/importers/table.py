"""Read .xlsx/.xls/.csv as people keep them: title rows, blank rows, GBK or UTF-8, header variants.

Rows keep the number the user sees in Excel (or the line in the CSV), so every error can
point at the exact row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes

from records.errors import InputFileError
from records.importers.bounds import (
    MAX_FILE_BYTES,
    bounded_rows,
    check_workbook,
    read_limited,
    refuse,
)

EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
HEADER_SEARCH_ROWS = 20

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_BRACKETED = re.compile(r"[（(\[【][^）)\]】]*[）)\]】]")
_BRACKETS = re.compile(r"[（()）\[\]【】]")


def clean_text(value: Any) -> str:
    """A cell as text: full-width → ASCII (NFKC), zero-width characters and edge spaces gone."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).translate(_ZERO_WIDTH)
    return text.strip()


_CJK_NAME = re.compile(r"^[\u3400-\u9fff·]+$")


def parse_name(value: Any, fail: Callable[[str, str], None]) -> str:
    """A person's name as written: spaces aligning a Chinese name dropped ("张  三" is one
    word), other runs of spaces made one; an empty or unlikely name goes to `fail`."""
    name = clean_text(value)
    if _CJK_NAME.match(name.replace(" ", "")):
        name = name.replace(" ", "")
    name = re.sub(r"\s+", " ", name)
    if not name:
        fail("name", "姓名为空")
    elif len(name) > 50 or any(ch.isdigit() for ch in name):
        fail("name", f"姓名「{name}」不像人名（含数字或过长）")
    return name


def header_keys(text: Any) -> list[str]:
    """Candidate lookup keys for a header cell, most literal first."""
    base = re.sub(r"\s+", "", clean_text(text)).replace("*", "").replace("＊", "").lower()
    base = base.rstrip(":：")
    keys = [base, _BRACKETED.sub("", base), _BRACKETS.sub("", base)]
    return list(dict.fromkeys(k for k in keys if k))


def column_letter(index: int) -> str:
    """0 → A, 27 → AB."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@dataclass(frozen=True)
class Column:
    field: str
    header: str  # as written in the file
    index: int

    @property
    def label(self) -> str:
        return f"{self.header}（{column_letter(self.index)}列）"


@dataclass
class Table:
    """A located header and the data rows below it."""

    path: Path
    header_row: int
    columns: dict[str, Column]
    unknown_headers: list[str]
    rows: list[tuple[int, list[Any]]] = field(repr=False)

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(row number, {field: raw value}) for each data row with any recognised field filled.

        Rows with only unrecognised columns filled (a pre-numbered 序号 in an empty template
        row, a note) count as blank.
        """
        for number, cells in self.rows:
            record = {
                name: (cells[col.index] if col.index < len(cells) else None)
                for name, col in self.columns.items()
            }
            if any(clean_text(v) for v in record.values()):
                yield number, record

    @property
    def data_row_count(self) -> int:
        return sum(1 for _ in self.records())


def read_rows(path: Path, sheet: str | None = None) -> Iterator[tuple[int, list[Any]]]:
    """Every row with its 1-based number as shown by Excel (or the CSV record number).

    Bounded (records.importers.bounds): a file past a cap is refused while it is read; one
    leading apostrophe comes off each text cell (records.inert).
    """
    if not path.is_file():
        raise InputFileError(f"找不到文件：{path}. File not found.")
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return bounded_rows(_read_excel(path, sheet), path.name)
    if suffix in CSV_SUFFIXES:
        if sheet:
            raise InputFileError(f"{path.name} 是 CSV 文件，没有工作表，不能用 --sheet。")
        return bounded_rows(_read_csv(path), path.name)
    raise InputFileError(
        f"{path.name}：不支持的文件类型 {suffix or '(无扩展名)'}，请提供 .xlsx 或 .csv 文件。"
        " Unsupported file type: give an .xlsx or .csv file."
    )


def _read_excel(path: Path, sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
    from python_calamine import CalamineWorkbook

    if path.suffix.lower() == ".xls":  # not a zip: its size on disk bounds it
        if path.stat().st_size > MAX_FILE_BYTES:
            raise refuse(path.name, f"文件大于 {MAX_FILE_BYTES // (1024 * 1024)} MB")
    else:
        check_workbook(path)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        names = workbook.sheet_names
        if sheet is None:
            visible = [s.name for s in workbook.sheets_metadata
                       if str(s.visible).endswith("Visible")]
            sheet = (visible or names)[0] if names else None
        if sheet is None or sheet not in names:
            raise InputFileError(
                f"{path.name} 中没有名为「{sheet}」的工作表；现有工作表：{'、'.join(names)}。"
                if sheet else f"{path.name} 中没有工作表。")
        data = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except InputFileError:
        raise
    except Exception as exc:  # noqa: BLE001 (calamine's errors on a damaged file are many kinds)
        raise InputFileError(
            f"{path.name} 无法作为 Excel 文件读取（{str(exc)[:200]}）。"
            "文件可能已损坏，或其实不是 Excel 文件：请用 Excel 打开后另存再导入。"
        ) from exc
    return ((i, list(r)) for i, r in enumerate(data, start=1))


def decode_bytes(raw: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, GB18030/GBK; else the detector's guess."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputFileError(
                f"{name}：文件以 UTF-16 标记开头，但第 {exc.start} 字节处的内容不是有效的 UTF-16"
                "（文件可能已损坏）。请另存为 UTF-8 或 GBK 编码的 CSV。"
                " The file is not valid UTF-16."
            ) from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    best = from_bytes(raw).best()
    if best is None:
        raise InputFileError(
            f"{name}：无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV。"
            " Cannot detect the text encoding."
        )
    return str(best)


def _read_csv(path: Path) -> Iterator[tuple[int, list[Any]]]:
    text = decode_bytes(read_limited(path), path.name)
    sample = text[:20000]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",\t;，").delimiter
    except csv.Error:
        delimiter = ","
    if delimiter == "，":  # a full-width comma is never a real CSV delimiter
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # Blank lines come back as [] and still count, so numbers match the file's lines.
        yield from ((i, row) for i, row in enumerate(reader, start=1))
    except csv.Error as exc:
        raise InputFileError(f"{path.name} 第{reader.line_num}行：CSV 格式错误（{exc}）。") from exc


def locate_header(
    path: Path,
    rows: Iterator[tuple[int, list[Any]]],
    aliases: Mapping[str, str],
    required: tuple[str, ...],
) -> Table:
    """Find the header (the first row naming every required field) and map its columns."""
    seen: list[tuple[int, list[Any]]] = []
    for number, cells in rows:
        seen.append((number, cells))
        columns, unknown, duplicates = _map_header(cells, aliases)
        if all(f in columns for f in required):
            if duplicates:
                raise InputFileError(f"{path.name} 第{number}行表头：{'；'.join(duplicates)}。")
            return Table(path, number, columns, unknown, list(rows))
        if len(seen) >= HEADER_SEARCH_ROWS:
            break
    first = next((c for _, c in seen if any(clean_text(x) for x in c)), [])
    shown = "、".join(clean_text(c) for c in first if clean_text(c))[:120]
    wanted = "、".join(_first_alias(aliases, f) for f in required)
    raise InputFileError(
        f"{path.name}：在前{HEADER_SEARCH_ROWS}行中没有找到表头（需要包含 {wanted} 列）。"
        f"第一行非空内容是：{shown or '(空)'}。 No header row found."
    )


def _map_header(
    cells: list[Any], aliases: Mapping[str, str]
) -> tuple[dict[str, Column], list[str], list[str]]:
    columns: dict[str, Column] = {}
    unknown: list[str] = []
    duplicates: list[str] = []
    for index, cell in enumerate(cells):
        header = clean_text(cell)
        if not header:
            continue
        field_name = next((aliases[k] for k in header_keys(header) if k in aliases), None)
        if field_name is None:
            unknown.append(header)
        elif field_name in columns:
            first = columns[field_name]
            duplicates.append(
                f"「{first.header}」（{column_letter(first.index)}列）和「{header}」"
                f"（{column_letter(index)}列）表示同一项，请删去其中一列"
            )
        else:
            columns[field_name] = Column(field_name, header, index)
    return columns, unknown, duplicates


def _first_alias(aliases: Mapping[str, str], field_name: str) -> str:
    return next((f"「{k}」" for k, v in aliases.items() if v == field_name), field_name)


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(value: Any) -> dt.date:
    """A date from a cell: Excel dates, serial numbers, 2024-03-01, 2024/3/1, 2024年3月1日, 20240301."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 100000:  # an Excel serial day number
            return _EXCEL_EPOCH + dt.timedelta(days=int(value))
        value = clean_text(value)
    text = clean_text(value)
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                return dt.date(year, month, day)
            except ValueError:
                raise ValueError(f"日期「{text}」不存在") from None
    raise ValueError(f"无法识别的日期「{text}」，请写成 2024-03-01 这样的格式")
