"""Run a Jupyter kernel for untrusted trainee code inside a sandbox.

What the sandbox guarantees (when `bwrap` and cgroups are available, as `make` sets up):
- Filesystem: the kernel sees only the OS (/usr, /etc), the Python installation and the
  virtualenv, all read-only; a private, size-limited tmpfs as working directory and /tmp,
  holding read-only copies of the module's data files; and its own run directory with the
  kernel's connection file and sockets. The instance (gradebook, records database, other
  trainees' submissions, course sources with solutions) is not visible at all.
- Network: a new, empty network namespace (no interfaces but a down loopback). The kernel
  talks to the grader over Unix sockets (ZeroMQ ipc transport) in its run directory.
- Processes: a new PID namespace (it cannot see or signal the grader), unprivileged uid
  65534 inside a user namespace, no new privileges, dies with the grader.
- Resources: a memory cgroup (`memory_mb`), a pids cgroup (`pids`, stops fork bombs),
  RLIMIT_FSIZE (`file_mb`), and a size on the tmpfs. Killing the sandbox kills every process
  in it (PID namespace init dies → the kernel reaps the namespace).
Without bwrap the grader refuses to run untrusted code unless told `allow_unsandboxed`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from autograder.limits import Limits

log = logging.getLogger(__name__)

SANDBOX_UID = 65534
WORKDIR = "/home/trainee"
RUN_ROOT = Path(tempfile.gettempdir()) / "safetrain-kernels"
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


# ---------------------------------------------------------------- cgroups (v1 and v2)


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


@dataclass
class Cgroup:
    """The cgroups of one sandbox; `procs` files get the sandbox's first process."""

    dirs: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def create(cls, name: str, limits: Limits) -> Cgroup:
        group = cls()
        for controller, settings in (
            ("memory", _memory_settings(limits)),
            ("pids", {"pids.max": str(limits.pids)}),
        ):
            base = cgroup_base(controller)
            if base is None:
                continue
            path = base / name  # with cgroup v2 both controllers share this directory
            try:
                path.mkdir(exist_ok=True)
                for key, value in settings.items():
                    target = path / key
                    if target.exists():
                        target.write_text(value)
            except OSError as exc:
                log.warning("cannot set up %s cgroup %s: %s", controller, path, exc)
                continue
            group.dirs[controller] = path
        return group

    @property
    def procs_files(self) -> list[str]:
        return sorted({str(p / "cgroup.procs") for p in self.dirs.values()})

    @property
    def limits_pids(self) -> bool:
        return "pids" in self.dirs

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


def cleanup_stale() -> int:
    """Remove cgroups and run folders left by a grader that was killed (kill -9)."""
    removed = 0
    for controller in ("memory", "pids"):
        base = cgroup_base(controller)
        if base is None:
            continue
        for path in base.glob("safetrain-*-*"):
            if not _pid_gone(path.name.split("-")[1]):
                continue  # another grader, still running
            stale = Cgroup({controller: path})
            stale.remove()
            removed += not path.exists()
    if RUN_ROOT.is_dir():
        for run_dir in RUN_ROOT.iterdir():
            # Only by owner: a live grader's kernel that is still starting has no
            # kernel.json yet (this runs while the batch's own workers boot theirs).
            if _owner_gone(run_dir):
                shutil.rmtree(run_dir, ignore_errors=True)
    return removed


def _owner_gone(run_dir: Path) -> bool:
    try:
        return _pid_gone((run_dir / "owner.pid").read_text())
    except OSError:  # no owner written: a folder being set up right now, or an old leftover
        try:
            return time.time() - run_dir.stat().st_mtime > 60
        except OSError:
            return True


