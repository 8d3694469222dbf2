"""README's Layout section and the packages' docstrings say the same first sentence."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("records", "writers", "demo", "autograder", "jupyter_safetrain", "scripts")


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _layout() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return _collapse(section)


@pytest.mark.parametrize("package", PACKAGES)
def test_package_docstring_opens_with_the_readme_sentence(package):
    doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text("utf-8")))
    assert doc, f"{package}/__init__.py has no docstring"
    first = _collapse(doc.split("\n\n", 1)[0])
    assert first.count(". ") == 0 and first.endswith("."), f"not one sentence: {first}"
    assert f"{package}/ {first}" in _layout()
