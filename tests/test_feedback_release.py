"""Feedback before a pass shows the total only; after a pass or the last attempt, each item.

`ReleaseItemFeedback` on a hand-built notebook rendered with nbgrader's own feedback
template (no kernel), and once end to end through `safetrain grade` in the sandbox.
"""

from __future__ import annotations

import os

import nbformat
import pytest
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder import pipeline, sandbox
from autograder.batch import BatchOptions, grade_batch
from autograder.course import release
from autograder.preprocessors.feedback_release import ReleaseItemFeedback
from records import db
from records.attempts import record_attempt
from records.instance import Instance
from tests.test_attempt_limits import HOUR, MODULE, T0, facts


def graded_notebook() -> nbformat.NotebookNode:
    """An autograded notebook as GetGrades leaves it: one right item, one wrong."""
    answer = new_code_cell('q01 = "B"', metadata={"nbgrader": {
        "grade": False, "solution": True, "grade_id": "q01_answer", "locked": False}})
    right = new_code_cell('assert q01 in "ABCD", "请填写 A、B、C、D 之一"', metadata={"nbgrader": {
        "grade": True, "solution": False, "grade_id": "q01", "points": 1, "score": 1.0,
        "locked": True}})
    wrong = new_code_cell('assert q02 in "ABCD", "请填写 A、B、C、D 之一"', metadata={"nbgrader": {
        "grade": True, "solution": False, "grade_id": "q02", "points": 2, "score": 0.0,
        "locked": True}})
    wrong.outputs = [new_output("error", ename="AssertionError", evalue="SECRET-MESSAGE",
                                traceback=["AssertionError: SECRET-MESSAGE"])]
    return new_notebook(cells=[answer, right, wrong])


def feedback_html(attempts_left: int | None, score: float = 1.0) -> str:
    resources = {"nbgrader": {"notebook": MODULE, "score": score, "max_score": 3.0,
                              "late_penalty": 0}}
    step = ReleaseItemFeedback(pass_mark=80, attempts_left=attempts_left)
    nb, resources = step.preprocess(graded_notebook(), resources)
    css = pipeline.NBGRADER_TEMPLATES.parent / "static" / "node_modules" / "bootstrap" / "dist" / "css"
    exporter = HTMLExporter(  # as the grading pipeline configures GenerateFeedback
        template_name=pipeline.FEEDBACK_TEMPLATE,
        template_file=f"{pipeline.FEEDBACK_TEMPLATE}.html.j2",
        extra_template_basedirs=[str(pipeline.TEMPLATES), str(pipeline.NBGRADER_TEMPLATES)],
        extra_template_paths=[str(css)])
    html, _ = exporter.from_notebook_node(nb, resources=resources)
    return html


def test_feedback_before_a_pass_shows_only_the_total():
    html = feedback_html(attempts_left=2)
    assert "（得分：1.0 / 3.0）" in html  # the total, in the page heading
    assert html.count("得分：") == 1  # no per-item scores
    assert "评分单元" not in html and 'href="#q02"' not in html
    assert "Score" not in html and "Student" not in html  # the page is in Chinese
    assert "SECRET-MESSAGE" not in html and "AssertionError" not in html
    assert "未通过" in html and "还可提交 <strong>2</strong> 次" in html


@pytest.mark.parametrize(("left", "score", "says"), [
    (2, 3.0, "通过</strong>（及格线 80%）。下面是逐题结果"),
    (0, 1.0, "提交次数已用完"),
    (None, 1.0, None),  # no limit known: stock feedback
])
def test_feedback_after_a_pass_or_the_last_attempt_shows_every_item(left, score, says):
    html = feedback_html(attempts_left=left, score=score)
    assert 'href="#q01"' in html and 'href="#q02"' in html and "SECRET-MESSAGE" in html
    assert html.count("得分：") == 1 + 2 * 2  # the total; a list entry and a heading per test
    assert "Score" not in html and "Grade cell" not in html and "评分单元" in html
    if says:
        assert says in html


needs_sandbox = pytest.mark.skipif(
    (sandbox.bwrap_path() is None or sandbox.cgroup_base("pids") is None)
    and os.environ.get("CI", "").lower() != "true",  # under CI a missing sandbox fails
    reason="needs bubblewrap and a writable pids cgroup (make installs bubblewrap)")


@needs_sandbox
def test_real_feedback_is_withheld_until_a_pass_or_the_last_attempt(tmp_path):
    from autograder.limits import Limits
    from autograder.samples import sample_notebooks

    samples = sample_notebooks(MODULE)
    inst = Instance.from_env(tmp_path / "inst")
    inst.create_dirs()
    engine = db.make_engine(inst.db_url)
    db.upgrade(engine)
    engine.dispose()
    release(inst, [MODULE])
    with db.open_session(inst.db_url) as session:  # erin used two attempts long ago
        for sha in "ab":
            record_attempt(session, facts("erin", sha * 64, at=T0 - 100 * HOUR))
    for student, kind in {"amy": "wrong", "carl": "right", "erin": "wrong"}.items():
        folder = inst.course_dir / "submitted" / student / MODULE
        folder.mkdir(parents=True)
        nbformat.write(samples[kind], folder / f"{MODULE}.ipynb")
    limits = Limits(timeout_cell=10, timeout_notebook=60, memory_mb=256, output_kb=64, pids=48)
    result = grade_batch(inst, BatchOptions(module=MODULE, workers=2, limits=limits))
    scores = {r.student: (r.score, r.max_score) for r in result.results}
    assert scores["carl"][0] == scores["carl"][1] and scores["amy"][0] < scores["amy"][1]

    def page(student: str) -> str:
        return (inst.course_dir / "feedback" / student / MODULE / f"{MODULE}.html").read_text()

    amy, carl, erin = page("amy"), page("carl"), page("erin")
    assert amy.count("得分：") == 1 and "还可提交 <strong>2</strong> 次" in amy
    assert "AssertionError" not in amy and 'href="#q01"' not in amy
    assert "AssertionError" in erin and "提交次数已用完" in erin  # third and last attempt
    assert carl.count("得分：") > 20 and 'href="#q01"' in carl and "下面是逐题结果" in carl
