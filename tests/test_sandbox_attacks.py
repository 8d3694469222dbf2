"""Attacks from the trainee side on the sandbox: what trainee code can read, write, reach or use.

Independent of how grading launches kernels: each attack runs a snippet in a kernel started
by `SandboxKernelManager` and checks the outcome from the host. Bounded by construction: a
256 MB memory cgroup (128 MB for the fill attack), 64 pids, one CPU, a 16 MB tmpfs, 30 s per
snippet, network only towards a listener on 127.0.0.1. The fail-closed cases (no bwrap, no
cpu controller) need no sandbox and always run; the attacks need one and, under CI=true,
fail instead of skipping when it is missing.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from jupyter_client import BlockingKernelClient
from jupyter_core.utils import run_sync

from autograder import cgroups, sandbox, sandbox_host
from autograder.cgroups import SandboxUnavailable
from autograder.executors import DaskExecutor, LocalExecutor
from autograder.limits import Limits
from autograder.sandbox import SandboxKernelManager
from autograder.tasks import GradeTask

LIMITS = Limits(timeout_cell=30, memory_mb=256, pids=64, file_mb=8, tmp_mb=16, cpus=1.0)
SECRET = "trainee-data-7f3a"


class KernelDied(Exception):
    pass


class Sandboxed:
    """One sandboxed kernel and a blocking client: run a snippet, get what it printed."""

    def __init__(self, limits: Limits, data_files: list[Path] | None = None) -> None:
        self.km = SandboxKernelManager(limits, data_files or [], kernel_name="python3")
        run_sync(self.km.start)()
        self.kc = BlockingKernelClient(connection_file=self.km.connection_file)
        self.kc.load_connection_file()
        # No heartbeat: on a loaded machine a booting kernel at one CPU's quota can miss its
        # 1 s beat and be taken for dead; the process itself says whether it is alive.
        self.kc.start_channels(hb=False)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.kc.wait_for_ready(timeout=2)
                break
            except RuntimeError:
                if not self.alive():
                    raise KernelDied("the kernel exited while starting") from None
                if time.monotonic() > deadline:
                    raise

    def alive(self) -> bool:
        return self.km.provisioner.process.poll() is None

    def run(self, code: str, timeout: float = 30) -> str:
        msg_id = self.kc.execute(code)
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                if not self.alive():
                    raise KernelDied("".join(out)) from None
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            content = msg["content"]
            if msg["msg_type"] == "stream":
                out.append(content["text"])
            elif msg["msg_type"] == "error":
                out.append(f"ERROR {content['ename']}: {content['evalue']}\n")
            elif msg["msg_type"] == "status" and content["execution_state"] == "idle":
                return "".join(out)
        raise TimeoutError("".join(out))

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.kill()


def _need_sandbox() -> None:
    try:
        sandbox_host.require(LIMITS)
    except SandboxUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the sandbox cannot run here: {exc}")
        pytest.skip(f"the sandbox cannot run here: {exc}")


@pytest.fixture(scope="module")
def private_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data file in a folder only root can enter (like an instance under /root)."""
    folder = tmp_path_factory.mktemp("private")
    os.chmod(folder, 0o700)
    path = folder / "data.csv"
    path.write_text(f"a,b\n1,{SECRET}\n")
    return path


@pytest.fixture(scope="module")
def kernel(private_data: Path):
    _need_sandbox()
    k = Sandboxed(LIMITS, [private_data])
    yield k
    k.close()


def expected_uid() -> int:
    return sandbox_host.sandbox_uid() or os.geteuid()


# ---------------------------------------------------------------- identity and secrets


def test_every_sandbox_process_is_the_unprivileged_host_uid(kernel):
    uid = expected_uid()
    assert uid != 0
    pids = kernel.km.cgroup.pids()
    assert len(pids) >= 2  # bwrap and the kernel at least
    for pid in pids:
        status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        assert status["Uid"].split() == [str(uid)] * 4, (pid, status["Uid"])
        assert status["Gid"].split() == [str(uid)] * 4, (pid, status["Gid"])
        assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0
        if os.geteuid() == 0:
            assert status["Groups"].strip() == ""
    name = f"made-{uuid.uuid4().hex[:6]}"
    kernel.run(f"open({str(kernel.km.run_dir / name)!r}, 'w').write('x')")
    assert (kernel.km.run_dir / name).stat().st_uid == uid


