"""Module attempts: what the autograder (or `nbgrader export`) found, kept in records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.models import Attempt, AttemptStatus, Person


@dataclass(frozen=True)
class AttemptFacts:
    trainee_id: str
    module: str
    module_version: str
    submission_sha256: str
    score: float
    max_score: float
    pass_mark: float  # percent
    status: AttemptStatus
    problems: list[str]
    submitted_at: dt.datetime | None
    graded_at: dt.datetime


def graded_hashes(session: Session, module: str) -> dict[str, set[str]]:
    """{trainee id: hashes of submissions already in records} for a module."""
    out: dict[str, set[str]] = {}
    for trainee_id, sha in session.execute(
        select(Attempt.trainee_id, Attempt.submission_sha256).where(Attempt.module == module)
    ):
        out.setdefault(trainee_id, set()).add(sha)
    return out


def people_by_trainee_id(session: Session, trainee_ids: list[str]) -> dict[str, Person]:
    if not trainee_ids:
        return {}
    people = session.scalars(select(Person).where(Person.trainee_id.in_(trainee_ids)))
    return {p.trainee_id: p for p in people}


def record_attempt(session: Session, facts: AttemptFacts) -> Attempt:
    """Insert or update the attempt for this exact submission (same trainee, module, hash)."""
    person = people_by_trainee_id(session, [facts.trainee_id]).get(facts.trainee_id)
    attempt = session.scalars(select(Attempt).where(
        Attempt.trainee_id == facts.trainee_id, Attempt.module == facts.module,
        Attempt.submission_sha256 == facts.submission_sha256)).one_or_none()
    if attempt is None:
        attempt = Attempt(trainee_id=facts.trainee_id, module=facts.module,
                          submission_sha256=facts.submission_sha256)
        session.add(attempt)
    percent = 100.0 * facts.score / facts.max_score if facts.max_score else 0.0
    problems = list(facts.problems)
    if person is None:
        problems.insert(0, "花名册中没有这个账号（成绩已记录，待补录人员）")
    attempt.person_id = person.id if person else None
    attempt.module_version = facts.module_version
    attempt.score = facts.score
    attempt.max_score = facts.max_score
    attempt.passed = facts.status is not AttemptStatus.failed and percent >= facts.pass_mark
    attempt.status = facts.status
    attempt.problems = "；".join(problems) or None
    attempt.submitted_at = facts.submitted_at
    attempt.graded_at = facts.graded_at
    session.flush()
    return attempt
