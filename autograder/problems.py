"""What went wrong with one submission, collected while nbgrader's converter runs it.

nbgrader's converters do not hand resources back to the caller, so SafeTrain's
preprocessors note problems here; the worker reads and clears the list per submission.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RunNotes:
    problems: list[str] = field(default_factory=list)
    timed_out: bool = False
    kernel_died: bool = False

    def add(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)


CURRENT = RunNotes()


def reset() -> RunNotes:
    global CURRENT
    CURRENT = RunNotes()
    return CURRENT
