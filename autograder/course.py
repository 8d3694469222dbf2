"""Release course modules into an instance, and validate modules before trainees see them.

Both use nbgrader's own converters (`GenerateAssignment`, `Autograde`) with a traitlets
`Config` built from `courses/nbgrader_config.py` plus the course root; nothing shells out.

Where the sources live: nbgrader joins `CourseDirectory.root` and `source_directory` with
`os.path.join` and also turns that path into a regular expression *without escaping* the
source part (`CourseDirectory.format_path(escape=True)`), and `Autograde` and the formgrader
expect `source/` under the root. So an absolute `source_directory` pointing at the repository
breaks on paths containing `+`, `(` or `\\` (Windows) and hides the modules from the
formgrader; a symlink needs privileges on Windows and dangles when the repository moves.
We therefore mirror each module's folder into `<course root>/source/<module>/` before
generating it: plain nbgrader layout, works everywhere, and the mirror records exactly what
was last released (a changed mirror is what makes `release` regenerate a module).
"""

from __future__ import annotations

import datetime as dt
import filecmp
import fnmatch
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from autograder.nbgrader_run import (
    NBGRADER_CONFIG,
    CourseError,
    NbgraderFailed,
    alembic_on_path,
    coursedir_for,
    nbgrader_config,
    run_converter,
)
from records.curriculum import (
    CURRICULUM_FILE,
    SOURCE_DIR,
    Module,
    courses_dir,
    load_curriculum,
)
from records.instance import Instance

log = logging.getLogger(__name__)
Progress = Callable[[str, str], None]
"""Called as progress(module, step) while working; the CLI shows it."""


class ReleaseStatus(StrEnum):
    RELEASED = "released"
    UPDATED = "updated"
    UNCHANGED = "unchanged"

    @property
    def label(self) -> str:
        return {"released": "已发布", "updated": "已更新", "unchanged": "未变化"}[self.value]


@dataclass(frozen=True)
class ReleaseResult:
    module: str
    status: ReleaseStatus
    path: Path  # the released folder, <course root>/release/<module>/
    max_score: float


# --------------------------------------------------------------------------- nbgrader glue


def step_dir(coursedir: CourseDirectory, step: str, module: str, student: str = ".") -> Path:
    return Path(coursedir.format_path(step, student, module))


def _ignored(relative: Path, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(part, p) for part in relative.parts for p in patterns)


def _files(root: Path, ignore: list[str]) -> set[Path]:
    return {
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file() and not _ignored(p.relative_to(root), ignore)
    }


def mirror(source: Path, dest: Path, ignore: list[str]) -> bool:
    """Make `dest` an exact copy of `source` (minus ignored files); True if anything changed."""
    if dest.is_dir():
        wanted, present = _files(source, ignore), _files(dest, ignore)
        if wanted == present and all(
            filecmp.cmp(source / f, dest / f, shallow=False) for f in wanted
        ):
            return False
        shutil.rmtree(dest)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(*ignore))
    return True


def select_modules(requested: list[str] | None, known: list[str]) -> list[str]:
    if requested is None:
        return list(known)
    unknown = [m for m in requested if m not in known]
    if unknown:
        raise CourseError(
            f"不认识的模块 / unknown module: {', '.join(unknown)}。"
            f"可用的模块 / known modules: {', '.join(known) or '（无 / none）'}"
        )
    return list(dict.fromkeys(requested))


def release_modules(requested: list[str] | None = None, courses: Path | None = None) -> list[str]:
    """Module ids `release` will work on; the curriculum and source/ must agree."""
    courses = courses or courses_dir()
    curriculum = load_curriculum(courses / CURRICULUM_FILE, courses / SOURCE_DIR)
    return select_modules(requested, curriculum.module_ids)


def notify(progress: Progress | None, module: str, step: str) -> None:
    log.debug("%s: %s", module, step)
    if progress is not None:
        progress(module, step)


# --------------------------------------------------------------------------- release


