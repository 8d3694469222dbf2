"""Reporting periods: a month (2026-11), a quarter (2026-Q4) or a year (2026)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
_QUARTER = re.compile(r"^(\d{4})\s*[-/ ]?\s*[Qq]([1-4])$")
_QUARTER_ZH = re.compile(r"^(\d{4})\s*年\s*第?\s*([1-4一二三四])\s*季度?$")
_YEAR = re.compile(r"^(\d{4})\s*年?$")
_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}
_ZH_QUARTERS = ("第一季度", "第二季度", "第三季度", "第四季度")


@dataclass(frozen=True, order=True)
class Period:
    """First and last day (inclusive) of a calendar month, quarter or year."""

    start: dt.date
    end: dt.date
    kind: str  # "month" | "quarter" | "year"

    @classmethod
    def parse(cls, text: str) -> Period:
        """'2026-11' / '2026年11月', '2026-Q4' / '2026年第四季度', '2026' / '2026年'."""
        key = text.strip()
        if m := _MONTH.match(key):
            year, month = int(m.group(1)), int(m.group(2))
            if not 1 <= month <= 12:
                raise ValueError(f"统计期「{text}」的月份应为 1–12")
            return cls.month(year, month)
        if m := _QUARTER.match(key):
            return cls.quarter(int(m.group(1)), int(m.group(2)))
        if m := _QUARTER_ZH.match(key):
            q = m.group(2)
            return cls.quarter(int(m.group(1)), _ZH_DIGITS.get(q) or int(q))
        if m := _YEAR.match(key):
            return cls.year(int(m.group(1)))
        raise ValueError(f"统计期「{text}」无法识别，应为 2026-11（月）、2026-Q4（季度）或 2026（年）")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        last = calendar.monthrange(year, month)[1]
        return cls(dt.date(year, month, 1), dt.date(year, month, last), "month")

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        first = 3 * (quarter - 1) + 1
        end = cls.month(year, first + 2).end
        return cls(dt.date(year, first, 1), end, "quarter")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31), "year")

    @classmethod
    def containing(cls, day: dt.date) -> Period:
        """The calendar month `day` falls in."""
        return cls.month(day.year, day.month)

    @property
    def code(self) -> str:
        """The form `parse` reads back: 2026-11, 2026-Q4, 2026."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)

    @property
    def label(self) -> str:
        """Chinese: 2026年11月, 2026年第四季度, 2026年."""
        if self.kind == "month":
            return f"{self.start.year}年{self.start.month}月"
        if self.kind == "quarter":
            return f"{self.start.year}年{_ZH_QUARTERS[(self.start.month - 1) // 3]}"
        return f"{self.start.year}年"

    @property
    def noun(self) -> str:
        """本月 / 本季度 / 本年, for sentences."""
        return {"month": "本月", "quarter": "本季度", "year": "本年"}[self.kind]

    def __str__(self) -> str:
        return self.code


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day `months` later (or earlier), clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))
