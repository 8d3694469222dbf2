"""One --format option and one render() for every listing command."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

# Piped output (CI logs, README examples) is not squeezed into 80 columns.
stdout = Console(width=None if sys.stdout.isatty() else 140)
stderr = Console(stderr=True)


class Format(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    xlsx = "xlsx"


def render(df: pd.DataFrame, fmt: Format = Format.table, *, title: str | None = None,
           out: Path | None = None) -> None:
    """Data to stdout (or `out`); a terminal table by default, csv/json pipe cleanly."""
    if fmt is Format.xlsx:
        if out is None:
            raise ValueError("--format xlsx 需要 --out 文件路径")
        from writers.excel import write_table

        write_table(out, df, sheet=title or "data")
        stderr.print(f"已写入 {out}")
        return
    if fmt is Format.csv:
        from writers import csv_text

        text = csv_text(df)  # text fields a spreadsheet would run get an apostrophe
    elif fmt is Format.json:
        # pandas escapes "/" in JSON; a round trip through json gives plain unit paths.
        records = json.loads(df.to_json(orient="records", date_format="iso"))
        text = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    else:
        text = None
    if text is not None:
        if out:
            from records.instance import private

            out.write_text(text, encoding="utf-8-sig" if fmt is Format.csv else "utf-8")
            private(out)
            stderr.print(f"已写入 {out}")
        else:
            sys.stdout.write(text)
        return
    stdout.print(to_rich(df, title=title))


def to_rich(df: pd.DataFrame, *, title: str | None = None) -> Table:
    table = Table(title=title, header_style="bold cyan", show_lines=False)
    for name in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[name])
        table.add_column(str(name), justify="right" if numeric else "left")
    for row in df.itertuples(index=False):
        table.add_row(*("" if pd.isna(v) else str(v) for v in row))
    if df.empty:
        table.caption = "（没有数据）"
    return table
