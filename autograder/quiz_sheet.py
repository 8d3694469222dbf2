"""The common-sense review (issue 21): a module's questions without its lesson, and the score
of an answer sheet a reviewer filled in.

A reviewer who has not studied the module answers the question-only sheet as a layperson would;
``--score`` then runs the instructor's own tests, hidden parts included, on their answers (as
`autograder.naive` does for the mechanical strategies). What the reviewer wins is what common
sense wins. Programming items are left out of the sheet and count as lost.

    python -m autograder.quiz_sheet MODULE > sheet.md
    python -m autograder.quiz_sheet MODULE --score answers.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from nbformat import NotebookNode

from autograder.naive import (
    FUNCTION,
    KIND_LABELS,
    MULTIPLE,
    NUMERIC,
    ORDERING,
    OTHER,
    SINGLE,
    TRUE_FALSE,
    cell_flags,
    module_notebook,
    read_items,
    score_sheet,
)

ANSWER_FORMS = {
    SINGLE: '一个字母字符串，如 "B"',
    MULTIPLE: '按字母顺序的字母串，如 "ACD"',
    TRUE_FALSE: "true 或 false",
    ORDERING: '字母列表，如 ["C", "A", "B"]',
    NUMERIC: "一个数，如 12",
}


# Cells a trainee reads before the items that are teaching, not the situation an item is about.
_TEACHING = re.compile(
    r"^(title|objectives|how_?to(_answer)?|items_intro|setup|summary|closing|lesson_.*|example_.*)$")


def _context(nb: NotebookNode) -> dict[str, list[str]]:
    """grade_id of each item's answer cell -> the situation material (a ledger, a case) placed
    among the items since the previous one: Markdown cells that are neither teaching nor items."""
    found: dict[str, list[str]] = {}
    pending: list[str] = []
    for cell in nb.cells:
        flags = cell_flags(cell)
        grade_id = str(flags.get("grade_id", ""))
        if flags.get("solution") and not flags.get("grade"):
            found[grade_id] = pending
            pending = []
        elif (cell.cell_type == "markdown" and grade_id and not _TEACHING.match(grade_id)
              and not grade_id.endswith("_question") and not flags.get("grade")):
            pending.append(cell.source.strip())
    return found


def sheet(module: str, courses: Path | None = None) -> str:
    """The module's questions and answer cells, in order, with the situation material they
    refer to, but without lesson, keys or tests."""
    nb = module_notebook(module, courses)
    context = _context(nb)
    out = [f"# {module}：作答卷（只有题目，没有课程内容）\n\n",
           "把答案写成 JSON 对象，键是变量名（q01 …），值的写法见各题；编程题不答。\n"]
    for item in read_items(nb):
        for material in context.get(f"{item.grade_id}_answer", []):
            out.append(f"\n---\n\n**情景材料**\n\n{material}\n")
        label = KIND_LABELS[item.kind]
        if item.kind in (FUNCTION, OTHER):
            out.append(f"\n---\n\n## {item.name}（{label}，{item.points:g} 分）：编程题，本卷不答\n")
            continue
        cell = item.answer.strip()
        out.append(f"\n---\n\n## 变量 {item.name}（{label}，{item.points:g} 分；"
                   f"JSON 写法：{ANSWER_FORMS.get(item.kind, '见作答格')}）\n\n"
                   f"{item.question.strip()}\n\n作答格：\n```python\n{cell}\n```\n")
    return "".join(out)


def _read_answers(path: Path) -> dict[str, object]:
    try:
        answers = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"读不了答卷 {path}：{exc}") from exc
    if not isinstance(answers, dict):
        raise SystemExit(f"答卷 {path} 应是一个 JSON 对象（变量名 → 答案）")
    return answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.quiz_sheet",
                                     description="常识评审：只含题目的作答卷，以及答卷得分。")
    parser.add_argument("module", help="模块 id，如 rescue-fire")
    parser.add_argument("--score", type=Path, metavar="ANSWERS.json",
                        help="给这份答卷评分（JSON 对象：变量名 → 答案）")
    args = parser.parse_args(argv)
    try:
        nb = module_notebook(args.module)
    except FileNotFoundError:
        print(f"没有这个模块：{args.module}", file=sys.stderr)
        return 2
    if args.score is None:
        sys.stdout.write(sheet(args.module))
        return 0
    result = score_sheet(read_items(nb), _read_answers(args.score))
    print(f"{args.module}：{result.points:g} / {result.total:g} 分（{result.share:.0%}）")
    print("得分题：" + (" ".join(result.won) or "无"))
    print("失分题：" + (" ".join(result.lost) or "无"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