def test_host_secrets_and_the_graders_files_are_out_of_reach(kernel):
    run_dir = kernel.km.run_dir
    out = kernel.run("\n".join([
        "import os",
        "def attempt(label, fn):",
        "    try:",
        "        fn()",
        "        print(label, 'DONE')",
        "    except OSError as exc:",
        "        print(label, 'REFUSED', type(exc).__name__)",
        "attempt('shadow', lambda: open('/etc/shadow').read())",
        f"attempt('conn-write', lambda: open({str(run_dir / 'kernel.json')!r}, 'a').write('x'))",
        f"attempt('owner-delete', lambda: os.unlink({str(run_dir / 'owner.pid')!r}))",
        f"attempt('owner-replace', lambda: os.rename({str(run_dir / 'ipc-1')!r}, {str(run_dir / 'owner.pid')!r}))",
        "attempt('data-write', lambda: open('data.csv', 'a').write('x'))",
        "print('data', open('data.csv').read().split()[-1])",
    ]))
    for label in ("shadow", "conn-write", "owner-delete", "owner-replace", "data-write"):
        assert f"{label} REFUSED" in out, out
    assert f"data 1,{SECRET}" in out  # a data file from a private folder is still readable
    assert (run_dir / "owner.pid").read_text() == str(os.getpid())


# ---------------------------------------------------------------- writes and storage


def test_writes_land_nowhere_on_the_host_but_the_run_folder(kernel):
    token = uuid.uuid4().hex[:8]
    targets = ["/", "/dev/shm", str(sandbox.RUN_ROOT), "/etc", "/usr", "/dev",
               sandbox_host.kernel_python().rsplit("/bin/", 1)[0]]
    out = kernel.run("\n".join([
        f"for folder in {targets!r}:",
        "    try:",
        f"        open(folder + '/{token}', 'w').write('x')",
        "        print('WROTE', folder)",
        "    except OSError as exc:",
        "        print('REFUSED', folder, type(exc).__name__)",
    ]))
    assert "WROTE" not in out and out.count("REFUSED") == len(targets), out
    for folder in ("/dev/shm", sandbox.RUN_ROOT, Path("/tmp")):
        assert not (Path(folder) / token).exists()


def test_filling_tmp_and_the_workdir_stops_at_their_size(kernel):
    out = kernel.run("\n".join([
        "import errno, glob, os",
        "chunk = b'x' * (1024 * 1024)",
        "for folder in ('/tmp', '/home/trainee'):",
        "    written, n, reason = 0, 0, 'none'",
        "    try:",
        "        while written < 200 * len(chunk):",
        "            with open(f'{folder}/fill{n}', 'wb') as f:",
        "                for _ in range(4):",
        "                    f.write(chunk); f.flush(); written += len(chunk)",
        "            n += 1",
        "    except OSError as exc:",
        "        reason = errno.errorcode.get(exc.errno, str(exc.errno))",
        "    print(folder, written // len(chunk), reason)",
        "    for path in glob.glob(folder + '/fill*'):",
        "        os.unlink(path)",
        "try:",
        "    open('/tmp/big', 'wb').write(b'x' * (9 * 1024 * 1024))",
        "    print('bigfile DONE')",
        "except OSError as exc:",
        "    print('bigfile', errno.errorcode.get(exc.errno))",
        "if os.path.exists('/tmp/big'):",
        "    os.unlink('/tmp/big')",
    ]))
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    for folder in ("/tmp", "/home/trainee"):
        megabytes, reason = lines[folder].split()
        assert reason == "ENOSPC" and int(megabytes) <= LIMITS.tmp_mb, out
    assert lines["bigfile"] == "EFBIG", out  # RLIMIT_FSIZE (file_mb) per file


