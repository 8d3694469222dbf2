"""检查作答: find what would make an answer score 0 for a reason that is not the answer.

A pure function over the notebook's text: nothing is executed, nothing is imported. Each
answer cell (nbgrader `solution: true`, not a grade cell) is read line by line with its
comments left out, then parsed with `ast`. Reported, in Chinese and with the fix:

- Chinese (full-width) quotes “ ” ‘ ’ in code (an input method's quotes: `q01 = “D”`);
- full-width letters, digits and punctuation (Ａ-Ｚ, ０-９, （ ）, ＝, the ideographic space);
- syntax errors, with line and column (only when nothing above already explains them);
- answers left as released: `q01 = ""`, `q09 = None`, `raise NotImplementedError()`.

The first three are `blocking`: the records service refuses such a submission (nothing of it
is stored) with the same messages, so a trainee never loses a point to an input method.
An empty answer is only flagged: leaving an item out is the trainee's choice.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from dataclasses import asdict, dataclass
from typing import Any

CHINESE_QUOTES = {"“": '"', "”": '"', "‘": "'", "’": "'", "「": '"', "」": '"'}
IDEOGRAPHIC_SPACE = "\u3000"
MAX_NOTEBOOK_BYTES = 5 * 1024**2
ITEM = re.compile(r"^(q\d+)(?:_answer)?$")


@dataclass(frozen=True)
class Problem:
    item: str  # the item (q01) or the cell's grade_id
    line: int  # 1-based, within the cell; 0 when the whole cell is meant
    column: int  # 1-based; 0 when the whole line is meant
    kind: str  # chinese_quote | full_width | syntax | empty | notebook
    message: str  # Chinese: what is wrong and how to fix it
    blocking: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _item(cell: dict[str, Any], index: int) -> str:
    grade_id = str(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", ""))
    match = ITEM.match(grade_id)
    return match.group(1) if match else (grade_id or f"第{index}个作答单元格")


def _where(item: str, line: int, column: int = 0) -> str:
    return f"{item} 第 {line} 行" + (f"第 {column} 列" if column else "")


def _code_spans(text: str) -> list[tuple[int, str]]:
    """(line number, the line without its comment) for every line of `text`.

    Comments come from the tokenizer when the code tokenizes; otherwise from the first `#`
    outside an ASCII-quoted string, which is what a reader would see.
    """
    lines = text.splitlines()
    comment_at: dict[int, int] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                comment_at[tok.start[0]] = tok.start[1]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        comment_at = {}
        for number, line in enumerate(lines, 1):
            quote = None
            for col, ch in enumerate(line):
                if quote:
                    if ch == quote:
                        quote = None
                elif ch in "\"'":
                    quote = ch
                elif ch == "#":
                    comment_at[number] = col
                    break
    return [(n, line[: comment_at[n]] if n in comment_at else line)
            for n, line in enumerate(lines, 1)]


def _characters(item: str, text: str) -> list[Problem]:
    found = []
    for number, code in _code_spans(text):
        for col, ch in enumerate(code, 1):
            if ch in CHINESE_QUOTES:
                fixed = code.strip()
                for wrong, right in CHINESE_QUOTES.items():
                    fixed = fixed.replace(wrong, right)
                found.append(Problem(item, number, col, "chinese_quote",
                                     f"{_where(item, number, col)}用了中文引号 {ch}：请切换到英文输入法，"
                                     f"把 {code.strip()} 改成 {fixed}", True))
                break
            if ch == IDEOGRAPHIC_SPACE or 0xFF01 <= ord(ch) <= 0xFF5E:
                half = " " if ch == IDEOGRAPHIC_SPACE else chr(ord(ch) - 0xFEE0)
                shown = "全角空格" if ch == IDEOGRAPHIC_SPACE else f"全角字符 {ch}"
                found.append(Problem(item, number, col, "full_width",
                                     f"{_where(item, number, col)}有{shown}：请切换到英文（半角）输入，"
                                     f"改成 {half!r}", True))
                break
    return found


def _empty(item: str, tree: ast.Module) -> list[Problem]:
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            value = node.value.value
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if not names:
                continue
            if value == "":
                found.append(Problem(item, node.lineno, 0, "empty",
                                     f"{_where(item, node.lineno)}还没有作答：在引号里写上答案字母，"
                                     f"例如 {names[0]} = \"B\"", False))
            elif value is None:
                found.append(Problem(item, node.lineno, 0, "empty",
                                     f"{_where(item, node.lineno)}还没有作答：把 None 改成 True 或 False"
                                     f"（首字母大写，不加引号），例如 {names[0]} = True", False))
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                found.append(Problem(item, node.lineno, 0, "empty",
                                     f"{_where(item, node.lineno)}还没有作答：删去 raise NotImplementedError()"
                                     "，写出你的答案", False))
    return found


def check_cell(item: str, text: str) -> list[Problem]:
    """Problems of one answer cell's source (never executed)."""
    found = _characters(item, text)
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        if not found:
            line, col = exc.lineno or 0, exc.offset or 0
            found.append(Problem(item, line, col, "syntax",
                                 f"{_where(item, line, col)}有语法错误（{exc.msg}）：请检查引号、括号是否成对，"
                                 "等号两边是否完整，是否用了中文标点", True))
        return found
    return found + _empty(item, tree)


def answer_cells(notebook: dict[str, Any]) -> list[tuple[str, str]]:
    """(item, source) of every answer cell, in order."""
    cells = []
    for cell in notebook.get("cells", []) or []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if meta.get("solution") and not meta.get("grade"):
            cells.append((_item(cell, len(cells) + 1), _source(cell)))
    return cells


def check_notebook(notebook: dict[str, Any]) -> list[Problem]:
    problems = []
    for item, text in answer_cells(notebook):
        problems += check_cell(item, text)
    return problems


def check_bytes(data: bytes) -> list[Problem]:
    """As `check_notebook`, for a file's bytes; an unreadable file is one blocking problem."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        return [Problem("", 0, 0, "notebook",
                        f"notebook 超过 {MAX_NOTEBOOK_BYTES // 1024**2} MB：请删去大的输出后再提交", True)]
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return [Problem("", 0, 0, "notebook",
                        "文件不是有效的 notebook（JSON 无法读取）：请重新获取模块，把答案抄回后再提交", True)]
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return [Problem("", 0, 0, "notebook", "文件不是有效的 notebook：请重新获取模块后再提交", True)]
    if not answer_cells(notebook):
        return [Problem("", 0, 0, "notebook",
                        "这个 notebook 里没有作答单元格：请提交获取来的模块 notebook", True)]
    return check_notebook(notebook)


def blocking(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.blocking]
