"""Execute in lockstep: trainee code in the sandbox, tests on the grader side.

The sandbox runs the notebook's cells in order up to each test cell; the test then runs in
the judge (autograder.judge) against the trainee's values at that moment, fetched through the
typed codec. Roles come from the instructor's source notebook (autograder.cell_roles), so an
input transformer, an AST hook, a replaced `run_cell` or a `pre_run_cell` hook in the
sandbox never sees or touches a test, and a test's source never enters the sandbox.
"""

from __future__ import annotations

import logging
import time

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode, from_dict
from traitlets import Unicode

from autograder import codec, problems
from autograder.cell_roles import INSTRUCTOR, TEST, ModuleRoles, roles_for
from autograder.judge import Judge, JudgeFailed, spawn_judge
from autograder.preprocessors.execute import SandboxedExecute, _data_files
from autograder.sandbox import SandboxKernelManager

log = logging.getLogger(__name__)

_CODEC_MODULE = "_safetrain_codec"


class LockstepExecute(SandboxedExecute):
    source_notebook = Unicode(
        "",
        help="The instructor's source notebook of the module: it alone decides which cells are "
        "tests (grader side), instructor cells (both sides) and trainee cells (sandbox only).",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict | None = None,
                   km: SandboxKernelManager | None = None) -> tuple[NotebookNode, ResourcesDict]:
        self._roles: ModuleRoles = roles_for(self.source_notebook)
        if not self._roles.declared:
            log.warning("模块没有声明测试读取的学员变量（test_reads），按作答格推断：%s", self.source_notebook)
        claimed = self._roles.normalize(nb)
        if claimed:
            problems.CURRENT.add(f"有 {claimed} 个单元格自称评分单元格，但模块里没有这些编号：按普通单元格处理，不计分")
        self._codec_ready = False
        self._synthetic_timeout: float | None = None
        self._instructor_sources: list[str] = []
        self._judge: Judge | None = None
        self._judge_count = 0
        try:
            return super().preprocess(nb, resources, km=km)
        finally:
            if self._judge is not None:
                self._judge.close()

    # ---------------------------------------------------------------- routing

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        index: int) -> tuple[NotebookNode, ResourcesDict]:
        role = self._roles.role_of(cell)
        if role == TEST:
            return self._run_test(cell, index), resources
        cell, resources = super().preprocess_cell(cell, resources, index)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if role == INSTRUCTOR and grade_id in self._roles.judge_needs \
                and cell.get("execution_count") is not None:
            source = self._roles.source_of(cell)
            self._instructor_sources.append(source)
            self._on_judge("instructor", source, self._cell_timeout(cell))
        return cell, resources

    def _run_test(self, cell: NotebookNode, index: int) -> NotebookNode:
        if time.monotonic() > self._deadline:
            return cell  # marked as not run afterwards
        self._current = index
        cell.source = self._roles.source_of(cell)
        names = list(self._roles.reads_of(cell.source))
        timeout = float(self._cell_timeout(cell))
        started = time.monotonic()
        payload = self._export(names, index, timeout) if names else None
        remaining = max(1.0, timeout - (time.monotonic() - started))
        outputs = self._on_judge("test", cell.source, remaining, payload=payload, names=names,
                                 index=index)
        self._judge_count += 1
        cell.outputs = [from_dict(o) for o in outputs]
        cell.execution_count = self._judge_count
        return cell

    # ---------------------------------------------------------------- the grader side

    def _judge_process(self) -> Judge:
        if self._judge is None or self._judge.closed:
            self._judge = spawn_judge(_data_files(self.data_dir), isolate=self.sandboxed)
            for source in self._instructor_sources:  # a restarted judge replays them
                self._judge.run("instructor", source, float(self.timeout or 30))
        return self._judge

    def _on_judge(self, op: str, source: str, timeout: float, *, payload: str | None = None,
                  names: list[str] | None = None, index: int = -1) -> list[dict]:
        try:
            judge = self._judge_process()
            outputs = judge.run(op, source, timeout, payload=payload, names=names,
                                on_call=lambda ref, data, budget: self._call(ref, data, budget, index))
        except JudgeFailed as exc:
            if self._judge is not None:
                self._judge.close()
            problems.CURRENT.add(f"评分进程出错，该题计 0 分：{exc}")
            return [{"output_type": "error", "ename": "JudgeFailed", "evalue": str(exc),
                     "traceback": [f"JudgeFailed: {exc}"]}]
        if op == "instructor" and any(o.get("output_type") == "error" for o in outputs):
            log.warning("教员单元格在评分端出错：%s", [o for o in outputs if o.get("output_type") == "error"])
        return outputs

    # ---------------------------------------------------------------- the sandbox side

    def _sandbox_data(self, code: str, index: int, timeout: float) -> str | None:
        """Run internal code in the trainee's kernel; what it published, or None."""
        cell = from_dict({"cell_type": "code", "source": code, "metadata": {}, "outputs": [],
                          "execution_count": None})
        self._synthetic_timeout = timeout
        cells = self.nb.cells
        original = cells[index] if 0 <= index < len(cells) else None
        try:
            self.execute_cell(cell, index, store_history=False)
        finally:
            self._synthetic_timeout = None
            if original is not None:  # nbclient stores the executed cell at `index`
                cells[index] = original
        for output in cell.outputs:
            if output.get("output_type") == "display_data":
                text = output.get("data", {}).get(codec.MIME)
                if isinstance(text, str):
                    return text
        return None

    def _export(self, names: list[str], index: int, timeout: float) -> str | None:
        code = "" if self._codec_ready else codec.kernel_installer(_CODEC_MODULE)
        self._codec_ready = True
        code += f"__import__({_CODEC_MODULE!r}).publish_export({names!r})\n"
        return self._sandbox_data(code, index, timeout)

    def _call(self, ref: int, payload: str, budget: float, index: int) -> str | None:
        code = f"__import__({_CODEC_MODULE!r}).publish_call({ref!r}, {payload!r})\n"
        return self._sandbox_data(code, index, budget)

    def _cell_timeout(self, cell: NotebookNode) -> int:
        if self._synthetic_timeout is not None:
            return max(1, int(self._synthetic_timeout) + 1)
        return super()._cell_timeout(cell)
