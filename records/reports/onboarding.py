"""New inspectors (or other roles): days in post, required modules passed, deadline status.

"New" is anyone whose unbroken run in the role began within `within_days` of the report's
last day (a move between units keeps the run, as the rules do). The deadline and the
missing modules are the certification rules' (`onboarding_days` in curriculum.yml), read
from the same decisions as the other reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
from sqlalchemy.orm import Session

from records.curriculum import Curriculum, load_curriculum
from records.models import OrgUnit
from records.reports.base import Scope, as_scope
from records.reports.period import Period
from records.reports.statuses import RECENT_DAYS, person_statuses, with_names
from records.roles import Role

TITLE = "新任人员岗前培训"
COLUMNS = ["单位", "姓名", "身份证号", "岗位", "任职日期", "在岗天数", "必修模块通过",
           "未通过模块", "岗前期限", "期限状态", "逾期天数"]


def people(session: Session, *, period: Period | str | None = None,
           as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
           roles: Sequence[Role] = (Role.inspector,), within_days: int = 365,
           curriculum: Curriculum | None = None, statuses: pd.DataFrame | None = None,
           scope: Scope | None = None) -> pd.DataFrame:
    """One row per new person: overdue first (longest overdue), then nearest deadline."""
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    curriculum = curriculum or load_curriculum()
    if statuses is None:
        statuses = person_statuses(session, scope=scope, curriculum=curriculum,
                                   new_roles=tuple(roles),
                                   recent_days=max(within_days, RECENT_DAYS))
    wanted = {r.value for r in roles}
    # "none": not evaluated (not new within the frame's window): cannot be listed here.
    s = statuses[statuses["role"].isin(wanted) & (statuses["status"] != "none")].copy()
    if s.empty:
        return pd.DataFrame(columns=COLUMNS)
    day = scope.end
    s["days"] = s["role_since"].map(lambda d: (day - d).days)
    s["missing"] = s["modules_missing"].map(lambda m: [x for x in m.split(",") if x])
    # None where there is no deadline (a plain map would turn a mix into floats and NaN).
    s["late"] = pd.Series([(day - d).days if isinstance(d, dt.date) else None
                           for d in s["deadline"]], index=s.index, dtype=object)
    s = s[s["days"] <= within_days].copy()
    if s.empty:
        return pd.DataFrame(columns=COLUMNS)
    s = with_names(session, s)
    required = {r: curriculum.required_modules(Role(r), on=day) for r in wanted}
    titles = {m.id: m.title for m in curriculum.modules}

    def state(row: pd.Series) -> str:
        if not row["missing"]:
            return "已完成"
        if row["late"] is None:
            return "未设期限"
        late = int(row["late"])
        return f"逾期 {late} 天" if late > 0 else f"剩余 {-late} 天"

    s["n_req"] = s["role"].map(lambda r: len(required[r]))
    s["passed"] = [f"{n - len(m)}/{n}" for n, m in zip(s["n_req"], s["missing"], strict=True)]
    s["state"] = s.apply(state, axis=1)
    # Order: overdue (longest first), then in progress (nearest deadline), then done.
    s["rank"] = [0 if m and late is not None and late > 0 else (1 if m else 2)
                 for m, late in zip(s["missing"], s["late"], strict=True)]
    s["key"] = [-(late or 0) if rank == 0 else (late or 0) * -1 if rank == 1 else days
                for rank, late, days in zip(s["rank"], s["late"], s["days"], strict=True)]
    s = s.sort_values(["rank", "key", "unit_path", "name"])
    return pd.DataFrame({
        "单位": s["unit_path"], "姓名": s["name"], "身份证号": s["id_masked"],
        "岗位": s["role"].map(lambda r: Role(r).label),
        "任职日期": s["role_since"].map(dt.date.isoformat),
        "在岗天数": s["days"].astype("int64"),
        "必修模块通过": s["passed"],
        "未通过模块": s["missing"].map(lambda m: "、".join(titles.get(x, x) for x in m)),
        "岗前期限": s["deadline"].map(lambda d: d.isoformat() if isinstance(d, dt.date) else ""),
        "期限状态": s["state"],
        "逾期天数": s["late"].map(lambda x: x if x is not None and x > 0 else 0).astype("int64"),
    }).reset_index(drop=True)
