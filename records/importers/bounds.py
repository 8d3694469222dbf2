"""Hard caps on what an input file may cost, checked while reading it.

A spreadsheet is a zip of XML: a 1 MB file can inflate to gigabytes (a shared string of
1 GB), and a 2 KB sheet with one cell at A1 and one at ZZ20000 makes the reader build a
14-million-cell grid. Neither is found by trusting the file's own headers (sizes in the zip
directory, the sheet's <dimension>): `check_workbook` inflates every part itself, counting
the bytes, and reads the cell references in the sheet XML as they stream past, all in
constant memory, before the spreadsheet reader (calamine) is allowed near the file. CSV
files are read with a byte limit, and rows and cells are counted as they are produced.

A breach is an `InputFileError` in Chinese that names the file and the limit; nothing has
been written by then (imports validate every row before they insert any).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from records.errors import InputFileError
from records.inert import unmark

MAX_UNZIPPED_BYTES = 200 * 1024 * 1024  # all parts of a workbook, inflated
MAX_FILE_BYTES = 100 * 1024 * 1024  # a CSV or an .xls on disk
MAX_ROWS = 300_000  # rows in a sheet (a 100,000-person roster is the largest we meet)
MAX_AREA = 2_000_000  # rows × columns of the used rectangle (the reader fills it densely)
MAX_COLUMNS = 1_000  # a roster has a dozen; Excel's own limit is 16,384
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
_CHUNK = 1 << 20
_TEXT_RUN = MAX_CELL_CHARS * 4  # bytes of text between two tags (UTF-8, up to 4 per char)

# Row and cell opening tags (any namespace prefix), with their attributes, one at a time.
_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])([^>]*)>")
_REF = re.compile(rb"\sr=\"([A-Z]{0,4})(\d{1,9})\"")
# The fast way, for tags as Excel, WPS and the usual libraries write them (r first).
_FAST_ROWS = re.compile(rb"<row r=\"(\d{1,9})\"")
_FAST_COLS = re.compile(rb"<c r=\"([A-Z]{1,4})")
_FAST_CELL_ROWS = re.compile(rb"<c r=\"[A-Z]{1,4}(\d{1,9})")
_LOOSE = 64  # other tags starting "<c" (<col>, <cfRule>...) a chunk may hold and stay fast


def refuse(name: str, what: str) -> InputFileError:
    return InputFileError(
        f"{name}：{what}，超出导入上限，已拒绝（没有写入任何数据）。"
        "请只保留需要导入的工作表和行列，另存为新文件后再导入。"
        " The file exceeds an import limit and was refused."
    )


@dataclass
class _SheetScan:
    """Where one worksheet's cells land, as a reader places them: a row or cell without a
    reference comes right after the one before it."""

    row: int = 0
    col: int = 0
    max_row: int = 0
    max_col: int = 0

    def feed(self, xml: bytes) -> None:
        """Fast when rows and cells carry their reference first (Excel, WPS, openpyxl,
        XlsxWriter): a few C-speed scans. Otherwise one tag at a time, as a reader would."""
        if b":c" in xml or b":row" in xml:
            self._tag_by_tag(xml)
            return
        rows = _FAST_ROWS.findall(xml)
        cols, cell_rows = _FAST_COLS.findall(xml), _FAST_CELL_ROWS.findall(xml)
        others = xml.count(b"<c") - len(cols)  # <col>, <cfRule>... or cells without a ref
        if xml.count(b"<row") != len(rows) or others > _LOOSE or len(cols) != len(cell_rows):
            self._tag_by_tag(xml)
            return
        if rows:
            self.row = int(rows[-1])
            self.max_row = max(self.max_row, *map(int, set(rows)))
        if cols:
            self.row, self.col = int(cell_rows[-1]), _column_number(cols[-1])
            self.max_row = max(self.max_row, *map(int, set(cell_rows)))
            widest = max(map(_column_number, set(cols)))
            # a cell without a reference lands at most `others` columns further right
            self.max_col = max(self.max_col, widest + others)

    def _tag_by_tag(self, xml: bytes) -> None:
        for match in _TAG.finditer(xml):
            ref = _REF.search(match.group(2))
            if match.group(1) == b"row":
                self.row = int(ref.group(2)) if ref else self.row + 1
                self.col = 0
                self.max_row = max(self.max_row, self.row)
            else:
                if ref and ref.group(1):
                    self.col = _column_number(ref.group(1))
                    self.row = int(ref.group(2))
                    self.max_row = max(self.max_row, self.row)
                else:
                    self.col += 1
                self.max_col = max(self.max_col, self.col)

    def check(self, name: str, part: str) -> None:
        height, width = self.max_row, self.max_col
        if height > MAX_ROWS:
            raise refuse(name, f"工作表 {part} 有 {height:,} 行（上限 {MAX_ROWS:,} 行）")
        if width > MAX_COLUMNS:
            raise refuse(name, f"工作表 {part} 用到第 {width:,} 列（上限 {MAX_COLUMNS:,} 列）")
        if height * width > MAX_AREA:
            raise refuse(name, f"工作表 {part} 的数据区域有 {height:,} 行 × {width:,} 列"
                               f"（上限 {MAX_AREA:,} 个单元格）")


_ODS_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(table|table-row|table-cell|covered-table-cell)"
                      rb"(?=[\s/>])([^>]*?)(/?)>")
_ODS_ROWS = re.compile(rb"number-rows-repeated=\"(\d{1,12})\"")
_ODS_COLS = re.compile(rb"number-columns-repeated=\"(\d{1,12})\"")


@dataclass
class _OdsScan(_SheetScan):
    """OpenDocument repeats a row or a cell by a count in an attribute, and a reader fills
    every repeat of a cell that holds something: a 1 KB file can ask for millions of cells.
    Empty repeats (how LibreOffice pads a sheet to its full size) cost nothing."""

    next_row: int = 1
    row_end: int = 0

    def feed(self, xml: bytes) -> None:
        for match in _ODS_TAG.finditer(xml):
            tag, attrs, empty = match.groups()
            if tag == b"table":
                self.next_row, self.row_end = 1, 0
            elif tag == b"table-row":
                repeat = _ODS_ROWS.search(attrs)
                self.row = self.next_row
                self.row_end = self.row + (int(repeat.group(1)) if repeat else 1) - 1
                self.next_row = self.row_end + 1
                self.col = 0
            else:
                repeat = _ODS_COLS.search(attrs)
                self.col += int(repeat.group(1)) if repeat else 1
                if not empty or b"value-type" in attrs:  # holds something: filled in
                    self.max_col = max(self.max_col, self.col)
                    self.max_row = max(self.max_row, self.row_end)


def _column_number(letters: bytes) -> int:
    number = 0
    for byte in letters:
        number = number * 26 + byte - 64
    return number


def check_workbook(path: Path) -> None:
    """Refuse an .xlsx/.xlsm/.ods whose parts inflate past the caps, whose sheets reach past
    the row/column/area caps, or with a text run longer than a cell may hold."""
    name = path.name
    # zipfile raises many kinds of error on a hostile archive (BadZipFile, EOFError,
    # NotImplementedError for a version, IndexError and struct.error for torn headers...):
    # each means the same here, a file we cannot read.
    try:
        archive = zipfile.ZipFile(path)
    except Exception as exc:  # noqa: BLE001 (see above)
        raise InputFileError(
            f"{name} 无法作为 Excel 文件打开（{exc}）。文件可能已损坏，或其实不是 Excel 文件。"
        ) from exc
    budget = [MAX_UNZIPPED_BYTES]
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            sheet: _SheetScan | None = None
            if info.filename == "content.xml":  # OpenDocument: every sheet in one part
                sheet = _OdsScan()
            elif _is_sheet(info.filename):
                sheet = _SheetScan()
            try:
                _inflate(archive, info, name, budget, sheet)
            except InputFileError:
                raise
            except Exception as exc:  # noqa: BLE001 (as for ZipFile above; zlib.error too)
                raise InputFileError(
                    f"{name} 已损坏，无法读取其中的 {info.filename}（{exc}）。请用 Excel 打开后另存再导入。"
                ) from exc
            if sheet is not None:
                sheet.check(name, info.filename)


def _is_sheet(part: str) -> bool:
    return part.startswith("xl/worksheets/") and part.endswith(".xml")


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, budget: list[int],
             sheet: _SheetScan | None) -> None:
    """Read one part to the end, counting inflated bytes against the workbook's budget."""
    carry = b""
    with archive.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise refuse(name, f"解压后超过 {MAX_UNZIPPED_BYTES // (1024 * 1024)} MB"
                                   f"（{info.filename}）")
            if not info.filename.endswith(".xml"):
                continue
            buf = carry + chunk
            if _longest_text_over(buf, _TEXT_RUN):
                raise refuse(name, f"有超过 {MAX_CELL_CHARS:,} 个字符的单元格（{info.filename}）")
            cut = buf.rfind(b"<")
            cut = len(buf) if cut < 0 else cut  # a tag may straddle chunks: keep it for next
            if sheet is not None:
                sheet.feed(buf[:cut])
                sheet.check(name, info.filename)  # stop at the first chunk past a cap
            carry = buf[cut:]
    if sheet is not None and carry:
        sheet.feed(carry)


