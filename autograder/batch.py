"""`safetrain grade`: grade every new submission of a module, in parallel, resumably.

Resumable by construction: the ledger is the records database. A submission counts as done
only when its attempt row is committed (one transaction per submission), so after a crash
or `kill -9` the same command grades exactly the submissions without an attempt; a second
run with nothing new grades nothing; a changed resubmission has a new hash and is graded.

Attempt limits (curriculum `max_attempts`, `cooldown_hours`; see `records.attempts`): a new
submission beyond the trainee's allowance, or made while the cooldown after their previous
submission runs, is not graded and not recorded; the batch reports it per trainee, and a
later run grades it once the cooldown is over (or a grant allows it). Regrading a recorded
submission uses no attempt. A submission without a time (no timestamp.txt: placed into
submitted/ by an administrator; `--from` and the exchange always give one) has no cooldown.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sqlalchemy import Engine

from autograder import exchange_intake, handin, submissions, tasks
from autograder.executors import DaskExecutor, LocalExecutor, make_executor
from autograder.limits import Limits
from autograder.tasks import GradeResult, GradeTask
from records import db, grade_log
from records.attempts import (
    Allowance,
    AttemptFacts,
    allowances,
    graded_hashes,
    people_by_trainee_id,
    record_attempt,
)
from records.curriculum import Module, courses_dir, load_curriculum
from records.instance import Instance
from records.models import AttemptStatus

log = logging.getLogger(__name__)


@dataclass
class BatchOptions:
    module: str
    source: str | None = None  # None: what is already in submitted/; "exchange"; a folder or zip
    workers: int = os.cpu_count() or 2
    executor: str = "local"
    limits: Limits = Limits()
    regrade: bool = False
    students: list[str] | None = None
    sandboxed: bool = True
    feedback: bool = True
    now: dt.datetime | None = None  # the clock for limits and records (tests, replays)

    def clock(self) -> dt.datetime:
        return self.now or dt.datetime.now(dt.UTC)


@dataclass
class BatchResult:
    module: str
    found: int = 0  # submissions present for the module
    results: list[GradeResult] = field(default_factory=list)
    skipped: int = 0  # already graded, unchanged
    unknown: set[str] = field(default_factory=set)  # not in the roster
    resubmitted: set[str] = field(default_factory=set)
    retry_later: set[str] = field(default_factory=set)  # grader-side failures, not recorded
    # Not graded, not recorded, said why in Chinese: {trainee: reason}
    over_limit: dict[str, str] = field(default_factory=dict)  # no attempts left
    cooling_down: dict[str, str] = field(default_factory=dict)  # graded by a later run

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


Progress = Callable[[int, int, GradeResult | None], None]


def check_sandbox(sandboxed: bool, limits: Limits | None = None) -> None:
    """Fail closed before anything is graded: bwrap, the cgroup controllers and a kernel
    interpreter the sandbox uid can run must all be there (SandboxUnavailable, exit 5)."""
    if not sandboxed:
        return
    from autograder.sandbox_host import require

    require(limits)


def grade_batch(instance: Instance, options: BatchOptions,
                progress: Progress | None = None) -> BatchResult:
    with db.open_session(instance.db_url):
        pass  # fails early, with what to do, when `safetrain init` has not been run
    courses = courses_dir()
    curriculum = load_curriculum(courses / "curriculum.yml", courses / "source")
    module = curriculum.module(options.module)
    # The workers start first and boot their first kernels while this process imports
    # nbgrader and prepares the batch (their forkserver imports it at the same time).
    warm = GradeTask(str(instance.course_dir), str(courses), options.module, "",
                     options.limits, options.sandboxed, options.feedback)
    executor = make_executor(options.executor, options.workers, preload=("autograder.worker",),
                             warm=partial(tasks.warm, warm))
    executor.start()
    try:
        return _grade(instance, options, executor, module, progress)
    finally:
        executor.close()
        handin.give_back(instance)  # root grading a hub's instance: its files stay the service's


def _grade(instance: Instance, options: BatchOptions, executor: LocalExecutor | DaskExecutor,
           module: Module, progress: Progress | None) -> BatchResult:
    from autograder import sandbox
    from autograder.nbgrader_run import coursedir_for, nbgrader_config

    course_root, courses = instance.course_dir, courses_dir()
    config = nbgrader_config(course_root, courses)
    coursedir = coursedir_for(config, options.module)
    _require_released(coursedir.db_url, coursedir.course_id, options.module)
    check_sandbox(options.sandboxed, options.limits)
    sandbox.cleanup_stale()

    submitted = Path(coursedir.root) / coursedir.submitted_directory
    refused: dict[str, str] = {}  # intake refusals: {trainee: reason}, not graded
    if options.source == "exchange" and handin.has_handin(instance):  # a hub's 提交
        refused = handin.from_handin(instance, submitted, options.module).refused
    elif options.source == "exchange":
        refused = exchange_intake.from_exchange(config, submitted, options.module).refused
        _stamp_untimed(submitted, options.module, options.clock())
    elif options.source:
        refused = submissions.collect(options.source, submitted, options.module).refused
    found = submissions.discover(submitted, options.module, options.students, refused)

    batch = BatchResult(options.module, found=len(found))
    batch.results += [GradeResult(s, options.module, "failed", problems=[reason])
                      for s, reason in sorted(refused.items())
                      if not options.students or s in options.students]
    with db.open_session(instance.db_url) as session:
        done = graded_hashes(session, options.module)
        known = set(people_by_trainee_id(session, [s.student for s in found]))
        limits = allowances(session, module, [s.student for s in found])
    now = options.clock()
    todo, left_after = [], {}
    for sub in found:
        previous = done.get(sub.student, set())
        allowance = limits[sub.student]
        if sub.sha256 in previous:
            if not options.regrade:
                batch.skipped += 1
                continue
            left_after[sub.student] = allowance.left  # a regrade uses no attempt
        else:
            if _refused(batch, sub, allowance, now):
                continue
            left_after[sub.student] = allowance.left - 1
        if previous and sub.sha256 not in previous:
            batch.resubmitted.add(sub.student)
        if sub.student not in known:
            batch.unknown.add(sub.student)
        todo.append(sub)
    if progress:
        progress(0, len(todo), None)
        for refusal in batch.results:  # intake refusals, said before grading starts
            progress(0, len(todo), refusal)
    if not todo:
        return batch

    _prepare_gradebook(coursedir.db_url, coursedir.course_id, [s.student for s in todo])
    to_grade = {s.student: GradeTask(str(course_root), str(courses), options.module, s.student,
                                     options.limits, options.sandboxed, options.feedback,
                                     module.pass_mark, left_after[s.student])
                for s in todo}
    by_student = {s.student: _clamped(s, limits[s.student], done, now) for s in todo}
    engine = db.make_engine(instance.db_url)  # one for the batch; a transaction per attempt
    try:
        _run(executor, to_grade, by_student, engine, options, module, batch, progress,
             grade_log.keys_for(instance))
    finally:
        engine.dispose()
    return batch


def _refused(batch: BatchResult, sub: submissions.Submission, allowance: Allowance,
             now: dt.datetime) -> bool:
    """Record in `batch` why a new submission is not graded now; False if it may be."""
    reason = allowance.refusal(now, cooldown=sub.submitted_at is not None)
    if reason is None:
        return False
    target = batch.over_limit if allowance.left <= 0 else batch.cooling_down
    target[sub.student] = reason
    log.info("%s: %s", sub.student, reason)
    return True


def _clamped(sub: submissions.Submission, allowance: Allowance, done: dict[str, set[str]],
             now: dt.datetime) -> submissions.Submission:
    """The submission with a time the cooldown can rely on.

    timestamp.txt comes from the trainee's side (nbgrader exchange): a time in the future
    becomes now, and a new attempt's time is no earlier than the previous attempt's grading
    (else a backdated time would shorten the next cooldown).
    """
    when = sub.submitted_at
    if when is None:
        return sub
    when = min(when, now)
    if sub.sha256 not in done.get(sub.student, set()) and allowance.last_graded is not None:
        when = max(when, allowance.last_graded)
    return dataclasses.replace(sub, submitted_at=when)


def _run(executor: LocalExecutor | DaskExecutor, to_grade: dict[str, GradeTask],
         by_student: dict[str, submissions.Submission], engine: Engine, options: BatchOptions,
         module: Module, batch: BatchResult, progress: Progress | None,
         log_keys: tuple[bytes | None, Path | None]) -> None:
    sessions = db.session_factory(engine)
    for task, outcome in executor.run(tasks.grade, list(to_grade.values())):
        if isinstance(outcome, GradeResult):
            result = outcome
            sub = by_student[task.student]
            with sessions.begin() as session:
                record_attempt(session, AttemptFacts(
                    trainee_id=task.student, module=options.module,
                    module_version=module.version, submission_sha256=sub.sha256,
                    score=result.score, max_score=result.max_score, pass_mark=module.pass_mark,
                    status=AttemptStatus(result.status), problems=result.problems,
                    submitted_at=sub.submitted_at, graded_at=options.clock()),
                    secret=log_keys[0], anchor=log_keys[1])
        else:  # the grader failed, not the trainee: leave it for the next run
            log.error("评分 %s 失败：%s", task.student, outcome)
            batch.retry_later.add(task.student)
            result = GradeResult(task.student, options.module, "failed",
                                 problems=[f"评分程序出错，下次运行会重试：{outcome}"])
        batch.results.append(result)
        log.debug("%s graded in %.2f s", task.student, result.seconds)
        if progress:
            progress(len(batch.results), len(to_grade), result)


def _require_released(db_url: str, course_id: str, module: str) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    from autograder.nbgrader_run import CourseError, alembic_on_path

    with alembic_on_path(), Gradebook(db_url, course_id) as gb:
        try:
            gb.find_assignment(module)
        except MissingEntry:
            raise CourseError(
                f"模块 {module} 还没有发布到这个实例：请先运行 `safetrain course release {module}`。"
            ) from None


def _prepare_gradebook(db_url: str, course_id: str, students: list[str]) -> None:
    """Create students up front (one writer) and switch SQLite to WAL for the workers."""
    from nbgrader.api import Gradebook

    from autograder.nbgrader_run import alembic_on_path

    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
    with alembic_on_path(), Gradebook(db_url, course_id) as gb:
        for student in students:
            gb.update_or_create_student(student)


def _stamp_untimed(submitted: Path, module: str, now: dt.datetime) -> None:
    """An exchange submission without timestamp.txt gets the collection time (a trainee
    could leave it out to escape the cooldown, which skips untimed submissions)."""
    for folder in submitted.glob(f"*/{module}"):
        if folder.is_dir() and not (folder / "timestamp.txt").exists():
            # nbgrader's own format, as submissions.collect writes it
            (folder / "timestamp.txt").write_text(
                now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
