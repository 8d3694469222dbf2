"""JSON nodes back to exact values. Every node is untrusted: its tag, types, sizes,
digits and depth are checked, and any failure is a `CodecError` (which fails one cell)."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import re
import sys
from collections.abc import Callable
from typing import Any

from .common import (
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_INT_DIGITS,
    MAX_NODES,
    MAX_PAYLOAD,
    MAX_STR,
    CodecError,
    Opaque,
    loads,
)

_DTYPE = re.compile(r"^[<>|=]?[biufcmMU]\d{1,3}(\[[a-zA-Z]{1,3}\])?$")


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
