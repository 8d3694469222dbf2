"""The common-sense review's tools: the question-only sheet shows no key, lesson or test, and
the scorer runs the instructor's tests on a reviewer's answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder import naive, quiz_sheet
from records.curriculum import SOURCE_DIR, courses_dir, source_module_ids

MODULES = source_module_ids(courses_dir() / SOURCE_DIR)


@pytest.mark.parametrize("module", MODULES)
def test_the_sheet_has_every_question_and_nothing_of_the_key(module: str) -> None:
    text = quiz_sheet.sheet(module)
    nb = naive.module_notebook(module)
    items = naive.read_items(nb)
    for item in items:
        assert f"{item.name}（" in text
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    for item in items:  # no solution line reaches the sheet
        solution = naive.split_solution(
            next(c.source for c in nb.cells
                 if naive.cell_flags(c).get("grade_id") == f"{item.grade_id}_answer"))[1]
        for line in solution.strip().splitlines():
            assert line.strip() not in text.splitlines(), (module, item.name, line)
    lesson = next(c.source for c in nb.cells if c.cell_type == "markdown" and "学习目标" in c.source)
    assert lesson.strip() not in text


@pytest.mark.parametrize("module", MODULES)
def test_the_keys_win_every_answerable_item_and_a_blank_sheet_nothing(module: str) -> None:
    items = naive.read_items(naive.module_notebook(module))
    keys = {i.name: i.key for i in items if i.key is not naive.MISSING}
    result = naive.score_sheet(items, keys)
    assert set(result.won) == {i.name for i in items if i.key is not naive.MISSING}
    blank = naive.score_sheet(items, {})
    assert blank.points == 0 and blank.won == []


def test_the_command_prints_a_sheet_and_scores_answers(tmp_path: Path, capsys) -> None:
    module = MODULES[0]
    assert quiz_sheet.main([module]) == 0
    assert capsys.readouterr().out.startswith(f"# {module}")
    items = naive.read_items(naive.module_notebook(module))
    first = items[0]
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({first.name: first.key}), encoding="utf-8")
    assert quiz_sheet.main([module, "--score", str(answers)]) == 0
    out = capsys.readouterr().out
    assert f"{first.points:g} / " in out and f"得分题：{first.name}" in out
    answers.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(SystemExit, match="JSON 对象"):
        quiz_sheet.main([module, "--score", str(answers)])
    assert quiz_sheet.main(["no-such-module"]) == 2
    assert "没有这个模块" in capsys.readouterr().err


def test_the_sheet_carries_the_situation_material_items_refer_to_but_no_lesson() -> None:
    text = quiz_sheet.sheet("hazard-closure")
    nb = naive.module_notebook("hazard-closure")
    ledger = next(c.source for c in nb.cells if naive.cell_flags(c).get("grade_id") == "case_ledger")
    assert ledger.strip() in text and "情景材料" in text
    for cell in nb.cells:
        grade_id = str(naive.cell_flags(cell).get("grade_id", ""))
        if grade_id.startswith("lesson_") or grade_id in ("objectives", "how_to_answer"):
            assert cell.source.strip() not in text, grade_id
