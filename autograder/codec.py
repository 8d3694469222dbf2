"""Typed value codec between the sandbox and the grader: data in, data out, never code.

The sandbox encodes the values a test reads into JSON; the grader decodes them into exact
builtin, numpy and pandas types. No pickle and nothing callable crosses: a function becomes a
reference the grader can only call back through the sandbox (`RemoteFunction`), anything else
unknown becomes an `Opaque` value that equals nothing. Subclasses collapse to their base, so a
trainee's always-equal `str` subclass arrives as a plain `str`.

This file is also sent, as source, into the trainee's kernel (`SANDBOX_SOURCE`), so it imports
only the standard library at the top; numpy and pandas are used only when already loaded.
Whatever the sandbox sends is untrusted: `decode` checks every node and caps depth, size,
digits and lengths; a bad payload raises `CodecError`, which fails that cell only.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import re
import sys
from collections.abc import Callable
from typing import Any

MIME = "application/x.safetrain+json"
MAX_PAYLOAD = 8 * 1024 * 1024  # bytes of JSON
MAX_DEPTH = 24
MAX_NODES = 200_000
MAX_INT_DIGITS = 1000
MAX_STR = 1_000_000  # characters in one string
MAX_ELEMENTS = 2_000_000  # elements in one array
_DTYPE = re.compile(r"^[<>|=]?[biufcmMU]\d{1,3}(\[[a-zA-Z]{1,3}\])?$")


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


# ------------------------------------------------------------------ encoding


def _np() -> Any:
    return sys.modules.get("numpy")


def _pd() -> Any:
    return sys.modules.get("pandas")


class Encoder:
    """Turns a value into a JSON-able node; `functions` collects callables by reference."""

    def __init__(self, functions: dict[int, Callable] | None = None) -> None:
        self.functions = functions
        self.nodes = 0

    def encode(self, value: Any, depth: int = 0) -> dict:
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            return {"t": "opaque", "type": "too deep or too large"}
        np, pd = _np(), _pd()
        if value is None:
            return {"t": "none"}
        if pd is not None:
            node = self._pandas(value, depth, pd, np)
            if node is not None:
                return node
        if np is not None and isinstance(value, np.generic):
            return self._np_scalar(value, np)
        if np is not None and isinstance(value, np.ndarray):
            return self._ndarray(value, depth, np)
        if isinstance(value, bool):
            return {"t": "bool", "v": bool(value)}
        if isinstance(value, int):
            return {"t": "int", "v": int.__repr__(value)}
        if isinstance(value, float):
            return {"t": "float", "v": float.__repr__(value)}
        if isinstance(value, complex):
            return {"t": "complex", "re": float.__repr__(value.real), "im": float.__repr__(value.imag)}
        if isinstance(value, str):
            return {"t": "str", "v": str.__str__(value)}
        if isinstance(value, bytes | bytearray):
            return {"t": "bytes", "v": base64.b64encode(bytes(value)).decode()}
        if isinstance(value, list | tuple | set | frozenset):
            kind = next(k for k in (list, tuple, frozenset, set) if isinstance(value, k))
            return {"t": kind.__name__, "v": [self.encode(x, depth + 1) for x in list(value)]}
        if isinstance(value, dict):
            return {"t": "dict", "v": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                                       for k, v in list(dict.items(value))]}
        if isinstance(value, dt.datetime):
            return {"t": "datetime", "v": dt.datetime.isoformat(value)}
        if isinstance(value, dt.date):
            return {"t": "date", "v": dt.date.isoformat(value)}
        if isinstance(value, dt.time):
            return {"t": "time", "v": dt.time.isoformat(value)}
        if isinstance(value, dt.timedelta):
            return {"t": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
        if isinstance(value, decimal.Decimal):
            return {"t": "decimal", "v": decimal.Decimal.__str__(value)}
        if callable(value) and not isinstance(value, type) and self.functions is not None:
            ref = len(self.functions) + 1
            self.functions[ref] = value
            return {"t": "function", "ref": ref, "name": str(getattr(value, "__name__", "?"))[:100]}
        return {"t": "opaque", "type": type(value).__name__[:100]}

    def _np_scalar(self, value: Any, np: Any) -> dict:
        dtype = value.dtype
        if dtype.kind in "biufcmM":
            arr = np.asarray(value).reshape(1)
            return {"t": "np.scalar", "dtype": dtype.str, "b64": base64.b64encode(arr.tobytes()).decode()}
        if dtype.kind == "U":
            return {"t": "np.scalar", "dtype": dtype.str, "b64": base64.b64encode(
                np.asarray(value).reshape(1).tobytes()).decode()}
        return {"t": "opaque", "type": type(value).__name__}

    def _ndarray(self, value: Any, depth: int, np: Any) -> dict:
        arr = np.ascontiguousarray(value)
        if arr.dtype.kind in "biufcmMU":
            return {"t": "ndarray", "dtype": arr.dtype.str, "shape": list(arr.shape),
                    "b64": base64.b64encode(arr.tobytes()).decode()}
        if arr.dtype.kind == "O":
            return {"t": "ndarray", "dtype": "O", "shape": list(arr.shape),
                    "v": [self.encode(x, depth + 1) for x in arr.reshape(-1).tolist()]}
        return {"t": "opaque", "type": f"ndarray[{arr.dtype.str}]"}

    def _array(self, values: Any, depth: int, pd: Any, np: Any) -> dict:
        """A Series' or Index's values, by dtype."""
        if isinstance(values, pd.arrays.NumpyExtensionArray):
            values = values.to_numpy()
        dtype = values.dtype
        if isinstance(dtype, pd.StringDtype):
            items = [None if (x is pd.NA or (isinstance(x, float) and math.isnan(x))) else str(x)
                     for x in values.tolist()]
            na = "nan" if dtype.na_value is not pd.NA else "NA"
            return {"t": "pd.str", "storage": dtype.storage, "na": na, "v": items}
        if isinstance(dtype, pd.CategoricalDtype):
            cat = pd.Categorical(values)
            return {"t": "pd.cat", "ordered": bool(cat.ordered),
                    "categories": self._index(cat.categories, depth + 1, pd, np),
                    "codes": self._ndarray(np.asarray(cat.codes), depth + 1, np)}
        if isinstance(dtype, pd.DatetimeTZDtype):
            naive = pd.DatetimeIndex(values).tz_convert("UTC").tz_localize(None)
            return {"t": "pd.dttz", "tz": str(dtype.tz),
                    "v": self._ndarray(naive.to_numpy(), depth + 1, np)}
        if isinstance(dtype, np.dtype):
            return self._ndarray(np.asarray(values), depth + 1, np)
        if hasattr(values, "_data") and hasattr(values, "_mask"):  # Int64, boolean, Float64
            return {"t": "pd.masked", "dtype": str(dtype),
                    "data": self._ndarray(np.asarray(values._data), depth + 1, np),
                    "mask": self._ndarray(np.asarray(values._mask), depth + 1, np)}
        return {"t": "opaque", "type": f"array[{dtype}]"}

    def _index(self, index: Any, depth: int, pd: Any, np: Any) -> dict:
        if isinstance(index, pd.RangeIndex):
            return {"t": "pd.range", "v": [index.start, index.stop, index.step],
                    "name": self.encode(index.name, depth + 1)}
        if isinstance(index, pd.MultiIndex):
            return {"t": "pd.multi", "levels": [self._index(lv, depth + 1, pd, np) for lv in index.levels],
                    "codes": [self._ndarray(np.asarray(c), depth + 1, np) for c in index.codes],
                    "names": [self.encode(n, depth + 1) for n in index.names]}
        return {"t": "pd.index", "v": self._array(index.array, depth + 1, pd, np),
                "name": self.encode(index.name, depth + 1)}

    def _pandas(self, value: Any, depth: int, pd: Any, np: Any) -> dict | None:
        if value is pd.NaT:
            return {"t": "pd.nat"}
        if value is pd.NA:
            return {"t": "pd.na"}
        if isinstance(value, pd.Timestamp):
            return {"t": "pd.ts", "v": value.isoformat(), "unit": value.unit}
        if isinstance(value, pd.Timedelta):
            return {"t": "pd.td", "v": int(value.value), "unit": value.unit}
        if isinstance(value, pd.DataFrame):
            return {"t": "pd.df", "columns": self._index(value.columns, depth + 1, pd, np),
                    "index": self._index(value.index, depth + 1, pd, np),
                    "cols": [self._array(value.iloc[:, i].array, depth + 1, pd, np)
                             for i in range(value.shape[1])]}
        if isinstance(value, pd.Series):
            return {"t": "pd.series", "v": self._array(value.array, depth + 1, pd, np),
                    "index": self._index(value.index, depth + 1, pd, np),
                    "name": self.encode(value.name, depth + 1)}
        if isinstance(value, pd.Index):
            return self._index(value, depth, pd, np)
        return None


def dumps(node: Any) -> str:
    return json.dumps(node, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


# ------------------------------------------------------------------ decoding


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


class Decoder:
    """Rebuilds exact values from nodes; `remote(ref, name)` makes a callable for a function."""

    def __init__(self, remote: Callable[[int, str], Any] | None = None) -> None:
        self.remote = remote
        self.nodes = 0

    def decode(self, node: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if depth > MAX_DEPTH + 8 or self.nodes > MAX_NODES:
            raise CodecError("嵌套过深或数据过多")
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise CodecError("节点格式错误")
        tag = node["t"]
        method = getattr(self, "_d_" + tag.replace(".", "_"), None)
        if method is None:
            raise CodecError(f"未知类型 {tag[:40]!r}")
        try:
            return method(node, depth)
        except CodecError:
            raise
        except (ValueError, TypeError, KeyError, OverflowError, IndexError, AttributeError,
                decimal.InvalidOperation) as exc:
            raise CodecError(f"{tag[:40]} 数据无效：{type(exc).__name__}") from exc

    # scalars
    def _d_none(self, node: dict, depth: int) -> None:
        return None

    def _d_bool(self, node: dict, depth: int) -> bool:
        return _typed(node["v"], bool)

    def _d_int(self, node: dict, depth: int) -> int:
        text = _typed(node["v"], str)
        if len(text.lstrip("-")) > MAX_INT_DIGITS or not re.fullmatch(r"-?\d+", text):
            raise CodecError("整数无效或位数过多")
        return int(text)

    def _d_float(self, node: dict, depth: int) -> float:
        return _float(node["v"])

    def _d_complex(self, node: dict, depth: int) -> complex:
        return complex(_float(node["re"]), _float(node["im"]))

    def _d_str(self, node: dict, depth: int) -> str:
        return _text(node["v"])

    def _d_bytes(self, node: dict, depth: int) -> bytes:
        return _b64(node["v"])

    def _d_list(self, node: dict, depth: int) -> list:
        return [self.decode(x, depth + 1) for x in _seq(node["v"])]

    def _d_tuple(self, node: dict, depth: int) -> tuple:
        return tuple(self._d_list(node, depth))

    def _d_set(self, node: dict, depth: int) -> set:
        return set(self._d_list(node, depth))

    def _d_frozenset(self, node: dict, depth: int) -> frozenset:
        return frozenset(self._d_list(node, depth))

    def _d_dict(self, node: dict, depth: int) -> dict:
        out = {}
        for pair in _seq(node["v"]):
            if not isinstance(pair, list) or len(pair) != 2:
                raise CodecError("字典项格式错误")
            out[self.decode(pair[0], depth + 1)] = self.decode(pair[1], depth + 1)
        return out

    def _d_datetime(self, node: dict, depth: int) -> dt.datetime:
        return dt.datetime.fromisoformat(_text(node["v"], 64))

    def _d_date(self, node: dict, depth: int) -> dt.date:
        return dt.date.fromisoformat(_text(node["v"], 32))

    def _d_time(self, node: dict, depth: int) -> dt.time:
        return dt.time.fromisoformat(_text(node["v"], 32))

    def _d_timedelta(self, node: dict, depth: int) -> dt.timedelta:
        days, seconds, micros = (_typed(x, int) for x in _seq(node["v"], 3))
        return dt.timedelta(days=days, seconds=seconds, microseconds=micros)

    def _d_decimal(self, node: dict, depth: int) -> decimal.Decimal:
        text = _text(node["v"], MAX_INT_DIGITS + 20)
        if not re.fullmatch(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d{1,4})?|-?(NaN|Infinity|sNaN)", text):
            raise CodecError("Decimal 无效")
        return decimal.Decimal(text)

    def _d_opaque(self, node: dict, depth: int) -> Opaque:
        return Opaque(_text(node.get("type", "?"), 100))

    def _d_function(self, node: dict, depth: int) -> Any:
        ref, name = _typed(node["ref"], int), _text(node.get("name", "?"), 100)
        if self.remote is None:
            return Opaque(f"function {name}")
        return self.remote(ref, name)

    # numpy
    def _d_np_scalar(self, node: dict, depth: int) -> Any:
        np = _need("numpy")
        return self._raw_array(node, (1,), np)[0]

    def _d_ndarray(self, node: dict, depth: int) -> Any:
        np = _need("numpy")
        shape = tuple(_typed(n, int) for n in _seq(node["shape"], 32))
        if any(n < 0 for n in shape) or math.prod(shape) > MAX_ELEMENTS:
            raise CodecError("数组形状无效或过大")
        if node["dtype"] == "O":
            items = _seq(node["v"], MAX_ELEMENTS)
            if len(items) != math.prod(shape):
                raise CodecError("数组元素个数不符")
            out = np.empty(len(items), dtype=object)
            for i, item in enumerate(items):
                out[i] = self.decode(item, depth + 1)
            return out.reshape(shape)
        return self._raw_array(node, shape, np)

    @staticmethod
    def _raw_array(node: dict, shape: tuple, np: Any) -> Any:
        dtype_text = _text(node["dtype"], 20)
        if not _DTYPE.match(dtype_text):
            raise CodecError(f"不支持的 dtype {dtype_text!r}")
        dtype = np.dtype(dtype_text)
        raw = _b64(node["b64"])
        if len(raw) != dtype.itemsize * math.prod(shape):
            raise CodecError("数组字节数不符")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()

    # pandas
    def _d_pd_nat(self, node: dict, depth: int) -> Any:
        return _need("pandas").NaT

    def _d_pd_na(self, node: dict, depth: int) -> Any:
        return _need("pandas").NA

    def _d_pd_ts(self, node: dict, depth: int) -> Any:
        pd = _need("pandas")
        return pd.Timestamp(_text(node["v"], 64)).as_unit(_unit(node["unit"]))

    def _d_pd_td(self, node: dict, depth: int) -> Any:
        pd = _need("pandas")
        return pd.Timedelta(_typed(node["v"], int), unit="ns").as_unit(_unit(node["unit"]))

    def _values(self, node: dict, depth: int) -> Any:
        """The values of a Series, Index or column: a numpy array or a pandas extension array."""
        pd, np = _need("pandas"), _need("numpy")
        tag = node.get("t") if isinstance(node, dict) else None
        if tag == "ndarray":
            values = self._d_ndarray(node, depth + 1)
            if values.ndim != 1:
                raise CodecError("列必须是一维")
            return values
        if tag == "pd.str":
            items = [None if x is None else _text(x) for x in _seq(node["v"], MAX_ELEMENTS)]
            storage = _text(node["storage"], 16)
            if storage not in ("python", "pyarrow"):
                raise CodecError("字符串存储方式无效")
            if storage == "pyarrow" and "pyarrow" not in sys.modules:
                try:
                    import pyarrow  # noqa: F401
                except ImportError:
                    storage = "python"
            na = np.nan if node["na"] == "nan" else pd.NA
            self.nodes += len(items)
            return pd.array(items, dtype=pd.StringDtype(storage=storage, na_value=na))
        if tag == "pd.cat":
            categories = self._d_index(node["categories"], depth + 1)
            codes = self._d_ndarray(node["codes"], depth + 1)
            if codes.dtype.kind != "i" or (len(codes) and (codes.max() >= len(categories) or codes.min() < -1)):
                raise CodecError("分类编码无效")
            return pd.Categorical.from_codes(codes, categories=categories,
                                             ordered=_typed(node["ordered"], bool))
        if tag == "pd.dttz":
            naive = self._d_ndarray(node["v"], depth + 1)
            if naive.dtype.kind != "M":
                raise CodecError("时区日期列无效")
            return pd.DatetimeIndex(naive).tz_localize("UTC").tz_convert(_text(node["tz"], 64)).array
        if tag == "pd.masked":
            dtype = pd.api.types.pandas_dtype(_text(node["dtype"], 16))
            if str(dtype) not in ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32",
                                  "UInt64", "Float32", "Float64", "boolean"):
                raise CodecError("不支持的可空类型")
            data = self._d_ndarray(node["data"], depth + 1)
            mask = self._d_ndarray(node["mask"], depth + 1)
            if mask.dtype != np.bool_ or mask.shape != data.shape:
                raise CodecError("可空列的掩码无效")
            return dtype.construct_array_type()(data.astype(dtype.numpy_dtype), mask)
        raise CodecError("列数据格式错误")

    def _d_pd_index(self, node: dict, depth: int) -> Any:
        pd = _need("pandas")
        return pd.Index(self._values(node["v"], depth + 1), name=self._name(node, depth), copy=False)

    def _d_pd_range(self, node: dict, depth: int) -> Any:
        pd = _need("pandas")
        start, stop, step = (_typed(x, int) for x in _seq(node["v"], 3))
        if step == 0 or abs(stop - start) // abs(step) > MAX_ELEMENTS:
            raise CodecError("范围索引无效")
        return pd.RangeIndex(start, stop, step, name=self._name(node, depth))

    def _d_pd_multi(self, node: dict, depth: int) -> Any:
        pd = _need("pandas")
        levels = [self._d_index(x, depth + 1) for x in _seq(node["levels"], 32)]
        codes = [self._d_ndarray(x, depth + 1) for x in _seq(node["codes"], 32)]
        names = [self.decode(x, depth + 1) for x in _seq(node["names"], 32)]
        return pd.MultiIndex(levels=levels, codes=codes, names=names, verify_integrity=True)

    def _d_index(self, node: Any, depth: int) -> Any:
        tag = node.get("t") if isinstance(node, dict) else None
        if tag not in ("pd.index", "pd.range", "pd.multi"):
            raise CodecError("索引格式错误")
        return self.decode(node, depth)

    def _name(self, node: dict, depth: int) -> Any:
        name = self.decode(node.get("name", {"t": "none"}), depth + 1)
        hash(name)
        return name

    def _d_pd_series(self, node: dict, depth: int) -> Any:
        pd = _need("pandas")
        values = self._values(node["v"], depth + 1)
        index = self._d_index(node["index"], depth + 1)
        if len(index) != len(values):
            raise CodecError("索引与数据长度不符")
        return pd.Series(values, index=index, name=self._name(node, depth), copy=False)

    def _d_pd_df(self, node: dict, depth: int) -> Any:
        pd = _need("pandas")
        columns = self._d_index(node["columns"], depth + 1)
        index = self._d_index(node["index"], depth + 1)
        cols = [self._values(c, depth + 1) for c in _seq(node["cols"], 100_000)]
        if len(cols) != len(columns) or any(len(c) != len(index) for c in cols):
            raise CodecError("表格的行列数不符")
        frame = pd.concat([pd.Series(c, index=index, copy=False) for c in cols], axis=1) \
            if cols else pd.DataFrame(index=index)
        frame.columns = columns
        return frame


def _need(module: str) -> Any:
    loaded = sys.modules.get(module)
    if loaded is None:
        loaded = __import__(module)
    return loaded


def _typed(value: Any, kind: type) -> Any:
    if type(value) is not kind:
        raise CodecError(f"应为 {kind.__name__}")
    return value


def _text(value: Any, limit: int = MAX_STR) -> str:
    if type(value) is not str or len(value) > limit:
        raise CodecError("字符串无效或过长")
    return value


def _seq(value: Any, limit: int = MAX_ELEMENTS) -> list:
    if type(value) is not list or len(value) > limit:
        raise CodecError("列表无效或过长")
    return value


def _float(value: Any) -> float:
    text = _text(value, 40)
    if not re.fullmatch(r"-?(inf|nan|\d+(\.\d*)?([eE][-+]?\d{1,3})?)", text):
        raise CodecError("浮点数无效")
    return float(text)


def _b64(value: Any) -> bytes:
    text = _text(value, MAX_PAYLOAD)
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise CodecError("base64 无效") from exc


def _unit(value: Any) -> str:
    if value not in ("s", "ms", "us", "ns"):
        raise CodecError("时间单位无效")
    return value


def decode_payload(text: str | bytes, remote: Callable[[int, str], Any] | None = None) -> Any:
    """Parse and decode one payload; every failure is a `CodecError`."""
    return Decoder(remote).decode(loads(text))


def encode_payload(value: Any, functions: dict[int, Callable] | None = None) -> str:
    return dumps(Encoder(functions).encode(value))


# ------------------------------------------------------------------ the sandbox side
# These run inside the trainee's kernel (sent there as this file's source). What they return
# is only ever read by `decode`, so tampering with them yields data, never code.

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
