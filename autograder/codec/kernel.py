"""The sandbox side, run inside the trainee's kernel: publish the values a test reads and
the results of calls the judge asks for. What these send is only ever read by `decode`, so
a trainee who tampers with them produces data, never code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import MIME, dumps, loads
from .decoder import Decoder
from .encoder import Encoder

_FUNCTIONS: dict[int, Callable] = {}
_STREAM_CAP = 64 * 1024


def _publish(text: str) -> None:
    from IPython.display import publish_display_data

    publish_display_data({MIME: text})


def publish_export(names: list[str]) -> None:
    """Send the current values of `names` from the kernel's namespace."""
    namespace = get_ipython().user_ns  # type: ignore[name-defined]  # noqa: F821
    encoder = Encoder(_FUNCTIONS)
    values = {name: encoder.encode(namespace[name]) for name in names if name in namespace}
    _publish(dumps({"values": values, "missing": [n for n in names if n not in values]}))


class CappedText:
    """A stdout/stderr stand-in that keeps the first `_STREAM_CAP` characters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        if self.size < _STREAM_CAP:
            self.parts.append(str(text)[: _STREAM_CAP - self.size])
            self.size += len(self.parts[-1])
        return len(text)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        return "".join(self.parts)


def publish_call(ref: int, payload: str) -> None:
    """Call a function the trainee defined, on arguments the grader sent; send what happened."""
    import contextlib

    request = Decoder().decode(loads(payload))
    out, err = CappedText(), CappedText()
    reply: dict[str, Any] = {"value": {"t": "none"}, "exc": None}
    try:
        function = _FUNCTIONS[ref]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result = function(*request["args"], **request["kwargs"])
        reply["value"] = Encoder(_FUNCTIONS).encode(result)
    except Exception as exc:  # noqa: BLE001 (the trainee's error is the grader's data)
        reply["exc"] = [k.__name__ for k in type(exc).__mro__][:40]
    reply["stdout"], reply["stderr"] = out.getvalue(), err.getvalue()
    _publish(dumps(reply))
