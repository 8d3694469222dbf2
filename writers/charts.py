"""Plotly figures for the HTML report (and the chart picture), built from report tables."""

from __future__ import annotations

import html
from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go

from records.reports.leaders import small_sample
from records.reports.sheet import Sheet
from writers import CJK_FONTS, child_level

MAX_BARS = 20
_BLUE, _ORANGE, _RED, _GREY, _GREEN = "#1F4E79", "#ED7D31", "#C00000", "#A5A5A5", "#70AD47"


def _layout(fig: go.Figure, title: str, *, percent: bool = False, height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 16}},
        font={"family": CJK_FONTS.replace('"', "'"), "size": 12},
        height=height, margin={"l": 60, "r": 20, "t": 60, "b": 110},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        plot_bgcolor="#FFFFFF", paper_bgcolor="#FFFFFF", bargap=0.25,
    )
    fig.update_yaxes(gridcolor="#E5E5E5", zeroline=True, zerolinecolor="#BFBFBF",
                     ticksuffix="%" if percent else "", rangemode="tozero")
    fig.update_xaxes(tickangle=-35)
    return fig


def _short(path: str) -> str:
    """Last two parts of a unit path: 北中区/安桥镇; escaped, since plotly reads labels as
    HTML-like markup (a unit named `<a href=…>` would become a link)."""
    return html.escape("/".join(path.split("/")[-2:]) if "/" in path else path)


def _rows(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    level = child_level(df)
    if level is None:
        return df.iloc[0:0], ""
    return df[df["层级"] == level], level


def leaders(sheet: Sheet) -> go.Figure | None:
    """Streets (communities when the scope is one street), 本级, in the table's order: the
    worst first, 样本少 after them and marked, as many as fit."""
    df = sheet.df
    level = "街道/乡镇" if (df["层级"] == "街道/乡镇").sum() > 1 else child_level(df)
    rows = df[(df["层级"] == level) & df["领导参训率%"].notna() & df["工作人员参训率%"].notna()]
    if rows.empty:
        return None
    rows = rows.head(MAX_BARS)  # the table is already worst first
    small = small_sample(rows)
    names = [_short(u) + ("（样本少）" if s else "") for u, s in zip(rows["单位"], small, strict=True)]
    fig = go.Figure()
    for column, basis, label, colour in (("领导参训率%", "领导应到人次", "领导", _RED),
                                         ("工作人员参训率%", "工作人员应到人次", "工作人员", _BLUE)):
        fig.add_bar(x=names, y=rows[column], name=label, marker_color=colour,
                    customdata=rows[basis],
                    hovertemplate="%{x}<br>" + label + " %{y:.1f}%（应到 %{customdata} 人次）"
                                  "<extra></extra>")
    which = f"最差的 {len(rows)} 个{level}" if len(rows) == MAX_BARS else f"按{level}，差距大的在左"
    return _layout(fig, f"本级领导与本单位工作人员参训率（{which}）", percent=True)


def coverage(sheet: Sheet) -> go.Figure | None:
    rows, level = _rows(sheet.df)
    rows = rows[rows["在岗人数"] > 0]
    if rows.empty:
        return None
    rows = rows.head(MAX_BARS * 2)
    names = rows["单位"].map(_short)
    fig = go.Figure()
    for column, colour in (("必修模块通过率%", _BLUE), ("本期学时达标率%", _GREEN),
                           ("本期演练参与率%", _ORANGE), ("持证率%", _GREY)):
        fig.add_bar(x=names, y=rows[column], name=column.rstrip("%"), marker_color=colour)
    return _layout(fig, f"培训覆盖率（按{level}）", percent=True)


def certificates(sheet: Sheet) -> go.Figure | None:
    rows, level = _rows(sheet.df)
    if rows.empty or rows[["90天内到期", "已过期"]].to_numpy().sum() == 0:
        return None
    rows = rows.head(MAX_BARS * 2)
    names = rows["单位"].map(_short)
    fig = go.Figure()
    parts = (("30 天内", rows["30天内到期"], _RED),
             ("31–60 天", rows["60天内到期"] - rows["30天内到期"], _ORANGE),
             ("61–90 天", rows["90天内到期"] - rows["60天内到期"], "#FFC000"),
             ("已过期", rows["已过期"], _GREY))
    for label, values, colour in parts:
        fig.add_bar(x=names, y=values, name=label, marker_color=colour)
    fig.update_layout(barmode="stack")
    return _layout(fig, f"证书到期与过期人数（按{level}）")


def drills(sheet: Sheet) -> go.Figure | None:
    df = sheet.df
    df = df[df["演练类型"] != "合计"] if not df.empty else df
    if df.empty:
        return None
    fig = go.Figure()
    fig.add_bar(x=df["演练类型"], y=df["实战演练"], name="实战演练", marker_color=_BLUE)
    fig.add_bar(x=df["演练类型"], y=df["桌面演练"], name="桌面演练", marker_color=_ORANGE)
    fig.update_layout(barmode="stack")
    return _layout(fig, "本期演练：类型与形式（次）", height=360)


def turnover(sheet: Sheet) -> go.Figure | None:
    rows, level = _rows(sheet.df)
    if rows.empty or rows["本期离岗人数"].sum() == 0:
        return None
    trained = next(c for c in rows.columns if c.startswith("培训后") and c.endswith("离岗"))
    rows = rows.head(MAX_BARS * 2)
    names = rows["单位"].map(_short)
    fig = go.Figure()
    fig.add_bar(x=names, y=rows["本期离岗人数"], name="本期离岗", marker_color=_GREY)
    fig.add_bar(x=names, y=rows[trained], name=trained, marker_color=_RED)
    return _layout(fig, f"培训后离岗（按{level}）")


CHARTS: dict[str, Callable[[Sheet], go.Figure | None]] = {
    "leaders/units": leaders,
    "coverage/units": coverage,
    "certificates/units": certificates,
    "drills/types": drills,
    "turnover/units": turnover,
}


def figures(sheets: list[Sheet]) -> dict[str, go.Figure]:
    """{sheet key: figure} for the sheets that have a chart and something to draw."""
    out = {}
    for sheet in sheets:
        make = CHARTS.get(sheet.key)
        fig = make(sheet) if make else None
        if fig is not None:
            out[sheet.key] = fig
    return out
