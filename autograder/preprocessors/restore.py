"""Put back autograder test cells that a trainee deleted.

Stock nbgrader restores *edited* test cells (OverwriteCells) but silently drops a deleted
one: its points vanish from the total. This step re-inserts each missing graded cell from
the released source notebook, next to its original neighbour, before OverwriteCells runs.
"""

from __future__ import annotations

import copy

import nbformat
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Unicode

from autograder import problems


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


class RestoreDeletedCells(NbGraderPreprocessor):
    source_notebook = Unicode(
        "",
        help="Path of the instructor's source notebook this submission was released from "
        "(set per module by `safetrain grade`). Empty: the step does nothing.",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        if not self.source_notebook:
            return nb, resources
        source = nbformat.read(self.source_notebook, as_version=nbformat.NO_CONVERT)
        present = {_grade_id(c) for c in nb.cells}
        previous: str | None = None
        for cell in source.cells:
            grade_id = _grade_id(cell)
            if is_grade(cell) and not is_solution(cell) and grade_id not in present:
                position = self._position_after(nb, previous)
                nb.cells.insert(position, copy.deepcopy(cell))
                present.add(grade_id)
                problems.CURRENT.add(f"删除了评分单元格 {grade_id}，已按原题恢复")
                self.log.warning("已恢复被删除的评分单元格 %s", grade_id)
            if grade_id in present:
                previous = grade_id
        return nb, resources

    @staticmethod
    def _position_after(nb: NotebookNode, grade_id: str | None) -> int:
        if grade_id is None:
            return 0
        for index, cell in enumerate(nb.cells):
            if _grade_id(cell) == grade_id:
                return index + 1
        return len(nb.cells)