def _pid_gone(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return True
    return False


def _memory_settings(limits: Limits) -> dict[str, str]:
    limit = str(limits.memory_mb * 1024 * 1024)
    # v1 names, then v2 names; only the files that exist are written.
    return {"memory.limit_in_bytes": limit, "memory.memsw.limit_in_bytes": limit,
            "memory.max": limit, "memory.swap.max": "0"}


# ---------------------------------------------------------------- the bwrap command


def _ro_system_args(tmp_bytes: int) -> list[str]:
    """The OS, then a fresh /tmp, then the Python installation and virtualenv (which may
    live under /tmp themselves, so they are bound after the tmpfs that would hide them)."""
    args: list[str] = []
    for top in ("/usr", "/etc"):
        args += ["--ro-bind", top, top]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    args += ["--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    seen: set[str] = set()
    for prefix in (sys.base_prefix, sys.prefix, sys.exec_prefix):
        real = os.path.realpath(prefix)
        for path in {prefix, real}:
            if path not in seen and not path.startswith(("/usr/", "/etc/")) and path != "/usr":
                seen.add(path)
                args += ["--ro-bind", path, path]
    return args


def sandbox_argv(kernel_argv: list[str], run_dir: Path, data_files: list[Path],
                 limits: Limits, cgroup: Cgroup, bwrap: str) -> list[str]:
    """The full command: join cgroups, set rlimits, then bwrap the kernel."""
    # Interrupts travel as control messages (see start()), so the kernel can have its own
    # session; the PID namespace already keeps its signals from reaching the grader.
    bw = [bwrap, "--die-with-parent", "--new-session", "--unshare-all",
          "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
          "--cap-drop", "ALL", "--hostname", "sandbox",
          *_ro_system_args(limits.tmp_mb * 1024 * 1024),
          "--proc", "/proc", "--dev", "/dev",
          "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", WORKDIR,
          "--bind", str(run_dir), str(run_dir)]
    for data in data_files:
        bw += ["--ro-bind", str(data), f"{WORKDIR}/{data.name}"]
    # ipykernel would take its namespace init (pid 1) for a dead parent; bwrap watches instead.
    bw += ["--chdir", WORKDIR, "--setenv", "HOME", WORKDIR, "--unsetenv", "JPY_PARENT_PID",
           "--", *kernel_argv]
    # sh: put this process into the cgroups and set rlimits, then become bwrap.
    script = ('for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f"; done; '
              'while [ "$1" != -- ]; do shift; done; shift; '
              f"ulimit -f {limits.file_mb * 1024}; ulimit -c 0; "
              f"ulimit -n 256; exec \"$@\"")
    return ["/bin/sh", "-c", script, "sandbox", *cgroup.procs_files, "--", *bw]


# ipykernel loads debugpy at start (a quarter of the kernel's start-up CPU) for a debugger
# nobody grading uses; a module set to None in sys.modules cannot be imported, so the
# kernel starts without one (and without its listening socket machinery in the sandbox).
_NO_DEBUGGER = ("import sys; sys.modules['debugpy'] = None; "
                "from ipykernel import kernelapp; kernelapp.launch_new_instance()")


def without_debugger(argv: list[str]) -> list[str]:
    """`python -m ipykernel_launcher ARGS` as the same kernel without debugpy."""
    for i in range(len(argv) - 1):
        if argv[i] == "-m" and argv[i + 1] == "ipykernel_launcher":
            return [*argv[:i], "-c", _NO_DEBUGGER, *argv[i + 2:]]
    return argv


def clean_env() -> dict[str, str]:
    """No secrets (database URLs, tokens) reach trainee code."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": WORKDIR,
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "NBGRADER_EXECUTION": "autograde",
    }


# ---------------------------------------------------------------- kernel manager


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in the sandbox above; `kill()` is immediate."""

    def __init__(self, limits: Limits, data_files: list[Path] | None = None,
                 sandboxed: bool = True, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.limits = limits
        self.data_files = [p.resolve() for p in data_files or []]
        self.sandboxed = sandboxed
        self.sandbox_id = uuid.uuid4().hex[:12]
        RUN_ROOT.mkdir(parents=True, exist_ok=True)
        self.run_dir = Path(tempfile.mkdtemp(prefix=f"{self.sandbox_id}-", dir=RUN_ROOT))
        self.cgroup = Cgroup()
        self.transport = "ipc"
        self.ip = str(self.run_dir / "ipc")
        self.connection_file = str(self.run_dir / "kernel.json")
        (self.run_dir / "owner.pid").write_text(str(os.getpid()))
        if sandboxed:
            os.chmod(self.run_dir, 0o777)  # uid 65534 inside creates its sockets here
            self.cgroup = Cgroup.create(f"safetrain-{os.getpid()}-{self.sandbox_id}", limits)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        argv = without_debugger(super().format_kernel_cmd(extra_arguments))
        bwrap = bwrap_path()
        if not self.sandboxed or bwrap is None:
            return argv
        return sandbox_argv(argv, self.run_dir, self.data_files, self.limits, self.cgroup, bwrap)

    async def start(self) -> None:
        """Launch now; the kernel boots in the background until a client waits for it."""
        # Interrupt over the control channel: a signal from outside does not reach the
        # kernel inside bwrap's PID namespace reliably, a message always does.
        self.kernel_spec.interrupt_mode = "message"
        cwd = str(self.run_dir)
        if not self.sandboxed:
            work = self.run_dir / "work"
            work.mkdir()
            for data in self.data_files:
                shutil.copy(data, work / data.name)
            cwd = str(work)
        # Unsandboxed (trusted code only) the kernel inherits the environment, less our own
        # settings; jupyter_client needs a dict either way.
        env = clean_env() if self.sandboxed else {
            k: v for k, v in os.environ.items() if not k.startswith("SAFETRAIN_")}
        await self.start_kernel(env=env, cwd=cwd,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                extra_arguments=["--HistoryManager.hist_file=:memory:"])

    def kill(self) -> None:
        """SIGKILL the sandbox (its PID namespace dies with it) and remove its traces."""
        process = getattr(self.provisioner, "process", None)
        if process is not None:
            with contextlib.suppress(ProcessLookupError, OSError):
                process.kill()
            with contextlib.suppress(Exception):
                process.wait(timeout=5)
        self.cgroup.remove()
        with contextlib.suppress(Exception):
            self.cleanup_connection_file()
            self.cleanup_ipc_files()
        shutil.rmtree(self.run_dir, ignore_errors=True)
