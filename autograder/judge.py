"""The grader side: test cells run here, in a process where trainee code never ran.

One template process per grading worker imports IPython, numpy, pandas and the codec once and
builds an IPython shell; for each notebook it forks a fresh judge (no network, capped memory,
its own copy of the module's data files). The worker talks to the judge over a socket:
- `instructor(source)`: a locked instructor cell (setup, helpers), run here too, so tests see
  the grader's copy of what the instructor defined;
- `test(source, payload, names)`: a test cell, with the trainee's values for the names it
  reads (decoded by `autograder.codec`), its own locals and instructor definitions first.
A trainee function arrives as a `RemoteFunction`: calling it sends the arguments back through
the worker into the sandbox and replays what came out (value, stdout, stderr, exception).
Outputs come back as nbformat outputs, so nbgrader scores them exactly as stock does.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import json
import logging
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograder.judge_wire import JudgeFailed, recv, send

log = logging.getLogger(__name__)

MEMORY_HEADROOM_MB = 1536  # address space a judge may add to the template's


# ------------------------------------------------------------------ worker side


class Judge:
    """The worker's handle on one notebook's judge process."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.closed = False

    def run(self, op: str, source: str, timeout: float, *, payload: str | None = None,
            names: list[str] | None = None,
            on_call: Callable[[int, str, float], str] | None = None) -> list[dict]:
        """Run one cell; returns its nbformat outputs. Raises JudgeFailed on a dead judge."""
        deadline = time.monotonic() + timeout
        send(self.sock, {"op": op, "source": source, "payload": payload, "names": names or [],
                         "timeout": timeout})
        while True:
            # The judge enforces `timeout` itself; the slack covers its own reply.
            remaining = deadline - time.monotonic() + 5
            if remaining <= 0:
                raise JudgeFailed("评分进程超时")
            self.sock.settimeout(remaining)
            try:
                message = recv(self.sock)
            except (TimeoutError, OSError, ValueError) as exc:
                raise JudgeFailed(f"评分进程无响应：{type(exc).__name__}") from exc
            if message.get("op") == "done":
                outputs = message.get("outputs")
                if not isinstance(outputs, list):
                    raise JudgeFailed("评分进程的输出格式错误")
                return outputs
            if message.get("op") == "call" and on_call is not None:
                budget = max(0.5, deadline - time.monotonic())
                reply = on_call(int(message["ref"]), str(message["payload"]), budget)
                send(self.sock, {"op": "reply", "payload": reply})
                continue
            raise JudgeFailed("评分进程协议错误")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):
                self.sock.close()  # the judge exits on EOF


class JudgeTemplate:
    """The pre-imported process judges are forked from (one per grading worker)."""

    def __init__(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SAFETRAIN_", "JUPYTERHUB_", "JPY_", "PG", "DATABASE"))}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from autograder.judge import template_main; template_main()",
             str(child.fileno())],
            pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, env=env,
            cwd=tempfile.gettempdir())
        child.close()
        self.sock = parent

    def spawn(self, data_files: list[Path], isolate: bool) -> Judge:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        request = json.dumps({"data_files": [str(p) for p in data_files], "isolate": isolate})
        try:
            socket.send_fds(self.sock, [request.encode()], [theirs.fileno()])
        except OSError as exc:
            raise JudgeFailed(f"评分进程模板不可用：{exc}") from exc
        finally:
            theirs.close()
        return Judge(ours)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=5)


_TEMPLATE: JudgeTemplate | None = None


def template() -> JudgeTemplate:
    """This process's judge template, started on first use (workers start it at warm-up)."""
    global _TEMPLATE
    if _TEMPLATE is None or not _TEMPLATE.alive():
        _TEMPLATE = JudgeTemplate()
    return _TEMPLATE


def spawn_judge(data_files: list[Path], isolate: bool) -> Judge:
    """A fresh judge; a template that died (it dies with the thread that started it, e.g. a
    finished Dask task thread) is restarted once."""
    try:
        return template().spawn(data_files, isolate)
    except JudgeFailed:
        global _TEMPLATE
        if _TEMPLATE is not None:
            _TEMPLATE.stop()
        _TEMPLATE = None
        return template().spawn(data_files, isolate)


