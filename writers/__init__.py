"""Presentation: every file a person reads (Excel, PDF, HTML, charts, the certificate, the
batch sheet, the monthly bundle), made from records' tables only.

excel.py (formatted workbook, XlsxWriter), html.py (one offline file with charts), pdf.py
(printable summary), png.py (a chart picture via headless Chromium), charts.py, certificate.py,
batch_sheet.py, bundle.py (the monthly bundle, computed and written).

Each takes `records.reports.monthly.Sheet`s (a titled DataFrame) and never queries the
database. Formatting follows the column's kind (`records.reports.base.column_kind`): rates
in percent, gaps in percentage points, shortfalls coloured.

Text from the records is data on every path out: CSV text fields that a spreadsheet would
run as a formula get a leading apostrophe (`csv_text`, here, the one CSV writer), workbooks
write strings as strings (excel.py), PDF paragraphs escape their markup (pdf.py), HTML
escapes everything (html.py).
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

import pandas as pd

from records.inert import csv_field
from records.models import UnitLevel
from records.reports.base import GAP_RED, RATE_AMBER, RATE_RED, Kind, column_kind

CJK_FONTS = ('"Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", "Noto Sans CJK SC", '
             '"Source Han Sans SC", "WenQuanYi Micro Hei", "AR PL UMing CN", SimSun, sans-serif')


def csv_text(df: pd.DataFrame) -> str:
    """`df` as CSV text, every text field inert (numbers stay numbers; see records.inert)."""
    safe = df.copy(deep=False)
    for n, column in enumerate(df.columns):
        series = df[column]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
                or pd.api.types.is_datetime64_any_dtype(series)):
            safe.isetitem(n, series.map(csv_field))
    return safe.to_csv(index=False, header=[str(csv_field(str(c))) for c in df.columns])


def display_width(text: str) -> int:
    """Columns a string takes in a fixed-width view: CJK characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def is_blank(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def severity(kind: Kind, value: Any) -> str:
    """'bad', 'warn' or '' for a cell, by the same thresholds the workbook uses."""
    if is_blank(value):
        return ""
    if kind is Kind.rate:
        return "bad" if value < RATE_RED else "warn" if value < RATE_AMBER else ""
    if kind is Kind.gap:
        return "bad" if value <= GAP_RED else "warn" if value < 0 else ""
    if kind is Kind.shortfall:
        return "bad" if isinstance(value, int | float) and value > 0 else ""
    if kind is Kind.attention:
        return "warn" if isinstance(value, int | float) and value > 0 else ""
    if kind is Kind.flag:
        return "bad" if value == "是" else ""
    return ""


def show(kind: Kind, value: Any) -> str:
    """A cell as text for HTML and PDF."""
    if is_blank(value):
        return ""
    if kind in (Kind.rate, Kind.share):
        return f"{value:.1f}%"
    if kind is Kind.gap:
        return f"{value:+.1f}"
    if isinstance(value, float):
        return f"{value:,.1f}" if not value.is_integer() else f"{int(value):,}"
    if isinstance(value, int) and kind is not Kind.text:
        return f"{value:,}"
    return str(value)


def kinds(df: pd.DataFrame) -> list[Kind]:
    return [column_kind(str(c), df[c]) for c in df.columns]


def child_level(df: pd.DataFrame) -> str | None:
    """The 层级 label just below the top row's level (districts under a city, ...)."""
    if df.empty or "层级" not in df:
        return None
    labels = [level.label for level in UnitLevel]
    present = [label for label in labels if label in set(df["层级"])]
    if len(present) < 2:
        return present[0] if present else None
    return present[1]


def brief_units(df: pd.DataFrame, limit: int, depth: int = 3) -> tuple[pd.DataFrame, str]:
    """Unit tables trimmed for reading: the top `depth` levels present, at most `limit` rows."""
    if "层级" not in df:
        return (df.head(limit), f"仅显示前 {limit} 行，完整数据见 Excel 工作簿。") \
            if len(df) > limit else (df, "")
    present = [level.label for level in UnitLevel if (df["层级"] == level.label).any()]
    out, notes = df, []
    if len(present) > depth:
        out = df[df["层级"].isin(present[:depth])]
        notes.append(f"此处只列到{present[depth - 1]}")
    if len(out) > limit:
        out = out.head(limit)
        notes.append(f"仅显示前 {limit} 行")
    if not notes:
        return out, ""
    return out, "，".join(notes) + "；完整数据见 Excel 工作簿。"
