"""The event log: append-only, each entry HMAC-chained to the one before (records.event_log)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from records.models.base import Base


class Event(Base):
    """One entry: what happened to which subject, the subject's state after it, and the MAC.

    `mac` covers seq, kind, subject, time, actor, payload and the previous entry's MAC, so an
    edited, deleted, inserted or reordered entry breaks the chain from that point on.
    """

    __tablename__ = "event_log"
    __table_args__ = (Index("ix_event_log_subject", "subject"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as MAC'd
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<Event {self.seq} {self.kind} {self.subject}>"


class EventHead(Base):
    """The log's last entry (one row): appends lock it, so they are serialised."""

    __tablename__ = "event_head"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    mac: Mapped[str] = mapped_column(String(64))