# ------------------------------------------------------------------ template and judge processes

_PR_SET_PDEATHSIG = 1
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _no_network() -> None:
    """A new, empty network namespace (root can make one; others need a user namespace)."""
    libc = _libc()
    flags = _CLONE_NEWNET if os.geteuid() == 0 else _CLONE_NEWUSER | _CLONE_NEWNET
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) 失败")


def _cap_memory() -> None:
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    limit = pages * os.sysconf("SC_PAGE_SIZE") + MEMORY_HEADROOM_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def template_main() -> None:
    """Entry point of the template process: import once, then fork a judge per request."""
    _die_with_parent()
    sock = socket.socket(fileno=int(sys.argv[1]))
    import numpy  # noqa: F401  (pre-imported for every judge)
    import pandas  # noqa: F401

    from autograder import codec  # noqa: F401

    shell = _make_shell()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # judges are reaped by the kernel
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 65536, 1)
        except OSError:
            break
        if not message:
            break
        if not fds:
            continue
        pid = os.fork()
        if pid == 0:
            sock.close()
            code = 0
            try:
                _judge_main(socket.socket(fileno=fds[0]), json.loads(message), shell)
            except BaseException:  # noqa: BLE001 (a dying judge only closes its socket)
                code = 1
            os._exit(code)
        os.close(fds[0])
    os._exit(0)


def _make_shell() -> Any:
    from IPython.core.displayhook import DisplayHook
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class RecordingDisplayHook(DisplayHook):
        """Keeps a cell's result as an execute_result instead of printing `Out[n]:`."""

        result: dict | None = None

        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: dict, md_dict: dict | None = None) -> None:
            self.result = {"text/plain": format_dict.get("text/plain", "")}

    class JudgeShell(InteractiveShell):
        error: dict | None = None

        def _showtraceback(self, etype: type, evalue: BaseException, stb: list) -> None:
            self.error = _error_output(etype, evalue)

        def showsyntaxerror(self, filename: str | None = None, running_compiled_code: bool = False) -> None:
            etype, value, _ = sys.exc_info()
            self.error = _error_output(etype or SyntaxError, value or SyntaxError())

    config = Config()
    config.HistoryManager.enabled = False
    shell = JudgeShell.instance(config=config)
    shell.displayhook = RecordingDisplayHook(shell=shell, cache_size=0)
    shell.display_trap.hook = shell.displayhook  # what sys.displayhook becomes while a cell runs
    return shell


def _error_output(etype: type, evalue: BaseException) -> dict:
    """An error output without a traceback: tracebacks would quote hidden test lines."""
    name = getattr(etype, "__name__", "Error")
    text = _clean(str(evalue))[:2000]
    return {"output_type": "error", "ename": name, "evalue": text,
            "traceback": [f"{name}: {text}" if text else name]}


