"""Curriculum schema, module release and module validation (autograder.course)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from typer.testing import CliRunner

from autograder import course, validation
from autograder.course import CourseError, ReleaseStatus
from autograder.validation import KnownWrongAnswers
from records.curriculum import (
    CurriculumError,
    courses_dir,
    load_curriculum,
    source_module_ids,
)
from records.instance import Instance
from records.roles import Role
from scripts.course_cli import course_app

REPO_COURSES = Path(__file__).resolve().parents[1] / "courses"
ANSWERS = "ABCD"


# --------------------------------------------------------------------------- fixtures


def _meta(grade_id: str, **flags: object) -> dict:
    meta = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
            "solution": False, "task": False}  # fmt: skip
    meta.update(flags)
    return {"nbgrader": meta}


def make_notebook(items: int = 12, *, leak: bool = False, duplicate: bool = False) -> NotebookNode:
    """A module in the AUTHORING.md shape: lesson, then answer + test cell per item (1 point)."""
    cells = [
        new_markdown_cell("# 演示模块\n\n学习目标：……", metadata=_meta("lesson_01", locked=True))
    ]
    for i in range(1, items + 1):
        q, answer = f"q{i:02d}", ANSWERS[i % 4]
        cells.append(
            new_markdown_cell(
                f"**第{i}题** 选择正确的一项（依据：演示）\n\n- A. 甲\n- B. 乙\n- C. 丙\n- D. 丁",
                metadata=_meta(f"{q}_text", locked=True),
            )
        )
        cells.append(
            new_code_cell(
                f'# 第{i}题：把答案字母写在引号里\n{q} = ""\n'
                f'### BEGIN SOLUTION\n{q} = "{answer}"\n### END SOLUTION',
                metadata=_meta(f"{q}_answer", solution=True),
            )
        )
        test_id = "q01" if duplicate and i == 2 else q
        meta = _meta(test_id, grade=True, locked=True, points=1)
        meta["safetrain"] = {"cites": "演示 第1条"}
        cells.append(
            new_code_cell(
                f'assert isinstance({q}, str) and {q}.strip().upper() in set("ABCD"), "请填写字母"\n'
                f"### BEGIN HIDDEN TESTS\nassert {q}.strip().upper() == {answer!r}\n"
                "### END HIDDEN TESTS",
                metadata=meta,
            )
        )
    if leak:  # a lesson cell that quotes the answer line of q03
        cells.insert(1, new_markdown_cell(f'例如：\n\nq03 = "{ANSWERS[3]}"', metadata=_meta("tip")))
    nb = new_notebook(cells=cells)
    nb.metadata["safetrain"] = {"test_reads": [f"q{i:02d}" for i in range(1, items + 1)]}
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    return nb


MODULE_YAML = """\
  - id: {id}
    title: 演示模块
    version: "1.0"
    estimated_minutes: 30
    pass_mark: 80
    required_for: [inspector, volunteer]
"""


def write_courses(root: Path, modules: dict[str, NotebookNode], listed: list[str] | None = None,
                  expected: dict[str, float] | None = None) -> Path:  # fmt: skip
    """A courses/ folder: nbgrader_config.py, curriculum.yml, source/ and checks/."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_COURSES / "nbgrader_config.py", root / "nbgrader_config.py")
    listed = list(modules) if listed is None else listed
    (root / "curriculum.yml").write_text(
        "modules:\n" + "".join(MODULE_YAML.format(id=m) for m in listed), encoding="utf-8"
    )
    (root / "checks").mkdir(exist_ok=True)
    for module, nb in modules.items():
        (root / "source" / module).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, root / "source" / module / f"{module}.ipynb")
        score = (expected or {}).get(module, len(_graded(nb)) - 2)
        (root / "checks" / f"{module}.yml").write_text(
            "wrong_answers:\n"
            "  q01_answer: 'q01 = \"Z\"'\n"
            "  q02_answer: 'q02 = 42'   # wrong type: fails its own item only\n"
            f"expected_score: {score}\n",
            encoding="utf-8",
        )
    return root


def _graded(nb: NotebookNode) -> list[NotebookNode]:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def failed(report: validation.ModuleReport) -> dict[str, str]:
    return {c.name: c.reason for c in report.checks if not c.passed}


# --------------------------------------------------------------------------- curriculum