def release(
    instance: Instance,
    modules: list[str] | None = None,
    force: bool = False,
    *,
    courses: Path | None = None,
    progress: Progress | None = None,
) -> list[ReleaseResult]:
    """Generate the trainee version of `modules` (all when None) into the instance.

    Writes `<course root>/release/<module>/` and records the module in nbgrader's gradebook.
    A module whose source has not changed since its last release is left alone, unless
    `force`. Raises CourseError (unknown module, nbgrader failure) or CurriculumError.
    """
    courses = courses or courses_dir()
    selected = release_modules(modules, courses)
    instance.course_dir.mkdir(parents=True, exist_ok=True)
    write_local_config(instance.course_dir, courses)
    config = nbgrader_config(instance.course_dir, courses)
    results = []
    for module in selected:
        notify(progress, module, "发布 / releasing")
        results.append(_release_one(module, courses, config, force))
    return results


def write_local_config(course_root: Path, courses: Path) -> Path:
    """An nbgrader_config.py in the course folder, so stock nbgrader commands (formgrader,
    `nbgrader export --exporter=autograder.export.RecordsExportPlugin`) work there too."""
    path = course_root / NBGRADER_CONFIG
    text = (
        "# Written by `safetrain course release`: the course settings live in the repository.\n"
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str((courses / NBGRADER_CONFIG).resolve())!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course_root.resolve())!r}\n"
        "# Formgrader and feedback pages: trainee output and markdown are shown as text, never\n"
        "# as live HTML or script (also for notebooks autograded before this setting).\n"
        "c.HTMLExporter.sanitize_html = True\n"
        "c.HTMLExporter.preprocessors = ['autograder.preprocessors.InertOutputs']\n"
    )
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def _release_one(module: str, courses: Path, config: Config, force: bool) -> ReleaseResult:
    coursedir = coursedir_for(config, module)
    source_copy = step_dir(coursedir, coursedir.source_directory, module)
    changed = mirror(courses / SOURCE_DIR / module, source_copy, coursedir.ignore)
    out = step_dir(coursedir, coursedir.release_directory, module)
    exists = (out / f"{module}.ipynb").is_file()
    if exists and not (force or changed) and gradebook_max_score(coursedir, module) is not None:
        log.info("%s：自上次发布以来没有变化", module)
        status = ReleaseStatus.UNCHANGED
    else:
        status = ReleaseStatus.UPDATED if exists else ReleaseStatus.RELEASED
        try:
            run_converter(GenerateAssignment, coursedir, config, demote=False, force=True)
        except NbgraderFailed as exc:
            raise CourseError(
                f"模块 {module} 发布失败 / releasing {module} failed: {exc}\n"
                f"请运行 `safetrain course validate {module}` 查看问题所在；若提示已有提交"
                "（submissions），不能再增删题目，请改用新的模块 id。/ Run the validate command "
                "to see what is wrong; a module with submissions cannot gain or lose cells."
            ) from None
        log.info("%s：%s到 %s", module, status.label, out)
    return ReleaseResult(module, status, out, gradebook_max_score(coursedir, module) or 0.0)


def gradebook_max_score(coursedir: CourseDirectory, module: str) -> float | None:
    """The module's total points per the gradebook; None when it is not in the gradebook."""
    with alembic_on_path(), Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            return float(gb.find_assignment(module).max_score)
        except MissingEntry:
            return None


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class ModuleInfo:
    """One module as the curriculum and its source notebook describe it."""

    module: Module
    items: int
    points: float
    required_from: dt.date | None = None  # its effective_from, else the curriculum's go_live


def catalogue(courses: Path | None = None) -> list[ModuleInfo]:
    """Every module of the curriculum with its graded item count and total points."""
    root = courses or courses_dir()
    curriculum = load_curriculum(root / "curriculum.yml", root / "source")
    infos = []
    for module in curriculum.modules:
        nb = nbformat.read(root / "source" / module.id / f"{module.id}.ipynb", as_version=4)
        graded = [c.metadata["nbgrader"] for c in nb.cells
                  if c.metadata.get("nbgrader", {}).get("grade")]
        infos.append(ModuleInfo(module, len(graded), float(sum(g.get("points", 0) for g in graded)),
                                curriculum.module_from(module)))
    return infos


