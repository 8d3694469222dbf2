"""The wire format's limits, its error, the value that stands for what is not carried,
and JSON text in and out (bounded: no huge numbers, no NaN constants, no deep nesting)."""

from __future__ import annotations

import json
from typing import Any

MIME = "application/x.safetrain+json"
MAX_PAYLOAD = 8 * 1024 * 1024  # bytes of JSON
MAX_DEPTH = 24
MAX_NODES = 200_000
MAX_INT_DIGITS = 1000
MAX_STR = 1_000_000  # characters in one string
MAX_ELEMENTS = 2_000_000  # elements in one array


class CodecError(ValueError):
    """A payload that is not a well-formed, bounded encoding."""


class Opaque:
    """A value the codec does not carry: equal to nothing, not even itself."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<无法传输的值：{self.type_name}>"


def dumps(node: Any) -> str:
    return json.dumps(node, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _reject_constant(name: str) -> Any:
    raise CodecError(f"JSON 常量 {name} 不允许")


def _small_int(text: str) -> int:
    if len(text) > 18:
        raise CodecError("JSON 数字过长")
    return int(text)


def _small_float(text: str) -> float:
    if len(text) > 40:
        raise CodecError("JSON 数字过长")
    return float(text)


def loads(text: str | bytes) -> Any:
    if len(text) > MAX_PAYLOAD:
        raise CodecError(f"数据超过 {MAX_PAYLOAD // 1024 // 1024} MB")
    try:
        return json.loads(text, parse_int=_small_int, parse_float=_small_float,
                          parse_constant=_reject_constant)
    except RecursionError as exc:
        raise CodecError("嵌套过深") from exc
    except (ValueError, TypeError) as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(f"不是有效的 JSON：{type(exc).__name__}") from exc
