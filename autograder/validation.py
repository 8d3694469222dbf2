"""Checking a course module before release: the notebook itself, what the release leaks,
and how stock nbgrader scores the solution, a blank copy and the known wrong answers.

`safetrain course validate` runs this; it needs no instance (throwaway course folders).
"""

from __future__ import annotations

import copy
import json
import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde, GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import is_solution, is_task
from pydantic import BaseModel, ConfigDict, Field
from traitlets.config import Config

from autograder.course import (
    Progress,
    gradebook_max_score,
    mirror,
    notify,
    select_modules,
    step_dir,
)
from autograder.leak_check import leak_problems
from autograder.nbgrader_run import (
    NbgraderFailed,
    coursedir_for,
    nbgrader_config,
    run_converter,
)
from records.curriculum import (
    CURRICULUM_FILE,
    SOURCE_DIR,
    FileFormatError,
    courses_dir,
    load_curriculum,
    load_yaml_model,
    source_module_ids,
)

log = logging.getLogger(__name__)

CHECKS_DIR = "checks"
MIN_ITEMS = 12
# Internal reference files ("000_a1b67ece0c887c49.txt", "seed 003"): trainees, feedback and the
# batch sheet's 依据 column must see a document's title instead.
INTERNAL_NAME = re.compile(
    r"\d{3}_[0-9a-f]{16}(?:\.txt)?|(?<![a-z])seed[\s_-]*\d{3}", re.IGNORECASE
)


CHECK_LABELS = {
    "curriculum": "列入课程目录",
    "notebook": "读取 notebook",
    "grade_ids": "计分单元格 id 与分值",
    "items": f"至少 {MIN_ITEMS} 个计分项",
    "cites": "测试单元格标注依据",
    "hidden": "测试含隐藏部分",
    "names": "不含内部文件名",
    "reads": "测试读取的学员变量已声明",
    "release": "生成发布版",
    "leaks": "发布版不泄露答案",
    "solution": "参考答案得满分",
    "blank": "空白作答得 0 分",
    "wrong": "已知错误答案得分",
}


@dataclass(frozen=True)
class Check:
    name: str  # a key of CHECK_LABELS
    passed: bool
    reason: str

    @property
    def label(self) -> str:
        return CHECK_LABELS.get(self.name, self.name)


@dataclass
class ModuleReport:
    module: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)


class KnownWrongAnswers(BaseModel):
    """`courses/checks/<module>.yml`: wrong answers and the score they must get."""

    model_config = ConfigDict(extra="forbid")
    wrong_answers: dict[str, str] = Field(min_length=1)
    expected_score: float = Field(ge=0)



def validate_modules(requested: list[str] | None = None, courses: Path | None = None) -> list[str]:
    """Module ids `validate` will work on: listed in the curriculum or present in source/."""
    courses = courses or courses_dir()
    curriculum = load_curriculum(courses / CURRICULUM_FILE)
    known = list(dict.fromkeys(curriculum.module_ids + source_module_ids(courses / SOURCE_DIR)))
    return select_modules(requested, known)



# --------------------------------------------------------------------------- notebook checks


def _ids(cells: list[NotebookNode]) -> str:
    return ", ".join(str(c.metadata.get("nbgrader", {}).get("grade_id", "?")) for c in cells[:8])


def check_notebook(nb: NotebookNode) -> list[Check]:
    """Checks on the instructor notebook alone (no kernel): ids, points, items, cites, hidden."""
    meta = [(c, c.metadata["nbgrader"]) for c in nb.cells if "nbgrader" in c.metadata]
    ids = [m.get("grade_id", "") for _, m in meta]
    repeated = sorted({i for i in ids if ids.count(i) > 1 and i})
    graded = [c for c, m in meta if m.get("grade")]
    bad_points = []
    for cell in graded:
        points = cell.metadata["nbgrader"].get("points")
        if not isinstance(points, int | float) or isinstance(points, bool) or points <= 0:
            bad_points.append(cell)
    problems = []
    if "" in ids:
        problems.append(f"{ids.count('')} 个 nbgrader 单元格缺 grade_id / cells lack a grade_id")
    if repeated:
        problems.append(f"grade_id 重复 / duplicate grade_id: {', '.join(repeated)}")
    if bad_points:
        problems.append(f"分值应大于 0 / points must be > 0: {_ids(bad_points)}")
    total = sum(c.metadata["nbgrader"].get("points", 0) for c in graded if c not in bad_points)
    checks = [Check("grade_ids", not problems, "; ".join(problems) or "id 唯一、分值均 > 0 / ok")]

    count = (
        f"{len(graded)} 个计分项，共 {total:g} 分 / {len(graded)} graded items, {total:g} points"
    )
    enough = len(graded) >= MIN_ITEMS
    checks.append(Check("items", enough, count if enough else f"{count}; 至少需要 {MIN_ITEMS}"))

    tests = [c for c in graded if not is_solution(c) and not is_task(c)]
    uncited = [c for c in tests if not _cites(c)]
    checks.append(
        Check(
            "cites",
            not uncited,
            f"缺少 safetrain.cites / missing safetrain.cites: {_ids(uncited)}"
            if uncited
            else f"{len(tests)} 个测试单元格均有依据 / all test cells cite a source",
        )
    )
    visible = [c for c in tests if "BEGIN HIDDEN TESTS" not in c.source]
    checks.append(
        Check(
            "hidden",
            not visible,
            "这些测试没有隐藏部分，正确答案对学员可见 / no hidden tests, the correct answer "
            f"is visible: {_ids(visible)}"
            if visible
            else "每个测试都有隐藏部分 / every test has hidden tests",
        )
    )
    checks.append(check_internal_names(nb))
    checks.append(check_test_reads(nb))
    return checks


