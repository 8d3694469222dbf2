"""The cgroups of one sandbox (v1 or v2): memory, pids and CPU quota, created or refused.

Fail closed: a controller that is missing or not writable raises `SandboxUnavailable`
naming it and how to fix it; nothing runs with fewer limits than asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.limits import Limits
from records.errors import SafeTrainError

log = logging.getLogger(__name__)

_CGROUP_ROOT = Path("/sys/fs/cgroup")
REQUIRED = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
# The file (v1 name, v2 name) a controller's limit must be written to: one has to exist.
_LIMIT_FILES = {"memory": ("memory.limit_in_bytes", "memory.max"), "pids": ("pids.max",),
                "cpu": ("cpu.cfs_quota_us", "cpu.max")}


class SandboxUnavailable(SafeTrainError):
    """Trainee code cannot be sandboxed here; the message names what is missing and the fix."""

    exit_code = 5  # (4 is AccessDenied)


def _own_cgroup(controller: str) -> str:
    """This process's cgroup path for a v1 controller ('' for v2's unified entry)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (controller == "" and controllers == ""):
            return path
    return "/"


def cgroup_base(controller: str) -> Path | None:
    """A writable directory where a child cgroup with `controller` can be made, or None."""
    unified = _CGROUP_ROOT / "cgroup.controllers"
    if unified.exists():  # pure cgroup v2
        base = _CGROUP_ROOT / _own_cgroup("").lstrip("/")
        enabled = (base / "cgroup.subtree_control")
        if enabled.exists() and controller in enabled.read_text().split() and os.access(base, os.W_OK):
            return base
        return None
    base = _CGROUP_ROOT / controller / _own_cgroup(controller).lstrip("/")
    return base if base.is_dir() and os.access(base, os.W_OK) else None


def missing_controller_message(controller: str, detail: str = "") -> str:
    what = {"memory": "内存", "pids": "进程数", "cpu": "CPU 配额"}.get(controller, controller)
    return (
        f"cgroup 控制器「{controller}」（{what}限制）不可用或不可写{detail}，不能安全地运行学员代码。"
        f"请以 root 运行评分程序，并挂载 cgroup v1 的 /sys/fs/cgroup/{controller} 层级，"
        f"或在 cgroup v2 的 cgroup.subtree_control 中启用 +{controller}；"
        "只有在代码完全可信时才可用 --no-sandbox。"
        f" The {controller} cgroup controller is missing or not writable."
    )


def _settings(controller: str, limits: Limits) -> dict[str, str]:
    """Files to write, in order; only those that exist are written (v1 names, v2 names)."""
    if controller == "memory":
        limit = str(limits.memory_mb * 1024 * 1024)
        # memsw after the limit: v1 refuses a memsw limit below the memory limit.
        return {"memory.limit_in_bytes": limit, "memory.memsw.limit_in_bytes": limit,
                "memory.max": limit, "memory.swap.max": "0"}
    if controller == "pids":
        return {"pids.max": str(limits.pids)}
    if controller == "cpu":
        quota = max(1000, int(limits.cpus * CPU_PERIOD_US))
        return {"cpu.cfs_period_us": str(CPU_PERIOD_US), "cpu.cfs_quota_us": str(quota),
                "cpu.max": f"{quota} {CPU_PERIOD_US}"}
    return {}


