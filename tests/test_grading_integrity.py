"""A grade must mean the trainee answered: attacks on the tests themselves, from the trainee side.

Every hostile submission here has no real answers; each must score no more than a blank
notebook, while the solution, and the solution plus harmless extra code, keep full marks.
Bounded: 5 s cells, 25 s notebooks, 256 MB, 48 tasks, 64 KB output, all in the sandbox.
"""

from __future__ import annotations

import copy
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from autograder.batch import BatchOptions, grade_batch
from autograder.limits import Limits
from autograder.samples import sample_notebooks
from tests import test_grading
from tests.test_grading import needs_sandbox

pytestmark = needs_sandbox
LIMITS = Limits(timeout_cell=5, timeout_notebook=25, memory_mb=256, output_kb=64, pids=48)


def after_answers(nb: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    """The notebook with a cell added right after the last answer cell (so it runs before
    the last tests) and a copy right before the first answer cell."""
    out = copy.deepcopy(nb)
    answers = [i for i, c in enumerate(out.cells) if c.metadata.get("nbgrader", {}).get("solution")]
    out.cells.insert(answers[-1] + 1, new_code_cell(code))
    out.cells.insert(answers[0], new_code_cell(code))
    return out


def answered(nb: nbformat.NotebookNode, sources: dict[str, str]) -> nbformat.NotebookNode:
    """The notebook with some answer cells (by grade id) replaced."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    return out


SET_ALL = "for _i in range(1, 40):\n    globals()[f'q{{_i:02d}}'] = {value}\n"

ATTACKS = {
    # The issue's own cases.
    "input_transformer": "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",
    "ast_transformer": (
        "import ast\nclass NoAsserts(ast.NodeTransformer):\n"
        "    def visit_Assert(self, node):\n        return ast.Pass()\n"
        "get_ipython().ast_transformers.append(NoAsserts())"),
    "replaced_run_cell": "get_ipython().run_cell = lambda *a, **k: None",
    "pre_run_hook": (
        "import re\n"
        "def _peek(info):\n"
        "    for name, value in re.findall(r'(q\\d\\d)\\.strip\\(\\)\\.upper\\(\\) == \"(\\w)\"', info.raw_cell):\n"
        "        get_ipython().user_ns[name] = value\n"
        "    print('SEEN', info.raw_cell)\n"
        "get_ipython().events.register('pre_run_cell', _peek)"),
    "always_equal_str": (
        "class E(str):\n    def __eq__(self, other): return True\n    def __hash__(self): return 0\n"
        "    def strip(self, *a): return self\n    def upper(self): return self\n"
        "    def __contains__(self, other): return True\n"
        + SET_ALL.format(value="E('A')")),
    "always_equal_in_containers": (
        "class E(str):\n    def __eq__(self, other): return True\n    def __hash__(self): return 0\n"
        "    def strip(self, *a): return self\n    def upper(self): return self\n"
        "class L(list):\n    def __eq__(self, other): return True\n"
        + SET_ALL.format(value="L([E('A'), E('B'), E('C'), E('D')])")),
    "always_equal_bool_and_number": (
        "class N(int):\n    def __eq__(self, other): return True\n    def __sub__(self, o): return 0\n"
        "    def __abs__(self): return 0\n    __hash__ = int.__hash__\n"
        + SET_ALL.format(value="N(1)")),
    "prints_every_cell": (
        "get_ipython().events.register('post_run_cell', lambda r: print('CELL', r.info.raw_cell))"),
    "claims_new_grade_cell": "pass",  # metadata set below
    "display_update_at_other_cells": (
        "from IPython.display import display, update_display\n"
        "display('x', display_id='hijack')\n"
        "get_ipython().events.register('post_run_cell', "
        "lambda r: update_display({'text/plain': '1'}, raw=True, display_id='hijack'))"),
    "stdin_request": "q01 = input('answer? ')",
    "output_flood": "get_ipython().events.register('pre_run_cell', lambda info: print('x' * 200_000))",
    "exits_mid_notebook": "import os\nos._exit(0)",
}


@pytest.fixture(scope="module")
def fire_batch(tmp_path_factory):
    module = "rescue-fire"
    samples = sample_notebooks(module)
    inst = _instance(tmp_path_factory.mktemp("integrity-fire"), module)
    blank, right = samples["blank"], samples["right"]
    cases = {name: after_answers(blank, code) for name, code in ATTACKS.items()}
    claims = cases["claims_new_grade_cell"]
    claims.cells.insert(3, new_code_cell("pass", metadata={"nbgrader": {
        "grade": True, "grade_id": "bonus", "locked": True, "points": 100, "schema_version": 3,
        "solution": False, "task": False}}))
    claims.cells.insert(3, new_markdown_cell("<img src=x onerror=alert(1)>", metadata={"nbgrader": {
        "grade": True, "grade_id": "bonus_md", "locked": False, "points": 50, "schema_version": 3,
        "solution": True, "task": False}}))
    cases["right"] = right
    cases["blank"] = blank
    cases["right_plus_harmless"] = after_answers(
        right, "import math\nnotes = [math.sqrt(x) for x in range(5)]\nprint('我的笔记', notes)")
    return _grade(inst, module, cases)


def _instance(root, module):
    test_grading.MODULE = module
    try:
        return test_grading.make_instance(root)
    finally:
        test_grading.MODULE = "rescue-fire"


def _grade(inst, module, cases):
    for student, nb in cases.items():
        folder = inst.course_dir / "submitted" / student / module
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{module}.ipynb").write_text(nbformat.writes(nb))
    batch = grade_batch(inst, BatchOptions(module=module, workers=2, limits=LIMITS))
    return inst, {r.student: r for r in batch.results}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_scores_no_more_than_blank(fire_batch, attack):
    _, results = fire_batch
    assert results["blank"].score == 0
    assert results[attack].status in ("graded", "timed_out", "failed")
    assert results[attack].score <= results["blank"].score, results[attack]


def test_solution_and_solution_with_extra_code_keep_full_marks(fire_batch):
    _, results = fire_batch
    full = results["right"].max_score
    assert full > 0 and results["right"].score == full
    assert results["right_plus_harmless"].score == full


def test_no_hidden_test_reaches_the_trainee_or_the_sandbox(fire_batch):
    inst, _ = fire_batch
    module = "rescue-fire"
    source = nbformat.read(inst.course_dir / "source" / module / f"{module}.ipynb", as_version=4)
    hidden = {line.strip() for c in source.cells if "BEGIN HIDDEN TESTS" in c.source
              for line in c.source.split("### BEGIN HIDDEN TESTS")[1]
              .split("### END HIDDEN TESTS")[0].splitlines() if line.strip()}
    assert hidden
    for student in ("prints_every_cell", "pre_run_hook"):
        graded = nbformat.read(inst.course_dir / "autograded" / student / module / f"{module}.ipynb",
                               as_version=4)
        trainee_text = "".join(json.dumps(c.get("outputs", [])) for c in graded.cells
                               if not c.metadata.get("nbgrader", {}).get("grade"))
        assert "SEEN" in trainee_text or "CELL" in trainee_text  # the hooks did run
        assert not any(line in trainee_text for line in hidden)
        feedback = (inst.course_dir / "feedback" / student / module / f"{module}.html").read_text()
        assert not any(line in feedback for line in hidden)


def test_a_claimed_grade_cell_is_not_scored(fire_batch):
    inst, results = fire_batch
    items = results["claims_new_grade_cell"].items
    assert "bonus" not in items and "bonus_md" not in items
    assert results["claims_new_grade_cell"].max_score == results["right"].max_score


# ---------------------------------------------------------------- trainee functions (remote calls)

FUNCTIONS = ("compliance_rate", "rectification_rate", "overdue_by_unit")


def _functions(body: str) -> dict[str, str]:
    """Every function answer cell defined with `body` (any arguments)."""
    ids = {"compliance_rate": "q10_answer", "rectification_rate": "q14_answer",
           "overdue_by_unit": "q17_answer"}
    return {ids[name]: f"def {name}(*args, **kwargs):\n{body}" for name in FUNCTIONS}


FUNCTION_ATTACKS = {
    "fn_always_equal": (
        "    class E(float):\n        def __eq__(self, o): return True\n"
        "        def __sub__(self, o): return 0.0\n        def __rsub__(self, o): return 0.0\n"
        "        def __abs__(self): return 0.0\n        __hash__ = float.__hash__\n"
        "    return E(50.0)\n"),
    "fn_always_equal_object_column": (
        "    import pandas as pd\n    class E:\n        def __eq__(self, o): return True\n"
        "    return pd.Series([E(), E()], dtype=object)\n"),
    "fn_loops_ignoring_interrupts": (
        "    import signal\n    signal.signal(signal.SIGINT, signal.SIG_IGN)\n    while True:\n        pass\n"),
    "fn_exits": "    import os\n    os._exit(0)\n",
    "fn_leaks_hidden_inputs": (
        "    import sys\n    for a in args:\n        print('LEAK' + 'ED-INPUT', repr(a))\n"
        "        print('LEAK' + 'ED-ERR', repr(a), file=sys.stderr)\n    return 50.0\n"),
    "fn_raises_with_text": "    raise ValueError('TRAINEE' + '-TEXT ' + repr(args))\n",
    "fn_huge_return": "    return 'x' * 50_000_000\n",
    "fn_deep_return": "    v = []\n    for _ in range(100_000):\n        v = [v]\n    return v\n",
}


@pytest.fixture(scope="module")
def practice_batch(tmp_path_factory):
    module = "inspector-practice"
    samples = sample_notebooks(module)
    inst = _instance(tmp_path_factory.mktemp("integrity-practice"), module)
    blank, right = samples["blank"], samples["right"]
    cases = {name: answered(blank, _functions(body)) for name, body in FUNCTION_ATTACKS.items()}
    cases["right"], cases["blank"] = right, blank
    cases["right_with_chatty_functions"] = after_answers(right, "print('我算完了')")
    return _grade(inst, module, cases)


@pytest.mark.parametrize("attack", sorted(FUNCTION_ATTACKS))
def test_function_attack_scores_no_more_than_blank(practice_batch, attack):
    _, results = practice_batch
    assert results[attack].score <= results["blank"].score, results[attack]


def test_functions_are_graded_through_the_sandbox(practice_batch):
    _, results = practice_batch
    full = results["right"].max_score
    assert results["right"].score == full
    assert results["right_with_chatty_functions"].score == full


def test_feedback_never_shows_what_a_function_printed_on_hidden_inputs(practice_batch):
    inst, _ = practice_batch
    module = "inspector-practice"
    for student in ("fn_leaks_hidden_inputs", "fn_raises_with_text"):
        feedback = (inst.course_dir / "feedback" / student / module / f"{module}.html").read_text()
        assert "LEAKED-INPUT" not in feedback and "LEAKED-ERR" not in feedback
        assert "TRAINEE-TEXT" not in feedback


def test_a_function_that_prints_to_stderr_scores_zero_as_in_stock(practice_batch):
    inst, results = practice_batch
    assert all(results["fn_leaks_hidden_inputs"].items[q][0] == 0 for q in ("q10", "q14", "q17"))
