"""Running nbgrader's own converters from SafeTrain: config, course directory, log capture.

Shared by course release/validation and batch grading, so both drive nbgrader the same way.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nbgrader.converters import NbGraderException
from nbgrader.converters.base import BaseConverter
from nbgrader.coursedir import CourseDirectory
from sqlalchemy.exc import SAWarning
from traitlets.config import Config, PyFileConfigLoader

from records.curriculum import courses_dir
from records.errors import SafeTrainError

log = logging.getLogger(__name__)
_nbgrader_log = logging.getLogger("autograder.course.nbgrader")
NBGRADER_CONFIG = "nbgrader_config.py"


class CourseError(SafeTrainError):
    """A course command cannot go on; the message says why and what to do (中文 / English)."""


def nbgrader_config(course_root: Path, courses: Path | None = None) -> Config:
    """nbgrader settings: `courses/nbgrader_config.py` with the course root set to `course_root`."""
    path = (courses or courses_dir()) / NBGRADER_CONFIG
    if not path.is_file():
        raise CourseError(
            f"找不到 nbgrader 配置文件 {path}；请检查 SAFETRAIN_COURSES 是否指向课程文件夹。/ "
            f"nbgrader config {path} not found; check that SAFETRAIN_COURSES names the courses folder."
        )
    config = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    config.CourseDirectory.root = str(Path(course_root).resolve())
    return config


class _Capture(logging.Handler):
    """Keeps nbgrader's log of one run (for error reasons) and forwards it to our logger."""

    def __init__(self, demote: bool) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self.demote = demote

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if self.demote:  # failures are reported as checks, so keep them off the terminal
            record = logging.makeLogRecord(
                {**record.__dict__, "levelno": logging.DEBUG, "levelname": "DEBUG"}
            )
        if _nbgrader_log.isEnabledFor(record.levelno):
            _nbgrader_log.handle(record)

    def reason(self) -> str:
        """The exception lines of nbgrader's error tracebacks, else its first error message."""
        found: list[str] = []
        errors = [r.getMessage().strip() for r in self.records if r.levelno >= logging.ERROR]
        for message in errors:
            if "Traceback (most recent call last)" in message:
                last = [line for line in message.splitlines() if line.strip()][-1].strip()
                found.append(re.sub(r"^[\w.]+\.(\w+):", r"\1:", last))
        found = list(dict.fromkeys(found)) or errors[:1] or ["nbgrader failed without a message"]
        return "; ".join(found[:2])


class NbgraderFailed(Exception):
    """nbgrader reported a failure; the message is its own reason."""


@contextmanager
def alembic_on_path() -> Iterator[None]:
    """nbgrader creates a new gradebook by running the `alembic` program found on PATH
    (`nbgrader.api.get_alembic_version`). When SafeTrain runs from an environment that is not
    activated, put the interpreter's own scripts folder on PATH for the duration."""
    if shutil.which("alembic"):
        yield
        return
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), old])
    try:
        yield
    finally:
        os.environ["PATH"] = old


def run_converter(
    converter: type[BaseConverter],
    coursedir: CourseDirectory,
    config: Config,
    demote: bool,
    **traits: object,
) -> None:
    """Run one nbgrader converter; raise NbgraderFailed with nbgrader's own reason."""
    logger = logging.Logger("nbgrader")  # private to this run, not registered globally
    capture = _Capture(demote)
    logger.addHandler(capture)
    try:
        with alembic_on_path(), warnings.catch_warnings():
            # nbgrader 0.9 + SQLAlchemy 2.x: harmless "not in session, add operation ... will
            # not proceed" autoflush warnings from nbgrader.api; scores are unaffected.
            warnings.filterwarnings("ignore", category=SAWarning, module=r"nbgrader\.")
            converter(coursedir=coursedir, config=config, log=logger, **traits).start()
    except NbGraderException:
        raise NbgraderFailed(capture.reason()) from None


def coursedir_for(config: Config, module: str, student: str = ".") -> CourseDirectory:
    """A CourseDirectory selecting one module and one student ('.' = the instructor's)."""
    coursedir = CourseDirectory(config=config, log=log)
    coursedir.assignment_id = module
    coursedir.student_id = student
    return coursedir


