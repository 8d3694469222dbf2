"""Attempts in records (SQLite and PostgreSQL): one row per submission, pass mark, unknowns."""

import datetime as dt

from sqlalchemy import func, select

from demo import city as demo_city
from records.attempts import AttemptFacts, graded_hashes, record_attempt
from records.models import Attempt, AttemptStatus, Person

NOW = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def facts(trainee: str, sha: str = "a" * 64, score: float = 30, status=AttemptStatus.graded):
    return AttemptFacts(trainee_id=trainee, module="rescue-fire", module_version="1.0",
                        submission_sha256=sha, score=score, max_score=34, pass_mark=80,
                        status=status, problems=[], submitted_at=NOW, graded_at=NOW)


def test_attempts_link_people_apply_the_pass_mark_and_flag_unknowns(session):
    demo_city.load(session, demo_city.generate(30, seed=2))
    trainee = session.scalars(select(Person.trainee_id)).first()
    known = record_attempt(session, facts(trainee, score=28))  # 82% ≥ 80%
    unknown = record_attempt(session, facts("nobody", score=20))
    assert known.person is not None and known.passed and known.problems is None
    assert unknown.person is None and not unknown.passed
    assert "花名册中没有这个账号" in unknown.problems


def test_same_submission_updates_a_changed_one_adds(session):
    record_attempt(session, facts("amy", score=10))
    record_attempt(session, facts("amy", score=34))  # regrade of the same notebook
    record_attempt(session, facts("amy", sha="b" * 64, score=20))  # resubmission
    rows = sorted(session.execute(select(Attempt.submission_sha256, Attempt.score)).all())
    assert [tuple(r) for r in rows] == [("a" * 64, 34.0), ("b" * 64, 20.0)]
    assert graded_hashes(session, "rescue-fire") == {"amy": {"a" * 64, "b" * 64}}


def test_failed_submissions_never_pass(session):
    failed = record_attempt(session, facts("bob", score=34, status=AttemptStatus.failed))
    assert not failed.passed
    assert session.scalar(select(func.count()).select_from(Attempt)) == 1
