"""The 培训覆盖 panel's figures: the report functions behind `safetrain report`, called the
same way, so the panel and the command show the same numbers.

A report returns every unit of the subtree; the panel shows the unit and its children (the
next level down) and drills down by asking again for a child.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from records.access import child_units
from records.curriculum import Curriculum
from records.models import PATH_SEP, OrgUnit
from records.reports import coverage, leaders
from records.reports.base import Scope, resolve_scope

COVERAGE_RATES = ["必修模块通过率%", "本期学时达标率%", "本期演练参与率%", "持证率%"]
LEADER_RATES = ["主要领导参训率%", "分管领导参训率%", "工作人员参训率%"]


def scope_for(session: Session, unit: OrgUnit, *, as_of: dt.date, period: str | None) -> Scope:
    """As `safetrain report ... --unit CODE --period P --as-of D` resolves it."""
    return resolve_scope(session, period=period or None, as_of=as_of, unit=unit, today=as_of)


def _rows(df: pd.DataFrame) -> list[list[Any]]:
    # Through pandas' JSON: NaN → null, numpy numbers → plain ones.
    return json.loads(df.to_json(orient="values", force_ascii=False))


def _section(key: str, title: str, df: pd.DataFrame, *, note: str | None = None,
             chart: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "title": title, "note": note,
                           "columns": [str(c) for c in df.columns], "rows": _rows(df)}
    if "单位代码" in df.columns:
        out["unit_column"] = "单位代码"
    if chart and not df.empty:
        names = [str(p).rsplit(PATH_SEP, 1)[-1] for p in df["单位"]]
        out["chart"] = {"labels": names, "values": chart, "percent": True}
    return out


def figures(session: Session, curriculum: Curriculum, unit: OrgUnit, *, as_of: dt.date,
            period: str | None) -> dict[str, Any]:
    """Coverage and the leaders-vs-staff gap for `unit` and its children, and who missed."""
    scope = scope_for(session, unit, as_of=as_of, period=period)
    shown = {unit.code, *(c.code for c in child_units(session, unit))}
    cov = coverage.by_unit(session, scope=scope, curriculum=curriculum)
    gap = leaders.by_unit(session, scope=scope)
    missed = leaders.missed(session, scope=scope)
    return {
        "period": scope.period.code,
        "title": scope.title,
        "sections": [
            _section("coverage", coverage.TITLE, cov[cov["单位代码"].isin(shown)],
                     chart=COVERAGE_RATES,
                     note="在岗人员按统计期最后一天的岗位计；上级单位的一行包含全部下级。"),
            _section("leaders", leaders.TITLE, gap[gap["单位代码"].isin(shown)],
                     chart=LEADER_RATES,
                     note="差距 = 领导参训率 − 工作人员参训率（百分点），负数表示领导参训少于工作人员。"),
            _section("missed", leaders.MISSED_TITLE, missed),
        ],
    }


def bundle(session: Session, curriculum: Curriculum, unit: OrgUnit, *, as_of: dt.date,
           period: str | None) -> tuple[str, bytes]:
    """(file name, xlsx bytes) of the monthly bundle, as `safetrain report monthly` writes it."""
    from writers.bundle import write_bundle

    scope = scope_for(session, unit, as_of=as_of, period=period)
    with tempfile.TemporaryDirectory() as folder:
        written = write_bundle(session, scope, Path(folder), curriculum=curriculum,
                               html=False, pdf=False)
        path = written.paths[0]
        return path.name, path.read_bytes()


def has_id_numbers(xlsx: bytes, pattern: re.Pattern[str]) -> bool:
    """Whether any sheet or shared string of the workbook holds a full ID number."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as book:
        return any(pattern.search(book.read(name).decode("utf-8", "replace"))
                   for name in book.namelist() if name.endswith(".xml"))
