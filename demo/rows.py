"""What the demo's generators share: the row buffer, who holds a post when, the demo's
source tag, and the random draws (a day in a range, a weighted choice, the months)."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from records.reports.period import add_months
from records.roles import Role

SOURCE = "demo-activity"
CHUNK = 20000
LEADERS = (Role.principal_leader, Role.deputy_leader)


@dataclass(frozen=True)
class Holder:
    post_id: int
    person_id: int
    role: Role
    start: dt.date
    end: dt.date | None

    def on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


class Writer:
    """Buffers rows per table and inserts them in chunks through the Core."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.buffers: dict[Any, list[dict[str, Any]]] = defaultdict(list)

    def add(self, table: Any, row: dict[str, Any]) -> None:
        buffer = self.buffers[table]
        buffer.append(row)
        if len(buffer) >= CHUNK:
            self.flush(table)

    def flush(self, table: Any = None) -> None:
        for t in [table] if table is not None else list(self.buffers):
            if self.buffers[t]:
                self.connection.execute(insert(t), self.buffers[t])
                self.buffers[t] = []


def months(end: dt.date, count: int) -> Iterator[tuple[dt.date, dt.date]]:
    """(first, last) day of each of the `count` months ending with `end`'s month."""
    first = add_months(end.replace(day=1), -(count - 1))
    for i in range(count):
        start = add_months(first, i)
        yield start, min(add_months(start, 1) - dt.timedelta(days=1), end)


def day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def weighted(rng: random.Random, pairs: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]
