"""Module attempts: graded (or failed) submissions of a module, and extra attempts granted."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.models.base import Base, Timestamped
from records.models.person import Person


class AttemptStatus(enum.StrEnum):
    graded = "graded"
    timed_out = "timed_out"  # partial score: cells not reached count 0
    failed = "failed"  # could not be graded at all (not a notebook, ...): score 0

    @property
    def label(self) -> str:
        return {"graded": "已评分", "timed_out": "超时（部分得分）", "failed": "评分失败"}[self.value]


class Attempt(Timestamped, Base):
    """One submission of a module, keyed by the trainee id and the submission's content hash.

    Re-grading the same submission updates its row; a changed resubmission is a new row.
    `person_id` is empty for a trainee id not (yet) in the roster.
    """

    __tablename__ = "attempt"
    __table_args__ = (
        UniqueConstraint("trainee_id", "module", "submission_sha256"),
        Index("ix_attempt_person_id_module", "person_id", "module"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    module: Mapped[str] = mapped_column(String(64))
    module_version: Mapped[str] = mapped_column(String(32))
    submission_sha256: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[AttemptStatus] = mapped_column(
        Enum(AttemptStatus, native_enum=False, values_callable=lambda e: [m.value for m in e],
             length=16)
    )
    # Why it failed or what was wrong (deleted test cells restored, output cut, ...), in Chinese.
    problems: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    graded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    person: Mapped[Person | None] = relationship()

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0


class AttemptGrant(Timestamped, Base):
    """Extra attempts an administrator allowed one trainee on one module: a log, never edited.

    Keyed by trainee id like `Attempt`, so a grant reaches submissions of a login that is
    not (yet) in the roster too. The module's allowance is its `max_attempts` plus the sum.
    """

    __tablename__ = "attempt_grant"
    __table_args__ = (
        CheckConstraint("count > 0", name="count_positive"),
        Index("ix_attempt_grant_trainee_id_module", "trainee_id", "module"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[str] = mapped_column(String(64))
    module: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