def check_test_reads(nb: NotebookNode) -> Check:
    """The grader-side contract: tests read only declared trainee names (test_contract)."""
    from autograder.test_contract import check_contract

    found = check_contract(nb)
    if not found:
        return Check("reads", True, "测试只读取已声明的学员变量 / tests read declared names only")
    shown = "; ".join(f"{p.grade_id}: {p.message}" for p in found[:3])
    return Check("reads", False, shown + (f"（另有 {len(found) - 3} 处）" if len(found) > 3 else ""))


def check_internal_names(nb: NotebookNode) -> Check:
    """No cell text or cell metadata (safetrain.cites) names an internal reference file."""
    found = []
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
        for text in (cell.source, json.dumps(cell.metadata, ensure_ascii=False)):
            found += [(m.group(0), grade_id) for m in INTERNAL_NAME.finditer(text)]
    if not found:
        return Check("names", True, "未发现内部文件名 / no internal file names")
    shown = "; ".join(f"{name!r}（{gid}）" for name, gid in found[:3])
    return Check(
        "names",
        False,
        f"请改用文件标题引用，见 ../shared/seeds/README.md / cite by title instead: {shown}",
    )


def _cites(cell: NotebookNode) -> bool:
    cites = cell.metadata.get("safetrain", {}).get("cites")
    return isinstance(cites, str) and bool(cites.strip())


def check_leaks(source: NotebookNode, released: NotebookNode) -> Check:
    """No secret marker and no answer line reaches the released notebook (`leak_check`)."""
    problems = leak_problems(source, released)
    return Check("leaks", not problems, "; ".join(problems) or "未发现泄露 / no leaks found")


def wrong_answers_notebook(nb: NotebookNode, known: KnownWrongAnswers) -> NotebookNode:
    """The instructor notebook with the listed answer cells replaced by the wrong answers."""
    wrong = copy.deepcopy(nb)
    answer_cells = {
        c.metadata["nbgrader"].get("grade_id"): c for c in wrong.cells if is_solution(c)
    }
    missing = [g for g in known.wrong_answers if g not in answer_cells]
    if missing:
        raise ValueError(
            f"不是该 notebook 的作答单元格 / not an answer cell of the notebook: {', '.join(missing)}"
        )
    for grade_id, replacement in known.wrong_answers.items():
        answer_cells[grade_id].source = replacement
    return wrong


# --------------------------------------------------------------------------- validate


