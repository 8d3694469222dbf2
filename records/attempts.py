"""Module attempts: what the autograder (or `nbgrader export`) found, kept in records;
how many a trainee has used and has left, and the extra attempts administrators grant.

What counts as an attempt: every submission with a row in `attempt`, whatever its status —
graded, timed out, or failed because of what was handed in (not a notebook, too large).
A grader-side failure is never recorded (the batch retries it), so it never counts.
Regrading the same submission updates its row and so uses no new attempt. Attempts of
every module version count. A module allows `max_attempts` from the curriculum plus the
sum of its grants for that trainee.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from records.cert_rules import LOCAL_TZ
from records.curriculum import Curriculum, Module
from records.errors import NotFound, SafeTrainError
from records.event_log import append
from records.grade_log import attempt_state, grade_event
from records.models import Attempt, AttemptGrant, AttemptStatus, Person

MAX_GRANT = 20  # per grant: a typo (200 for 2) must not lift the limit for good


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


def record_attempt(session: Session, facts: AttemptFacts, *, secret: bytes | None = None,
                   anchor: Path | None = None) -> Attempt:
    """Insert or update the attempt for this exact submission (same trainee, module, hash).

    With the instance `secret`, a changed result is logged (graded / regraded, old and new)
    in the event log, in the same transaction.
    """
    person = people_by_trainee_id(session, [facts.trainee_id]).get(facts.trainee_id)
    attempt = session.scalars(select(Attempt).where(
        Attempt.trainee_id == facts.trainee_id, Attempt.module == facts.module,
        Attempt.submission_sha256 == facts.submission_sha256)).one_or_none()
    old = attempt_state(attempt) if attempt is not None else None
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
    if secret is not None and attempt_state(attempt) != old:
        append(session, secret, [grade_event(attempt, old)], anchor=anchor)
    return attempt


# --------------------------------------------------------------------------- limits


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment is not None and moment.tzinfo is None else moment


def local_time(moment: dt.datetime | None) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if moment else ""


@dataclass(frozen=True)
class Allowance:
    """One trainee's attempts on one module: used, granted, left, and the cooldown."""

    trainee_id: str
    module: str
    max_attempts: int  # from the curriculum
    cooldown: dt.timedelta
    granted: int = 0
    used: int = 0
    last_submitted: dt.datetime | None = None  # latest attempt's submission (else grading) time
    last_graded: dt.datetime | None = None

    @property
    def allowed(self) -> int:
        return self.max_attempts + self.granted

    @property
    def left(self) -> int:
        return max(self.allowed - self.used, 0)

    @property
    def next_at(self) -> dt.datetime | None:
        """Earliest time a new submission may be graded (None: no previous attempt)."""
        if self.last_submitted is None or not self.cooldown:
            return None
        return self.last_submitted + self.cooldown

    def refusal(self, now: dt.datetime, *, cooldown: bool = True) -> str | None:
        """Why a new submission must not be graded at `now` (Chinese), or None."""
        if self.left <= 0:
            return (f"已用完 {self.allowed} 次评分机会（模块 {self.module}），本次提交不评分；"
                    f"如需再考，请管理员运行 safetrain attempts grant {self.trainee_id} "
                    f"{self.module} --count 1 --reason \"…\"")
        if cooldown and self.next_at is not None and now < self.next_at:
            hours = self.cooldown.total_seconds() / 3600
            return (f"距上次提交不足 {hours:g} 小时，暂不评分；"
                    f"{local_time(self.next_at)} 以后再运行评分时会评这份提交")
        return None

    def counted(self, submitted_at: dt.datetime | None, now: dt.datetime) -> Allowance:
        """The allowance once a new submission made at `submitted_at` is recorded at `now`."""
        return Allowance(self.trainee_id, self.module, self.max_attempts, self.cooldown,
                         self.granted, self.used + 1, submitted_at or now, now)


def allowances(session: Session, module: Module,
               trainee_ids: Iterable[str] | None = None) -> dict[str, Allowance]:
    """{trainee id: Allowance} for everyone with attempts or grants on `module`, plus
    `trainee_ids` (who may have neither yet). Two GROUP BY queries."""
    wanted = None if trainee_ids is None else sorted(set(trainee_ids))
    when = func.coalesce(Attempt.submitted_at, Attempt.graded_at)
    used = (select(Attempt.trainee_id, func.count().label("n"), func.max(when).label("last"),
                   func.max(Attempt.graded_at).label("graded"))
            .where(Attempt.module == module.id).group_by(Attempt.trainee_id))
    granted = (select(AttemptGrant.trainee_id, func.sum(AttemptGrant.count).label("n"))
               .where(AttemptGrant.module == module.id).group_by(AttemptGrant.trainee_id))
    if wanted is not None:
        used = used.where(Attempt.trainee_id.in_(wanted))
        granted = granted.where(AttemptGrant.trainee_id.in_(wanted))
    extra = {r.trainee_id: int(r.n) for r in session.execute(granted)}
    cooldown = dt.timedelta(hours=module.cooldown_hours)
    out = {t: Allowance(t, module.id, module.max_attempts, cooldown, extra.get(t, 0))
           for t in wanted or []}
    for r in session.execute(used):
        out[r.trainee_id] = Allowance(r.trainee_id, module.id, module.max_attempts, cooldown,
                                      extra.get(r.trainee_id, 0), int(r.n),
                                      _aware(_datetime(r.last)), _aware(_datetime(r.graded)))
    for trainee, n in extra.items():
        out.setdefault(trainee, Allowance(trainee, module.id, module.max_attempts, cooldown, n))
    return out


