"""Everything a command prints: the consoles, one render() for every --format, the panels
that report an import, and the progress bar."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from writers.bundle import Written

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
            import typer

            raise typer.BadParameter("--format xlsx 需要 --out 文件路径。 Give --out FILE.xlsx.",
                                     param_hint="--out")
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


def _column_options(values: pd.Series) -> dict[str, Any]:
    """Numbers, ids and dates stay whole on one line; text folds onto more lines when the
    terminal is narrow (CJK text has no spaces to wrap at, so rich would cut it off)."""
    if pd.api.types.is_numeric_dtype(values):
        return {"justify": "right", "no_wrap": True}
    texts = [str(v) for v in values if not pd.isna(v)]
    if texts and all(t.isascii() and " " not in t for t in texts) and max(map(len, texts)) <= 32:
        return {"no_wrap": True, "min_width": max(map(len, texts))}
    widest = max((cell_len(t) for t in texts), default=0)
    return {"overflow": "fold", "min_width": min(widest, 8)}


def to_rich(df: pd.DataFrame, *, title: str | None = None) -> Table:
    table = Table(title=title, header_style="bold cyan", show_lines=False)
    for name in df.columns:
        table.add_column(str(name), **_column_options(df[name]))
    for row in df.itertuples(index=False):
        # Text, not str: rich would read "[…]" in a record as markup (a crash on "[/]", a live
        # terminal link on "[link=…]").
        table.add_row(*(Text("" if pd.isna(v) else str(v)) for v in row))
    if df.empty:
        table.caption = "（没有数据）"
    return table


def progress_bar() -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                    TaskProgressColumn(), TimeRemainingColumn(), console=stderr, transient=True)


def import_panel(report: Any) -> Panel:
    """The result of a roster import (records.importers.roster.ImportReport)."""
    lines = [
        f"数据行 rows: {report.rows}",
        f"新增人员 people created: {report.people_created}",
        f"更新人员 people updated: {report.people_updated}",
        f"未变人员 unchanged: {report.people_unchanged}",
        f"新开岗位 posts opened: {report.posts_opened}",
        f"结束岗位 posts closed: {report.posts_closed}",
        f"新建单位 units created: {report.units_created}",
    ]
    if report.rejected:
        lines.append(f"跳过的行 rows skipped: {len({e.row for e in report.rejected})}")
    if report.dry_run:
        title, style = f"{report.file}：试运行，未写入 (dry run, nothing written)", "yellow"
    elif report.changed:
        title, style = f"{report.file}：已导入 (imported)", "green"
    else:
        title, style = f"{report.file}：没有变化 (no changes)", "blue"
    return Panel(escape("\n".join(lines)), title=escape(title), border_style=style, expand=False)


def attendance_panel(report: Any, noun: str = "签到") -> Panel:
    """The result of marking or importing presence, like the roster import panel."""
    lines = [f"数据行 rows: {report.rows}"]
    if report.by_status:
        lines.append("签到 status: " + "，".join(f"{k} {v}" for k, v in report.by_status.items()))
    lines += [f"新增 created: {report.created}", f"更新 updated: {report.updated}",
              f"未变 unchanged: {report.unchanged}"]
    if report.residents is not None:
        lines.append(f"居民参演 residents: {report.residents}")
    name = report.file or report.target
    target = f"（{report.target}）" if report.file and report.target else ""
    if report.dry_run:
        title, style = f"{name}{target}：试运行，未写入 (dry run)", "yellow"
    elif report.changed:
        title, style = f"{name}{target}：已写入{noun} (written)", "green"
    else:
        title, style = f"{name}{target}：没有变化 (no changes)", "blue"
    return Panel(escape("\n".join(lines)), title=escape(title), border_style=style, expand=False)


def show_warnings(file: str, warnings: list[str]) -> None:
    for warning in warnings:
        stderr.print(f"[yellow]注意[/] {escape(file)}：{escape(warning)}", highlight=False)


STATE_WORDS = {"created": "已登记 (created)", "updated": "已更新 (updated)",
               "unchanged": "已存在，没有变化 (unchanged)"}


def write_monthly_bundle(url: str, folder: Path, **options: Any) -> Written:
    """writers.bundle.write_monthly with a spinner on stderr for its long steps."""
    from writers.bundle import write_monthly

    return write_monthly(url, folder, stage=lambda text: stderr.status(text), **options)


def show_bundle(written: Written) -> None:
    """The summary in a panel, then the files written."""
    bundle = written.bundle
    summary = [f"{n}. {escape(s)}" for n, s in enumerate(bundle.summary, start=1)]
    stdout.print(Panel("\n".join(summary), title=escape(bundle.title), expand=False,
                       border_style="cyan"))
    for path in written.paths:
        stdout.print(f"已写入 {path}", highlight=False)
