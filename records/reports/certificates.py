"""Certificates expiring in the next 30/60/90 days, lapsed and revoked, by unit.

Who holds what is decided by the certification rules, never re-derived here:
`records.reports.statuses.person_statuses` runs them once for everyone in scope and keeps
the decision per person and role; coverage and onboarding read the same frame.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from records.cert_rules import CertStatus
from records.curriculum import Curriculum
from records.models import OrgUnit
from records.reports.base import UNIT_COLUMNS, Scope, as_scope, frame, pct, tree, units_frame
from records.reports.period import Period
from records.reports.statuses import person_statuses, with_names
from records.roles import Role

TITLE = "证书到期与过期"
BUCKETS = (30, 60, 90)
CERTIFIED = (CertStatus.issued.value, CertStatus.expiring.value)


def cert_flags(statuses: pd.DataFrame) -> pd.DataFrame:
    """Per person and role: certified (holds a certificate valid on the day), due within
    30/60/90 days (not yet renewed), lapsed and revoked (the rules' statuses)."""
    s = statuses
    current = s["status"].isin(CERTIFIED) & s["days_left"].notna()
    due = current & ~s["renewed"].astype(bool)
    flags = pd.DataFrame({"person_id": s["person_id"], "unit_id": s["unit_id"]})
    flags["certified"] = current
    for days in BUCKETS:
        flags[f"due{days}"] = due & (s["days_left"].fillna(10**6) <= days)
    flags["lapsed"] = s["status"] == CertStatus.lapsed.value
    flags["revoked"] = s["status"] == CertStatus.revoked.value
    return flags


def rollup_people(session: Session, scope: Scope, flags: pd.DataFrame,
                  names: dict[str, str]) -> pd.DataFrame:
    """Distinct people per unit and ancestor for each boolean column of `flags`.

    `flags` has person_id, unit_id and boolean columns; the tree comes from SQL (a
    person's decision is made in Python by the rules, so these counts are made here).
    """
    t = tree(scope)
    links = frame(session, select(t.c.unit_id, t.c.ancestor_id))
    merged = flags.merge(links, on="unit_id")
    if merged.empty:
        return pd.DataFrame({"unit_id": pd.Series(dtype="int64")})
    parts = {"在岗人数": merged.groupby("ancestor_id")["person_id"].nunique()}
    for column, label in names.items():
        parts[label] = merged[merged[column]].groupby("ancestor_id")["person_id"].nunique()
    return pd.DataFrame(parts).rename_axis("unit_id").reset_index()


def by_unit(session: Session, *, period: Period | str | None = None,
            as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
            curriculum: Curriculum | None = None, statuses: pd.DataFrame | None = None,
            scope: Scope | None = None) -> pd.DataFrame:
    """Per unit (rolled up the tree): certified, expiring within 30/60/90 days, lapsed.

    Expiring counts are cumulative (60 includes 30) and leave out certificates already
    renewed. 已过期 and 已撤销 are the rules' lapsed and revoked.
    """
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    if statuses is None:
        statuses = person_statuses(session, scope=scope, curriculum=curriculum)
    names = {"certified": "持证人数", **{f"due{d}": f"{d}天内到期" for d in BUCKETS},
             "lapsed": "已过期", "revoked": "已撤销"}
    counts = rollup_people(session, scope, cert_flags(statuses), names)
    units = units_frame(session, scope)
    out = units.merge(counts, on="unit_id", how="left")
    count_columns = ["在岗人数", *names.values()]
    for column in count_columns:
        if column not in out:
            out[column] = 0
        out[column] = out[column].fillna(0).astype("int64")
    out["持证率%"] = pct(out["持证人数"], out["在岗人数"])
    columns = [*UNIT_COLUMNS, "在岗人数", "持证人数", "持证率%",
               *(f"{d}天内到期" for d in BUCKETS), "已过期", "已撤销"]
    return out[columns]


def people(session: Session, *, period: Period | str | None = None,
           as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
           curriculum: Curriculum | None = None, statuses: pd.DataFrame | None = None,
           scope: Scope | None = None, within: int = BUCKETS[-1]) -> pd.DataFrame:
    """Named: certificates ending within `within` days (not yet renewed), and lapsed ones.

    Most urgent first; ID numbers masked.
    """
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    if statuses is None:
        statuses = person_statuses(session, scope=scope, curriculum=curriculum)
    columns = ["单位", "姓名", "身份证号", "岗位", "证书编号", "有效期至", "剩余天数", "状态"]
    s = statuses
    f = cert_flags(s)
    due = f["certified"] & f[f"due{BUCKETS[-1]}"] & (s["days_left"].fillna(10**6) <= within)
    chosen = s[due | f["lapsed"]].copy()
    if chosen.empty:
        return pd.DataFrame(columns=columns)
    chosen = with_names(session, chosen)
    lapsed_days = chosen["expired_on"].map(
        lambda d: (scope.end - d).days if isinstance(d, dt.date) else None)
    chosen["状态"] = [
        f"已过期 {int(late)} 天" if status == CertStatus.lapsed.value else
        next(f"{b}天内到期" for b in BUCKETS if left <= b)
        for status, left, late in zip(chosen["status"], chosen["days_left"].fillna(0),
                                      lapsed_days, strict=True)
    ]
    # Expiring soonest first (still time to renew), then the most recently lapsed.
    chosen["sort"] = chosen["days_left"].astype("float").fillna(1e6) \
        + lapsed_days.astype("float").fillna(0).to_numpy()
    chosen = chosen.sort_values(["sort", "unit_path", "name"])
    out = pd.DataFrame({
        "单位": chosen["unit_path"], "姓名": chosen["name"], "身份证号": chosen["id_masked"],
        "岗位": chosen["role"].map(lambda r: Role(r).label),
        "证书编号": chosen["cert_number"].fillna(""),
        "有效期至": chosen["valid_until"].map(lambda d: d.isoformat() if d else ""),
        "剩余天数": chosen["days_left"].astype("Int64"), "状态": chosen["状态"],
    })
    return out.reset_index(drop=True)
