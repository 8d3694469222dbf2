"""Training sessions (集中培训, 专题讲座, 以老带新, 线上自学) and who attended them."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.models.base import Base, Timestamped
from records.models.org import OrgUnit
from records.models.person import Person


def _values(e: type[enum.Enum]) -> list[str]:
    return [m.value for m in e]


class TrainingKind(enum.StrEnum):
    classroom = "classroom"
    lecture = "lecture"
    mentoring = "mentoring"
    online = "online"

    @property
    def label(self) -> str:
        return {"classroom": "集中培训", "lecture": "专题讲座", "mentoring": "以老带新",
                "online": "线上自学"}[self.value]


class Attendance(enum.StrEnum):
    """Presence at a training session or a drill."""

    present = "present"
    absent = "absent"
    excused = "excused"
    left_early = "left_early"

    @property
    def label(self) -> str:
        return {"present": "出席", "absent": "缺席", "excused": "请假",
                "left_early": "早退"}[self.value]

    @property
    def took_part(self) -> bool:
        return self in (Attendance.present, Attendance.left_early)


class TrainingSession(Timestamped, Base):
    """One training held on one day; natural key (title, held_on, organizer)."""

    __tablename__ = "training_session"
    __table_args__ = (
        UniqueConstraint("title", "held_on", "organizer_id"),
        CheckConstraint("hours > 0", name="hours_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Short stable reference typed on the command line: T20261101-1.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[TrainingKind] = mapped_column(
        Enum(TrainingKind, native_enum=False, values_callable=_values, length=16)
    )
    organizer_id: Mapped[int] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    held_on: Mapped[dt.date] = mapped_column(Date, index=True)
    hours: Mapped[float] = mapped_column(Float)
    trainer: Mapped[str | None] = mapped_column(String(100))
    topics: Mapped[str | None] = mapped_column(Text)
    # Curriculum module ids covered, comma separated (validated against curriculum.yml).
    modules: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(String(200))

    organizer: Mapped[OrgUnit] = relationship()
    attendance: Mapped[list[TrainingAttendance]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def module_ids(self) -> list[str]:
        return [m for m in (self.modules or "").split(",") if m]

    def __repr__(self) -> str:
        return f"<TrainingSession {self.code} {self.title}>"


class TrainingAttendance(Timestamped, Base):
    """A person's presence at a session. `minutes` is time actually attended (early leavers).

    Hours credited: present → the session's hours (or minutes/60 when given, at most the
    session's hours); left early → minutes/60; absent or excused → 0.
    """

    __tablename__ = "training_attendance"
    __table_args__ = (
        UniqueConstraint("session_id", "person_id"),
        CheckConstraint("minutes IS NULL OR minutes >= 0", name="minutes_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("training_session.id", ondelete="CASCADE")
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    status: Mapped[Attendance] = mapped_column(
        Enum(Attendance, native_enum=False, values_callable=_values, length=16)
    )
    minutes: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(200))

    session: Mapped[TrainingSession] = relationship(back_populates="attendance")
    person: Mapped[Person] = relationship()
