"""How many points a trainee wins without studying (issue 21), and the per-item table.

Kernel-free: reads a module's source notebook, recognises each item's type from its answer cell
and question text (single choice, multiple choice, true/false, ordering, numeric, function),
fills in a naive answer sheet and runs the instructor's own test cells, hidden parts included,
against it in a plain Python namespace. A test that passes wins its cell's points; one that
raises (a wrong answer, a wrong form, a missing name) wins nothing, as under nbgrader.

The naive strategies (each one a full answer sheet; items a strategy has no answer for stay
blank, so each share is what that strategy alone wins):
- ``letter A`` … ``letter D``: the same letter on every single- and multiple-choice item;
- ``longest``: the letter of the longest option on every single- and multiple-choice item;
- ``all options``: every option letter on every multiple-choice item;
- ``all True`` / ``all False``: the same value on every true/false item;
- ``printed order``: the options in the order printed, on every ordering item;
- ``combined``: the best of ``letter A`` … ``letter D`` and ``longest`` on the single-choice
  items with the better of ``all True`` and ``all False``, plus every option on multiple-choice
  and the printed order on ordering items, all at once (a trainee who guesses every item).

The per-item table (topic, decision tested, source and tier) is Markdown written to
``docs/items/<module>.md``. Topic, decision and tier come from each test cell's optional
``safetrain.item`` metadata, the source from ``safetrain.cites``; the table never shows a key.

``python -m autograder.naive`` prints every module's shares; ``--write`` rewrites the tables.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from records.curriculum import SOURCE_DIR, courses_dir, source_module_ids

log = logging.getLogger(__name__)

SINGLE, MULTIPLE, TRUE_FALSE, ORDERING, NUMERIC, FUNCTION, OTHER = (
    "single", "multiple", "true/false", "ordering", "numeric", "function", "other",
)  # fmt: skip
KIND_LABELS = {
    SINGLE: "单选", MULTIPLE: "多选", TRUE_FALSE: "判断", ORDERING: "排序",
    NUMERIC: "数值", FUNCTION: "函数", OTHER: "其他",
}  # fmt: skip
TIERS = ("原文", "转载", "通行口径")
ITEM_FIELDS = ("topic", "decision", "tier")
LETTERS = "ABCD"
COMBINED = "combined"
_OPTION = re.compile(r"^\s*[-*]?\s*([A-J])[.．、]\s*(.+?)\s*$", re.MULTILINE)
_MULTI_HINT = re.compile(r"多选|连写")
_HEADING = re.compile(r"^#+\s*(.+)$", re.MULTILINE)
_FUNCTION = re.compile(r"^def\s+(\w+)", re.MULTILINE)
MISSING = object()


@dataclass
class Item:
    """One graded item: its answer variable, type, options and test cell."""

    grade_id: str  # of the test cell
    name: str  # the answer variable, e.g. q03
    kind: str
    points: float
    options: dict[str, str] = field(default_factory=dict)  # letter -> option text, as printed
    question: str = ""  # the Markdown question cell
    answer: str = ""  # the answer cell as released (the part before the solution region)
    test: str = ""  # the test cell's source, hidden tests included
    cites: str = ""
    meta: dict = field(default_factory=dict)  # safetrain.item of the test cell
    key: object = MISSING  # the solution's literal value, when it has one

    @property
    def title(self) -> str:
        heading = _HEADING.search(self.question)
        return heading.group(1).strip() if heading else self.grade_id


@dataclass(frozen=True)
class Share:
    strategy: str
    points: float
    total: float

    @property
    def share(self) -> float:
        return self.points / self.total if self.total else 0.0


# --------------------------------------------------------------------------- reading items


def cell_flags(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _assigned(source: str) -> list[tuple[str, object]]:
    """(name, literal value or MISSING) of each top-level `name = ...` in a cell."""
    found = []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return found
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    value = MISSING
                found.append((target.id, value))
    return found


def split_solution(source: str) -> tuple[str, str]:
    """(the released part before the solution region, the solution region)."""
    before, _, rest = source.partition("### BEGIN SOLUTION")
    solution = rest.partition("### END SOLUTION")[0]
    return before, solution


def _kind(answer: str, placeholder: object, question: str) -> str:
    if _FUNCTION.search(answer):
        return FUNCTION
    comments = " ".join(line for line in answer.splitlines() if line.lstrip().startswith("#"))
    if placeholder == "":
        heading = _HEADING.search(question)
        hint = comments + " " + (heading.group(1) if heading else "")
        return MULTIPLE if _MULTI_HINT.search(hint) else SINGLE
    if isinstance(placeholder, list):
        return ORDERING
    if placeholder is None:
        return TRUE_FALSE if "True" in comments else NUMERIC
    return OTHER


def read_items(nb: NotebookNode) -> list[Item]:
    """The module's items in notebook order: each answer cell with its question and test."""
    cells = nb.cells
    items: list[Item] = []
    for index, cell in enumerate(cells):
        flags = cell_flags(cell)
        if cell.cell_type != "code" or not flags.get("solution") or flags.get("grade"):
            continue
        released, solution = split_solution(cell.source)
        assigned = _assigned(released)
        function = _FUNCTION.search(released)
        if function:  # the solution region sits inside the function's body
            assigned = [(function.group(1), MISSING)]
        if not assigned:
            log.warning("作答格 %s 在答案区之前没有给任何变量赋值", flags.get("grade_id"))
            continue
        name, placeholder = assigned[-1]
        question = next((c.source for c in reversed(cells[:index]) if c.cell_type == "markdown"), "")
        test_id = str(flags.get("grade_id", "")).removesuffix("_answer")
        test = next((c for c in cells[index + 1:] if cell_flags(c).get("grade")
                     and not cell_flags(c).get("solution")), None)  # fmt: skip
        by_id = [c for c in cells if cell_flags(c).get("grade_id") == test_id and cell_flags(c).get("grade")]
        test = by_id[0] if by_id else test
        if test is None:
            log.warning("作答格 %s 没有对应的评分单元格", flags.get("grade_id"))
            continue
        keys = [value for n, value in _assigned(solution) if n == name]
        safetrain = test.get("metadata", {}).get("safetrain", {})
        items.append(Item(
            grade_id=str(cell_flags(test).get("grade_id", test_id)),
            name=name,
            kind=_kind(released, placeholder, question),
            points=float(cell_flags(test).get("points", 0) or 0),
            options=dict(_OPTION.findall(question)),
            question=question,
            answer=released,
            test=test.source,
            cites=str(safetrain.get("cites", "")),
            meta=dict(safetrain.get("item", {}) or {}),
            key=keys[-1] if keys else MISSING,
        ))  # fmt: skip
    return items


