"""Logs a user reads are in Chinese: every info, warning, error and critical call in our
packages passes a message with Chinese in it (debug lines are for developers)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("records", "writers", "demo", "autograder", "jupyter_safetrain", "scripts")
LEVELS = {"info", "warning", "error", "critical", "exception"}
CJK = re.compile(r"[\u4e00-\u9fff]")
FORMAT = re.compile(r"%[-#0 +]*\d*(\.\d+)?[sdrfgx]")


def _message(call: ast.Call) -> str | None:
    """The literal text of a logging call's first argument (f-strings included), else None."""
    if not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    if isinstance(first, ast.JoinedStr):
        return "".join(v.value for v in first.values
                       if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return None


def test_every_user_level_log_message_has_chinese():
    english = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "/migrations/" in path.as_posix():
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in LEVELS):
                    continue
                owner = node.func.value
                name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
                if "log" not in name.lower():
                    continue
                text = _message(node)
                words = FORMAT.sub("", text or "")  # a bare "%s：%s" carries Chinese in its args
                if text is not None and not CJK.search(text) and re.search("[A-Za-z]", words):
                    english.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text[:60]!r}")
    assert not english, "English log messages:\n" + "\n".join(english)