def write_curriculum(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "curriculum.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_repo_curriculum_matches_the_role_rules() -> None:
    curriculum = load_curriculum(REPO_COURSES / "curriculum.yml")
    everyone = set(Role)
    required = {m.id: set(m.required_for) for m in curriculum.modules}
    assert len(required) >= 7
    assert required["law-work-safety"] == everyone - {Role.volunteer}
    for law in ("law-emergency-response", "law-training-rules"):
        assert required[law] == everyone - {Role.volunteer}
    assert required["inspector-practice"] == {Role.inspector}
    for rescue in ("rescue-fire", "rescue-first-aid", "rescue-disasters"):
        assert required[rescue] == everyone
    assert all(m.version and 0 < m.pass_mark <= 100 for m in curriculum.modules)
    assert curriculum.required_modules(Role.volunteer)[:3] == [
        "rescue-fire", "rescue-first-aid", "rescue-disasters",
    ]  # fmt: skip
    # Modules added after go-live apply from their own date (holders get the grace period).
    for module in curriculum.modules[7:]:
        assert module.effective_from and module.effective_from > curriculum.go_live, module.id
    assert curriculum.rule(Role.inspector).validity_years == 3  # default when roles: is absent


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write_curriculum(tmp_path, "modules:\n  - id: a\n    title: [unclosed\n")
    with pytest.raises(CurriculumError) as err:
        load_curriculum(path)
    message = str(err.value)
    assert str(path) in message and "YAML" in message and "第 " in message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("field", "value", "where", "words"),
    [
        ("required_for", "[inspector, mayor]", "modules[0].required_for[1]", ["mayor", "网格员"]),
        ("pass_mark", "120", "modules[0].pass_mark", ["100", "应不大于"]),
        ("version", "1.0", "modules[0].version", ["加引号"]),
        ("estimated_minutes", "半小时", "modules[0].estimated_minutes", ["整数"]),
        ("colour", "red", "modules[0].colour", ["不认识的字段", "Extra inputs"]),
    ],
)
def test_bad_field_is_named_with_path_and_reason(
    tmp_path: Path, field: str, value: str, where: str, words: list[str]
) -> None:
    lines = MODULE_YAML.format(id="demo").splitlines(keepends=True)
    lines = [line for line in lines if not line.strip().startswith(f"{field}:")]
    text = "modules:\n" + "".join(lines) + f"    {field}: {value}\n"
    with pytest.raises(CurriculumError) as err:
        load_curriculum(write_curriculum(tmp_path, text))
    message = str(err.value)
    assert f"{where}:" in message, message
    for word in words:
        assert word in message, message
    assert len(err.value.problems) == 1


def test_roles_section_rejects_unknown_roles_and_keys(tmp_path: Path) -> None:
    text = (
        "modules:\n"
        + MODULE_YAML.format(id="demo")
        + (
            "roles:\n"
            "  inspector: {hours_per_year: 12, drills_per_year: 1, validity_years: 3}\n"
            "  grid_worker: {hours_per_year: 8, bogus: 1}\n"
            "  mayor: {}\n"
        )
    )
    with pytest.raises(CurriculumError) as err:
        load_curriculum(write_curriculum(tmp_path, text))
    wheres = {p.where for p in err.value.problems}
    assert "roles.grid_worker.bogus" in wheres
    assert any(w.startswith("roles.mayor") for w in wheres)

    ok = (
        "modules:\n" + MODULE_YAML.format(id="demo") + "roles:\n  inspector: {hours_per_year: 12}\n"
    )
    curriculum = load_curriculum(write_curriculum(tmp_path, ok))
    assert curriculum.rule(Role.inspector).hours_per_year == 12
    assert curriculum.rule(Role.staff).hours_per_year == 0


def test_study_time_over_a_roles_cap_is_refused_naming_role_and_modules(tmp_path: Path) -> None:
    modules = MODULE_YAML.format(id="demo-a") + MODULE_YAML.format(id="demo-b")  # 30 + 30 min
    capped = "roles:\n  inspector: {study_minutes_max: %d}\n  volunteer: {study_minutes_max: 60}\n"
    curriculum = load_curriculum(write_curriculum(tmp_path, "modules:\n" + modules + capped % 60))
    assert curriculum.study_minutes(Role.inspector) == 60
    assert curriculum.study_minutes(Role.staff) == 0
    with pytest.raises(CurriculumError) as err:
        load_curriculum(write_curriculum(tmp_path, "modules:\n" + modules + capped % 59))
    message = str(err.value)
    assert "专职安监员必修模块共 60 分钟，超过上限 study_minutes_max=59" in message
    assert "demo-a（30分钟）、demo-b（30分钟）" in message and "志愿者" not in message


def test_repo_curriculum_states_every_roles_study_time() -> None:
    curriculum = load_curriculum()
    for role in Role:
        cap = curriculum.rule(role).study_minutes_max
        assert cap is not None and curriculum.study_minutes(role) <= cap, role