@dataclass
class Cgroup:
    """The cgroups of one sandbox; `procs` files get the sandbox's first process."""

    dirs: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def create(cls, name: str, limits: Limits) -> Cgroup:
        """memory, pids and cpu groups with `limits` set; raise SandboxUnavailable if not."""
        group = cls()
        try:
            for controller in REQUIRED:
                group._add(controller, name, limits)
            accounting = cgroup_base("cpuacct")  # v1 may keep CPU usage apart; optional
            if accounting is not None:
                with contextlib.suppress(OSError):
                    (accounting / name).mkdir(exist_ok=True)
                    group.dirs["cpuacct"] = accounting / name
        except BaseException:
            group.remove()
            raise
        return group

    def _add(self, controller: str, name: str, limits: Limits) -> None:
        base = cgroup_base(controller)
        if base is None:
            raise SandboxUnavailable(missing_controller_message(controller))
        path = base / name  # with cgroup v2 every controller shares this directory
        written = False
        try:
            path.mkdir(exist_ok=True)
            self.dirs[controller] = path
            for key, value in _settings(controller, limits).items():
                target = path / key
                if target.exists():
                    target.write_text(value)
                    written = written or key in _LIMIT_FILES[controller]
        except OSError as exc:
            raise SandboxUnavailable(
                missing_controller_message(controller, f"（{path}：{exc.strerror or exc}）")
            ) from exc
        if not written:
            raise SandboxUnavailable(missing_controller_message(
                controller, f"（{path} 中没有 {' / '.join(_LIMIT_FILES[controller])}）"))

    @property
    def procs_files(self) -> list[str]:
        return sorted({str(p / "cgroup.procs") for p in self.dirs.values()})

    @property
    def limits_pids(self) -> bool:
        return "pids" in self.dirs

    def pids(self) -> list[int]:
        """Host PIDs of every process in the sandbox."""
        path = self.dirs.get("memory") or self.dirs.get("pids")
        try:
            return [int(p) for p in (path / "cgroup.procs").read_text().split()] if path else []
        except OSError:
            return []

    def memory_exceeded(self) -> bool:
        """Whether the OOM killer acted in this sandbox (v1 memory.oom_control, v2 memory.events)."""
        path = self.dirs.get("memory")
        if path is None:
            return False
        for name in ("memory.oom_control", "memory.events"):
            with contextlib.suppress(OSError, ValueError):
                for line in (path / name).read_text().splitlines():
                    key, value = line.split()
                    if key in ("oom_kill", "oom") and int(value) > 0:
                        return True
        return False

    def pids_exhausted(self) -> bool:
        path = self.dirs.get("pids")
        if path is None:
            return False
        with contextlib.suppress(OSError, ValueError):
            events = (path / "pids.events").read_text().split()
            return len(events) == 2 and int(events[1]) > 0
        return False

    def cpu_seconds(self) -> float | None:
        """CPU time used by the sandbox so far (v1 cpuacct.usage, v2 cpu.stat), if accounted."""
        for controller in ("cpuacct", "cpu"):
            path = self.dirs.get(controller)
            if path is None:
                continue
            with contextlib.suppress(OSError, ValueError):
                if (path / "cpuacct.usage").exists():
                    return int((path / "cpuacct.usage").read_text()) / 1e9
                for line in (path / "cpu.stat").read_text().splitlines():
                    key, value = line.split()
                    if key == "usage_usec":
                        return int(value) / 1e6
        return None

    def kill_all(self) -> None:
        for path in self.dirs.values():
            for _ in range(50):
                try:
                    pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        self.kill_all()
        for path in self.dirs.values():
            # Killed tasks leave the group a moment after SIGKILL (the pids controller
            # refuses rmdir until then): retry briefly rather than leave it behind.
            for _ in range(40):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.025)


def probe(limits: Limits) -> None:
    """Create and remove a sandbox's cgroups: raises SandboxUnavailable if any is refused."""
    Cgroup.create(f"safetrain-{os.getpid()}-probe{time.monotonic_ns()}", limits).remove()


def cleanup_stale_cgroups() -> int:
    """Remove the cgroups of graders that were killed (kill -9); the name holds the PID."""
    removed = 0
    for controller in (*REQUIRED, "cpuacct"):
        base = cgroup_base(controller)
        if base is None:
            continue
        for path in base.glob("safetrain-*-*"):
            if not pid_gone(path.name.split("-")[1]):
                continue  # another grader, still running
            Cgroup({controller: path}).remove()
            removed += not path.exists()
    return removed


def pid_gone(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return True
    return False
