"""nbgrader's Execute step, run in a sandboxed warm kernel under per-notebook limits.

Adds to nbgrader's Execute: a whole-notebook deadline (cells not reached get an error
output so their tests score 0, as stock would give them full marks for no output), an
output cap enforced while the kernel prints (not after 200 MB are in memory), and a clear
note when the kernel dies (memory limit, process limit, os._exit, killed).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

from autograder import problems
from autograder.limits import Limits
from autograder.pool import KernelPool, pool_for
from autograder.sandbox import SandboxKernelManager


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


class SandboxedExecute(Execute):
    notebook_timeout = Integer(
        Limits.timeout_notebook,
        help="Seconds the whole notebook may run; cells not reached by then score 0.",
    ).tag(config=True)
    output_limit_kb = Integer(
        Limits.output_kb,
        help="Printed output kept per notebook (KB); beyond it output is dropped and the "
        "running cell is interrupted.",
    ).tag(config=True)
    memory_mb = Integer(Limits.memory_mb, help="Memory for the kernel and its children (MB).").tag(config=True)
    pids = Integer(Limits.pids, help="Processes and threads the kernel may have.").tag(config=True)
    sandboxed = Bool(
        True,
        help="Run kernels in the bubblewrap + cgroup sandbox. Only turn off for trusted code.",
    ).tag(config=True)
    data_dir = Unicode(
        "",
        help="Folder whose files (not notebooks) are mounted read-only in the kernel's working "
        "directory: the module's data, as released. Set per module by `safetrain grade`.",
    ).tag(config=True)

    def limits(self) -> Limits:
        return Limits(timeout_cell=self.timeout or Limits.timeout_cell,
                      timeout_notebook=self.notebook_timeout, memory_mb=self.memory_mb,
                      output_kb=self.output_limit_kb, pids=self.pids)

    def kernel_pool(self) -> KernelPool:
        """This process's warm kernels for what this step is configured to run."""
        return pool_for(self.limits(), _data_files(self.data_dir), self.sandboxed)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict | None = None,
                   km: SandboxKernelManager | None = None) -> tuple[NotebookNode, ResourcesDict]:
        notes = problems.CURRENT
        pool = self.kernel_pool()
        km = km or pool.take()
        self._deadline = time.monotonic() + self.notebook_timeout
        self._output_bytes = 0
        self._output_cut = False
        self._current = -1
        self.timeout_func = self._cell_timeout
        try:
            nb, resources = super().preprocess(nb, resources, km=km)
        except DeadKernelError:
            notes.kernel_died = True
            notes.add(self._death_reason(km))
            self._fail_current(nb, "DeadKernelError", self._death_reason(km))
        except CellTimeoutError:  # a cell ignored the interrupt: the kernel is stuck for good
            notes.timed_out = True
            notes.add("单元格超时且无法中断（忽略了中断信号），之后的单元格未运行（计 0 分）")
            self._fail_current(nb, "CellTimeoutError", "超时且无法中断")
        except RuntimeError as exc:  # kernel could not start or died before kernel_info
            notes.kernel_died = True
            notes.add(f"内核无法运行：{self._death_reason(km) if km.cgroup.dirs else exc}")
        finally:
            if self.kc is not None:
                self.kc.stop_channels()
            pool.discard(km)
        if time.monotonic() > self._deadline:
            notes.timed_out = True
            notes.add(f"超过整本限时 {self.notebook_timeout} 秒，之后的单元格未运行（计 0 分）")
        self._mark_not_run(nb)
        return nb, resources

    def _fail_current(self, nb: NotebookNode, ename: str, evalue: str) -> None:
        """The cell that was running when execution stopped scores 0, whatever it printed."""
        if 0 <= self._current < len(nb.cells):
            cell = nb.cells[self._current]
            if not any(o.output_type == "error" for o in cell.outputs):
                cell.outputs.append(_error(ename, evalue))

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        index: int) -> tuple[NotebookNode, ResourcesDict]:
        if cell.cell_type == "code" and time.monotonic() > self._deadline:
            return cell, resources  # marked as not run afterwards
        self._current = index
        cell, resources = super().preprocess_cell(cell, resources, index)
        if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
            problems.CURRENT.add(f"有单元格运行超过 {self.timeout} 秒，已中断（该单元格计 0 分）")
        return cell, resources

    def _cell_timeout(self, cell: NotebookNode) -> int:
        remaining = self._deadline - time.monotonic()
        return max(1, int(min(self.timeout or remaining, remaining)) + 1)

    def output(self, outs: list[NotebookNode], msg: dict, display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        if self._output_cut:
            return None
        self._output_bytes += sum(len(str(v)) for v in msg["content"].values())
        if self._output_bytes > self.output_limit_kb * 1024:
            self._output_cut = True
            problems.CURRENT.add(f"输出超过 {self.output_limit_kb} KB，已截断并中断该单元格")
            outs.append(NotebookNode(output_type="stream", name="stdout",
                                     text="\n…… 输出过多，已截断 (output truncated) ……\n"))
            if self.km is not None:
                asyncio.ensure_future(self.km.interrupt_kernel())
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _death_reason(self, km: SandboxKernelManager) -> str:
        if km.cgroup.memory_exceeded():
            return f"内核因内存超过 {self.memory_mb} MB 被终止"
        if km.cgroup.pids_exhausted():
            return f"进程数超过 {self.pids} 的限制，内核被终止"
        return "内核意外退出（代码结束了自身进程或崩溃）"

    @staticmethod
    def _mark_not_run(nb: NotebookNode) -> None:
        """Cells never executed get an error output: no output would mean full marks."""
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.strip() and cell.get("execution_count") is None \
                    and not any(o.output_type == "error" for o in cell.outputs):
                cell.outputs.append(_error("NotRun", "该单元格未运行（超时或内核终止）"))


def _data_files(folder: str) -> list[Path]:
    """The module's data files: everything but notebooks, at the top of its folder."""
    path = Path(folder)
    if not folder or not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix != ".ipynb")
