"""Reports: one module per report, each function `(session, *, period, as_of, unit, ...)`
returning a pandas DataFrame with Chinese headers and masked ID numbers.

    from records.reports import coverage, Period
    df = coverage.by_unit(session, period="2026-11", unit="0101")

| report         | functions                                        |
|----------------|--------------------------------------------------|
| coverage       | by_unit                                          |
| leaders        | by_unit, missed                                  |
| certificates   | by_unit, people                                  |
| statuses       | person_statuses (the rules' decision per person) |
| drills         | by_unit, by_type, overdue_actions                |
| onboarding     | people                                           |
| turnover       | by_unit, people                                  |
| spot_check     | sample                                           |
| monthly        | build → Bundle (all of the above + summary)      |

`REPORTS` lists them for the command line and the notebook panel: name → (title, parts),
each part a function taking the session and keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from records.reports import (
    certificates,
    coverage,
    drills,
    leaders,
    onboarding,
    spot_check,
    turnover,
)
from records.reports.base import Scope, resolve_scope
from records.reports.period import Period


@dataclass(frozen=True)
class Part:
    key: str
    title: str
    fn: Callable[..., pd.DataFrame]


@dataclass(frozen=True)
class ReportInfo:
    name: str
    title: str
    parts: tuple[Part, ...]


REPORTS: dict[str, ReportInfo] = {
    "coverage": ReportInfo("coverage", coverage.TITLE, (
        Part("units", "按单位逐级汇总", coverage.by_unit),)),
    "leaders": ReportInfo("leaders", leaders.TITLE, (
        Part("units", "按单位（最差在前）", leaders.by_unit),
        Part("named", leaders.MISSED_TITLE, leaders.missed))),
    "certificates": ReportInfo("certificates", certificates.TITLE, (
        Part("units", "按单位逐级汇总", certificates.by_unit),
        Part("people", "90 天内到期和已过期人员", certificates.people))),
    "drills": ReportInfo("drills", drills.TITLE, (
        Part("units", "按单位逐级汇总", drills.by_unit),
        Part("types", "类型与形式", drills.by_type),
        Part("actions", "逾期整改措施", drills.overdue_actions))),
    "onboarding": ReportInfo("onboarding", onboarding.TITLE, (
        Part("people", "新任人员", onboarding.people),)),
    "turnover": ReportInfo("turnover", turnover.TITLE, (
        Part("units", "按单位逐级汇总", turnover.by_unit),
        Part("people", "离岗人员", turnover.people))),
    "spot-check": ReportInfo("spot-check", spot_check.TITLE, (
        Part("sample", "抽查样本", spot_check.sample),)),
}

__all__ = ["REPORTS", "Part", "Period", "ReportInfo", "Scope", "certificates", "coverage",
           "drills", "leaders", "onboarding", "resolve_scope", "spot_check", "turnover"]
