"""The trainer's batch sheet: a 成绩 sheet (one row per trainee) and a 题目分析 sheet (one row
per graded item), with Chinese headers, a frozen header row, percent formats, filters and
the rows that fall short in red. Every string is written as a string, never a formula."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from records.instance import private
from writers import is_blank
from writers.excel import INERT_OPTIONS

HEADER_FILL, BAD_FILL = "#DDEBF7", "#F8CBAD"
# sheet name → column widths, the percent column, the shortfall rule (column, test)
_LAYOUT: dict[str, tuple[list[int], str, tuple[str, str]]] = {
    "成绩": ([14, 10, 36, 8, 8, 9, 6, 9, 9, 14, 50, 17], "F", ("G", '="否"')),
    "题目分析": ([10, 40, 6, 9, 9, 9], "F", ("F", "<0.5")),
}


def write_batch_sheet(path: Path, trainees: pd.DataFrame, items: pd.DataFrame, title: str) -> Path:
    """Write the two sheets of a grading batch to `path` (owner-only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path), dict(INERT_OPTIONS))
    styles = {
        "title": book.add_format({"bold": True, "font_size": 13}),
        "header": book.add_format({"bold": True, "bg_color": HEADER_FILL, "align": "center",
                                   "valign": "vcenter", "text_wrap": True}),
        "percent": book.add_format({"num_format": "0.0%"}),
        "bad": book.add_format({"bg_color": BAD_FILL}),
    }
    try:
        for name, df in (("成绩", trainees), ("题目分析", items)):
            _sheet(book.add_worksheet(name), styles, name, df, title)
    finally:
        book.close()
    return private(path)


def _sheet(ws: xlsxwriter.worksheet.Worksheet, styles: dict, name: str, df: pd.DataFrame,
           title: str) -> None:
    widths, percent_col, (rule_col, test) = _LAYOUT[name]
    ws.write_string(0, 0, f"{title} — {name}", styles["title"])
    for c, column in enumerate(df.columns):
        ws.write_string(1, c, str(column), styles["header"])
    percent = ord(percent_col) - ord("A")
    for r, row in enumerate(df.itertuples(index=False), start=2):
        for c, value in enumerate(row):
            style = styles["percent"] if c == percent else None
            if is_blank(value):
                ws.write_blank(r, c, None, style)
            elif isinstance(value, str):
                ws.write_string(r, c, value, style)
            else:
                ws.write(r, c, value, style)
    ws.freeze_panes(2, 0)
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)
    last_row, last_col = len(df) + 1, xl_col_to_name(max(len(df.columns) - 1, 0))
    if len(df):
        ws.conditional_format(f"A3:{last_col}{last_row + 1}", {
            "type": "formula", "criteria": f"=${rule_col}3{test}", "format": styles["bad"]})
    ws.autofilter(f"A2:{last_col}{max(last_row + 1, 2)}")
