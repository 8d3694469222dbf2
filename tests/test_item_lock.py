"""A module version names one set of items: changing items without a version bump fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from autograder import item_lock
from records.curriculum import SOURCE_DIR, courses_dir


def test_the_committed_lock_matches_every_module_and_version() -> None:
    assert item_lock.problems() == []


@pytest.fixture
def courses_copy(tmp_path: Path) -> Path:
    root = tmp_path / "courses"
    shutil.copytree(courses_dir(), root)
    return root


def _edit_first_item(root: Path) -> str:
    module = sorted(p.name for p in (root / SOURCE_DIR).iterdir() if p.is_dir())[0]
    path = root / SOURCE_DIR / module / f"{module}.ipynb"
    nb = nbformat.read(path, as_version=4)
    test = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")
                and not c.metadata.nbgrader.get("solution"))
    test.metadata.nbgrader["points"] = float(test.metadata.nbgrader.get("points", 1)) + 1
    nbformat.write(nb, path)
    return module


def test_changed_items_under_the_same_version_are_reported_and_not_recorded(courses_copy: Path):
    module = _edit_first_item(courses_copy)
    found = item_lock.problems(courses_copy)
    assert len(found) == 1 and found[0].startswith(f"{module}：题目改了")
    with pytest.raises(SystemExit, match="提高版本"):
        item_lock.write(courses_copy)


def test_a_version_bump_is_recorded_by_write(courses_copy: Path):
    module = _edit_first_item(courses_copy)
    curriculum = courses_copy / "curriculum.yml"
    text = curriculum.read_text(encoding="utf-8")
    start = text.index(f"id: {module}")
    at = text.index("version: ", start)
    end = text.index("\n", at)
    curriculum.write_text(text[:at] + 'version: "99.0"' + text[end:], encoding="utf-8")
    assert "请运行" in item_lock.problems(courses_copy)[0]
    item_lock.write(courses_copy)
    assert item_lock.problems(courses_copy) == []
