"""Certificates against the event log: every row must be the state its last entry recorded.

Each certificate event's payload holds the certificate's full state after the event
(`{"state": {...}}`), so a row changed behind the system's back (a revocation cleared, a
date moved, a row inserted or deleted) no longer matches the log. `check_certificate`
does this for one certificate (for `cert verify`); `audit` walks the whole chain, checks its
head and anchor, then every certificate (for `cert audit`).
"""

from __future__ import annotations

import datetime as dt
import enum
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from records import grade_log
from records.cert_codes import CertFields, Verdict, Verification, sign
from records.cert_codes import verify as verify_code
from records.event_log import (
    Anchor,
    ChainReport,
    Kind,
    NewEvent,
    Problem,
    check_ends,
    check_entries,
    walk,
)
from records.models import Certificate, Event, Person
from records.roles import Role

PREFIX = "cert:"
STATE_FIELDS = ("number", "code", "role", "unit_path", "holder_name", "issued_on", "valid_from",
                "valid_until", "renews", "revoked_on", "revoked_reason")
_LABELS = {"number": "证书编号", "code": "验证码", "role": "岗位", "unit_path": "单位",
           "holder_name": "姓名", "issued_on": "发证日期", "valid_from": "起始日期",
           "valid_until": "有效期至", "renews": "所续证书", "revoked_on": "撤销日期",
           "revoked_reason": "撤销原因"}


def subject(number: str) -> str:
    return PREFIX + number


def cert_state(values: Mapping[str, Any]) -> dict[str, Any]:
    """What the log records of a certificate; `renews` is the renewed certificate's number."""
    out: dict[str, Any] = {}
    for name in STATE_FIELDS:
        value = values.get(name)
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, enum.Enum):
            value = value.value
        out[name] = value
    return out


def state_of(cert: Certificate) -> dict[str, Any]:
    values = {name: getattr(cert, name) for name in STATE_FIELDS if name != "renews"}
    values["renews"] = cert.renews.number if cert.renews is not None else None
    return cert_state(values)


def cert_event(kind: Kind, state: Mapping[str, Any], **extra: Any) -> NewEvent:
    return NewEvent(kind, subject(str(state["number"])), {"state": dict(state), **extra})


def compare(number: str, row: Mapping[str, Any], logged: Mapping[str, Any],
            seq: int | None = None) -> Problem | None:
    """How a certificate row differs from its logged state, in Chinese (None: it doesn't)."""
    if dict(row) == dict(logged):
        return None
    if logged.get("revoked_on") and not row.get("revoked_on"):
        return Problem(f"证书 {number} 的撤销记录被清除：日志记载该证已于 {logged['revoked_on']} "
                       f"撤销（原因：{logged.get('revoked_reason')}），数据库里却显示未撤销。", seq)
    changed = [name for name in STATE_FIELDS if row.get(name) != logged.get(name)]
    shown = "；".join(f"{_LABELS[n]}：日志为「{logged.get(n) or '空'}」，现为「{row.get(n) or '空'}」"
                     for n in changed[:4])
    return Problem(f"证书 {number} 的记录与日志不符（{shown}）：证书记录被改动。", seq)


def _latest(entries: list[Event]) -> tuple[int, dict[str, Any]]:
    last = entries[-1]
    return last.seq, json.loads(last.payload)["state"]


def check_certificate(session: Session, secret: bytes, cert: Certificate, *,
                      anchor: Path | None = None) -> list[Problem]:
    """This certificate's log entries intact and linked, its row as last logged, the log's
    end as the anchor says."""
    entries = list(session.scalars(select(Event).where(Event.subject == subject(cert.number))
                                   .order_by(Event.seq)))
    problems = check_entries(session, secret, entries)
    if not entries:
        problems.append(Problem(f"证书 {cert.number} 在事件日志中没有签发记录："
                                "它不是经本系统签发的，或日志被删改。"))
    else:
        _, logged = _latest(entries)
        mismatch = compare(cert.number, state_of(cert), logged)
        if mismatch is not None:
            problems.append(mismatch)
    if anchor is not None:
        last = session.execute(select(Event.seq, Event.mac).order_by(Event.seq.desc())
                               .limit(1)).one_or_none()
        problems += check_ends(session, Anchor(*last) if last else Anchor(0, "0" * 64), anchor)
    return problems