def test_duplicate_module_ids_are_rejected(tmp_path: Path) -> None:
    text = "modules:\n" + MODULE_YAML.format(id="demo") * 2
    with pytest.raises(CurriculumError, match="demo"):
        load_curriculum(write_curriculum(tmp_path, text))


def test_curriculum_and_source_must_agree(tmp_path: Path) -> None:
    courses = write_courses(
        tmp_path / "courses", {"demo": make_notebook()}, listed=["demo", "gone"]
    )
    (courses / "source" / "stray").mkdir()
    (courses / "source" / ".ipynb_checkpoints").mkdir()
    with pytest.raises(CurriculumError) as err:
        load_curriculum(courses / "curriculum.yml", courses / "source")
    message = str(err.value)
    assert "modules[1].id" in message and "gone" in message
    assert "stray" in message and ".ipynb_checkpoints" not in message
    load_curriculum(courses / "curriculum.yml")  # without source_dir: no cross-check


def test_courses_dir_can_be_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFETRAIN_COURSES", raising=False)
    assert courses_dir() == REPO_COURSES
    monkeypatch.setenv("SAFETRAIN_COURSES", str(tmp_path))
    assert courses_dir() == tmp_path.resolve()


# --------------------------------------------------------------------------- release


def test_release_is_idempotent_and_follows_source_changes(tmp_path: Path) -> None:
    courses = write_courses(tmp_path / "courses", {"demo": make_notebook()})
    (courses / "source" / "demo" / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    instance = Instance.from_env(tmp_path / "instance")

    [first] = course.release(instance, ["demo"], courses=courses)
    released = instance.course_dir / "release" / "demo" / "demo.ipynb"
    assert first.status is ReleaseStatus.RELEASED and first.path == released.parent
    assert first.max_score == 12
    assert (released.parent / "data.csv").is_file()  # data files travel with the notebook
    text = released.read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert (instance.course_dir / "gradebook.db").is_file()

    assert course.release(instance, None, courses=courses)[0].status is ReleaseStatus.UNCHANGED
    assert course.release(instance, ["demo"], force=True, courses=courses)[0].status == "updated"

    nb = make_notebook()
    nb.cells[0].source = "# 演示模块（修订）"
    nbformat.write(nb, courses / "source" / "demo" / "demo.ipynb")
    [changed] = course.release(instance, ["demo"], courses=courses)
    assert changed.status is ReleaseStatus.UPDATED
    assert "（修订）" in released.read_text(encoding="utf-8")


def test_release_refuses_unknown_modules_and_mismatched_curriculum(tmp_path: Path) -> None:
    courses = write_courses(tmp_path / "courses", {"demo": make_notebook()})
    instance = Instance.from_env(tmp_path / "instance")
    with pytest.raises(CourseError) as err:
        course.release(instance, ["demo", "nope"], courses=courses)
    assert "nope" in str(err.value) and "demo" in str(err.value)  # lists the known ones

    (courses / "source" / "unlisted").mkdir()
    with pytest.raises(CurriculumError, match="unlisted"):
        course.release(instance, ["demo"], courses=courses)


def test_release_reports_nbgrader_failures(tmp_path: Path) -> None:
    courses = write_courses(tmp_path / "courses", {"demo": make_notebook(duplicate=True)})
    with pytest.raises(CourseError, match="Duplicate grade id"):
        course.release(Instance.from_env(tmp_path / "instance"), ["demo"], courses=courses)


# --------------------------------------------------------------------------- validate


def test_validate_passes_a_good_module_and_checks_the_expected_score(tmp_path: Path) -> None:
    modules = {"demo": make_notebook(), "miscounted": make_notebook()}
    courses = write_courses(tmp_path / "courses", modules, expected={"miscounted": 11})
    steps: list[tuple[str, str]] = []
    good, miscounted = validation.validate(
        courses=courses, workdir=tmp_path, progress=lambda m, s: steps.append((m, s))
    )

    assert good.passed, failed(good)
    assert [c.name for c in good.checks] == list(validation.CHECK_LABELS)
    assert "10/12" in good.check("wrong").reason and "q02" in good.check("wrong").reason
    assert ("demo", "自动评分 / autograding: blank") in steps

    assert set(failed(miscounted)) == {"wrong"}
    assert "expected 11" in miscounted.check("wrong").reason
    assert list(tmp_path.glob("safetrain-*")) == []  # throwaway course dirs are removed


def test_validate_catches_a_leak_an_unlisted_module_and_a_missing_checks_file(
    tmp_path: Path,
) -> None:
    leaky = {"leaky": make_notebook(leak=True)}
    courses = write_courses(tmp_path / "courses", leaky, listed=["missing"])
    (courses / "checks" / "leaky.yml").unlink()
    leaky, missing = validation.validate(["leaky", "missing"], courses=courses, workdir=tmp_path)
    assert set(failed(leaky)) == {"curriculum", "leaks", "wrong"}
    leak = leaky.check("leaks").reason
    assert 'q03 = "D"' in leak and "q03_answer" in leak
    assert "checks/leaky.yml" in leaky.check("wrong").reason
    assert leaky.check("solution").passed and leaky.check("blank").passed
    assert not missing.passed and "not found" in missing.check("notebook").reason


def test_validate_catches_duplicate_ids_too_few_items_and_missing_cites(tmp_path: Path) -> None:
    nb = make_notebook(items=11, duplicate=True)
    del nb.cells[-1].metadata["safetrain"]
    courses = write_courses(tmp_path / "courses", {"broken": nb})
    [report] = validation.validate(["broken"], courses=courses, workdir=tmp_path)
    problems = failed(report)
    assert "q01" in problems["grade_ids"]
    assert "11" in problems["items"]
    assert "q11" in problems["cites"]
    assert "Duplicate grade id" in problems["release"]  # nbgrader's own reason
    assert problems["solution"].startswith("未运行")  # nothing graded after a failed release


def test_notebook_checks_without_a_kernel() -> None:
    nb = make_notebook()
    nb.cells[3].metadata.nbgrader.points = 0
    nb.cells[3].source = nb.cells[3].source.replace("### BEGIN HIDDEN TESTS", "# (visible)")
    checks = {c.name: c for c in validation.check_notebook(nb)}
    assert not checks["grade_ids"].passed and "q01" in checks["grade_ids"].reason
    assert not checks["hidden"].passed and "q01" in checks["hidden"].reason

    released = make_notebook()
    released.cells[2].source = "### BEGIN SOLUTION"
    assert "BEGIN SOLUTION" in validation.check_leaks(make_notebook(), released).reason


def test_a_lesson_may_teach_one_line_of_a_function_solution() -> None:
    body = ['x = df.drop_duplicates("id")', 'n = x["a"].sum()', "result = n / len(x)"]
    answer = "def f(df):\n    result = None\n    ### BEGIN SOLUTION\n"
    answer += "".join(f"    {line}\n" for line in body) + "    ### END SOLUTION\n    return result"
    source = new_notebook(
        cells=[new_code_cell(answer, metadata=_meta("q01_answer", solution=True))]
    )

    def released(lesson: list[str]) -> NotebookNode:
        return new_notebook(cells=[new_markdown_cell("\n".join(lesson)), new_code_cell("...")])

    assert validation.check_leaks(source, released(body[:1])).passed
    assert not validation.check_leaks(source, released(body)).passed  # the whole solution


def test_wrong_answers_must_name_answer_cells() -> None:
    known = KnownWrongAnswers(wrong_answers={"q01": "q01 = 1"}, expected_score=0)
    with pytest.raises(ValueError, match="q01"):
        validation.wrong_answers_notebook(make_notebook(), known)


# --------------------------------------------------------------------------- CLI


def test_cli_release_and_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    courses = write_courses(tmp_path / "courses", {"demo": make_notebook()})
    monkeypatch.setenv("SAFETRAIN_COURSES", str(courses))
    monkeypatch.setenv("SAFETRAIN_HOME", str(tmp_path / "instance"))
    runner = CliRunner()

    assert runner.invoke(course_app, ["release"]).exit_code == 2  # name modules or --all
    result = runner.invoke(course_app, ["release", "--all"])
    assert result.exit_code == 0, result.output
    assert "已发布" in result.output
    assert (tmp_path / "instance" / "course" / "release" / "demo" / "demo.ipynb").is_file()
    assert "未变化" in runner.invoke(course_app, ["release", "demo", "--format", "csv"]).output

    result = runner.invoke(course_app, ["release", "nope"])
    assert result.exit_code == 1 and "known modules: demo" in " ".join(result.output.split())

    nbformat.write(make_notebook(duplicate=True), courses / "source" / "demo" / "demo.ipynb")
    result = runner.invoke(course_app, ["validate", "--format", "csv"])
    assert result.exit_code == 1
    assert "grade_id 重复" in result.output and "✘ 未通过" in result.output


# --------------------------------------------------------------------------- real modules


def test_every_real_module_validates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SAFETRAIN_COURSES", raising=False)
    present = source_module_ids(REPO_COURSES / "source")
    if not present:
        pytest.skip("courses/source/ has no modules yet")
    reports = validation.validate(present, workdir=tmp_path)
    problems = {r.module: failed(r) for r in reports if not r.passed}
    assert not problems, problems