def _clean(text: str) -> str:
    """Text that nbformat can always write: no NUL, no lone surrogates."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


class JudgeTimeout(BaseException):
    """Raised in a test cell that ran past its time (BaseException: `except Exception` in a
    test cannot swallow it)."""


class RemoteFunction:
    """A function the trainee defined: callable only back through the sandbox."""

    def __init__(self, session: _Session, ref: int, name: str) -> None:
        self._session, self._ref, self.__name__ = session, ref, name

    def __repr__(self) -> str:
        return f"<学员函数 {self.__name__}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call(self, args, kwargs)


class _Session:
    """One judge: the shell, its connection and which names came from the sandbox."""

    def __init__(self, sock: socket.socket, shell: Any) -> None:
        self.sock, self.shell = sock, shell
        self.injected: set[str] = set()
        self.count = 0

    def serve(self) -> None:
        while True:
            try:
                message = recv(self.sock)
            except JudgeFailed:
                return
            op = message.get("op")
            if op not in ("instructor", "test"):
                return
            outputs = self.run_cell(str(message.get("source", "")), float(message.get("timeout", 30)),
                                    message.get("payload") if op == "test" else None,
                                    [str(n) for n in message.get("names", [])] if op == "test" else [])
            send(self.sock, {"op": "done", "outputs": outputs})

    def inject(self, payload: str | None, names: list[str]) -> None:
        """Trainee values for `names`: never over an instructor or test definition."""
        from autograder import codec

        namespace = self.shell.user_ns
        for name in self.injected:
            namespace.pop(name, None)
        self.injected = set()
        if not names:
            return
        if payload is None:
            raise codec.CodecError("沙箱没有返回作答数据")
        message = codec.loads(payload)
        if not isinstance(message, dict) or not isinstance(message.get("values"), dict):
            raise codec.CodecError("作答数据格式错误")
        decoder = codec.Decoder(remote=lambda ref, name: RemoteFunction(self, ref, name))
        for name in names:
            if name in namespace or name not in message["values"]:
                continue  # instructor-defined here, or not defined by the trainee
            namespace[name] = decoder.decode(message["values"][name])
            self.injected.add(name)

    def run_cell(self, source: str, timeout: float, payload: str | None, names: list[str]) -> list[dict]:
        from IPython.utils.capture import capture_output

        self.count += 1
        shell = self.shell
        shell.error, shell.displayhook.result = None, None
        from autograder.codec import CappedText

        out, err = CappedText(), CappedText()
        outputs: list[dict] = []

        def on_alarm(signum: int, frame: object) -> None:
            raise JudgeTimeout(f"测试运行超过 {timeout:.0f} 秒")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.1))
        try:
            with capture_output(stdout=False, stderr=False, display=True), \
                    contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    self.inject(payload, names)
                except Exception as exc:  # noqa: BLE001 (a bad payload fails this cell only)
                    shell.error = _error_output(type(exc), exc)
                else:
                    shell.run_cell(source, store_history=False, silent=False)
        except JudgeTimeout as exc:
            shell.error = _error_output(JudgeTimeout, exc)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for name, stream in (("stdout", out), ("stderr", err)):
            if stream.size:
                outputs.append({"output_type": "stream", "name": name, "text": _clean(stream.getvalue())})
        if shell.displayhook.result is not None:
            outputs.append({"output_type": "execute_result", "execution_count": self.count,
                            "data": {"text/plain": _clean(shell.displayhook.result["text/plain"])[:10000]},
                            "metadata": {}})
        if shell.error is not None:
            outputs.append(shell.error)
        return outputs

    def call(self, function: RemoteFunction, args: tuple, kwargs: dict) -> Any:
        from autograder import codec

        request = codec.dumps(codec.Encoder().encode({"args": list(args), "kwargs": dict(kwargs)}))
        send(self.sock, {"op": "call", "ref": function._ref, "payload": request})
        message = recv(self.sock)
        if message.get("op") != "reply":
            raise JudgeFailed("协议错误")
        reply = message.get("payload")
        if reply is None:
            raise TimeoutError(f"学员函数 {function.__name__} 没有返回（超时或被中断）")
        data = codec.loads(reply)
        if not isinstance(data, dict):
            raise codec.CodecError("函数返回数据格式错误")
        for stream, target in (("stdout", sys.stdout), ("stderr", sys.stderr)):
            text = data.get(stream)
            if isinstance(text, str) and text:
                target.write(text)  # capped by the cell's CappedText
        if data.get("exc") is not None:
            raise _builtin_exception(data["exc"])(f"学员函数 {function.__name__} 运行出错")
        decoder = codec.Decoder(remote=lambda ref, name: RemoteFunction(self, ref, name))
        return decoder.decode(data.get("value"))


def _builtin_exception(names: Any) -> type[Exception]:
    """The first builtin exception type on the trainee exception's MRO."""
    if isinstance(names, list):
        for name in names[:40]:
            kind = getattr(builtins, str(name), None)
            if isinstance(kind, type) and issubclass(kind, Exception):
                return kind
    return Exception


def _judge_main(sock: socket.socket, request: dict, shell: Any) -> None:
    _die_with_parent()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if request.get("isolate", True):
        _no_network()
    _cap_memory()
    work = Path(tempfile.mkdtemp(prefix="safetrain-judge-"))
    try:
        for name in request.get("data_files", []):
            shutil.copy(name, work / Path(name).name)
        os.chdir(work)
        _Session(sock, shell).serve()
    finally:
        shutil.rmtree(work, ignore_errors=True)