# --------------------------------------------------------------------------- strategies


def _letters(item: Item) -> str:
    return "".join(item.options) or LETTERS


def _longest(item: Item) -> str | None:
    if not item.options:
        return None
    return max(item.options, key=lambda letter: len(item.options[letter]))  # first on a tie


def strategies(items: list[Item]) -> dict[str, dict[str, object]]:
    """{strategy: {answer variable: value}}; an item a strategy does not answer is absent."""
    choice = [i for i in items if i.kind in (SINGLE, MULTIPLE)]
    sheets: dict[str, dict[str, object]] = {}
    for letter in LETTERS:
        sheets[f"letter {letter}"] = {i.name: letter for i in choice}
    sheets["longest"] = {i.name: _longest(i) for i in choice if _longest(i)}
    sheets["all options"] = {i.name: _letters(i) for i in items if i.kind == MULTIPLE}
    sheets["all True"] = {i.name: True for i in items if i.kind == TRUE_FALSE}
    sheets["all False"] = {i.name: False for i in items if i.kind == TRUE_FALSE}
    sheets["printed order"] = {i.name: list(_letters(i)) for i in items if i.kind == ORDERING}
    return sheets


def _combined_sheets(items: list[Item]) -> list[dict[str, object]]:
    base = strategies(items)
    rest = {**base["all options"], **base["printed order"]}
    singles = {i.name for i in items if i.kind == SINGLE}
    return [
        {**{n: v for n, v in base[name].items() if n in singles}, **base[tf], **rest}
        for name in (*(f"letter {letter}" for letter in LETTERS), "longest")
        for tf in ("all True", "all False")
    ]


# --------------------------------------------------------------------------- scoring


def passes(item: Item, value: object, namespace: dict | None = None) -> bool:
    """Whether the item's test cell, hidden tests included, passes with `value` as the answer.

    `namespace` carries names earlier test cells defined (tests may use them), as in a kernel.
    """
    scope = namespace if namespace is not None else {}
    if value is MISSING:
        scope.pop(item.name, None)
    else:
        scope[item.name] = value
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the form checks print a note
            exec(compile(item.test, item.grade_id, "exec"), scope)  # noqa: S102 - instructor's test
    except Exception:  # noqa: BLE001 - any failure of a test loses the item, as in nbgrader
        return False
    return True


@dataclass(frozen=True)
class SheetScore:
    points: float
    total: float
    won: list[str]
    lost: list[str]

    @property
    def share(self) -> float:
        return self.points / self.total if self.total else 0.0