def _longest_text_over(buf: bytes, limit: int) -> bool:
    """Is there a run of more than `limit` bytes without a '<' (text of one cell)? Steps a
    window of limit + 1 bytes from one '<' to the last '<' inside it: a few steps per MB."""
    start = 0
    while len(buf) - start > limit:
        last = buf.rfind(b"<", start, start + limit + 1)
        if last < 0:
            return True
        start = last + 1
    return False


def read_limited(path: Path) -> bytes:
    """A file's bytes, refused once past MAX_FILE_BYTES (read so, not from its stat size)."""
    with path.open("rb") as fh:
        raw = fh.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise refuse(path.name, f"文件大于 {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return raw


def bounded_rows(rows: Iterable[tuple[int, list[Any]]], name: str) -> Iterator[tuple[int, list[Any]]]:
    """Rows as they come, capped in count, width and cell length; each text cell loses one
    leading apostrophe (the text mark our own CSV writers add, see records.inert)."""
    for count, (number, cells) in enumerate(rows, start=1):
        if count > MAX_ROWS:
            raise refuse(name, f"超过 {MAX_ROWS:,} 行")
        if len(cells) > MAX_COLUMNS:
            raise refuse(name, f"第{number}行有 {len(cells):,} 列（上限 {MAX_COLUMNS:,} 列）")
        out = []
        for index, cell in enumerate(cells):
            if isinstance(cell, str):
                if len(cell) > MAX_CELL_CHARS:
                    raise refuse(name, f"第{number}行第{index + 1}列超过 {MAX_CELL_CHARS:,} 个字符")
                cell = unmark(cell)
            out.append(cell)
        yield number, out
