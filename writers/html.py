"""One self-contained HTML file: summary, charts and tables, plotly's JavaScript inlined.

Nothing is fetched when the file is opened (no CDN, no web fonts): government networks are
often closed. The file is large (about 5 MB, mostly plotly) but opens anywhere.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from plotly.offline import get_plotlyjs

from records.instance import private
from records.reports.sheet import Sheet
from writers import CJK_FONTS, brief_units, kinds, severity, show
from writers.charts import figures

MAX_ROWS = 300

CSS = """
:root { --ink:#1f2933; --muted:#5f6b7a; --line:#d9dee5; --head:#1F4E79; --bad:#FFC7CE;
        --bad-ink:#9C0006; --warn:#FFEB9C; --warn-ink:#7a4600; }
* { box-sizing: border-box; }
body { font-family: FONTS; color: var(--ink); margin: 0; background: #f4f6f9; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 60px; background: #fff;
       box-shadow: 0 0 12px rgba(0,0,0,.06); min-height: 100vh; }
h1 { font-size: 24px; margin: 0 0 4px; color: var(--head); }
h2 { font-size: 18px; margin: 36px 0 6px; padding-bottom: 4px; border-bottom: 2px solid var(--head); }
.meta { color: var(--muted); font-size: 13px; margin-bottom: 16px; }
.summary { background: #fff8e6; border-left: 5px solid #ED7D31; padding: 12px 18px; margin: 12px 0 8px; }
.summary ol { margin: 0; padding-left: 22px; line-height: 1.8; font-size: 15px; }
nav { font-size: 13px; margin: 14px 0; line-height: 2; }
nav a { color: var(--head); text-decoration: none; margin-right: 14px; white-space: nowrap; }
.note { color: var(--muted); font-size: 13px; margin: 4px 0 8px; }
.chart { margin: 8px 0 4px; }
.scroll { overflow-x: auto; max-height: 640px; overflow-y: auto; border: 1px solid var(--line); }
table { border-collapse: collapse; font-size: 13px; width: max-content; min-width: 100%; }
th { position: sticky; top: 0; background: var(--head); color: #fff; font-weight: 600;
     padding: 6px 8px; text-align: center; white-space: nowrap; }
td { padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #f8fafc; }
td.bad { background: var(--bad) !important; color: var(--bad-ink); }
td.warn { background: var(--warn) !important; color: var(--warn-ink); }
.empty { color: var(--muted); font-style: italic; padding: 8px; }
.legend span { display: inline-block; padding: 0 8px; margin-right: 8px; border-radius: 3px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { body { background: #fff; } main { box-shadow: none; } .scroll { max-height: none; } }
""".replace("FONTS", CJK_FONTS)


def table_html(sheet: Sheet, limit: int = MAX_ROWS) -> tuple[str, str]:
    """(table markup, note about rows left out)."""
    df, note = brief_units(sheet.df, limit)
    if df.empty:
        return '<div class="empty">（没有数据）</div>', ""
    column_kinds = kinds(df)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False, name=None):
        cells = []
        for kind, value in zip(column_kinds, row, strict=True):
            classes = [severity(kind, value)]
            if kind.value != "text" and kind.value != "flag":
                classes.append("num")
            cls = " ".join(c for c in classes if c)
            attr = f' class="{cls}"' if cls else ""
            cells.append(f"<td{attr}>{html.escape(show(kind, value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>'), note


def write_html(path: Path, sheets: Sequence[Sheet], *, title: str, summary: Sequence[str] = (),
               meta: Sequence[str] = (), limit: int = MAX_ROWS) -> Path:
    charts = figures(list(sheets))
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if meta:
        parts.append(f'<div class="meta">{" · ".join(html.escape(m) for m in meta)}</div>')
    if summary:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in summary)
        parts.append(f'<div class="summary"><ol>{items}</ol></div>')
    links = "".join(f'<a href="#t{i}">{html.escape(s.title)}</a>' for i, s in enumerate(sheets))
    parts.append(f"<nav>{links}</nav>")
    parts.append('<div class="legend note">颜色：<span style="background:#FFC7CE">红</span>'
                 '比率低于 60%、差距达 10 个百分点以上、已过期或逾期等须处理的事项；'
                 '<span style="background:#FFEB9C">黄</span>比率低于 80%、差距为负或即将到期。</div>')
    for i, sheet in enumerate(sheets):
        parts.append(f'<h2 id="t{i}">{html.escape(sheet.title)}</h2>')
        if sheet.note:
            parts.append(f'<div class="note">{html.escape(sheet.note)}</div>')
        fig = charts.get(sheet.key)
        if fig is not None:
            chart = fig.to_html(full_html=False, include_plotlyjs=False,
                                config={"displaylogo": False, "responsive": True})
            parts.append(f'<div class="chart">{chart}</div>')
        table, note = table_html(sheet, limit)
        parts.append(table)
        if note:
            parts.append(f'<div class="note">{html.escape(note)}</div>')
    parts.append("<footer>SafeTrain 生成；所有数字均来自培训、演练与持证记录；身份证号已隐去中间 8 位。</footer>")
    document = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>'
        f'<body><main>{"".join(parts)}</main></body></html>')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return private(path)


def write_chart_page(path: Path, sheets: Sequence[Sheet], *, title: str, keys: Sequence[str],
                     summary: Sequence[str] = (), width: int = 1200) -> Path:
    """A page with just the charts named by `keys` (for the PNG), plotly inlined as above."""
    charts = figures(list(sheets))
    blocks = [f"<h1>{html.escape(title)}</h1>"]
    if summary:
        blocks.append('<div class="summary"><ol>' + "".join(
            f"<li>{html.escape(s)}</li>" for s in summary) + "</ol></div>")
    for key in keys:
        fig = charts.get(key)
        if fig is not None:
            fig.update_layout(width=width - 60)
            blocks.append('<div class="chart">' + fig.to_html(
                full_html=False, include_plotlyjs=False, config={"staticPlot": True}) + "</div>")
    document = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS} main {{ max-width: {width}px; }}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>'
        f'<body><main>{"".join(blocks)}</main></body></html>')
    path.write_text(document, encoding="utf-8")
    return path