def score_sheet(items: list[Item], answers: dict[str, object]) -> SheetScore:
    """Run every item's test on an answer sheet ({variable: value}); unanswered items are lost."""
    namespace: dict = {}
    won = {i.name for i in items if passes(i, answers.get(i.name, MISSING), namespace)}
    return SheetScore(sum(i.points for i in items if i.name in won), sum(i.points for i in items),
                      [i.name for i in items if i.name in won],
                      [i.name for i in items if i.name not in won])


def score(items: list[Item], answers: dict[str, object]) -> float:
    """Points an answer sheet ({variable: value}) wins; unanswered items get no value."""
    return score_sheet(items, answers).points


def shares(items: list[Item]) -> list[Share]:
    """Each naive strategy's points, out of the module's total, then the combined one."""
    total = sum(i.points for i in items)
    found = [Share(name, score(items, sheet), total) for name, sheet in strategies(items).items()]
    best = max(score(items, sheet) for sheet in _combined_sheets(items))
    return [*found, Share(COMBINED, best, total)]


def key_score(items: list[Item]) -> tuple[float, float]:
    """(points the literal keys win, points of items with a literal key): a self-check."""
    keyed = [i for i in items if i.key is not MISSING]
    return score(keyed, {i.name: i.key for i in keyed}), sum(i.points for i in keyed)


def module_notebook(module: str, courses: Path | None = None) -> NotebookNode:
    root = courses or courses_dir()
    return nbformat.read(root / SOURCE_DIR / module / f"{module}.ipynb", as_version=4)


def module_shares(module: str, courses: Path | None = None) -> list[Share]:
    return shares(read_items(module_notebook(module, courses)))


def all_shares(courses: Path | None = None) -> dict[str, list[Share]]:
    root = courses or courses_dir()
    return {m: module_shares(m, root) for m in source_module_ids(root / SOURCE_DIR)}


# --------------------------------------------------------------------------- item table


def item_problems(items: list[Item]) -> list[str]:
    """What is wrong with the items' `safetrain.item` metadata (absent metadata is no problem)."""
    problems = []
    for item in items:
        if not item.meta:
            continue
        missing = [f for f in ITEM_FIELDS if not str(item.meta.get(f, "")).strip()]
        if missing:
            problems.append(f"{item.grade_id}: safetrain.item 缺少 {', '.join(missing)}")
        if item.meta.get("tier") and item.meta["tier"] not in TIERS:
            problems.append(f"{item.grade_id}: tier {item.meta['tier']!r} 不是 {'、'.join(TIERS)} 之一")
    return problems


def _cell_text(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip() or "—"


def item_table(module: str, items: list[Item]) -> str:
    """The Markdown table of a module's items: what each tests and on what source (no keys)."""
    total = sum(i.points for i in items)
    lines = [
        f"# {module}：逐题表 / items",
        "",
        "由 `autograder.naive.write_item_tables` 生成，请勿手改（`python -m autograder.naive --write`）。",
        "Generated from the source notebook; tier: 原文 = law text, may be graded verbatim; "
        "转载 = reprinted, unverified, graded only as a decision; 通行口径 = local practice.",
        "",
        f"{len(items)} 题，共 {total:g} 分。",
        "",
        "| 题 | 分 | 题型 | 主题 | 考查的决定 | 依据 | 层级 |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in items:
        lines.append("| " + " | ".join([
            item.grade_id, f"{item.points:g}", KIND_LABELS.get(item.kind, item.kind),
            _cell_text(item.meta.get("topic", "")), _cell_text(item.meta.get("decision", "")),
            _cell_text(item.cites), _cell_text(item.meta.get("tier", "")),
        ]) + " |")  # fmt: skip
    lines += ["", "## 不学习也能得的分 / naive strategies", "", "| 策略 | 得分 | 占比 |", "|---|---|---|"]
    lines += [f"| {s.strategy} | {s.points:g} / {s.total:g} | {s.share:.0%} |" for s in shares(items)]
    return "\n".join(lines) + "\n"


def items_dir(courses: Path | None = None) -> Path:
    """`docs/items/` beside the courses folder."""
    return (courses or courses_dir()).parent / "docs" / "items"


def write_item_tables(courses: Path | None = None, out: Path | None = None) -> list[Path]:
    """Write `docs/items/<module>.md` for every module; returns the files written."""
    root = courses or courses_dir()
    out = out or items_dir(root)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for module in source_module_ids(root / SOURCE_DIR):
        path = out / f"{module}.md"
        path.write_text(item_table(module, read_items(module_notebook(module, root))), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.naive", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="also rewrite docs/items/<module>.md")
    args = parser.parse_args(argv)
    for module, found in all_shares().items():
        row = "  ".join(f"{s.strategy} {s.share:.0%}" for s in found)
        sys.stdout.write(f"{module}: {row}\n")
    if args.write:
        for path in write_item_tables():
            sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
