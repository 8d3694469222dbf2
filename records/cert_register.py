"""The certificate register: facts from the records → rules → issue, renew, revoke.

`gather` reads everything the rules need for every person in scope in set-based queries
(posts, post history and certificates here; attempts, hours and drills in records.cert_facts);
`records.cert_rules.evaluate` decides per person and role; `issue` writes the
certificates those decisions call for, in one bulk insert, in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from records import cert_facts, event_log, idcard
from records.cert_audit import cert_event, cert_state, state_of
from records.cert_codes import CertFields, sign
from records.cert_rules import (
    Action,
    CertRecord,
    CertStatus,
    Decision,
    Facts,
    Rule,
    basis_text,
    evaluate,
    rules_from,
)
from records.curriculum import Curriculum
from records.errors import NotFound, SafeTrainError
from records.models import Certificate, OrgUnit, Person, Post
from records.org import subtree_ids
from records.people import posts_held_on
from records.roles import Role


@dataclass(frozen=True)
class Held:
    """A post held on the day of evaluation, with its holder."""

    post_id: int
    person_id: int
    name: str
    id_number: str
    trainee_id: str
    unit_id: int
    unit_path: str
    role: Role
    start_date: dt.date


@dataclass(frozen=True)
class Evaluated:
    held: Held
    facts: Facts
    decision: Decision


def _scope(session: Session, as_of: dt.date, unit: OrgUnit | None,
           person: Person | None) -> Any:
    stmt = posts_held_on(as_of)
    if unit is not None:
        stmt = stmt.where(Post.unit_id.in_(subtree_ids(session, unit)))
    if person is not None:
        stmt = stmt.where(Post.person_id == person.id)
    return stmt.subquery()


def gather(session: Session, *, as_of: dt.date, unit: OrgUnit | None = None,
           person: Person | None = None) -> list[tuple[Held, Facts]]:
    """(post, facts) for every post held on `as_of` in scope; one person may hold two roles."""
    held_sq = _scope(session, as_of, unit, person)
    people = select(held_sq.c.person_id)
    held_rows = session.execute(
        select(held_sq.c.id, held_sq.c.person_id, held_sq.c.unit_id, held_sq.c.role,
               held_sq.c.start_date, Person.name, Person.id_number, Person.trainee_id,
               OrgUnit.path)
        .join(Person, Person.id == held_sq.c.person_id)
        .join(OrgUnit, OrgUnit.id == held_sq.c.unit_id)
        .order_by(OrgUnit.path, Person.name, held_sq.c.role, held_sq.c.start_date)
    ).all()
    if not held_rows:
        return []

    history: dict[tuple[int, Role], list[Any]] = defaultdict(list)
    for p in session.execute(select(Post.person_id, Post.role, Post.start_date, Post.end_date)
                             .where(Post.person_id.in_(people), Post.start_date <= as_of)):
        history[(p.person_id, p.role)].append(p)

    done = cert_facts.activity(session, sorted({r.person_id for r in held_rows}), as_of)

    certs: dict[tuple[int, Role], list[CertRecord]] = defaultdict(list)
    for c in session.execute(
        select(Certificate.id, Certificate.person_id, Certificate.role, Certificate.number,
               Certificate.valid_from, Certificate.valid_until, Certificate.revoked_on,
               Certificate.revoked_reason)
        .where(Certificate.person_id.in_(people), Certificate.issued_on <= as_of)
    ):
        certs[(c.person_id, c.role)].append(CertRecord(
            c.id, c.number, c.valid_from, c.valid_until, c.revoked_on, c.revoked_reason))

    out = []
    seen: set[tuple[int, Role]] = set()
    for r in held_rows:
        if (r.person_id, r.role) in seen:  # same role in two units at once: judged once
            continue
        seen.add((r.person_id, r.role))
        held = Held(r.id, r.person_id, r.name, r.id_number, r.trainee_id, r.unit_id, r.path,
                    r.role, r.start_date)
        facts = Facts(
            role_since=cert_facts.role_since(held.start_date, history[(r.person_id, r.role)]),
            modules=done.modules.get(r.person_id, {}),
            hours=round(done.hours.get(r.person_id, 0.0), 2),
            drills=done.drills.get(r.person_id, 0),
            certificates=tuple(certs.get((r.person_id, r.role), ())),
        )
        out.append((held, facts))
    return out


def evaluate_people(session: Session, curriculum: Curriculum, *, as_of: dt.date,
                    unit: OrgUnit | None = None, person: Person | None = None,
                    ) -> list[Evaluated]:
    rules = rules_from(curriculum)
    return [Evaluated(held, facts, evaluate(rules[held.role], facts, as_of))
            for held, facts in gather(session, as_of=as_of, unit=unit, person=person)]


def evaluation_frame(results: Sequence[Evaluated]) -> pd.DataFrame:
    """One row per person and role; ID numbers masked."""
    rows = []
    for e in results:
        d = e.decision
        cert = d.current
        rows.append((
            e.held.unit_path, e.held.name, idcard.mask(e.held.id_number), e.held.role.label,
            d.status.label, cert.number if cert else "",
            cert.valid_until.isoformat() if cert else "", e.facts.hours, e.facts.drills,
            "、".join(d.modules_missing), d.reason_text,
        ))
    return pd.DataFrame(rows, columns=["单位", "姓名", "身份证号", "角色", "状态", "证书编号",
                                       "有效期至", "近12个月学时", "近12个月演练", "未通过模块",
                                       "原因"])


# --------------------------------------------------------------------------- issue


@dataclass
class IssueReport:
    evaluated: int = 0
    issued: list[str] = field(default_factory=list)  # certificate numbers, new
    renewed: list[str] = field(default_factory=list)  # numbers of renewals
    by_status: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def numbers(self) -> list[str]:
        return self.issued + self.renewed


def _next_numbers(session: Session, year: int, count: int) -> list[str]:
    prefix = f"{year}-"
    taken = session.scalars(select(Certificate.number)
                            .where(Certificate.number.startswith(prefix))).all()
    last = max((int(n[len(prefix):]) for n in taken if n[len(prefix):].isdigit()), default=0)
    return [f"{prefix}{last + i:06d}" for i in range(1, count + 1)]


def issue(session: Session, curriculum: Curriculum, secret: bytes, *, as_of: dt.date,
          unit: OrgUnit | None = None, person: Person | None = None,
          anchor: Path | None = None) -> IssueReport:
    """Issue every certificate the rules call for on `as_of` (new ones and renewals).

    Re-running on the same day issues nothing more: the people just certified now hold a
    valid certificate (or a renewal starting after the current one). Each certificate gets
    an event-log entry in the same transaction (`anchor`: the instance's anchor file).
    """
    results = evaluate_people(session, curriculum, as_of=as_of, unit=unit, person=person)
    report = IssueReport(evaluated=len(results))
    for e in results:
        label = e.decision.status.label
        report.by_status[label] = report.by_status.get(label, 0) + 1
    due = [e for e in results if e.decision.action is not Action.none]
    if not due:
        return report
    rules = rules_from(curriculum)
    rows, events = [], []
    for e, number in zip(due, _next_numbers(session, as_of.year, len(due)), strict=True):
        d = e.decision
        assert d.valid_from is not None and d.valid_until is not None
        fields = CertFields(number, e.held.id_number, e.held.name, e.held.role,
                            e.held.unit_path, as_of, d.valid_from, d.valid_until)
        rows.append({
            "number": number, "code": sign(secret, fields), "person_id": e.held.person_id,
            "post_id": e.held.post_id, "role": e.held.role, "unit_id": e.held.unit_id,
            "holder_name": e.held.name, "unit_path": e.held.unit_path, "issued_on": as_of,
            "valid_from": d.valid_from, "valid_until": d.valid_until,
            "renews_id": d.renews.id if d.renews else None,
            "basis": basis_text(rules[e.held.role], e.facts),
        })
        renewal = d.action is Action.renew
        (report.renewed if renewal else report.issued).append(number)
        state = cert_state({**rows[-1], "renews": d.renews.number if d.renews else None})
        events.append(cert_event(event_log.Kind.cert_renewed if renewal
                                 else event_log.Kind.cert_issued, state))
    session.execute(insert(Certificate), rows)
    event_log.append(session, secret, events, anchor=anchor)
    return report


def find_certificate(session: Session, number: str) -> Certificate:
    cert = session.scalars(select(Certificate).where(
        Certificate.number == number.strip())).one_or_none()
    if cert is None:
        raise NotFound(f"没有编号为「{number}」的证书：请用 `safetrain cert list` 查看。")
    return cert


def _renewal_chain(session: Session, cert: Certificate) -> list[Certificate]:
    chain = [cert]
    while True:
        later = session.scalars(select(Certificate).where(
            Certificate.renews_id == chain[-1].id)).first()
        if later is None:
            return chain
        chain.append(later)


def revoke(session: Session, number: str, *, reason: str, on: dt.date, secret: bytes,
           anchor: Path | None = None) -> list[Certificate]:
    """Revoke a certificate and any renewal of it; returns those newly revoked.

    Revoking again changes nothing. After a revocation the rules ask for the required
    modules to be passed again before a new certificate is issued. Each revocation is
    logged in the same transaction.
    """
    reason = reason.strip()
    if not reason:
        raise SafeTrainError("撤销证书须写明原因（--reason）")
    cert = find_certificate(session, number)
    if on < cert.issued_on:
        raise SafeTrainError(f"撤销日期 {on} 早于发证日期 {cert.issued_on}")
    revoked = []
    for c in _renewal_chain(session, cert):
        if c.revoked_on is None:
            c.revoked_on, c.revoked_reason = on, reason
            revoked.append(c)
    session.flush()
    event_log.append(session, secret, [cert_event(event_log.Kind.cert_revoked, state_of(c))
                                       for c in revoked], anchor=anchor)
    return revoked


def reinstate(session: Session, number: str, *, reason: str, secret: bytes,
              anchor: Path | None = None) -> list[Certificate]:
    """Undo a revocation made in error: the certificate and the renewals revoked with it
    (same day, same reason) are in force again; logged with the reason. Returns those
    reinstated (none when it was not revoked)."""
    reason = reason.strip()
    if not reason:
        raise SafeTrainError("恢复证书须写明原因（--reason）")
    cert = find_certificate(session, number)
    if cert.revoked_on is None:
        return []
    was = (cert.revoked_on, cert.revoked_reason)
    restored = [c for c in _renewal_chain(session, cert)
                if (c.revoked_on, c.revoked_reason) == was]
    events = []
    for c in restored:
        c.revoked_on = c.revoked_reason = None
        events.append(cert_event(event_log.Kind.cert_reinstated, state_of(c), reason=reason,
                                 revoked_on=was[0], revoked_reason=was[1]))
    session.flush()
    event_log.append(session, secret, events, anchor=anchor)
    return restored


def list_certificates(session: Session, *, unit: OrgUnit | None = None,
                      person: Person | None = None, as_of: dt.date) -> pd.DataFrame:
    """The register, newest first, with each certificate's state on `as_of`."""
    stmt = (select(Certificate.number, Certificate.holder_name, Person.id_number,
                   Certificate.role, Certificate.unit_path, Certificate.issued_on,
                   Certificate.valid_from, Certificate.valid_until, Certificate.revoked_on,
                   Certificate.revoked_reason)
            .join(Person, Person.id == Certificate.person_id)
            .order_by(Certificate.issued_on.desc(), Certificate.number.desc()))
    if unit is not None:
        stmt = stmt.where(Certificate.unit_id.in_(subtree_ids(session, unit)))
    if person is not None:
        stmt = stmt.where(Certificate.person_id == person.id)
    rows = []
    for r in session.execute(stmt).all():
        if r.revoked_on is not None and r.revoked_on <= as_of:
            state = f"已撤销（{r.revoked_on}：{r.revoked_reason}）"
        elif as_of < r.valid_from:
            state = "尚未生效（续证）"
        elif as_of > r.valid_until:
            state = "已过期"
        else:
            state = "有效"
        rows.append((r.number, r.holder_name, idcard.mask(r.id_number), r.role.label,
                     r.unit_path, r.issued_on.isoformat(), r.valid_from.isoformat(),
                     r.valid_until.isoformat(), state))
    return pd.DataFrame(rows, columns=["证书编号", "姓名", "身份证号", "角色", "单位", "发证日期",
                                       "起始日期", "有效期至", "状态"])


def pdf_context(curriculum: Curriculum, cert: Certificate) -> dict[str, Any]:
    """Module titles and the figures at issue, for `writers.certificate.render_pdf`."""
    rule = Rule.from_curriculum(curriculum, cert.role)
    hours = drills = ""
    for part in (cert.basis or "").split("；"):
        if part.startswith("近12个月培训"):
            hours = part.replace("近12个月培训", "近12个月参加安全培训")
        elif part.startswith("参加演练"):
            drills = part.replace("参加演练", "参加应急演练")
    return {"modules": [m.title for m in rule.modules], "hours": hours, "drills": drills}


__all__ = ["CertStatus", "Evaluated", "Held", "IssueReport", "evaluate_people",
           "evaluation_frame", "find_certificate", "gather", "issue", "list_certificates",
           "pdf_context", "reinstate", "revoke"]
