"""The workbook: a summary sheet, then one sheet per table with its title, a note, a frozen
header row, number formats by column kind, filters and colours where figures fall short."""

from __future__ import annotations

import queue
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from records.instance import private
from records.reports.base import GAP_RED, RATE_AMBER, RATE_RED, Kind
from records.reports.sheet import Sheet
from writers import display_width, is_blank, kinds

HEADER_ROW = 2  # row 0 title, row 1 note, row 2 header, data below
_RED_FILL, _RED_TEXT = "#FFC7CE", "#9C0006"
_AMBER_FILL, _AMBER_TEXT = "#FFEB9C", "#9C5700"
# Every workbook we write: a string is a string (never a formula, never a live link), so a
# name like =HYPERLINK(...) from a roster is shown, not run. No apostrophe is needed there.
INERT_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False,
                 "nan_inf_to_errors": True}
_NUMBER_FORMATS = {
    Kind.count: "#,##0", Kind.shortfall: "#,##0", Kind.attention: "#,##0",
    Kind.rate: '0.0"%"', Kind.share: '0.0"%"',
    Kind.gap: '+0.0;-0.0;0.0', Kind.number: "#,##0.0",
}


def write_workbook(path: Path, sheets: Sequence[Sheet], *, title: str,
                   summary: Sequence[str] = (), meta: Sequence[tuple[str, str]] = ()) -> Path:
    """Write `sheets` (after a 摘要 sheet when `summary` or `meta` is given) to `path`."""
    book = ExcelBook(path, [(s.key, s.name) for s in sheets], title=title,
                     summary=bool(summary or meta))
    for sheet in sheets:
        book.add(sheet)
    return book.close(sheets, summary=summary, meta=meta)


def write_table(path: Path, df: pd.DataFrame, *, sheet: str = "data") -> Path:
    """One plain sheet (`--format xlsx` of a listing): frozen header, widths by content."""
    name = _sheet_names([sheet])[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="xlsxwriter",
                        engine_kwargs={"options": dict(INERT_OPTIONS)}) as writer:
        df.to_excel(writer, index=False, sheet_name=name)
        ws = writer.sheets[name]
        ws.freeze_panes(1, 0)
        for c, column in enumerate(df.columns):
            widest = max([display_width(str(column)), *(display_width(_text(v))
                                                        for v in df[column].head(500))])
            ws.set_column(c, c, min(60, widest + 2))
    return private(path)