def validate(
    modules: list[str] | None = None,
    *,
    courses: Path | None = None,
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> list[ModuleReport]:
    """Check `modules` (all when None), each in a throwaway nbgrader course under `workdir`.

    Never touches an instance. Raises CurriculumError if curriculum.yml itself is malformed and
    CourseError for an unknown module id; every other problem is a failed Check in the report.
    """
    courses = courses or courses_dir()
    selected = validate_modules(modules, courses)
    listed = load_curriculum(courses / CURRICULUM_FILE).module_ids
    reports = []
    for module in selected:
        with tempfile.TemporaryDirectory(prefix=f"safetrain-{module}-", dir=workdir) as tmp:
            report = ModuleReport(module)
            _validate_one(report, module in listed, courses, Path(tmp), progress)
            reports.append(report)
            log.info("%s：%s", module, "通过" if report.passed else "未通过")
    return reports


def _not_run(report: ModuleReport, names: list[str], why: str) -> None:
    report.checks += [Check(n, False, f"未运行：{why}") for n in names]


def _validate_one(
    report: ModuleReport, listed: bool, courses: Path, tmp: Path, progress: Progress | None
) -> None:
    module = report.module
    report.checks.append(
        Check(
            "curriculum",
            listed,
            "已列入 / listed" if listed else f"请在 {CURRICULUM_FILE} 中添加 / not listed in it",
        )
    )
    notify(progress, module, "检查 notebook / checking the notebook")
    path = courses / SOURCE_DIR / module / f"{module}.ipynb"
    checked = ["grade_ids", "items", "cites", "hidden", "names", "reads"]
    later = [*checked, "release", "leaks", "solution", "blank"]
    try:
        source_nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        report.checks.append(Check("notebook", False, f"找不到 / not found: {path}"))
        return _not_run(report, [*later, "wrong"], "没有 notebook / no notebook")
    except (OSError, ValueError) as exc:  # nbformat's read errors are ValueErrors
        report.checks.append(Check("notebook", False, f"无法读取 / cannot read {path}: {exc}"))
        return _not_run(report, [*later, "wrong"], "notebook 无法读取 / unreadable")
    report.checks.append(Check("notebook", True, str(path.relative_to(courses))))
    report.checks += check_notebook(source_nb)

    notify(progress, module, "生成发布版 / generating the release")
    config = nbgrader_config(tmp / "course", courses)
    # Stock kernels here (the instructor's own notebooks); ipykernel's English warning about
    # its TCP transport would otherwise reach the author's terminal once per run.
    config.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
    coursedir = coursedir_for(config, module)
    mirror(path.parent, step_dir(coursedir, coursedir.source_directory, module), coursedir.ignore)
    try:
        run_converter(GenerateAssignment, coursedir, config, demote=True)
    except NbgraderFailed as exc:
        report.checks.append(Check("release", False, str(exc)))
        return _not_run(
            report, ["leaks", "solution", "blank", "wrong"], "发布失败 / release failed"
        )
    total = gradebook_max_score(coursedir, module) or 0.0
    report.checks.append(Check("release", True, f"总分 / total {total:g}"))
    released_path = step_dir(coursedir, coursedir.release_directory, module) / path.name
    released_nb = nbformat.read(released_path, as_version=4)
    report.checks.append(check_leaks(source_nb, released_nb))

    submissions = {"solution": source_nb, "blank": released_nb}
    expected = {"solution": total, "blank": 0.0}
    checks_file = courses / CHECKS_DIR / f"{module}.yml"
    wrong_problem = ""
    if not checks_file.is_file():
        wrong_problem = (
            f"缺少 {checks_file.relative_to(courses)}，写法见 AUTHORING.md / missing; "
            "see “Known-wrong answers” in courses/AUTHORING.md"
        )
    else:
        try:
            known = load_yaml_model(checks_file, KnownWrongAnswers)
            submissions["wrong"] = wrong_answers_notebook(source_nb, known)
            expected["wrong"] = known.expected_score
        except (FileFormatError, ValueError) as exc:
            wrong_problem = str(exc)
    for student, nb in submissions.items():
        notify(progress, module, f"自动评分 / autograding: {student}")
        report.checks.append(_grade(coursedir, config, module, student, nb, expected[student]))
    if "wrong" not in submissions:
        report.checks.append(Check("wrong", False, wrong_problem))


def _grade(
    coursedir: CourseDirectory,
    config: Config,
    module: str,
    student: str,
    nb: NotebookNode,
    expected: float,
) -> Check:
    folder = step_dir(coursedir, coursedir.submitted_directory, module, student)
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{module}.ipynb")
    try:
        run_converter(Autograde, coursedir_for(config, module, student), config, demote=True)
    except NbgraderFailed as exc:
        return Check(student, False, f"自动评分失败 / autograding failed: {exc}")
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        submission = gb.find_submission(module, student)
        score, max_score = float(submission.score), float(submission.max_score)
        grades = [g for n in submission.notebooks for g in n.grades]
        lost = [f"{g.name}({g.score:g}/{g.max_score:g})" for g in grades if g.score < g.max_score]
        scored = [f"{g.name}({g.score:g}/{g.max_score:g})" for g in grades if g.score > 0]
        manual = [g.name for g in grades if g.needs_manual_grade]
    passed = abs(score - expected) < 1e-6 and not manual
    got = f"得分 / score {score:g}/{max_score:g}"
    if student == "blank":
        detail = f"空白也得分的题 / scored when blank: {', '.join(scored)}" if scored else ""
    else:
        detail = f"失分的题 / items lost: {', '.join(lost)}" if lost else ""
    if not passed:
        got += f"，应为 / expected {expected:g}"
    if manual:
        detail += f"; 需人工评分 / needs manual grading: {', '.join(manual)}"
    return Check(student, passed, f"{got}; {detail}".strip("; "))