def verify(session: Session, secret: bytes, code: str, *, today: dt.date,
           anchor: Path | None = None) -> Verification:
    """`records.cert_codes.verify` (the code), then the certificate against the log: a
    cleared revocation, an edited or inserted row, or a cut-off log make it `altered`."""
    result = verify_code(session, secret, code, today=today)
    if result.certificate is None:
        return result
    problems = check_certificate(session, secret, result.certificate, anchor=anchor)
    if not problems:
        return result
    found = "；".join(str(p) for p in problems)
    detail = f"{result.detail}；{found}" if result.verdict is Verdict.altered else found
    return Verification(Verdict.altered, result.code, result.certificate, detail=detail)


# --------------------------------------------------------------------------- audit


@dataclass
class AuditReport:
    entries: int = 0
    head: Anchor = field(default_factory=lambda: Anchor(0, "0" * 64))
    certificates: int = 0
    grades_logged: int = 0  # attempts with a log entry, all checked against their rows
    grades_unlogged: int = 0  # attempts graded before the log (or without the secret)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_broken(self) -> Problem | None:
        """The earliest broken link in the chain, else the first problem found."""
        linked = [p for p in self.problems if p.seq is not None]
        if linked:
            return min(linked, key=lambda p: p.seq or 0)
        return self.problems[0] if self.problems else None


def audit(session: Session, secret: bytes, *, anchor: Path | None) -> AuditReport:
    """The whole log (chain, head row, anchor), then every certificate and every logged
    grade against it."""
    chain = ChainReport()
    latest: dict[str, tuple[int, str]] = {}
    grades: dict[str, str] = {}
    for entry in walk(session, secret, chain):
        if entry.subject.startswith(PREFIX):
            latest[entry.subject[len(PREFIX):]] = (entry.seq, entry.payload)
        elif entry.subject.startswith(grade_log.PREFIX):
            grades[entry.subject] = entry.payload
    report = AuditReport(entries=chain.entries, head=chain.last, problems=chain.problems)
    report.problems += check_ends(session, chain.last, anchor)
    renewed = aliased(Certificate)
    stmt = (select(Certificate, Person.id_number, renewed.number.label("renews"))
            .join(Person, Person.id == Certificate.person_id)
            .outerjoin(renewed, renewed.id == Certificate.renews_id)
            .order_by(Certificate.id).execution_options(yield_per=2000))
    for cert, id_number, renews in session.execute(stmt):
        report.certificates += 1
        values = {name: getattr(cert, name) for name in STATE_FIELDS if name != "renews"}
        values["renews"] = renews
        fields = CertFields(cert.number, id_number, cert.holder_name, Role(cert.role),
                            cert.unit_path, cert.issued_on, cert.valid_from, cert.valid_until)
        if not hmac.compare_digest(sign(secret, fields), cert.code):
            report.problems.append(Problem(
                f"证书 {cert.number} 的姓名、身份证号、岗位、单位或日期与其验证码不符：证书记录被改动。"))
        logged = latest.pop(cert.number, None)
        if logged is None:
            report.problems.append(Problem(
                f"证书 {cert.number} 在事件日志中没有签发记录：它不是经本系统签发的，或日志被删改。"))
            continue
        mismatch = compare(cert.number, cert_state(values), json.loads(logged[1])["state"])
        if mismatch is not None:
            report.problems.append(mismatch)
    for number, (seq, _) in sorted(latest.items()):
        report.problems.append(Problem(
            f"证书 {number} 在日志中有记录（第 {seq} 条），但数据库里已没有这张证书：证书记录被删除。"))
    report.grades_logged = len(grades)
    report.grades_unlogged, problems = grade_log.check_attempts(session, grades)
    report.problems += problems + grade_log.missing_attempts(grades)
    return report


__all__ = ["AuditReport", "audit", "cert_event", "cert_state", "check_certificate", "compare",
           "state_of", "subject", "verify"]