class ExcelBook:
    """A workbook whose sheets are filled in any order, as their tables arrive.

    Every sheet is added up front (so the tabs keep their order) and streams its rows to
    its own temporary file (XlsxWriter's constant_memory), so a writer can fill the sheets
    that are ready while the rest are still being computed. With `background`, `add` only
    queues the sheet and a thread writes it, so the caller goes back to its work at once;
    `close` waits for that thread and raises what it raised.
    """

    def __init__(self, path: Path, sheets: Sequence[tuple[str, str]], *, title: str,
                 summary: bool = True, background: bool = False) -> None:
        keys = [key for key, _ in sheets]
        if len(set(keys)) != len(keys):
            raise ValueError(f"sheet keys must be unique: {keys}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.title = path, title
        self._rows = tempfile.TemporaryDirectory(prefix="safetrain-xlsx-")  # the sheets' rows
        # No URL or formula sniffing in strings: unit paths and names are plain text.
        self.book = xlsxwriter.Workbook(str(path), {
            **INERT_OPTIONS, "constant_memory": True, "tmpdir": self._rows.name,
            "default_date_format": "yyyy-mm-dd"})
        self.book.set_properties({"title": title, "author": "SafeTrain",
                                  "comments": "ID numbers masked"})
        self.styles = _styles(self.book)
        self.names = dict(zip(keys, _sheet_names([name for _, name in sheets]), strict=True))
        self.summary = self.book.add_worksheet("摘要") if summary else None
        self.worksheets = {key: self.book.add_worksheet(name) for key, name in self.names.items()}
        self._queue: queue.SimpleQueue[Sheet | None] | None = None
        self._failed: BaseException | None = None
        if background:
            self._queue = queue.SimpleQueue()
            self._writer = threading.Thread(target=self._drain, name="xlsx-writer", daemon=True)
            self._writer.start()

    def add(self, sheet: Sheet) -> None:
        if self._queue is not None:
            self._queue.put(sheet)
        else:
            _table_sheet(self.worksheets[sheet.key], self.styles, sheet)

    def _drain(self) -> None:
        assert self._queue is not None
        while (sheet := self._queue.get()) is not None:
            if self._failed is None:
                try:
                    _table_sheet(self.worksheets[sheet.key], self.styles, sheet)
                except BaseException as exc:  # noqa: BLE001 (raised again by close)
                    self._failed = exc

    def _written(self) -> None:
        """Wait until every queued sheet is written."""
        if self._queue is not None:
            self._queue.put(None)
            self._writer.join()
            self._queue = None

    def close(self, sheets: Sequence[Sheet], *, summary: Sequence[str] = (),
              meta: Sequence[tuple[str, str]] = ()) -> Path:
        """Write the 摘要 sheet (with a link to each of `sheets`) and the file."""
        self._written()
        if self._failed is not None:
            self.discard()
            raise self._failed
        if self.summary is not None:
            _summary_sheet(self.summary, self.styles, self.title, summary, meta, sheets,
                           [self.names[s.key] for s in sheets])
        try:
            self.book.close()
        finally:
            self._rows.cleanup()
        return private(self.path)

    def discard(self) -> None:
        """Give up (the tables failed): no file is written, the temporary rows go."""
        self._written()
        self.book.fileclosed = True  # nothing to write: silences XlsxWriter's destructor
        self._rows.cleanup()


def _styles(book: Any) -> dict[str, Any]:
    base = {"font_name": "Microsoft YaHei", "font_size": 10, "valign": "vcenter"}
    add = book.add_format
    styles = {
        "title": add({**base, "bold": True, "font_size": 14}),
        "note": add({**base, "italic": True, "font_color": "#595959"}),
        "header": add({**base, "bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E79",
                       "text_wrap": True, "align": "center", "border": 1,
                       "border_color": "#BFBFBF"}),
        "text": add({**base}),
        "sentence": add({**base, "font_size": 11, "text_wrap": True, "valign": "top"}),
        "link": add({**base, "font_color": "#0563C1", "underline": 1}),
        "bad": add({"bg_color": _RED_FILL, "font_color": _RED_TEXT}),
        "warn": add({"bg_color": _AMBER_FILL, "font_color": _AMBER_TEXT}),
        "empty": add({**base, "italic": True, "font_color": "#7F7F7F"}),
    }
    for kind, number_format in _NUMBER_FORMATS.items():
        styles[kind.value] = add({**base, "num_format": number_format})
    return styles


def _sheet_names(wanted: Sequence[str]) -> list[str]:
    """Excel's rules: ≤ 31 characters, none of []:*?/\\, unique (摘要 is the summary's)."""
    names: list[str] = ["摘要"]
    for want in wanted:
        name = "".join("_" if c in "[]:*?/\\" else c for c in want)[:31] or "表"
        stem, n = name, 2
        while name in names:
            name = f"{stem[:28]}{n}"
            n += 1
        names.append(name)
    return names[1:]


def _summary_sheet(ws: Any, styles: dict[str, Any], title: str, summary: Sequence[str],
                   meta: Sequence[tuple[str, str]], sheets: Sequence[Sheet],
                   names: Sequence[str]) -> None:
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 110)
    ws.write_string(0, 0, title, styles["title"])
    row = 2
    for key, value in meta:
        ws.write_string(row, 0, key, styles["text"])
        ws.write_string(row, 1, value, styles["text"])
        row += 1
    row += 1
    for n, sentence in enumerate(summary, start=1):
        ws.write_string(row, 0, f"{n}.", styles["text"])
        ws.write_string(row, 1, sentence, styles["sentence"])
        ws.set_row(row, 15 * max(1, -(-display_width(sentence) // 200)) + 6)
        row += 1
    row += 1
    ws.write_string(row, 0, "各表", styles["title"])
    row += 1
    for sheet, name in zip(sheets, names, strict=True):
        ws.write_url(row, 0, f"internal:'{name}'!A1", styles["link"], string=name)
        ws.write_string(row, 1, f"{sheet.title}（{len(sheet.df):,} 行）", styles["text"])
        row += 1
    ws.activate()


def _table_sheet(ws: Any, styles: dict[str, Any], sheet: Sheet) -> None:
    df = sheet.df
    column_kinds = kinds(df)
    last_col = max(0, len(df.columns) - 1)
    ws.write_string(0, 0, sheet.title, styles["title"])
    if sheet.note:
        ws.write_string(1, 0, sheet.note, styles["note"])
    for c, column in enumerate(df.columns):
        ws.write_string(HEADER_ROW, c, str(column), styles["header"])
    ws.set_row(HEADER_ROW, 30)
    # Row by row (constant_memory streams each row out), with one writer chosen per column.
    writers = []
    for column, kind in zip(df.columns, column_kinds, strict=True):
        style = styles.get(kind.value, styles["text"])
        numeric = pd.api.types.is_numeric_dtype(df[column]) and \
            not pd.api.types.is_bool_dtype(df[column])
        writers.append((ws.write_number if numeric else _string_writer(ws), style))
    # tolist() gives Python ints and floats: numpy scalars cost XlsxWriter 3× more per cell.
    rows = zip(*(df[column].tolist() for column in df.columns), strict=True)
    for r, row in enumerate(rows, start=HEADER_ROW + 1):
        for c, value in enumerate(row):
            if not is_blank(value):  # empty cells are simply not written
                write, style = writers[c]
                write(r, c, value, style)
    first, last = HEADER_ROW + 1, HEADER_ROW + len(df)
    if df.empty:
        ws.write_string(first, 0, "（没有数据）", styles["empty"])
    else:
        ws.autofilter(HEADER_ROW, 0, last, last_col)
        for c, kind in enumerate(column_kinds):
            _colour(ws, styles, kind, c, first, last)
    frozen_cols = 2 if list(df.columns[:2]) in (["单位代码", "单位"], ["单位", "姓名"]) else 0
    ws.freeze_panes(HEADER_ROW + 1, frozen_cols)
    for c, column in enumerate(df.columns):
        sample = df[column].head(500)
        widest = max([display_width(str(column)) // 2 + 2,
                      *(display_width(_text(v)) for v in sample)])
        ws.set_column(c, c, min(max(widest + 2, 6), 60))


def _text(value: Any) -> str:
    if is_blank(value):
        return ""
    return f"{value:,.1f}" if isinstance(value, float) else str(value)


def _string_writer(ws: Any) -> Any:
    def write(r: int, c: int, value: Any, style: Any) -> None:
        ws.write_string(r, c, ("是" if value else "") if isinstance(value, bool) else str(value),
                        style)

    return write


def _colour(ws: Any, styles: dict[str, Any], kind: Kind, c: int, first: int, last: int) -> None:
    """Conditional formats by kind; formulas skip blank cells (Excel treats blanks as 0)."""
    cell = f"{xl_col_to_name(c)}{first + 1}"
    rules: list[tuple[str, str]] = []
    if kind is Kind.rate:
        rules = [(f"AND(ISNUMBER({cell}),{cell}<{RATE_RED})", "bad"),
                 (f"AND(ISNUMBER({cell}),{cell}<{RATE_AMBER})", "warn")]
    elif kind is Kind.gap:
        rules = [(f"AND(ISNUMBER({cell}),{cell}<={GAP_RED})", "bad"),
                 (f"AND(ISNUMBER({cell}),{cell}<0)", "warn")]
    elif kind is Kind.shortfall:
        rules = [(f"AND(ISNUMBER({cell}),{cell}>0)", "bad")]
    elif kind is Kind.attention:
        rules = [(f"AND(ISNUMBER({cell}),{cell}>0)", "warn")]
    elif kind is Kind.flag:
        rules = [(f'{cell}="是"', "bad")]
    for formula, style in rules:
        ws.conditional_format(first, c, last, c, {"type": "formula", "criteria": formula,
                                                  "format": styles[style],
                                                  "stop_if_true": True})


def frames_to_sheets(frames: dict[str, pd.DataFrame], titles: dict[str, str]) -> list[Sheet]:
    """Plain DataFrames (one report's parts) as sheets named by their titles."""
    return [Sheet(key, titles[key][:31], titles[key], df) for key, df in frames.items()]
