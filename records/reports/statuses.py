"""Each person's certification status for the reports, consistent with the rules.

Asking the rules (`records.cert_rules.evaluate`) about all 100,000 people of a city
costs seconds in Python, most of it for people whose answer only depends on their
certificates. So:
- someone holding a certificate valid on the day (or a renewal already issued) is
  `issued`, or `expiring` when it ends within the role's renewal window and is not yet
  renewed: the first branch of `evaluate`, read from the certificate rows with the
  window from curriculum.yml;
- everyone else who ever held a certificate in the role (lapsed, revoked or eligible
  again: this depends on modules, hours and drills) and everyone new in a role listed in
  `new_roles` (onboarding deadlines) is decided by `evaluate` itself, on the facts
  `records.cert_facts` gathers (the same path as the register's);
- the rest never held a certificate: status "none" (not certified), the rules not asked.
`tests/test_reports_statuses.py` checks that this gives the register's decisions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import pandas as pd
from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from records import idcard
from records.cert_facts import activity, among, chunks, role_since
from records.cert_rules import (
    CertRecord,
    CertStatus,
    Facts,
    evaluate,
    rules_from,
)
from records.curriculum import Curriculum, load_curriculum
from records.models import (
    Certificate,
    OrgUnit,
    Person,
    Post,
)
from records.people import posts_held_on
from records.reports.base import Scope, as_scope, frame, in_scope
from records.reports.period import Period
from records.roles import Role

RECENT_DAYS = 365
COLUMNS_BASE = ["person_id", "unit_id", "role", "status", "role_since", "cert_number",
                "valid_until", "days_left", "renewed", "expired_on", "modules_missing",
                "deadline"]


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce")


def _as_date(value: Any) -> dt.date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def person_statuses(session: Session, *, scope: Scope | None = None,
                    curriculum: Curriculum | None = None, period: Period | str | None = None,
                    as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
                    new_roles: tuple[Role, ...] = (Role.inspector,),
                    recent_days: int = RECENT_DAYS, names: bool = False,
                    part: tuple[int, int] | None = None) -> pd.DataFrame:
    """One row per person and role in post on the scope's last day (see the module doc).

    status is a CertStatus value, or "none" (never certified in the role, not new in a
    role of `new_roles` within `recent_days`); days_left counts to the end of the
    certificate valid that day; renewed: a renewal starting later is already issued;
    modules_missing and deadline come with the rules' decisions. `names` adds name,
    id_masked and unit_path (or call `with_names` on the rows you list). `part` (i, n)
    keeps the people whose id % n == i, so n processes can share the work.
    """
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    curriculum = curriculum or load_curriculum()
    rules = rules_from(curriculum)
    day = scope.end
    today = pd.Timestamp(day)
    posts = posts_held_on(day).where(in_scope(Post.unit_id, scope))
    if part is not None:
        posts = posts.where(Post.person_id % part[1] == part[0])
    held_sq = posts.subquery("held")
    people = select(held_sq.c.person_id)

    held = _held(session, held_sq, people, day)
    if held.empty:
        return _empty(names)

    certs = frame(session, (
        select(Certificate.id, Certificate.person_id,
               cast(Certificate.role, String).label("role"), Certificate.number,
               Certificate.valid_from, Certificate.valid_until, Certificate.revoked_on,
               Certificate.revoked_reason)
        .where(Certificate.person_id.in_(people), Certificate.issued_on <= day)))
    key = ["person_id", "role"]
    frm, until, revoked = (_dates(certs[c]) for c in ("valid_from", "valid_until", "revoked_on"))
    live = revoked.isna() | (revoked > today)
    current = (certs[live & (frm <= today) & (until >= today)]
               .sort_values(["valid_from", "id"]).drop_duplicates(key, keep="last")
               [[*key, "number", "valid_until"]].rename(columns={"number": "cert_number"}))
    renewed = certs[live & (frm > today)][key].drop_duplicates().assign(renewed=True)
    ever = certs[key].drop_duplicates().assign(ever=True)
    out = (held.merge(current, on=key, how="left").merge(renewed, on=key, how="left")
           .merge(ever, on=key, how="left"))
    out["renewed"] = out["renewed"].fillna(False).astype(bool)
    out["ever"] = out["ever"].fillna(False).astype(bool)
    has_current = out["cert_number"].notna()
    out["days_left"] = (_dates(out["valid_until"]) - today).dt.days.astype("Int64")
    window = out["role"].map({r.value: rules[r].renewal_window_days for r in Role})
    expiring = has_current & ~out["renewed"] & (out["days_left"] < window)
    out["status"] = "none"
    out.loc[has_current | out["renewed"], "status"] = CertStatus.issued.value
    out.loc[expiring.fillna(False).astype(bool), "status"] = CertStatus.expiring.value
    out["expired_on"] = None
    out["modules_missing"] = ""
    out["deadline"] = None
    new = out["role"].isin([r.value for r in new_roles]) & \
        (_dates(out["role_since"]) >= today - pd.Timedelta(days=recent_days))
    ask = (out["status"] == "none") & (out["ever"] | new)
    if ask.any():
        _ask_the_rules(session, scope, rules, out, ask, certs)
    out = out[COLUMNS_BASE]
    return with_names(session, out) if names else out


def _held(session: Session, held_sq: Any, people: Any, day: dt.date) -> pd.DataFrame:
    """The posts held on `day` (one per person and role) with since when the role is held."""
    held = frame(session, (
        select(held_sq.c.person_id, held_sq.c.unit_id,
               cast(held_sq.c.role, String).label("role"), held_sq.c.start_date)
        .join(Person, Person.id == held_sq.c.person_id)
        .join(OrgUnit, OrgUnit.id == held_sq.c.unit_id)
        .order_by(OrgUnit.path, Person.name, held_sq.c.role, held_sq.c.start_date)))
    # Same role in two units at once: judged once, in the first unit, as the register does.
    held = held.drop_duplicates(["person_id", "role"]).reset_index(drop=True)
    if held.empty:
        return held
    held["role_since"] = held["start_date"]
    history: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for p in session.execute(
            select(Post.person_id, cast(Post.role, String).label("role"), Post.start_date,
                   Post.end_date)
            .where(Post.person_id.in_(people), Post.start_date <= day,
                   Post.end_date.is_not(None))):
        history[(p.person_id, p.role)].append(p)
    if history:  # an earlier post in the same role, ending the day before, continues the run
        keys = list(zip(held["person_id"], held["role"], strict=True))
        held["role_since"] = [
            role_since(start, history[key]) if key in history else start
            for key, start in zip(keys, held["start_date"], strict=True)]
    return held


def _ask_the_rules(session: Session, scope: Scope, rules: dict[Role, Any], out: pd.DataFrame,
                   ask: pd.Series, certs: pd.DataFrame) -> None:
    """evaluate() for the rows of `out` marked in `ask`, on the facts of records.cert_facts
    (as the register's); writes the decisions into `out`."""
    day = scope.end
    rows = out[ask]
    ids = sorted(set(rows["person_id"].tolist()))
    done = activity(session, ids, day)
    records: dict[tuple[int, str], list[CertRecord]] = defaultdict(list)
    wanted = set(ids)
    for c in certs[certs["person_id"].isin(wanted)].itertuples(index=False):
        records[(c.person_id, c.role)].append(CertRecord(
            c.id, c.number, c.valid_from, c.valid_until, _as_date(c.revoked_on),
            c.revoked_reason if isinstance(c.revoked_reason, str) else None))
    decided = []
    for index, person_id, role, since in zip(rows.index, rows["person_id"], rows["role"],
                                             rows["role_since"], strict=True):
        mine = tuple(records.get((person_id, role), ()))
        facts = Facts(role_since=since, modules=done.modules.get(person_id, {}),
                      hours=round(float(done.hours.get(person_id, 0.0)), 2),
                      drills=int(done.drills.get(person_id, 0)), certificates=mine)
        d = evaluate(rules[Role(role)], facts, day)
        cert, expired_on = d.current, None
        if d.status is CertStatus.lapsed:  # show the certificate that ran out
            cert = max((c for c in mine if c.valid_from <= day),
                       key=lambda c: (c.valid_until, c.id), default=None)
            expired_on = cert.valid_until if cert else None
        decided.append((index, d.status.value, cert.number if cert else None,
                        cert.valid_until if cert else None,
                        (d.current.valid_until - day).days if d.current else None, expired_on,
                        ",".join(d.modules_missing), d.deadline))
    done = pd.DataFrame(decided, columns=["index", "status", "cert_number", "valid_until",
                                          "days_left", "expired_on", "modules_missing",
                                          "deadline"]).set_index("index")
    for column in done.columns:
        values = done[column].astype("Int64") if column == "days_left" else done[column]
        out[column] = out[column].astype(object)
        out.loc[done.index, column] = values.astype(object)
    out["days_left"] = out["days_left"].astype("Int64")


def with_names(session: Session, df: pd.DataFrame) -> pd.DataFrame:
    """`df` (person_id, unit_id, ...) with name, id_masked (masked ID) and unit_path."""
    out = df.copy()
    if out.empty:
        return out.assign(name=pd.Series(dtype=object), id_masked=pd.Series(dtype=object),
                          unit_path=pd.Series(dtype=object))
    dialect = session.get_bind().dialect.name
    people: dict[int, tuple[str, str]] = {}
    for chunk in chunks(sorted(set(out["person_id"].tolist())), 1000):
        people.update((r[0], (r[1], r[2])) for r in session.execute(
            select(Person.id, Person.name, Person.id_number).where(
                among(Person.id, chunk, dialect))))
    paths = dict(session.execute(select(OrgUnit.id, OrgUnit.path).where(
        among(OrgUnit.id, sorted(set(out["unit_id"].tolist())), dialect))).all())
    out["name"] = out["person_id"].map(lambda p: people[p][0])
    out["id_masked"] = out["person_id"].map(lambda p: idcard.mask(people[p][1]))
    out["unit_path"] = out["unit_id"].map(paths)
    return out


def _empty(names: bool) -> pd.DataFrame:
    columns = COLUMNS_BASE + (["name", "id_masked", "unit_path"] if names else [])
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    out["days_left"] = out["days_left"].astype("Int64")
    return out