def test_filling_the_run_folder_is_bounded_by_the_memory_limit():
    _need_sandbox()
    limits = Limits(memory_mb=128, pids=64, file_mb=8, tmp_mb=16)
    k = Sandboxed(limits)
    try:
        run_dir = k.km.run_dir
        snippet = "\n".join([
            "import errno",
            "chunk = b'x' * (1024 * 1024)",
            "written = 0",
            "try:",
            "    for n in range(128):  # 4x the limit: bounded even if nothing stopped it",
            f"        with open('{run_dir}/fill%d' % n, 'wb') as f:",
            "            for _ in range(4):",
            "                f.write(chunk); f.flush(); written += 1",
            "    print('UNBOUNDED', written)",
            "except OSError as exc:",
            "    print('STOPPED', written, errno.errorcode.get(exc.errno))",
        ])
        try:
            out, died = k.run(snippet, timeout=60), False
        except KernelDied as exc:
            out, died = str(exc), True
        assert "UNBOUNDED" not in out
        assert died or "STOPPED" in out, out
        if died:
            assert k.km.cgroup.memory_exceeded()
        stored = sum(p.stat().st_size for p in run_dir.iterdir() if p.is_file())
        assert stored <= limits.memory_mb * 1024 * 1024
    finally:
        k.close()
    assert not run_dir.exists()


# ---------------------------------------------------------------- CPU and network


def test_two_busy_threads_get_at_most_one_core(kernel):
    quota = kernel.km.cgroup.dirs["cpu"]
    settings = (quota / "cpu.cfs_quota_us", quota / "cpu.cfs_period_us")
    if settings[0].exists():  # cgroup v1
        assert int(settings[0].read_text()) == int(settings[1].read_text())
    else:  # v2
        max_, period = (quota / "cpu.max").read_text().split()
        assert max_ == period
    # every process of the sandbox is under that quota (memory's list is the full one)
    assert set(kernel.km.cgroup.pids()) <= {int(p) for p in (quota / "cgroup.procs").read_text().split()}
    before, started = kernel.km.cgroup.cpu_seconds(), time.monotonic()
    # hashlib releases the GIL on large buffers: two threads really run in parallel.
    out = kernel.run("\n".join([
        "import hashlib, threading, time",
        "buf = b'x' * (4 * 1024 * 1024)",
        "def burn():",
        "    end = time.monotonic() + 2.0",
        "    while time.monotonic() < end:",
        "        hashlib.sha256(buf).digest()",
        "threads = [threading.Thread(target=burn) for _ in range(2)]",
        "[t.start() for t in threads]; [t.join() for t in threads]",
        "print('burned')",
    ]))
    wall, used = time.monotonic() - started, kernel.km.cgroup.cpu_seconds() - before
    assert "burned" in out
    assert used / wall < 1.3, f"{used:.2f} CPU-s in {wall:.2f} s"


def test_no_route_to_the_hosts_loopback(kernel):
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.5)
        port = server.getsockname()[1]
        out = kernel.run("\n".join([
            "import socket",
            "print('interfaces', sorted(name for _, name in socket.if_nameindex()))",
            "try:",
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=3)",
            "    print('CONNECTED')",
            "except OSError as exc:",
            "    print('REFUSED', type(exc).__name__)",
        ]))
        assert "REFUSED" in out and "CONNECTED" not in out, out
        assert "interfaces ['lo']" in out
        with pytest.raises(TimeoutError):
            server.accept()


# ---------------------------------------------------------------- fail closed