def trainee_allowances(session: Session, curriculum: Curriculum,
                       trainee_id: str) -> dict[str, Allowance]:
    """{module id: Allowance} for one trainee over every module of the curriculum."""
    when = func.coalesce(Attempt.submitted_at, Attempt.graded_at)
    used = {r.module: r for r in session.execute(
        select(Attempt.module, func.count().label("n"), func.max(when).label("last"),
               func.max(Attempt.graded_at).label("graded"))
        .where(Attempt.trainee_id == trainee_id).group_by(Attempt.module))}
    extra = dict(session.execute(
        select(AttemptGrant.module, func.sum(AttemptGrant.count))
        .where(AttemptGrant.trainee_id == trainee_id).group_by(AttemptGrant.module)).all())
    out = {}
    for m in curriculum.modules:
        r = used.get(m.id)
        out[m.id] = Allowance(
            trainee_id, m.id, m.max_attempts, dt.timedelta(hours=m.cooldown_hours),
            int(extra.get(m.id) or 0), int(r.n) if r else 0,
            _aware(_datetime(r.last)) if r else None, _aware(_datetime(r.graded)) if r else None)
    return out


def _datetime(value: dt.datetime | str | None) -> dt.datetime | None:
    # max(coalesce(...)) loses the column type on SQLite, which then returns the stored text
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def grant_attempts(session: Session, trainee_id: str, module: Module, count: int, reason: str,
                   *, by: str, at: dt.datetime | None = None) -> AttemptGrant:
    """Log `count` extra attempts on `module` for `trainee_id`. Every call is a new grant.

    The trainee must be in the roster or have attempts on the module (a mistyped login
    would otherwise be granted silently).
    """
    trainee_id = trainee_id.strip()
    reason = reason.strip()
    if not 1 <= count <= MAX_GRANT:
        raise SafeTrainError(f"追加次数应为 1 到 {MAX_GRANT} 之间的整数（当前：{count}）。")
    if not reason:
        raise SafeTrainError("请用 --reason 写明追加次数的原因（会记入日志）。")
    known = session.scalar(select(Person.id).where(Person.trainee_id == trainee_id))
    tried = session.scalar(select(Attempt.id).where(
        Attempt.trainee_id == trainee_id, Attempt.module == module.id).limit(1))
    if known is None and tried is None:
        raise NotFound(f"账号 {trainee_id} 不在花名册中，也没有模块 {module.id} 的提交记录；"
                       "请检查账号是否拼错。")
    grant = AttemptGrant(trainee_id=trainee_id, module=module.id, count=count, reason=reason,
                         granted_by=by, granted_at=at or dt.datetime.now(dt.UTC))
    session.add(grant)
    session.flush()
    return grant


GRANT_COLUMNS = ["时间", "账号", "姓名", "模块", "追加次数", "原因", "授权人"]


def grant_log(session: Session, *, trainee_id: str | None = None,
              module: str | None = None) -> pd.DataFrame:
    """Every grant, newest first, with the trainee's name when in the roster."""
    stmt = (select(AttemptGrant.granted_at, AttemptGrant.trainee_id, Person.name,
                   AttemptGrant.module, AttemptGrant.count, AttemptGrant.reason,
                   AttemptGrant.granted_by)
            .outerjoin(Person, Person.trainee_id == AttemptGrant.trainee_id)
            .order_by(AttemptGrant.granted_at.desc(), AttemptGrant.id.desc()))
    if trainee_id is not None:
        stmt = stmt.where(AttemptGrant.trainee_id == trainee_id.strip())
    if module is not None:
        stmt = stmt.where(AttemptGrant.module == module)
    rows = [(local_time(_aware(r.granted_at)), r.trainee_id, r.name or "（不在花名册）", r.module,
             r.count, r.reason, r.granted_by) for r in session.execute(stmt)]
    return pd.DataFrame(rows, columns=GRANT_COLUMNS)


USAGE_COLUMNS = ["账号", "姓名", "已用次数", "追加次数", "剩余次数", "下次可评分"]


def usage_table(session: Session, module: Module, *, now: dt.datetime | None = None,
                trainee_id: str | None = None) -> pd.DataFrame:
    """Attempts used and left per trainee on `module` (those with attempts or grants)."""
    now = now or dt.datetime.now(dt.UTC)
    found = allowances(session, module, [trainee_id] if trainee_id else None)
    if trainee_id:
        found = {trainee_id: found[trainee_id]}
    names = dict(session.execute(select(Person.trainee_id, Person.name)
                                 .where(Person.trainee_id.in_(list(found)))).all())
    rows = []
    for t in sorted(found):
        a = found[t]
        due = a.next_at if a.left and a.next_at and a.next_at > now else None
        rows.append((t, names.get(t, "（不在花名册）"), a.used, a.granted, a.left,
                     local_time(due) if due else ("" if a.left else "已用完")))
    return pd.DataFrame(rows, columns=USAGE_COLUMNS)
