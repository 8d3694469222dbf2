"""Warm kernels: the next submission's sandboxed kernel boots while this one runs.

Stock grading spends ~85% of its time starting and stopping kernels. A pool per worker
process keeps one kernel launched ahead of need and kills used kernels without waiting for
a graceful shutdown (the sandbox dies as a whole).
"""

from __future__ import annotations

import logging
import threading
from multiprocessing.util import Finalize
from pathlib import Path

from jupyter_core.utils import run_sync

from autograder.limits import Limits
from autograder.sandbox import SandboxKernelManager

log = logging.getLogger(__name__)


class KernelPool:
    """Hands out started kernels for one module (same data files, same limits)."""

    def __init__(self, limits: Limits, data_files: list[Path], *, sandboxed: bool = True,
                 kernel_name: str = "python3", ahead: int = 1) -> None:
        self.limits = limits
        self.data_files = data_files
        self.sandboxed = sandboxed
        self.kernel_name = kernel_name
        self.ahead = ahead
        self._ready: list[SandboxKernelManager] = []

    def _launch(self) -> SandboxKernelManager:
        km = SandboxKernelManager(self.limits, self.data_files, sandboxed=self.sandboxed,
                                  kernel_name=self.kernel_name)
        run_sync(km.start)()
        return km

    def take(self) -> SandboxKernelManager:
        """A launched kernel (maybe still booting: the client waits for it to be ready)."""
        km = self._ready.pop(0) if self._ready else self._launch()
        try:
            self.warm()
        except BaseException:  # e.g. SandboxUnavailable: no kernel left running unowned
            km.kill()
            raise
        return km

    def warm(self) -> None:
        """Launch the kernels kept ahead now, before the first notebook asks for one."""
        while len(self._ready) < self.ahead:
            self._ready.append(self._launch())

    @staticmethod
    def discard(km: SandboxKernelManager) -> None:
        """Kill a used kernel in the background: nothing waits on its shutdown (but the
        process waits for these threads before it exits, so no sandbox is left behind)."""
        threading.Thread(target=km.kill, name="kill-kernel").start()

    def close(self) -> None:
        for km in self._ready:
            km.kill()
        self._ready.clear()


_POOLS: dict[tuple, KernelPool] = {}


def pool_for(limits: Limits, data_files: list[Path], sandboxed: bool) -> KernelPool:
    """This process's pool for a module (worker processes keep theirs between tasks)."""
    key = (limits, tuple(sorted(map(str, data_files))), sandboxed)
    if not _POOLS:  # worker processes end without atexit: multiprocessing's own exit hook
        Finalize(None, close_all, exitpriority=10)
    if key not in _POOLS:
        _POOLS[key] = KernelPool(limits, data_files, sandboxed=sandboxed)
    return _POOLS[key]


def close_all() -> None:
    for pool in _POOLS.values():
        pool.close()
    _POOLS.clear()
