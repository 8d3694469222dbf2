"""What a sandbox needs from the host, checked before trainee code runs (fail closed).

- bubblewrap; and when the grader is root, `setpriv`: bwrap itself runs as an unprivileged
  host uid (`SAFETRAIN_SANDBOX_UID`, default 64000), so its user namespace maps the sandbox
  user to that uid, never to root;
- a kernel interpreter that uid can run. Root's own Python may live under /root (mode
  0700), so `make` builds `.venv-kernel` from Debian's /usr/bin/python3.11
  (`SAFETRAIN_KERNEL_PYTHON` names another one);
- memory, pids and cpu cgroups (`autograder.cgroups`).
Anything missing raises `SandboxUnavailable` saying what and how to fix it.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from autograder import cgroups
from autograder.cgroups import SandboxUnavailable
from autograder.limits import Limits

log = logging.getLogger(__name__)

DEFAULT_UID = 64000
SANDBOX_UID = 65534  # the user inside the sandbox (its user namespace maps it to the host uid)
KERNEL_VENV = Path(__file__).resolve().parents[1] / ".venv-kernel"
_NO_SANDBOX = "只有在代码完全可信时才可用 --no-sandbox。"


def bwrap_path() -> str | None:
    """bubblewrap: `SAFETRAIN_BWRAP` or `bwrap` on PATH, if executable."""
    return shutil.which(os.environ.get("SAFETRAIN_BWRAP") or "bwrap")


def sandbox_uid() -> int | None:
    """The host uid sandboxes run as; None when the grader is not root (it is unprivileged)."""
    if os.geteuid() != 0:
        return None
    raw = os.environ.get("SAFETRAIN_SANDBOX_UID", str(DEFAULT_UID))
    try:
        uid = int(raw)
    except ValueError:
        uid = -1
    if not 0 < uid < 2**32 - 1:
        raise SandboxUnavailable(
            f"SAFETRAIN_SANDBOX_UID「{raw}」无效：应为一个非 0 的用户号（建议一个不在 /etc/passwd "
            f"中、也不是 65534 的号，默认 {DEFAULT_UID}）。 Invalid sandbox uid.")
    return uid


def kernel_python() -> str:
    """The interpreter sandboxed kernels run: configured, `.venv-kernel`, or this one."""
    configured = os.environ.get("SAFETRAIN_KERNEL_PYTHON")
    if configured:
        return configured
    candidate = KERNEL_VENV / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def python_dirs(python: str) -> list[str]:
    """Folders the interpreter needs (its virtualenv and base installation), except /usr."""
    exe = Path(python)
    dirs = [exe.parent.parent, Path(os.path.realpath(exe)).parent.parent]
    cfg = exe.parent.parent / "pyvenv.cfg"
    if cfg.is_file():  # a virtualenv: also the installation it was made from
        for line in cfg.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home":
                dirs.append(Path(value.strip()).parent)
    found: list[str] = []
    for path in dirs:
        for name in (str(path), os.path.realpath(path)):
            if name not in found and name != "/usr" and not name.startswith(("/usr/", "/etc/")):
                found.append(name)
    return found


def system_mounts(python: str, tmp_bytes: int) -> list[str]:
    """bwrap arguments: the OS read-only, a fresh sized /tmp, then the interpreter's folders
    (which may live under /tmp themselves, so they are bound after the tmpfs)."""
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
    for path in python_dirs(python):
        args += ["--ro-bind", path, path]
    return args


def privilege_drop(uid: int | None) -> list[str]:
    """The command prefix that makes bwrap run as `uid` with no privileges (none if None)."""
    if uid is None:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise SandboxUnavailable(
            "找不到 setpriv（util-linux），评分程序以 root 运行时无法把沙箱降为普通用户："
            f"请运行 `apt-get install util-linux`。{_NO_SANDBOX} setpriv is missing.")
    return [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--"]


def require_launcher() -> tuple[str, int | None, str]:
    """(bwrap, host uid or None, kernel python), after checking they work together."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable(
            "找不到 bubblewrap（bwrap），不能安全地运行学员代码：请运行 `make sandbox`（以 root "
            "安装 Debian 的 bubblewrap）或 `apt-get install bubblewrap`；"
            f"{_NO_SANDBOX} bubblewrap is required to run untrusted code.")
    uid = sandbox_uid()
    python = kernel_python()
    _try_kernel_python(bwrap, uid, python)
    return bwrap, uid, python


def require(limits: Limits | None = None) -> None:
    """Raise SandboxUnavailable unless a sandboxed kernel with `limits` can run here."""
    require_launcher()
    cgroups.probe(limits or Limits())


_FIND_IPYKERNEL = "import importlib.util, sys; sys.exit(importlib.util.find_spec('ipykernel') is None)"


@functools.lru_cache(maxsize=8)  # only successes are cached: a failure is checked again
def _try_kernel_python(bwrap: str, uid: int | None, python: str) -> None:
    """Start the kernel's interpreter in a minimal sandbox as `uid`: bwrap works unprivileged
    (user namespaces allowed) and the interpreter, with ipykernel, is reachable by that uid."""
    argv = [*privilege_drop(uid), bwrap, "--unshare-all", "--die-with-parent",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            *system_mounts(python, 1024 * 1024), "--proc", "/proc", "--dev", "/dev",
            "--", python, "-I", "-c", _FIND_IPYKERNEL]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                              env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        done = subprocess.CompletedProcess(argv, -1, "", str(exc))
    if done.returncode == 0:
        return
    who = f"uid {uid}" if uid is not None else "当前用户"
    detail = (done.stderr.strip().splitlines() or ["没有安装 ipykernel"])[-1]
    raise SandboxUnavailable(
        f"沙箱无法以 {who} 启动内核的 Python（{python}）：{detail}。请运行 `make`（它用 Debian 的 "
        "/usr/bin/python3.11 建立其他用户可读的 .venv-kernel），或把 SAFETRAIN_KERNEL_PYTHON 设为 "
        f"{who} 能读取、装有 ipykernel 的解释器；若 bwrap 报告用户命名空间错误，请允许非特权用户"
        f"命名空间（sysctl user.max_user_namespaces）。{_NO_SANDBOX} "
        "The sandbox cannot run the kernel interpreter as an unprivileged user.")
