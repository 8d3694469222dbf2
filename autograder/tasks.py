"""What goes to a grading worker and what comes back, importable without nbgrader.

The batch pickles `grade` and `warm` by reference: keeping them in this light module lets
the parent start its workers before it imports nbgrader itself (the workers' forkserver
imports `autograder.worker` once, in parallel with the parent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autograder.limits import Limits


@dataclass(frozen=True)
class GradeTask:
    course_root: str
    courses: str
    module: str
    student: str
    limits: Limits = Limits()
    sandboxed: bool = True
    feedback: bool = True
    pass_mark: float = 100.0  # percent: whether this attempt passed decides the feedback
    # Attempts the trainee has left after this one; None = no limit known (stock feedback).
    attempts_left: int | None = None


@dataclass
class GradeResult:
    student: str
    module: str
    status: str  # graded | timed_out | failed (records.models.AttemptStatus values)
    score: float = 0.0
    max_score: float = 0.0
    problems: list[str] = field(default_factory=list)
    items: dict[str, tuple[float, float]] = field(default_factory=dict)  # grade id → (score, max)
    seconds: float = 0.0


def grade(task: GradeTask) -> GradeResult:
    """`autograder.worker.grade_one` in a worker process."""
    from autograder.worker import grade_one

    return grade_one(task)


def warm(task: GradeTask) -> None:
    """`autograder.worker.warm_up` in a worker process."""
    from autograder.worker import warm_up

    warm_up(task)
