"""Grade one submission in this process (a local worker or a Dask worker).

Everything here must be picklable in and out: a GradeTask goes in, a GradeResult comes back.
Writes go to nbgrader's gradebook and the autograded/feedback folders only; records are
written by the batch in the parent process, once per finished submission.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde, GenerateFeedback
from sqlalchemy.exc import SAWarning

from autograder import problems, speedups
from autograder.nbgrader_run import (
    NbgraderFailed,
    alembic_on_path,
    coursedir_for,
    nbgrader_config,
    run_converter,
)
from autograder.pipeline import grading_config
from autograder.tasks import GradeResult, GradeTask
from records.instance import PRIVATE_DIR, PRIVATE_FILE

log = logging.getLogger(__name__)

MAX_NOTEBOOK_MB = 100


def grade_one(task: GradeTask) -> GradeResult:
    """Autograde one student's submission of one module with nbgrader's converter."""
    speedups.install()
    # nbgrader 0.9 + SQLAlchemy 2.x autoflush warnings from nbgrader.api; scores unaffected.
    warnings.filterwarnings("ignore", category=SAWarning, module=r"nbgrader\.")
    started = time.monotonic()
    notes = problems.reset()
    base = nbgrader_config(Path(task.course_root), Path(task.courses))
    source_dir = Path(task.course_root) / "source" / task.module
    config = grading_config(base, task.module, source_dir, task.limits, task.sandboxed)
    coursedir = coursedir_for(config, task.module, task.student)
    folder = Path(coursedir.format_path(coursedir.submitted_directory, task.student, task.module))
    reason = check_submission(folder, task.module)
    if reason is None:
        try:
            run_converter(Autograde, coursedir, config, demote=True)
        except NbgraderFailed as exc:
            reason = f"nbgrader 无法评分：{exc}"
    if reason is not None:
        zero_grades(coursedir.db_url, coursedir.course_id, task.module, task.student)
        result = read_grades(coursedir.db_url, coursedir.course_id, task.module, task.student)
        result.status = "failed"
        result.problems = [reason, *notes.problems]
    else:
        result = read_grades(coursedir.db_url, coursedir.course_id, task.module, task.student)
        result.status = "timed_out" if notes.timed_out else "graded"
        result.problems = list(notes.problems)
        if task.feedback:
            config.ReleaseItemFeedback.pass_mark = task.pass_mark  # per-item results: see
            config.ReleaseItemFeedback.attempts_left = task.attempts_left  # feedback_release
            try:
                run_converter(GenerateFeedback, coursedir, config, demote=True)
            except NbgraderFailed as exc:
                result.problems.append(f"反馈页生成失败：{exc}")
    for step in ("autograded_directory", "feedback_directory"):
        _make_private(Path(coursedir.format_path(getattr(coursedir, step), task.student, task.module)))
    result.seconds = time.monotonic() - started
    return result


def _make_private(folder: Path) -> None:
    """Graded notebooks and feedback hold a trainee's answers: owner-only (0700/0600)."""
    if not folder.is_dir():
        return
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(PRIVATE_DIR if path.is_dir() else PRIVATE_FILE)


def warm_up(task: GradeTask) -> None:
    """Boot this worker's first kernel for `task`'s module before any notebook needs it."""
    from autograder.judge import template
    from autograder.preprocessors import SandboxedExecute

    template()  # the judges' template starts first: it imports while the kernel boots
    base = nbgrader_config(Path(task.course_root), Path(task.courses))
    source_dir = Path(task.course_root) / "source" / task.module
    config = grading_config(base, task.module, source_dir, task.limits, task.sandboxed)
    SandboxedExecute(config=config).kernel_pool().warm()
    # While it boots: nbformat compiles its schema validator on first use (0.15 s).
    nbformat.validate(nbformat.read(source_dir / f"{task.module}.ipynb", as_version=4))


def check_submission(folder: Path, module: str) -> str | None:
    """Why this submission cannot be run at all, or None. Renames a lone misnamed notebook."""
    expected = folder / f"{module}.ipynb"
    if not expected.exists():
        notebooks = sorted(folder.glob("*.ipynb"))
        if len(notebooks) != 1:
            return f"没有找到 {module}.ipynb" + (f"（提交了 {len(notebooks)} 个 notebook）" if notebooks else "")
        notebooks[0].rename(expected)
        problems.CURRENT.add(f"提交的文件名是 {notebooks[0].name}，已按 {expected.name} 评分")
    size_mb = expected.stat().st_size / 1e6
    if size_mb > MAX_NOTEBOOK_MB:
        return f"文件过大（{size_mb:.0f} MB，上限 {MAX_NOTEBOOK_MB} MB）"
    try:
        captured: dict[str, Exception] = {}  # validated once, inside read
        nbformat.read(expected, as_version=4, capture_validation_error=captured)
        if "ValidationError" in captured:
            raise captured["ValidationError"]
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError and ValidationError too
        return f"不是有效的 Jupyter notebook 文件（{type(exc).__name__}）"
    except Exception as exc:  # noqa: BLE001 (nbformat raises assorted errors for junk)
        return f"不是有效的 Jupyter notebook 文件（{type(exc).__name__}）"
    return None


def read_grades(db_url: str, course_id: str, module: str, student: str) -> GradeResult:
    with alembic_on_path(), Gradebook(db_url, course_id) as gb:
        submission = gb.find_submission(module, student)
        items = {g.name: (float(g.score), float(g.max_score))
                 for nb in submission.notebooks for g in nb.grades}
        return GradeResult(student, module, "graded", float(submission.score),
                           float(submission.max_score), items=items)


def zero_grades(db_url: str, course_id: str, module: str, student: str) -> None:
    """A submission that could not run scores 0 in the gradebook too (no 'needs grading')."""
    with alembic_on_path(), Gradebook(db_url, course_id) as gb:
        gb.update_or_create_student(student)
        try:
            submission = gb.update_or_create_submission(module, student)
        except MissingEntry:
            return
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gb.db.commit()
