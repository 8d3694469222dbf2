"""A printable PDF: the summary and the key tables, in the CID font every PDF reader has
(STSong-Light: nothing to embed, nothing to download)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd

from records.instance import private
from records.reports.sheet import Sheet
from writers import brief_units, child_level, display_width, kinds, severity, show

FONT = "STSong-Light"  # a CID font every PDF reader has: no font file shipped or embedded
# (sheet key, columns to print, rows at most)
KEY_TABLES: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("leaders/units", ("单位", "口径", "领导参训率%", "领导应到人次", "工作人员参训率%",
                       "工作人员应到人次", "领导差距(百分点)", "样本少", "缺训领导人数"), 25),
    ("coverage/units", ("单位", "在岗人数", "必修模块通过率%", "本期学时达标率%",
                        "本期演练参与率%", "持证率%", "即将到期", "已过期"), 25),
    ("certificates/units", ("单位", "在岗人数", "持证率%", "30天内到期", "60天内到期",
                            "90天内到期", "已过期", "已撤销"), 25),
    ("leaders/named", ("单位", "姓名", "身份证号", "职务", "应参加场次", "缺席", "无签到记录",
                       "请假"), 30),
    ("spot-check/sample", ("序号", "抽查层级", "单位代码", "单位", "抽样比例"), 60),
)


# STSong-Light has no glyph for these; print their plain equivalents.
_PLAIN = str.maketrans({"−": "-", "·": "｜", "–": "-"})


def register_font() -> None:
    """Make FONT known to reportlab (once per process)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _plain(text: str) -> str:
    """Text for a reportlab Paragraph, which reads its text as markup: every <, > and &
    escaped, so a unit name like `<font color=red>` or `<link href=...>` prints as written."""
    return escape(text.translate(_PLAIN))


def _rows_for(sheet: Sheet, limit: int) -> tuple[pd.DataFrame, str]:
    df = sheet.df
    if sheet.key == "leaders/units" and (df["层级"] == "街道/乡镇").sum() > 1:
        streets = df[(df["层级"] == "街道/乡镇") & df["领导差距(百分点)"].notna()]
        worst = streets.head(limit - 1)  # the table's order: worst first, 样本少 after
        return pd.concat([df.iloc[:1], worst]), f"此处列出全市（区）及差距最大的 {len(worst)} 个街道/乡镇。"
    level = child_level(df)
    if level is not None and "层级" in df:
        top = df.iloc[:1]
        df = pd.concat([top, df[df["层级"] == level]]) if df.iloc[0]["层级"] != level else df
    df, note = brief_units(df, limit)
    if len(df) > limit:
        df = df.head(limit)
    return df, note


def write_pdf(path: Path, sheets: Sequence[Sheet], *, title: str, summary: Sequence[str] = (),
              meta: Sequence[str] = ()) -> Path:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    register_font()
    h1 = ParagraphStyle("h1", fontName=FONT, fontSize=17, leading=22, spaceAfter=4,
                        textColor=colors.HexColor("#1F4E79"), wordWrap="CJK")
    h2 = ParagraphStyle("h2", fontName=FONT, fontSize=12.5, leading=17, spaceBefore=10,
                        spaceAfter=4, textColor=colors.HexColor("#1F4E79"), wordWrap="CJK")
    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=15, wordWrap="CJK")
    small = ParagraphStyle("small", fontName=FONT, fontSize=8, leading=11, wordWrap="CJK",
                           textColor=colors.HexColor("#595959"))
    cell = ParagraphStyle("cell", fontName=FONT, fontSize=7.5, leading=9.5, wordWrap="CJK")

    path.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(str(path), pagesize=landscape(A4), leftMargin=14 * mm,
                            rightMargin=14 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
                            title=title, author="SafeTrain")
    story = [Paragraph(_plain(title), h1)]
    if meta:
        story.append(Paragraph(_plain("；".join(meta)), small))
    story.append(Spacer(1, 6))
    for n, sentence in enumerate(summary, start=1):
        story.append(Paragraph(_plain(f"{n}. {sentence}"), body))
    by_key = {s.key: s for s in sheets}
    width = landscape(A4)[0] - 28 * mm
    for key, wanted, limit in KEY_TABLES:
        sheet = by_key.get(key)
        if sheet is None:
            continue
        df, note = _rows_for(sheet, limit)
        columns = [c for c in wanted if c in df.columns]
        block = [Paragraph(_plain(sheet.title), h2)]
        if df.empty or not columns:
            block.append(Paragraph("（没有数据）", small))
            story.append(KeepTogether(block))
            continue
        df = df[columns]
        column_kinds = kinds(df)
        data = [[Paragraph(_plain(str(c)), cell) for c in columns]]
        style = [("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 7.5),
                 ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBF7")),
                 ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#BFBFBF")),
                 ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                 ("ALIGN", (1, 1), (-1, -1), "RIGHT")]
        for r, row in enumerate(df.itertuples(index=False, name=None), start=1):
            data.append([show(k, v) if k.value != "text" else Paragraph(_plain(show(k, v)), cell)
                         for k, v in zip(column_kinds, row, strict=True)])
            for c, (k, v) in enumerate(zip(column_kinds, row, strict=True)):
                level = severity(k, v)
                if level:
                    fill = "#FFC7CE" if level == "bad" else "#FFEB9C"
                    style.append(("BACKGROUND", (c, r), (c, r), colors.HexColor(fill)))
        # Widths follow the content (headers may wrap onto two lines), scaled to the page.
        need = [max(min(display_width(str(c)), 16) / 2 + 2,
                    *(min(display_width(show(k, v)), 60) + 2 for v in df[c]))
                for c, k in zip(columns, column_kinds, strict=True)]
        table = Table(data, colWidths=[width * n / sum(need) for n in need], repeatRows=1)
        table.setStyle(TableStyle(style))
        block.append(table)
        if note or sheet.note:
            block.append(Paragraph(_plain(" ".join(x for x in (sheet.note, note) if x)), small))
        story.append(block[0])
        story.extend(block[1:])
    story.append(Spacer(1, 8))
    story.append(Paragraph("身份证号已隐去中间 8 位；完整表格见同名 Excel 工作簿。", small))
    doc.build(story)
    return private(path)
