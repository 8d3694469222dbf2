"""Issue 21: no naive strategy wins 30% of a rewritten module, and the per-item tables are current.

The scorer (autograder.naive) runs the instructor's own tests, hidden parts included, against
naive answer sheets in a plain namespace; no kernel, no grader. The other modules' shares are
printed by `python -m autograder.naive` (the remaining work of issue 21).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import naive
from records.curriculum import load_curriculum

COURSES = Path(__file__).resolve().parents[1] / "courses"
MODULES = sorted(p.name for p in (COURSES / "source").iterdir() if p.is_dir())
REWRITTEN = MODULES  # issue 21: every module, every naive strategy under LIMIT
LIMIT = 0.30
STRATEGIES = {
    "letter A", "letter B", "letter C", "letter D", "longest", "all options", "all True",
    "all False", "printed order", naive.COMBINED,
}  # fmt: skip


def _items(module: str) -> list[naive.Item]:
    return naive.read_items(naive.module_notebook(module, COURSES))


def _graded_points(module: str) -> float:
    nb = naive.module_notebook(module, COURSES)
    return sum(c.metadata["nbgrader"].get("points", 0) for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade"))  # fmt: skip


def over_limit(shares: list[naive.Share], limit: float = LIMIT) -> list[str]:
    return [f"{s.strategy}: {s.points:g}/{s.total:g}" for s in shares if s.share >= limit]


# --------------------------------------------------------------------------- a hand-built module


def _meta(grade_id: str, **extra) -> dict:
    return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "task": False, **extra}}


def _module(keys: dict[str, str]) -> nbformat.NotebookNode:
    """Single-choice items whose keys are given; option D is always the longest."""
    cells = []
    for name, key in keys.items():
        cells += [
            new_markdown_cell(f"### {name}（单选）\n\n- A. 甲\n- B. 乙乙\n- C. 丙丙丙\n- D. 丁丁丁丁丁",
                              metadata=_meta(f"{name}_question", locked=True)),
            new_code_cell(f'# 单选\n{name} = ""\n### BEGIN SOLUTION\n{name} = "{key}"\n### END SOLUTION',
                          metadata=_meta(f"{name}_answer", solution=True, grade=False)),
            new_code_cell(f'assert {name} in "ABCD"\n### BEGIN HIDDEN TESTS\n'
                          f'assert {name}.strip().upper() == "{key}"\n### END HIDDEN TESTS',
                          metadata={**_meta(name, grade=True, solution=False, points=2),
                                    "safetrain": {"cites": "消防法 第二十八条"}}),
        ]  # fmt: skip
    return new_notebook(cells=cells)


def test_the_check_fails_on_a_module_a_naive_sheet_can_pass() -> None:
    all_a = naive.shares(naive.read_items(_module({"q01": "A", "q02": "A", "q03": "D"})))
    by_name = {s.strategy: s for s in all_a}
    assert by_name["letter A"].points == 4 and by_name["longest"].points == 2
    assert "letter A: 4/6" in over_limit(all_a) and "longest: 2/6" in over_limit(all_a)
    mixed = naive.shares(naive.read_items(_module({"q01": "A", "q02": "B", "q03": "C", "q04": "B"})))
    assert over_limit(mixed, limit=0.51) == []


def test_item_types_are_recognised_from_the_answer_cell_and_question() -> None:
    nb = _module({"q01": "B"})
    multi = [
        new_markdown_cell("### 第2题 多选题\n\n- A. 一\n- B. 二\n- C. 三", metadata=_meta("q02_question")),
        new_code_cell('# 第2题（多选）：连写\nq02 = ""\n### BEGIN SOLUTION\nq02 = "AC"\n### END SOLUTION',
                      metadata=_meta("q02_answer", solution=True)),
        new_code_cell('print("ok")\n### BEGIN HIDDEN TESTS\nassert set(q02) == set("AC")\n### END HIDDEN TESTS',
                      metadata=_meta("q02", grade=True, points=3)),
        new_code_cell("# 判断：填 True 或 False\nq03 = None\n### BEGIN SOLUTION\nq03 = True\n### END SOLUTION",
                      metadata=_meta("q03_answer", solution=True)),
        new_code_cell("### BEGIN HIDDEN TESTS\nassert q03 is True\n### END HIDDEN TESTS",
                      metadata=_meta("q03", grade=True, points=1)),
        new_code_cell("# 数字\nq04 = None\n### BEGIN SOLUTION\nq04 = 7\n### END SOLUTION",
                      metadata=_meta("q04_answer", solution=True)),
        new_code_cell("### BEGIN HIDDEN TESTS\nassert abs(q04 - 7) < 1e-9\n### END HIDDEN TESTS",
                      metadata=_meta("q04", grade=True, points=2)),
        new_code_cell("def rate(df):\n    result = None\n    ### BEGIN SOLUTION\n    result = 1\n"
                      "    ### END SOLUTION\n    return result", metadata=_meta("q05_answer", solution=True)),
        new_code_cell("### BEGIN HIDDEN TESTS\nassert rate(None) == 1\n### END HIDDEN TESTS",
                      metadata=_meta("q05", grade=True, points=3)),
    ]  # fmt: skip
    nb.cells += multi
    items = naive.read_items(nb)
    assert [(i.grade_id, i.name, i.kind) for i in items] == [
        ("q01", "q01", naive.SINGLE), ("q02", "q02", naive.MULTIPLE), ("q03", "q03", naive.TRUE_FALSE),
        ("q04", "q04", naive.NUMERIC), ("q05", "rate", naive.FUNCTION),
    ]  # fmt: skip
    assert items[1].options == {"A": "一", "B": "二", "C": "三"}
    by_name = {s.strategy: s.points for s in naive.shares(items)}
    assert by_name["all options"] == 0 and by_name["all True"] == 1 and by_name["letter B"] == 2
    assert by_name[naive.COMBINED] == 3  # letter B on q01, True on q03
    assert naive.key_score(items) == (8, 8)  # the function has no literal key


# --------------------------------------------------------------------------- the real modules


def test_every_listed_module_is_scored() -> None:
    listed = sorted(load_curriculum(COURSES / "curriculum.yml").module_ids)
    assert len(MODULES) >= 7 and listed == MODULES


@pytest.mark.parametrize("module", MODULES)
def test_scorer_reads_every_item_of_every_module(module: str) -> None:
    items = _items(module)
    assert len(items) >= 12
    assert sum(i.points for i in items) == _graded_points(module)
    got, out_of = naive.key_score(items)  # the literal keys pass their own tests
    assert got == out_of > 0
    shares = naive.shares(items)
    assert {s.strategy for s in shares} == STRATEGIES
    assert all(0 <= s.share <= 1 for s in shares)
    assert naive.item_problems(items) == []


@pytest.mark.parametrize("module", REWRITTEN)
def test_no_naive_strategy_reaches_thirty_percent(module: str) -> None:
    assert over_limit(naive.module_shares(module, COURSES)) == []


@pytest.mark.parametrize("module", REWRITTEN)
def test_rewritten_items_are_described_and_few_are_true_false(module: str) -> None:
    items = _items(module)
    for item in items:
        assert set(naive.ITEM_FIELDS) <= set(item.meta), item.grade_id
        assert item.meta["tier"] in naive.TIERS and item.cites.strip(), item.grade_id
        assert item.kind != naive.OTHER and item.options or item.kind in (
            naive.TRUE_FALSE, naive.NUMERIC, naive.FUNCTION), item.grade_id
    true_false = [i for i in items if i.kind == naive.TRUE_FALSE]
    assert len(true_false) <= len(items) // 5
    keys = [i.key for i in items if i.kind == naive.SINGLE]
    assert max(keys.count(letter) for letter in naive.LETTERS) <= -(-len(keys) // 3)  # ceil


@pytest.mark.parametrize("module", MODULES)
def test_item_table_is_current(module: str) -> None:
    path = naive.items_dir(COURSES) / f"{module}.md"
    expected = naive.item_table(module, _items(module))
    assert path.is_file() and path.read_text(encoding="utf-8") == expected, (
        f"{path} is stale: run `python -m autograder.naive --write`"
    )


def test_item_table_shows_no_key() -> None:
    table = (naive.items_dir(COURSES) / "rescue-fire.md").read_text(encoding="utf-8")
    assert "BEGIN" not in table and "q01 =" not in table
    assert "| q01 | 2 | 单选 | 报警 |" in table


def test_write_item_tables_and_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = naive.write_item_tables(COURSES, tmp_path)
    assert sorted(p.name for p in written) == [f"{m}.md" for m in MODULES]
    assert naive.main([]) == 0
    out = capsys.readouterr().out
    for module in MODULES:
        assert f"{module}: letter A " in out
    assert "combined" in out