def _without(controller: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = cgroups.cgroup_base
    monkeypatch.setattr(cgroups, "cgroup_base", lambda c: None if c == controller else real(c))


def _left_behind(name: str) -> list[Path]:
    found = []
    for controller in (*cgroups.REQUIRED, "cpuacct"):
        base = cgroups.cgroup_base(controller)
        found += [base / name] if base is not None and (base / name).exists() else []
    return found


def test_a_missing_cpu_controller_refuses_the_sandbox(monkeypatch):
    _without("cpu", monkeypatch)
    name = f"safetrain-{os.getpid()}-attack{uuid.uuid4().hex[:6]}"
    with pytest.raises(SandboxUnavailable, match="cpu") as refused:
        cgroups.Cgroup.create(name, LIMITS)
    assert "不可用或不可写" in str(refused.value) and "--no-sandbox" in str(refused.value)
    monkeypatch.undo()
    assert _left_behind(name) == []  # the memory and pids groups made first are removed


@pytest.mark.parametrize("controller", ["memory", "pids"])
def test_a_missing_memory_or_pids_controller_refuses_the_sandbox(monkeypatch, controller):
    _without(controller, monkeypatch)
    with pytest.raises(SandboxUnavailable, match=controller):
        cgroups.probe(LIMITS)


def test_no_bubblewrap_no_kernel_and_no_grading(monkeypatch):
    monkeypatch.setattr(sandbox_host, "bwrap_path", lambda: None)
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        SandboxKernelManager(LIMITS, kernel_name="python3")
    ran = []
    task = GradeTask("course", "courses", "m", "s", LIMITS, sandboxed=True)
    executor = LocalExecutor(1)
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        list(executor.run(ran.append, [task]))
    assert ran == [] and executor._started is None  # refused before any worker started
    # --no-sandbox (trusted code) still gets a kernel manager
    trusted = SandboxKernelManager(LIMITS, sandboxed=False, kernel_name="python3")
    trusted.kill()


def test_a_kernel_interpreter_the_sandbox_uid_cannot_read_is_refused(monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("only a root grader drops to another uid")
    _need_sandbox()
    kernel_env = Path(sandbox_host.kernel_python()).parent.parent
    private = Path(tempfile.mkdtemp(prefix="safetrain-test-"))  # mode 0700, like /root
    try:
        (private / "env").symlink_to(kernel_env)
        monkeypatch.setenv("SAFETRAIN_KERNEL_PYTHON", str(private / "env" / "bin" / "python"))
        with pytest.raises(SandboxUnavailable, match="SAFETRAIN_KERNEL_PYTHON") as refused:
            SandboxKernelManager(LIMITS, kernel_name="python3")
        assert "Permission denied" in str(refused.value) and "make" in str(refused.value)
        os.chmod(private, 0o755)  # the same interpreter, now reachable: accepted
        SandboxKernelManager(LIMITS, kernel_name="python3").kill()
    finally:
        shutil.rmtree(private)


RAN: list[str] = []


def _grade_stub(task: GradeTask) -> str:
    RAN.append(task.student)
    return task.student


def test_a_dask_worker_that_cannot_sandbox_refuses_the_task(monkeypatch):
    from distributed import Client, LocalCluster

    _without("cpu", monkeypatch)  # in-process workers: they see the missing controller
    monkeypatch.setattr(sandbox_host, "require_launcher", lambda: ("bwrap", None, "python"))
    RAN.clear()
    tasks = [GradeTask("course", "courses", "m", f"s{n}", LIMITS, sandboxed=True) for n in range(2)]
    trusted = GradeTask("course", "courses", "m", "t", LIMITS, sandboxed=False)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        with pytest.raises(SandboxUnavailable, match="cpu"):
            list(DaskExecutor(client).run(_grade_stub, tasks))
        assert list(DaskExecutor(client).run(_grade_stub, [trusted])) == [(trusted, "t")]
    assert RAN == ["t"]  # no sandboxed task ran; --no-sandbox still grades


def test_stale_cleanup_removes_cpu_groups_and_run_folders_of_dead_graders():
    _need_sandbox()
    dead = f"safetrain-999999999-{uuid.uuid4().hex[:6]}"
    made = [base / dead for c in (*cgroups.REQUIRED, "cpuacct")
            if (base := cgroups.cgroup_base(c)) is not None]
    for path in made:
        path.mkdir(exist_ok=True)
    run_dir = sandbox.run_root() / f"dead-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir()
    (run_dir / "owner.pid").write_text("999999999")
    sandbox.cleanup_stale()
    assert not [p for p in made if p.exists()] and not run_dir.exists()
