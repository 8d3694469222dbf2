"""What every report shares: the scope (period, day, unit), the org tree in SQL, column kinds.

The tree is rolled up with a recursive CTE over `org_unit.parent_id` (`tree`): one row per
(unit, ancestor-or-self) inside the scope, about four per unit. Facts are counted per unit
in SQL, joined to it and summed per ancestor, so a street's row covers its communities.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import CTE, ColumnElement, Integer, select, text, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from records.cert_facts import attempts_cutoff
from records.errors import SafeTrainError
from records.models import PATH_SEP, OrgUnit, UnitLevel
from records.org import find_unit
from records.reports.period import Period

UNIT_COLUMNS = ["单位代码", "单位", "层级"]


@dataclass(frozen=True)
class Scope:
    """What a report covers: activity from `period.start` to `end`, people in post on `end`."""

    period: Period
    end: dt.date
    unit: OrgUnit | None = None
    label: str = ""  # what to call the whole tree when there is no unit (the city's name)

    @property
    def start(self) -> dt.date:
        return self.period.start

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def unit_path(self) -> str:
        return self.unit.path if self.unit is not None else (self.label or "全部单位")

    @property
    def title(self) -> str:
        cut = "" if self.end == self.period.end else f"（截至{self.end.month}月{self.end.day}日）"
        return f"{self.unit_path} {self.period.label}{cut}"

    def attempts_cutoff(self) -> dt.datetime:
        """Attempts graded before the end of `end` in China count (as the rules count them)."""
        return attempts_cutoff(self.end)


def resolve_scope(session: Session, *, period: Period | str | None = None,
                  as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
                  today: dt.date | None = None) -> Scope:
    """Scope from what a user types. No period: the month of `as_of` (or today).

    The report runs to `as_of`, or to the period's end if that is earlier; without `as_of`,
    to today or the period's end. A period that has not started yet is an error.
    On PostgreSQL this also turns JIT off for the transaction: compiling these one-off
    aggregates cost more than running them (0.6 s of 1.2 s for the leaders report at 100k).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
    today = today or dt.date.today()
    if isinstance(period, str):
        try:
            period = Period.parse(period)
        except ValueError as exc:
            raise SafeTrainError(str(exc)) from None
    if period is None:
        period = Period.containing(as_of or today)
    end = min(period.end, as_of or today)
    if end < period.start:
        raise SafeTrainError(f"统计期 {period.label} 从 {period.start} 开始，"
                             f"截止日 {end} 早于它：请改 --period 或 --as-of")
    if isinstance(unit, str):
        unit = find_unit(session, unit)
    label = ""
    if unit is None:
        roots = session.scalars(select(OrgUnit.path).where(OrgUnit.parent_id.is_(None))
                                .limit(2)).all()
        label = roots[0] if len(roots) == 1 else ""
    return Scope(period, end, unit, label)


def as_scope(session: Session, scope: Scope | None, **kwargs: Any) -> Scope:
    return scope if scope is not None else resolve_scope(session, **kwargs)


# --------------------------------------------------------------------------- SQL helpers


def in_subtree(unit: OrgUnit) -> ColumnElement[bool]:
    """OrgUnit rows at or below `unit` (paths are unique, a child's starts with parent + '/')."""
    return (OrgUnit.id == unit.id) | OrgUnit.path.startswith(unit.path + PATH_SEP,
                                                             autoescape=True)


def tree(scope: Scope, name: str = "tree") -> CTE:
    """(unit_id, ancestor_id) for every unit in scope and each of its ancestors in scope."""
    base = select(OrgUnit.id.label("unit_id"), OrgUnit.id.label("ancestor_id"),
                  OrgUnit.parent_id.label("up_id"))
    if scope.unit is not None:
        base = base.where(in_subtree(scope.unit))
    cte = base.cte(name, recursive=True)
    parent = aliased(OrgUnit, name=f"{name}_parent")
    step = select(cte.c.unit_id, parent.id, parent.parent_id).join(parent, parent.id == cte.c.up_id)
    if scope.unit is not None:  # stop at the scope's root
        step = step.where(cte.c.ancestor_id != scope.unit.id)
    return cte.union_all(step)


def in_scope(column: Any, scope: Scope) -> ColumnElement[bool]:
    """`column` (a unit id) is in scope. No condition at all without a unit: SQLite would
    otherwise drive the join from org_unit and scan a table per unit."""
    if scope.unit is None:
        return true()
    return column.in_(select(OrgUnit.id).where(in_subtree(scope.unit)))


