"""Per-item results in feedback only once the trainee has passed or has no attempts left.

With right/wrong shown per item and unlimited attempts, any choice question falls to
enumeration. Until the attempt passes (or none is left) the feedback page keeps the total
score and says passed/failed and how many attempts are left; the grade cells lose their
outputs (where a failed assertion and its message would show) and their per-cell scores
(the template lists and heads every grade cell with its score).

Runs after GetGrades, which puts the scores into the notebook and `resources`.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_markdown_cell
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution, is_task
from traitlets import Float, Int

# Keys GetGrades and the feedback template read per cell; dropped when results are withheld.
ITEM_KEYS = ("score", "points", "comment")


def passed(score: float, max_score: float, pass_mark: float) -> bool:
    """As records decide it (`records.attempts.record_attempt`): percent of the points."""
    percent = 100.0 * score / max_score if max_score else 0.0
    return percent >= pass_mark


class ReleaseItemFeedback(NbGraderPreprocessor):
    pass_mark = Float(
        100.0, help="及格线（占模块总分的百分比），由评分批次按课程目录设置。 "
                    "Pass mark in percent of the module's points; set per module by the batch.",
    ).tag(config=True)
    attempts_left = Int(
        None, allow_none=True,
        help="本次之后学员还剩几次提交机会；None 表示不限次数，反馈照常逐题显示。 "
             "Attempts the trainee has left after this one; None: no limit, full feedback.",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode,
                   resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        if self.attempts_left is None:
            return nb, resources
        info = resources.get("nbgrader", {})
        score, max_score = float(info.get("score", 0.0)), float(info.get("max_score", 0.0))
        ok = passed(score, max_score, self.pass_mark)
        reveal = ok or self.attempts_left <= 0
        if not reveal:
            for cell in nb.cells:
                self._withhold(cell)
        nb.cells.insert(0, new_markdown_cell(self._summary(score, max_score, ok, reveal)))
        return nb, resources

    def _withhold(self, cell: NotebookNode) -> None:
        if not (is_grade(cell) or is_task(cell)):
            return
        if cell.cell_type == "code" and not is_solution(cell):  # a test cell: its result
            cell.outputs = []
        meta = cell.metadata.nbgrader
        meta["grade"] = False  # the template shows a score only for grade and task cells
        meta["task"] = False
        for key in ITEM_KEYS:
            meta.pop(key, None)

    def _summary(self, score: float, max_score: float, ok: bool, reveal: bool) -> str:
        percent = 100.0 * score / max_score if max_score else 0.0
        verdict = "通过" if ok else "未通过"
        head = (f"**本次得分 {score:g} / {max_score:g}（{percent:.0f}%），{verdict}**"
                f"（及格线 {self.pass_mark:g}%）。")
        if ok:
            return head + "下面是逐题结果。"
        if reveal:
            return head + "提交次数已用完，下面是逐题结果；如需再次考核，请联系培训管理员。"
        return (head + f"还可提交 **{self.attempts_left}** 次。为防止猜答案，逐题对错在你通过"
                "或用完提交次数后才显示；请复习课程内容后再提交。")
