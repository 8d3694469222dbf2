"""Emergency drills (应急演练): who took part in which role, the evaluation, improvement actions."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    Enum,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.models.base import Base, Timestamped
from records.models.org import OrgUnit
from records.models.person import Person
from records.models.training import Attendance, _values


class DrillType(enum.StrEnum):
    fire_evacuation = "fire_evacuation"
    earthquake = "earthquake"
    flood = "flood"
    hazchem = "hazchem"
    gas_leak = "gas_leak"
    typhoon = "typhoon"
    geological = "geological"
    other = "other"

    @property
    def label(self) -> str:
        return DRILL_TYPE_LABELS[self]


DRILL_TYPE_LABELS = {
    DrillType.fire_evacuation: "消防疏散",
    DrillType.earthquake: "地震避险",
    DrillType.flood: "防汛",
    DrillType.hazchem: "危化品泄漏",
    DrillType.gas_leak: "燃气泄漏",
    DrillType.typhoon: "防台风",
    DrillType.geological: "地质灾害",
    DrillType.other: "其他",
}


class DrillForm(enum.StrEnum):
    tabletop = "tabletop"
    live = "live"

    @property
    def label(self) -> str:
        return {"tabletop": "桌面演练", "live": "实战演练"}[self.value]


class DrillScope(enum.StrEnum):
    single = "single"
    combined = "combined"

    @property
    def label(self) -> str:
        return {"single": "单项演练", "combined": "综合演练"}[self.value]


class DrillRole(enum.StrEnum):
    commander = "commander"
    evacuation = "evacuation"
    rescue = "rescue"
    liaison = "liaison"
    cordon = "cordon"
    logistics = "logistics"
    participant = "participant"
    observer = "observer"
    resident = "resident"

    @property
    def label(self) -> str:
        return DRILL_ROLE_LABELS[self]


DRILL_ROLE_LABELS = {
    DrillRole.commander: "指挥",
    DrillRole.evacuation: "疏散引导",
    DrillRole.rescue: "救护",
    DrillRole.liaison: "通讯联络",
    DrillRole.cordon: "警戒",
    DrillRole.logistics: "后勤保障",
    DrillRole.participant: "参演人员",
    DrillRole.observer: "观摩评估",
    DrillRole.resident: "居民",
}


class ActionStatus(enum.StrEnum):
    open = "open"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return {"open": "待整改", "in_progress": "整改中", "done": "已完成",
                "cancelled": "已取消"}[self.value]

    @property
    def closed(self) -> bool:
        return self in (ActionStatus.done, ActionStatus.cancelled)


drill_unit = Table(
    "drill_unit",
    Base.metadata,
    Column("drill_id", ForeignKey("drill.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("org_unit.id", ondelete="RESTRICT"), primary_key=True),
)


class Drill(Timestamped, Base):
    """One drill; natural key (title, held_on, organizer).

    Actual participants are counted from the records (people present + residents), so the
    number reported is the number recorded; `planned_participants` is the plan's figure.
    """

    __tablename__ = "drill"
    __table_args__ = (
        UniqueConstraint("title", "held_on", "organizer_id"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("residents >= 0", name="residents_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # D20261101-1
    title: Mapped[str] = mapped_column(String(200))
    drill_type: Mapped[DrillType] = mapped_column(
        Enum(DrillType, native_enum=False, values_callable=_values, length=32)
    )
    form: Mapped[DrillForm] = mapped_column(
        Enum(DrillForm, native_enum=False, values_callable=_values, length=16)
    )
    scope: Mapped[DrillScope] = mapped_column(
        Enum(DrillScope, native_enum=False, values_callable=_values, length=16)
    )
    plan: Mapped[str | None] = mapped_column(String(200))  # the 应急预案 exercised
    scenario: Mapped[str | None] = mapped_column(Text)
    organizer_id: Mapped[int] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    held_on: Mapped[dt.date] = mapped_column(Date, index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    planned_participants: Mapped[int | None] = mapped_column(Integer)
    residents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    source: Mapped[str | None] = mapped_column(String(200))

    organizer: Mapped[OrgUnit] = relationship()
    units: Mapped[list[OrgUnit]] = relationship(secondary=drill_unit)
    participants: Mapped[list[DrillParticipation]] = relationship(
        back_populates="drill", cascade="all, delete-orphan", passive_deletes=True
    )
    evaluation: Mapped[DrillEvaluation | None] = relationship(
        back_populates="drill", cascade="all, delete-orphan", passive_deletes=True
    )
    actions: Mapped[list[DrillAction]] = relationship(
        back_populates="drill", cascade="all, delete-orphan", passive_deletes=True,
        order_by="DrillAction.id",
    )

    def __repr__(self) -> str:
        return f"<Drill {self.code} {self.title}>"


class DrillParticipation(Timestamped, Base):
    __tablename__ = "drill_participation"
    __table_args__ = (UniqueConstraint("drill_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drill.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    role: Mapped[DrillRole] = mapped_column(
        Enum(DrillRole, native_enum=False, values_callable=_values, length=16)
    )
    status: Mapped[Attendance] = mapped_column(
        Enum(Attendance, native_enum=False, values_callable=_values, length=16)
    )
    source: Mapped[str | None] = mapped_column(String(200))

    drill: Mapped[Drill] = relationship(back_populates="participants")
    person: Mapped[Person] = relationship()


class DrillEvaluation(Timestamped, Base):
    """The after-action review: what went well and what was found (one per drill)."""

    __tablename__ = "drill_evaluation"

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(
        ForeignKey("drill.id", ondelete="CASCADE"), unique=True
    )
    evaluated_on: Mapped[dt.date] = mapped_column(Date)
    evaluator: Mapped[str | None] = mapped_column(String(100))
    rating: Mapped[str | None] = mapped_column(String(16))  # 优秀/良好/合格/不合格
    went_well: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[str | None] = mapped_column(Text)

    drill: Mapped[Drill] = relationship(back_populates="evaluation")


class DrillAction(Timestamped, Base):
    """An improvement action from a drill, tracked to closure."""

    __tablename__ = "drill_action"
    __table_args__ = (
        UniqueConstraint("drill_id", "description"),
        CheckConstraint("closed_on IS NULL OR status IN ('done', 'cancelled')",
                        name="closed_only_when_done"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed by the (drill_id, description) unique constraint.
    drill_id: Mapped[int] = mapped_column(ForeignKey("drill.id", ondelete="CASCADE"))
    description: Mapped[str] = mapped_column(String(500))
    owner: Mapped[str] = mapped_column(String(100))
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    status: Mapped[ActionStatus] = mapped_column(
        Enum(ActionStatus, native_enum=False, values_callable=_values, length=16),
        default=ActionStatus.open,
    )
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    closure_note: Mapped[str | None] = mapped_column(Text)

    drill: Mapped[Drill] = relationship(back_populates="actions")
