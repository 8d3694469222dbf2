"""检查作答: Chinese input-method slips, empty answers and syntax errors, found without
running anything (autograder.answer_check)."""

from __future__ import annotations

import json

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.answer_check import blocking, check_bytes, check_cell, check_notebook


def answer(source: str, grade_id: str = "q01_answer") -> object:
    return new_code_cell(source, metadata={"nbgrader": {
        "grade": False, "solution": True, "grade_id": grade_id, "locked": False}})


def test_chinese_quotes_are_found_with_the_fix() -> None:
    [p] = check_cell("q01", "# 第1题（单选）：写在引号里\nq01 = “D”")
    assert (p.kind, p.line, p.column, p.blocking) == ("chinese_quote", 2, 7, True)
    assert "中文引号" in p.message and 'q01 = "D"' in p.message and "q01 = “D”" in p.message


def test_full_width_letters_digits_and_space() -> None:
    [p] = check_cell("q02", 'q02 = "Ｄ"')
    assert p.kind == "full_width" and "'D'" in p.message and p.blocking
    [p] = check_cell("q03", "q03 = １")
    assert p.kind == "full_width" and "'1'" in p.message
    [p] = check_cell("q04", "q04\u3000= True")
    assert "全角空格" in p.message


def test_comments_in_chinese_are_not_problems() -> None:
    assert check_cell("q01", '# 第1题（单选）：把答案字母写在“引号”里\nq01 = "C"  # 我选Ｃ') == []


def test_syntax_error_with_line_and_column() -> None:
    [p] = check_cell("q05", 'q05 = "A\n')
    assert p.kind == "syntax" and p.line == 1 and p.blocking and "语法错误" in p.message


def test_empty_answers_are_flagged_not_blocking() -> None:
    problems = check_cell("q01", 'q01 = ""')
    problems += check_cell("q09", "q09 = None")
    problems += check_cell("q10", "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()")
    assert [p.kind for p in problems] == ["empty"] * 3
    assert not blocking(problems)
    assert 'q01 = "B"' in problems[0].message and "True 或 False" in problems[1].message


def test_only_answer_cells_are_checked() -> None:
    grade = new_code_cell('assert q01 == “x”', metadata={"nbgrader": {
        "grade": True, "solution": False, "grade_id": "q01", "points": 1}})
    nb = new_notebook(cells=[new_markdown_cell("“说明”"), answer('q01 = "B"'), grade,
                             answer("q02 = ‘A’", "q02_answer")])
    [p] = check_notebook(nb)
    assert p.item == "q02" and p.kind == "chinese_quote"


def test_bytes_not_a_notebook_or_without_answers() -> None:
    assert check_bytes(b"\xff\xfe")[0].kind == "notebook"
    assert check_bytes(b"[]")[0].blocking
    empty = json.dumps(new_notebook(cells=[new_markdown_cell("x")])).encode()
    assert "没有作答单元格" in check_bytes(empty)[0].message
    ok = json.dumps(new_notebook(cells=[answer('q01 = "B"')])).encode()
    assert check_bytes(ok) == []


def test_nothing_is_executed() -> None:
    # A cell that would have effects if run is only parsed.
    assert check_cell("q01", 'import os\nos.system("touch /tmp/st-should-not-exist")\nq01 = "A"') == []
    import os
    assert not os.path.exists("/tmp/st-should-not-exist")
