"""Grades in the event log: each graded or regraded attempt, with the old and new result.

An attempt's subject is `attempt:<trainee>/<module>/<submission sha256>`; its payload holds
the result after the change (`state`) and before it (`old`, None for a first grading). The
audit compares every logged attempt with its row, so a score changed in the database
without the system shows up; attempts graded before the log existed (or recorded without
the secret) have no entry and are only counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.event_log import Kind, NewEvent, Problem, utc_iso
from records.instance import Instance
from records.models import Attempt

PREFIX = "attempt:"
_LABELS = {"module_version": "模块版本", "score": "得分", "max_score": "满分", "passed": "是否通过",
           "status": "状态", "graded_at": "评分时间"}


def keys_for(instance: Instance) -> tuple[bytes | None, Path | None]:
    """(secret, anchor path) to log grades with, or (None, None) before `safetrain init`."""
    from records.cert_codes import load_secret
    from records.event_log import anchor_path

    if not instance.secret_file.exists():
        return None, None
    return load_secret(instance.secret_file), anchor_path(instance.home)


def subject(trainee_id: str, module: str, sha256: str) -> str:
    return f"{PREFIX}{trainee_id}/{module}/{sha256}"


def attempt_state(attempt: Any) -> dict[str, Any]:
    """What the log records of an attempt's result (an Attempt or a row with its columns)."""
    status = attempt.status
    return {"module_version": attempt.module_version, "score": float(attempt.score),
            "max_score": float(attempt.max_score), "passed": bool(attempt.passed),
            "status": getattr(status, "value", status), "graded_at": utc_iso(attempt.graded_at)}


def grade_event(attempt: Attempt, old: dict[str, Any] | None) -> NewEvent:
    kind = Kind.grade_regraded if old is not None else Kind.grade_graded
    return NewEvent(kind, subject(attempt.trainee_id, attempt.module, attempt.submission_sha256),
                    {"state": attempt_state(attempt), "old": old})


def check_attempts(session: Session, logged: dict[str, str]) -> tuple[int, list[Problem]]:
    """Compare attempts with their last logged result; `logged` maps subject → payload.

    Returns (attempts without an entry, problems); removes what it saw from `logged`.
    """
    unlogged, problems = 0, []
    stmt = (select(Attempt.trainee_id, Attempt.module, Attempt.submission_sha256,
                   Attempt.module_version, Attempt.score, Attempt.max_score, Attempt.passed,
                   Attempt.status, Attempt.graded_at)
            .order_by(Attempt.id).execution_options(yield_per=5000))
    for row in session.execute(stmt):
        key = subject(row.trainee_id, row.module, row.submission_sha256)
        payload = logged.pop(key, None)
        if payload is None:
            unlogged += 1
            continue
        state, was = attempt_state(row), json.loads(payload)["state"]
        if state != was:
            changed = [n for n in _LABELS if state.get(n) != was.get(n)]
            shown = "；".join(f"{_LABELS[n]}：日志为「{was.get(n)}」，现为「{state.get(n)}」"
                             for n in changed)
            problems.append(Problem(f"{row.trainee_id} 的模块 {row.module} 成绩与日志不符"
                                    f"（{shown}）：成绩记录被改动。"))
    return unlogged, problems


def missing_attempts(logged: Iterable[str]) -> list[Problem]:
    return [Problem(f"成绩 {key.removeprefix(PREFIX)} 在日志中有记录，但数据库里已没有：成绩记录被删除。")
            for key in sorted(logged)]
