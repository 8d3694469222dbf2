"""Size limits of #15 for source modules (not tests, not migrations): no function over 80
lines, no module over 400 (with a margin), no block of six or more lines of function-body
code repeated. Exceptions, if ever needed, are listed below as known debt."""

import ast
import collections
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("records", "writers", "demo", "autograder", "jupyter_safetrain", "scripts")
MAX_FUNCTION, MAX_MODULE, BLOCK = 80, 420, 6
LONG_MODULES: set[str] = set()
LONG_FUNCTIONS: set[str] = set()


def _sources() -> list[tuple[str, str]]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if "/migrations/" not in name:
                out.append((name, path.read_text(encoding="utf-8")))
    return out


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def test_no_long_modules():
    long = {name for name, text in _sources() if len(text.splitlines()) > MAX_MODULE}
    assert long <= LONG_MODULES, f"over {MAX_MODULE} lines: {sorted(long - LONG_MODULES)}"


def test_no_long_functions():
    long = {f"{name}:{fn.name}": fn.end_lineno - fn.lineno + 1
            for name, text in _sources() for fn in _functions(ast.parse(text))
            if fn.end_lineno - fn.lineno + 1 > MAX_FUNCTION}
    assert set(long) <= LONG_FUNCTIONS, {k: v for k, v in long.items() if k not in LONG_FUNCTIONS}


def _body_lines(text: str, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[int, str]]:
    """The function's body (its docstring and nested functions' signatures included as
    code), stripped, without blank and comment lines."""
    body = fn.body[1:] if ast.get_docstring(fn) and len(fn.body) > 1 else fn.body
    lines = text.splitlines()
    out = []
    for number in range(body[0].lineno, fn.end_lineno + 1):
        line = lines[number - 1].strip()
        if line and not line.startswith("#"):
            out.append((number, line))
    return out


def test_no_repeated_blocks():
    seen: dict[tuple[str, ...], set[tuple[str, int]]] = collections.defaultdict(set)
    for name, text in _sources():
        for fn in _functions(ast.parse(text)):
            lines = _body_lines(text, fn)
            for k in range(len(lines) - BLOCK + 1):
                window = tuple(line for _, line in lines[k:k + BLOCK])
                if sum(len(line) for line in window) >= 120:  # not a run of `)` and `else:`
                    seen[window].add((name, lines[k][0]))
    repeated = {window[0]: sorted(places) for window, places in seen.items()
                if len({p[0] for p in places}) > 1 or len(places) > 1
                and _apart(sorted(places))}
    assert repeated == {}


def _apart(places: list[tuple[str, int]]) -> bool:
    """Two windows of one file that do not overlap (a block repeated, not one block)."""
    return any(b[1] - a[1] >= BLOCK for a, b in zip(places, places[1:], strict=False))
