"""Values to JSON nodes, by exact type: builtins, numpy and pandas (used only when the
process has already loaded them); subclasses collapse to their base, callables become
references, anything else an opaque node."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import sys
from collections.abc import Callable
from typing import Any

from .common import MAX_DEPTH, MAX_NODES, dumps


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


def encode_payload(value: Any, functions: dict[int, Callable] | None = None) -> str:
    return dumps(Encoder(functions).encode(value))