class days_between(FunctionElement[int]):  # noqa: N801 (reads like the SQL function it is)
    """Whole days from the second date to the first (later - earlier), in SQL."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(days_between)
def _days_between(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (f"CAST(julianday({compiler.process(later, **kw)}) - "
            f"julianday({compiler.process(earlier, **kw)}) AS INTEGER)")


def frame(session: Session, stmt: Any) -> pd.DataFrame:
    """Run a select and return its rows as a DataFrame with the select's column names."""
    result = session.execute(stmt)
    keys = list(result.keys())
    rows = result.all()
    if not rows:
        return pd.DataFrame(columns=keys)
    # Column by column: pandas builds a 100,000-row frame from lists far faster than from rows.
    return pd.DataFrame(dict(zip(keys, (list(c) for c in zip(*rows, strict=True)), strict=True)))


def units_frame(session: Session, scope: Scope) -> pd.DataFrame:
    """Units in scope in tree order: unit_id, 单位代码, 单位, 层级, level, parent_id."""
    stmt = select(OrgUnit.id, OrgUnit.code, OrgUnit.path, OrgUnit.level, OrgUnit.parent_id) \
        .order_by(OrgUnit.code)
    if scope.unit is not None:
        stmt = stmt.where(in_subtree(scope.unit))
    rows = session.execute(stmt).all()
    return pd.DataFrame({
        "unit_id": pd.Series([r.id for r in rows], dtype="int64"),
        "单位代码": pd.Series([r.code for r in rows], dtype=object),
        "单位": pd.Series([r.path for r in rows], dtype=object),
        "层级": pd.Series([r.level.label for r in rows], dtype=object),
        "level": pd.Series([int(r.level) for r in rows], dtype="int64"),
        "parent_id": pd.Series([r.parent_id for r in rows], dtype="Int64"),
    })


def pct(num: Any, den: Any) -> Any:
    """Percent with one decimal; empty (NaN) where there is nothing to divide by."""
    num = pd.Series(num, dtype="float64") if not isinstance(num, pd.Series) else num.astype(float)
    den = pd.Series(den, dtype="float64") if not isinstance(den, pd.Series) else den.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (100.0 * num / den.where(den > 0)).round(1)
    return out


def level_filter(df: pd.DataFrame, levels: Any) -> pd.DataFrame:
    """Keep rows whose 层级 is one of `levels` (UnitLevel values); all when None or no 层级."""
    if not levels or "层级" not in df:
        return df
    labels = {UnitLevel(int(v)).label for v in levels}
    return df[df["层级"].isin(labels)].reset_index(drop=True)


# --------------------------------------------------------------------------- column kinds


class Kind(enum.StrEnum):
    """How writers format and colour a column; decided by its (Chinese) name."""

    text = "text"
    count = "count"
    number = "number"
    rate = "rate"  # percent 0–100, shortfall when low
    share = "share"  # percent 0–100, shown plain (no target to fall short of)
    gap = "gap"  # percentage points, shortfall when negative
    attention = "attention"  # a count where anything above 0 is coming due
    shortfall = "shortfall"  # a count where anything above 0 needs action now
    flag = "flag"  # 是 = needs attention


# Below these a rate is coloured red / amber; a gap at or below GAP_RED points is red.
RATE_RED, RATE_AMBER = 60.0, 80.0
GAP_RED = -10.0

# Percentages with no target: drills this month (one a year is the rule), the share of
# leavers who had been trained (high is a fact to read, not a score).
_SHARE_WORDS = ("本期演练参与率", "离岗占比")
_ATTENTION_WORDS = ("天内到期", "即将到期")
_SHORTFALL_WORDS = ("已过期", "已撤销", "缺训", "缺席", "无签到", "逾期", "无演练数", "个月内离岗")
_COUNT_WORDS = ("人数", "人次", "场次", "次数", "项", "天数", "人", "次")


def column_kind(name: str, series: pd.Series | None = None) -> Kind:
    if series is not None and not pd.api.types.is_numeric_dtype(series):
        return Kind.flag if name.startswith("近") and name.endswith("无演练") else Kind.text
    if name.endswith("%"):
        return Kind.share if any(w in name for w in _SHARE_WORDS) else Kind.rate
    if "差距" in name:
        return Kind.gap
    if any(w in name for w in _ATTENTION_WORDS):
        return Kind.attention
    if any(w in name for w in _SHORTFALL_WORDS):
        return Kind.shortfall
    if series is not None and pd.api.types.is_integer_dtype(series):
        return Kind.count
    if any(name.endswith(w) for w in _COUNT_WORDS):
        return Kind.count
    return Kind.number
