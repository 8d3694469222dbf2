"""Sample submissions for the demo and the benchmark: right, partly wrong, blank, broken.

Built from the instructor notebook (answers known) and the module's known-wrong answers
(`courses/checks/<module>.yml`), so the expected scores are known too.
"""

from __future__ import annotations

import copy
import random
import zipfile
from pathlib import Path

import nbformat
import yaml
from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions
from nbgrader.utils import is_solution
from traitlets.config import Config

from autograder.validation import KnownWrongAnswers, wrong_answers_notebook
from records.curriculum import courses_dir


def released_copy(source: NotebookNode) -> NotebookNode:
    """The blank notebook a trainee receives (solutions and hidden tests removed)."""
    nb = copy.deepcopy(source)
    config = Config()
    config.ClearSolutions.code_stub = {"python": "# 在这里作答（修改上一行）"}
    nb, _ = ClearSolutions(config=config).preprocess(nb, {"metadata": {}})
    nb, _ = ClearHiddenTests().preprocess(nb, {})
    return nb


def sample_notebooks(module: str, courses: Path | None = None) -> dict[str, NotebookNode]:
    """{kind: notebook} for 'right' (all answered), 'wrong' (known wrong answers), 'blank'."""
    root = courses or courses_dir()
    source = nbformat.read(root / "source" / module / f"{module}.ipynb", as_version=4)
    checks = KnownWrongAnswers.model_validate(
        yaml.safe_load((root / "checks" / f"{module}.yml").read_text(encoding="utf-8")))
    blank = released_copy(source)
    right = released_copy(source)
    for answered, original in zip(right.cells, source.cells, strict=True):
        if is_solution(original):  # what a trainee who knows the answers would have typed
            answered.source = "\n".join(line for line in original.source.splitlines()
                                        if "### BEGIN SOLUTION" not in line
                                        and "### END SOLUTION" not in line)
    return {"right": right, "wrong": wrong_answers_notebook(right, checks), "blank": blank}


def write_sample_zip(path: Path, module: str, students: list[str], seed: int = 1,
                     broken: int = 1) -> dict[str, str]:
    """A zip as trainers download it (`<student>_<module>.ipynb`); returns {student: kind}."""
    rng = random.Random(seed)
    notebooks = sample_notebooks(module)
    kinds: dict[str, str] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, student in enumerate(students):
            if index < broken:
                kinds[student] = "broken"
                archive.writestr(f"{student}_{module}.ipynb", b'{"cells": [ this is not json')
                continue
            kind = rng.choices(["right", "wrong", "blank"], weights=[6, 3, 1])[0]
            kinds[student] = kind
            archive.writestr(f"{student}_{module}.ipynb", nbformat.writes(notebooks[kind]))
    return kinds
