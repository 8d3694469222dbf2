"""Run a Jupyter kernel for untrusted trainee code inside a sandbox.

What the sandbox guarantees (when `make` has set up bwrap, the kernel environment and
cgroups; otherwise it refuses to start, see `autograder.sandbox_host`):
- Identity: bwrap itself runs as an unprivileged host uid (`SAFETRAIN_SANDBOX_UID`, default
  64000) when the grader is root, so the sandbox user (65534 inside its user namespace) is
  that uid on the host: it cannot read what other users cannot (/etc/shadow, /root), no
  capabilities, no new privileges, no supplementary groups.
- Filesystem: the kernel sees only the OS (/usr, /etc) and its interpreter's folders
  (`.venv-kernel`), read-only, on a read-only root; a private, size-limited tmpfs as working
  directory and /tmp, holding read-only copies of the module's data files; and its own run
  directory (connection file and sockets) under /dev/shm, whose pages count against its
  memory cgroup. The instance (gradebook, records, other trainees' submissions, course
  sources with solutions) is not visible at all.
- Network: a new, empty network namespace (no interfaces but a down loopback). The kernel
  talks to the grader over Unix sockets (ZeroMQ ipc transport) in its run directory.
- Processes: a new PID namespace (it cannot see or signal the grader), dies with the grader.
- Resources: memory (`memory_mb`), pids (`pids`, stops fork bombs) and cpu (`cpus`, a CFS
  quota) cgroups, RLIMIT_FSIZE (`file_mb`), a size on the tmpfs. Killing the sandbox kills
  every process in it (PID namespace init dies, the kernel reaps the namespace).
Fail closed: a missing bwrap, controller or runnable kernel interpreter raises
`SandboxUnavailable`; only `sandboxed=False` (`--no-sandbox`, trusted code) runs without.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from autograder import sandbox_host
from autograder.cgroups import (  # noqa: F401 (the sandbox's public names)
    Cgroup,
    SandboxUnavailable,
    cgroup_base,
    cleanup_stale_cgroups,
    pid_gone,
)
from autograder.limits import Limits
from autograder.sandbox_host import SANDBOX_UID, require  # noqa: F401

log = logging.getLogger(__name__)

WORKDIR = "/home/trainee"
# Capped storage: tmpfs pages are charged to the writer's memory cgroup (the sandbox's).
RUN_ROOT = Path("/dev/shm/safetrain-kernels")
_LEGACY_RUN_ROOT = Path(tempfile.gettempdir()) / "safetrain-kernels"  # before /dev/shm
_pid_gone = pid_gone


def bwrap_path() -> str | None:
    return sandbox_host.bwrap_path()


def cleanup_stale() -> int:
    """Remove cgroups and run folders left by a grader that was killed (kill -9)."""
    removed = cleanup_stale_cgroups()
    for root in (RUN_ROOT, _LEGACY_RUN_ROOT):
        if not root.is_dir():
            continue
        for run_dir in root.iterdir():
            # Only by owner: a live grader's kernel that is still starting has no
            # kernel.json yet (this runs while the batch's own workers boot theirs).
            with contextlib.suppress(OSError):
                if run_dir.lstat().st_uid == os.geteuid() and _owner_gone(run_dir):
                    shutil.rmtree(run_dir, ignore_errors=True)
    return removed


def _owner_gone(run_dir: Path) -> bool:
    try:
        return pid_gone((run_dir / "owner.pid").read_text())
    except OSError:  # no owner written: a folder being set up right now, or an old leftover
        try:
            return time.time() - run_dir.stat().st_mtime > 60
        except OSError:
            return True


def run_root() -> Path:
    """RUN_ROOT, created sticky and world-writable like /tmp; refused if someone else owns it
    (its owner could swap our folders for links while root writes into them)."""
    with contextlib.suppress(FileExistsError):
        RUN_ROOT.mkdir(parents=True)
        os.chmod(RUN_ROOT, 0o1777)
    info = RUN_ROOT.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (0, os.geteuid()):
        raise SandboxUnavailable(
            f"内核运行目录 {RUN_ROOT} 不是本用户或 root 所有的目录，不能安全使用：请删除它后重试。"
            f" {RUN_ROOT} is not a directory owned by root or this user.")
    return RUN_ROOT


# ---------------------------------------------------------------- the bwrap command


def sandbox_argv(kernel_argv: list[str], run_dir: Path, data: list[tuple[str, str]],
                 limits: Limits, cgroup: Cgroup, bwrap: str, uid: int | None = None,
                 python: str = sys.executable) -> list[str]:
    """The full command: join cgroups and set rlimits (as the grader), then drop to `uid`
    and become bwrap, which runs the kernel. `data` is (host file, name in the workdir)."""
    tmp_bytes = str(limits.tmp_mb * 1024 * 1024)
    # Interrupts travel as control messages (see start()), so the kernel can have its own
    # session; the PID namespace already keeps its signals from reaching the grader.
    bw = [bwrap, "--die-with-parent", "--new-session", "--unshare-all",
          "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
          "--cap-drop", "ALL", "--hostname", "sandbox",
          *sandbox_host.system_mounts(python, limits.tmp_mb * 1024 * 1024),
          "--proc", "/proc", "--dev", "/dev",
          "--size", tmp_bytes, "--tmpfs", WORKDIR,
          "--bind", str(run_dir), str(run_dir)]
    for source, name in data:
        bw += ["--ro-bind", source, f"{WORKDIR}/{name}"]
    # bwrap's own root and /dev are unsized tmpfs: read-only, so the only writable places
    # are the sized tmpfs above and the run directory.
    bw += ["--remount-ro", "/dev", "--remount-ro", "/"]
    # ipykernel would take its namespace init (pid 1) for a dead parent; bwrap watches instead.
    bw += ["--chdir", WORKDIR, "--setenv", "HOME", WORKDIR, "--unsetenv", "JPY_PARENT_PID",
           "--", *kernel_argv]
    # sh: put this process into the cgroups and set rlimits, then become bwrap (as `uid`).
    script = ('for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f"; done; '
              'while [ "$1" != -- ]; do shift; done; shift; '
              f"ulimit -f {limits.file_mb * 1024}; ulimit -c 0; "
              f"ulimit -n 256; exec \"$@\"")
    return ["/bin/sh", "-c", script, "sandbox", *cgroup.procs_files, "--",
            *sandbox_host.privilege_drop(uid), *bw]


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


def clean_env(python: str = sys.executable) -> dict[str, str]:
    """No secrets (database URLs, tokens) reach trainee code."""
    return {
        "PATH": f"{Path(python).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": WORKDIR,
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "NBGRADER_EXECUTION": "autograde",
    }


def reachable_by(uid: int, path: Path) -> bool:
    """Whether `uid` (group `uid`, no other groups) can read `path` and reach it."""
    target = Path(os.path.realpath(path))
    for part in [*reversed(target.parents), target]:
        info = part.stat()
        shift = 6 if info.st_uid == uid else 3 if info.st_gid == uid else 0
        need = 4 if part == target else 1
        if not (info.st_mode >> shift) & need:
            return False
    return True


# ---------------------------------------------------------------- kernel manager


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in the sandbox above; `kill()` is immediate.

    Sandboxed, it refuses to exist (SandboxUnavailable) where the sandbox cannot be built."""

    def __init__(self, limits: Limits, data_files: list[Path] | None = None,
                 sandboxed: bool = True, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.limits = limits
        self.data_files = [p.resolve() for p in data_files or []]
        self.sandboxed = sandboxed
        self.bwrap, self.host_uid, self.python = "", None, sys.executable
        if sandboxed:
            self.bwrap, self.host_uid, self.python = sandbox_host.require_launcher()
        self.sandbox_id = uuid.uuid4().hex[:12]
        self.run_dir = Path(tempfile.mkdtemp(prefix=f"{self.sandbox_id}-", dir=run_root()))
        self.cgroup = Cgroup()
        self.transport = "ipc"
        self.ip = str(self.run_dir / "ipc")
        self.connection_file = str(self.run_dir / "kernel.json")
        (self.run_dir / "owner.pid").write_text(str(os.getpid()))
        self.data: list[tuple[str, str]] = []
        if sandboxed:
            try:
                self._prepare_run_dir()
                self.cgroup = Cgroup.create(f"safetrain-{os.getpid()}-{self.sandbox_id}", limits)
            except BaseException:
                shutil.rmtree(self.run_dir, ignore_errors=True)
                raise

    def _prepare_run_dir(self) -> None:
        """The sandbox uid creates its sockets here (group-writable, sticky: it cannot remove
        or replace the grader's files), and reads data files it could not reach where they are."""
        uid = self.host_uid
        if uid is not None:
            os.chown(self.run_dir, -1, uid)
            os.chmod(self.run_dir, 0o1770)
        copies = self.run_dir / "data"
        for source in self.data_files:
            if uid is None or reachable_by(uid, source):
                self.data.append((str(source), source.name))
                continue
            copies.mkdir(exist_ok=True)
            os.chmod(copies, 0o755)  # whatever the umask: the sandbox uid reads the copies
            shutil.copyfile(source, copies / source.name)
            os.chmod(copies / source.name, 0o444)
            self.data.append((str(copies / source.name), source.name))

    def write_connection_file(self, **kwargs: object) -> None:
        super().write_connection_file(**kwargs)
        if self.sandboxed and self.host_uid is not None:  # written 0600: the kernel reads it
            os.chown(self.connection_file, -1, self.host_uid)
            os.chmod(self.connection_file, 0o640)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        argv = without_debugger(super().format_kernel_cmd(extra_arguments))
        if not self.sandboxed:
            return argv
        if argv and os.path.realpath(argv[0]) == os.path.realpath(sys.executable):
            argv = [self.python, *argv[1:]]  # the kernel environment, not the grader's
        return sandbox_argv(argv, self.run_dir, self.data, self.limits, self.cgroup,
                            self.bwrap, self.host_uid, self.python)

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
        env = clean_env(self.python) if self.sandboxed else {
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
