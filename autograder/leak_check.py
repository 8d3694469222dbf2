"""Whether a released notebook gives anything away: secret markers, and answer lines of
solutions, hidden tests and mark schemes (`safetrain course validate`'s leak check)."""

from __future__ import annotations

import re

from nbformat import NotebookNode
from nbgrader.utils import is_solution

SECRET_MARKERS = (
    "BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
    "BEGIN MARK SCHEME", "END MARK SCHEME",
)  # fmt: skip
# Solution lines too common to count as a leak when they also appear in the released text.
_TRIVIAL_LINE = re.compile(r"^(pass|else:|try:|finally:|break|continue|return( \w+)?)$")
_ITEM_VARIABLE = re.compile(r"\bq\d+\b")  # the answer variables of AUTHORING.md: q01 ...


def _regions(source: str, begin: str, end: str) -> list[list[str]]:
    """The lines of each `begin` ... `end` region of a cell, region by region."""
    regions: list[list[str]] = []
    inside = False
    for line in source.splitlines():
        if begin in line:
            inside = True
            regions.append([])
        elif end in line:
            inside = False
        elif inside:
            regions[-1].append(line)
    return regions


def _meaningful(lines: list[str]) -> list[str]:
    stripped = (line.strip() for line in lines)
    return [t for t in stripped if re.search(r"\w", t) and not _TRIVIAL_LINE.match(t)]


def _secret_regions(nb: NotebookNode) -> list[tuple[str, bool, list[str]]]:
    """(grade_id, is_solution, meaningful lines) of every solution, hidden test, mark scheme."""
    found = []
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
        solutions = _regions(cell.source, "BEGIN SOLUTION", "END SOLUTION")
        if is_solution(cell) and not solutions:
            solutions = [cell.source.splitlines()]  # nbgrader replaces the whole cell
        found += [(grade_id, True, _meaningful(r)) for r in solutions]
        for begin, end in (("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
                           ("BEGIN MARK SCHEME", "END MARK SCHEME")):  # fmt: skip
            found += [(grade_id, False, _meaningful(r)) for r in _regions(cell.source, begin, end)]
    return found


def leak_problems(source: NotebookNode, released: NotebookNode) -> list[str]:
    """No secret marker and no answer line reaches the released notebook.

    Any line of a hidden test or mark scheme counts. Of a solution region, a line naming an
    item variable (`q08 = ...`) counts, and so does the region when more than half of its
    lines are released: a data module's lesson may teach one line of a function's solution
    (`df.drop_duplicates("检查编号")`) without giving the answer away.
    """
    text = "\n".join(c.source for c in released.cells)
    markers = [m for m in SECRET_MARKERS if m in text]
    released_lines = {line.strip() for line in text.splitlines()}
    leaked: list[tuple[str, str]] = []
    for grade_id, solution, lines in _secret_regions(source):
        shown = [line for line in lines if line in released_lines]
        if solution and shown:
            named = [line for line in shown if _ITEM_VARIABLE.search(line)]
            shown = named or (shown if 2 * len(shown) > len(lines) else [])
        leaked += [(line, grade_id) for line in shown]
    problems = []
    if markers:
        problems.append(f"发布版含标记 / released text contains: {', '.join(markers)}")
    if leaked:
        shown_text = "; ".join(f"{line!r}（{gid}）" for line, gid in leaked[:3])
        problems.append(f"发布版出现答案行 / answer lines in the released text: {shown_text}")
    return problems
