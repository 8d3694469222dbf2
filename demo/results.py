"""The demo city's module results and certificates (with renewals, a few revoked), logged in
the event log as the register would have."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from demo.rows import LEADERS, SOURCE, Writer
from records.cert_audit import cert_event, cert_state
from records.cert_codes import CertFields, sign
from records.cert_rules import LOCAL_TZ, valid_until
from records.curriculum import Curriculum
from records.event_log import Kind, NewEvent, append
from records.models import Attempt, AttemptStatus, Certificate, Person, Post


def attempts_and_certificates(city: Any, curriculum: Curriculum, secret: bytes, seed: int,
                              anchor: Path | None = None) -> None:
    """Each person's module attempts and, for most who passed them all, certificates; the
    renewals linked and every certificate logged (issued or renewed, then any revoked)."""
    rng = city.rng
    people = city.session.execute(select(Person.id, Person.trainee_id, Person.name,
                                         Person.id_number)
                             .order_by(Person.id)).all()
    person = {p.id: p for p in people}
    current = city.session.execute(
        select(Post.id, Post.person_id, Post.unit_id, Post.role, Post.start_date)
        .where(Post.end_date.is_(None)).order_by(Post.person_id, Post.id)).all()
    numbers: dict[int, int] = defaultdict(int)
    for number in city.session.scalars(select(Certificate.number)):
        year, _, seq = number.partition("-")
        if year.isdigit() and seq.isdigit():
            numbers[int(year)] = max(numbers[int(year)], int(seq))
    renewals: list[tuple[str, str]] = []
    issued_events: list[NewEvent] = []
    revoked_events: list[NewEvent] = []
    seen: set[int] = set()
    for post in current:
        if post.person_id in seen:
            continue
        seen.add(post.person_id)
        p = person[post.person_id]
        passed_all = _module_attempts(city, p, post, curriculum, seed)
        if passed_all is None or rng.random() > 0.85:
            continue
        _certificates(city, p, post, passed_all, curriculum, secret, numbers, renewals,
                      issued_events, revoked_events)
    city.writer.flush()
    if renewals:  # link renewals to what they renew, now that both have ids
        cert_ids = dict(city.session.execute(select(Certificate.number, Certificate.id)).all())
        city.session.execute(update(Certificate), [
            {"id": cert_ids[new], "renews_id": cert_ids[old]} for new, old in renewals])
    append(city.session, secret, issued_events + revoked_events, anchor=anchor,
           actor=SOURCE)


def _module_attempts(city: Any, p: Any, post: Any, curriculum: Curriculum,
                     seed: int) -> dt.date | None:
    """The person's attempts at their required modules; the day all were passed, if so."""
    rng, end = city.rng, city.end
    leader = post.role in LEADERS
    diligence = rng.uniform(0.6, 0.98) if leader else rng.uniform(0.88, 1.0)
    pace = rng.choice((60, 90, 150, 300))  # days this person takes over the modules
    passed_all: dt.date | None = post.start_date
    # Modules that become required after the demo's last day are not taken yet: the
    # reports then show them as coming, and holders keep their certificates (grace).
    for module in curriculum.required_modules(post.role, on=end):
        took = post.start_date + dt.timedelta(days=rng.randrange(5, pace))
        if took > end or rng.random() > diligence:
            passed_all = None
            if took <= end and rng.random() < 0.5:  # tried and failed
                _attempt(city.writer, p, module, took, 55.0 + rng.random() * 20, False,
                         seed)
                city.report.attempts += 1
            continue
        if rng.random() < 0.15:  # failed once first
            _attempt(city.writer, p, module, took - dt.timedelta(days=7),
                     50.0 + rng.random() * 25, False, seed)
            city.report.attempts += 1
        _attempt(city.writer, p, module, took, 80.0 + rng.random() * 20, True, seed)
        city.report.attempts += 1
        if passed_all is not None:
            passed_all = max(passed_all, took)
    return passed_all


def _certificates(city: Any, p: Any, post: Any, passed_all: dt.date, curriculum: Curriculum,
                  secret: bytes, numbers: dict[int, int], renewals: list[tuple[str, str]],
                  issued_events: list[NewEvent], revoked_events: list[NewEvent]) -> None:
    """A first certificate after the modules (some dated from an earlier post), renewed in
    its window or left to lapse, now and then revoked; their events for the log."""
    rng, end = city.rng, city.end
    rule = curriculum.rule(post.role)
    unit = city.by_id[post.unit_id]
    start = passed_all + dt.timedelta(days=rng.randrange(10, 60))
    # Some first certificates date from an earlier post in the same role: lets some lapse.
    if rng.random() < 0.3:
        start -= dt.timedelta(days=rng.randrange(200, 900))
    issued, previous = start, None
    while start <= end and issued <= end:
        until = valid_until(start, rule.validity_years)
        numbers[issued.year] += 1
        number = f"{issued.year}-{numbers[issued.year]:06d}"
        fields = CertFields(number, p.id_number, p.name, post.role, unit.path, issued,
                            start, until)
        row = {"number": number, "code": sign(secret, fields), "person_id": p.id,
               "post_id": post.id, "role": post.role, "unit_id": unit.id,
               "holder_name": p.name, "unit_path": unit.path, "issued_on": issued,
               "valid_from": start, "valid_until": until, "renews_id": None,
               "basis": "演示数据", "revoked_on": None, "revoked_reason": None}
        state = {**row, "renews": previous}
        issued_events.append(cert_event(
            Kind.cert_renewed if previous else Kind.cert_issued, cert_state(state)))
        revoked = rng.random() < 0.004
        if revoked:
            row["revoked_on"] = min(end, start + dt.timedelta(days=rng.randrange(30, 300)))
            row["revoked_reason"] = "培训记录核查不实"
            revoked_events.append(cert_event(Kind.cert_revoked, cert_state(
                {**state, "revoked_on": row["revoked_on"],
                 "revoked_reason": row["revoked_reason"]})))
        city.writer.add(Certificate.__table__, row)
        city.report.certificates += 1
        if previous is not None:
            renewals.append((number, previous))
        if revoked or rng.random() > 0.7:
            break  # not renewed: lapses at `until`
        # Renewed within the window before expiry, valid from the day after.
        issued = max(start, until - dt.timedelta(days=rng.randrange(
            1, max(2, rule.renewal_window_days))))
        previous, start = number, until + dt.timedelta(days=1)


def _attempt(writer: Writer, p: Any, module: str, day: dt.date, score: float, passed: bool,
             seed: int) -> None:
    graded = dt.datetime.combine(day, dt.time(10, 0), LOCAL_TZ).astimezone(dt.UTC)
    writer.add(Attempt.__table__, {
        "trainee_id": p.trainee_id, "person_id": p.id, "module": module, "module_version": "1.0",
        "submission_sha256": f"demo{seed}-{p.id}-{module}-{day:%Y%m%d}-{int(passed)}",
        "score": round(score, 1), "max_score": 100.0, "passed": passed,
        "status": AttemptStatus.graded, "problems": None, "submitted_at": graded,
        "graded_at": graded})
