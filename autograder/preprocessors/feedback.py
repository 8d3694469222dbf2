"""Feedback that does not reveal hidden tests (nbgrader issues #917 and #1363).

Stock feedback shows the autograded notebook, whose test cells were restored with their
hidden tests, and tracebacks that quote the failing hidden line. This step removes the
hidden regions, drops everything but errors from graded cells, and replaces tracebacks with
the error's last line.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from nbgrader.utils import is_grade


class HideHiddenTests(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        clear = ClearHiddenTests(parent=self, enforce_metadata=False)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not is_grade(cell):
                continue
            clear.preprocess_cell(cell, resources, index)
            # Only the verdict: printed text in a test cell may be what a trainee's function
            # produced on hidden inputs (replayed by the judge).
            cell.outputs = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            for output in cell.outputs:
                if output.output_type == "error":
                    summary = f"{output.ename}: {output.evalue}" if output.evalue else output.ename
                    if output.ename == "AssertionError" and not output.evalue:
                        summary = "AssertionError: 答案不正确 (the answer is not correct)"
                    output.traceback = [summary]
        return nb, resources
