"""One titled table of a report, the unit every writer (the `writers` package) takes."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass
class Sheet:
    """One table of the bundle: `key` is report/part, `name` the sheet name (≤ 31 chars)."""

    key: str
    name: str
    title: str
    df: pd.DataFrame
    note: str = ""
