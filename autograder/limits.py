"""Per-submission resource limits (one place, shared by the CLI, the pool and the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Defaults suit the SafeTrain modules on a 2-core machine."""

    timeout_cell: int = 30  # seconds for one cell
    timeout_notebook: int = 300  # seconds for the whole notebook
    memory_mb: int = 512  # the kernel and everything it starts
    output_kb: int = 1024  # printed output kept per notebook; more is cut and the cell stopped
    pids: int = 128  # processes and threads (needs a pids cgroup)
    file_mb: int = 50  # largest file the kernel may write
    tmp_mb: int = 64  # its private /tmp and working directory (tmpfs)
    cpus: float = 1.0  # CPU quota (cgroup cpu controller): one core, however many threads
