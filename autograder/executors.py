"""Where grading runs: local worker processes (default) or an existing Dask cluster.

Both take picklable tasks and yield (task, result-or-exception) as they finish, so the batch
does not care which is used. Workers keep warm kernel pools between tasks.

Fail closed on every worker: a task marked `sandboxed` runs only after the worker has checked
it can sandbox (`autograder.sandbox_host.require`); if it cannot, `run` raises
`SandboxUnavailable` and the batch stops, rather than recording a failure per trainee.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from autograder.cgroups import SandboxUnavailable
from records.errors import SafeTrainError

log = logging.getLogger(__name__)

Task = Any
Outcome = tuple[Task, Any]  # (task, result) or (task, BaseException)


def _sandbox_limits(task: Task) -> Any:
    """The limits a sandboxed task needs, or None when it runs unsandboxed (trusted code)."""
    if not getattr(task, "sandboxed", False):
        return None
    from autograder.limits import Limits

    return getattr(task, "limits", None) or Limits()


def run_checked(fn: Callable[[Task], Any], task: Task) -> Any:
    """`fn(task)` on a worker, which first proves it can sandbox a `sandboxed` task."""
    limits = _sandbox_limits(task)
    if limits is not None:
        from autograder.sandbox_host import require

        require(limits)
    return fn(task)


def _worker_init(warm: Callable[[], None] | None = None) -> None:
    """Die with the parent (kill -9 of the grader leaves no orphan graders or kernels); then
    `warm` (boot the first kernel while the batch is still being prepared)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    logging.getLogger().setLevel(logging.WARNING)
    if warm is not None:
        with contextlib.suppress(Exception):  # a failed warm-up only means a cold start
            warm()


class LocalExecutor:
    """A process pool on this machine; a crashed worker is replaced and its task retried once.

    Workers fork from a server that has already imported `preload` (nbgrader and the
    grading code), so each starts in milliseconds; `start` launches them early.
    """

    def __init__(self, workers: int, *, preload: tuple[str, ...] = (),
                 warm: Callable[[], None] | None = None) -> None:
        self.workers = max(1, workers)
        self.preload = preload
        self.warm = warm
        self._started: ProcessPoolExecutor | None = None
        self._starting: threading.Thread | None = None

    def _pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        if self.preload:
            context.set_forkserver_preload(list(self.preload))
        return ProcessPoolExecutor(self.workers, mp_context=context, initializer=_worker_init,
                                   initargs=(self.warm,))

    def start(self) -> None:
        """Start the workers in the background (they warm up while the caller prepares
        the batch; starting the forkserver blocks until it has imported `preload`)."""
        if self._starting is None:
            self._starting = threading.Thread(target=self._start, name="start-workers",
                                              daemon=True)
            self._starting.start()

    def _start(self) -> None:
        pool = self._pool()
        for _ in range(self.workers):  # the forkserver starts workers as tasks arrive
            pool.submit(int)
        self._started = pool

    def _take_started(self) -> ProcessPoolExecutor | None:
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        pool, self._started = self._started, None
        return pool

    def close(self) -> None:
        """Stop workers started for nothing (the batch turned out to be empty)."""
        pool = self._take_started()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def run(self, fn: Callable[[Task], Any], tasks: list[Task]) -> Iterator[Outcome]:
        from autograder.sandbox_host import require

        for limits in {_sandbox_limits(t) for t in tasks} - {None}:
            require(limits)  # same machine as the workers: refuse before starting any
        pending = list(tasks)
        tries: dict[int, int] = {}
        while pending:
            pool = self._take_started() or self._pool()
            futures: dict[Future, Task] = {pool.submit(run_checked, fn, t): t for t in pending}
            pending = []
            broken = False
            try:
                while futures:
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for future in done:
                        task = futures.pop(future)
                        try:
                            yield task, future.result()
                        except SandboxUnavailable:
                            broken = True  # stop now: do not wait for the other tasks
                            raise
                        except BrokenProcessPool as exc:
                            broken = True
                            tries[id(task)] = tries.get(id(task), 0) + 1
                            if tries[id(task)] >= 2:
                                yield task, exc
                            else:
                                pending.append(task)
                        except Exception as exc:  # noqa: BLE001 (reported per task)
                            yield task, exc
            finally:
                pool.shutdown(wait=not broken, cancel_futures=True)


class DaskExecutor:
    """Tasks on a Dask cluster (`--executor dask://HOST:PORT`, or a LocalCluster in tests).

    The workers need the same instance and course folders at the same paths (a shared
    filesystem) and the gradebook reachable from all of them.
    """

    def __init__(self, address: str | Any) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise SafeTrainError(
                "--executor dask:// 需要 Dask：pip install 'safetrain[dask]'（或 pip install "
                "distributed）。 Grading on a Dask cluster needs the optional dask extra."
            ) from None

        self.client = address if hasattr(address, "submit") else Client(address)
        self.owns_client = not hasattr(address, "submit")

    def start(self) -> None:
        """Nothing to start: the cluster's workers are already running."""

    def close(self) -> None:
        if self.owns_client:
            self.client.close()

    def run(self, fn: Callable[[Task], Any], tasks: list[Task]) -> Iterator[Outcome]:
        from distributed import as_completed

        futures = {self.client.submit(run_checked, fn, t, pure=False): t for t in tasks}
        try:
            for future in as_completed(futures):
                task = futures[future]
                try:
                    yield task, future.result()
                except SandboxUnavailable:
                    self.client.cancel(list(futures))
                    raise
                except Exception as exc:  # noqa: BLE001 (reported per task)
                    yield task, exc
        finally:
            if self.owns_client:
                self.client.close()


def make_executor(spec: str, workers: int, *, preload: tuple[str, ...] = (),
                  warm: Callable[[], None] | None = None) -> LocalExecutor | DaskExecutor:
    """'local' or 'dask://HOST:PORT' (tcp:// also accepted)."""
    if spec == "local":
        return LocalExecutor(workers, preload=preload, warm=warm)
    if spec.startswith(("dask://", "tcp://")):
        return DaskExecutor("tcp://" + spec.split("://", 1)[1])
    raise SafeTrainError(f"未知的执行方式「{spec}」：应为 local 或 dask://主机:端口")
