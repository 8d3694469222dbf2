"""What the benchmarks share: running a command while sampling its whole process tree.

Peak memory is the largest total PSS (proportional set size: pages shared between the
processes, such as forked workers' copies of the parent, are split among them, so the sum
counts them once) of the command and all its children, sampled every 0.5 s (reading PSS
is itself costly, so denser sampling would slow what is being measured).
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import psutil


def run_measured(cmd: list[str], env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> tuple[float, float, int, str, str]:
    """(wall seconds, peak tree PSS in MB, exit code, stdout, stderr)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    peak = 0
    root = psutil.Process(proc.pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_full_info().pss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    return wall, peak / 1e6, proc.returncode, out, err
