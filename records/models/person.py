"""People and their posts over time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.idcard import mask
from records.models.base import Base, Timestamped
from records.models.org import OrgUnit
from records.roles import Role


class Person(Timestamped, Base):
    """Identity is the resident ID number, stored in full and shown only masked."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    # Stable ASCII login: nbgrader student id and Jupyter user name.
    trainee_id: Mapped[str] = mapped_column(String(32), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))

    posts: Mapped[list[Post]] = relationship(back_populates="person", order_by="Post.start_date")

    @property
    def masked_id(self) -> str:
        return mask(self.id_number)

    def __repr__(self) -> str:  # never the full ID: reprs end up in logs
        return f"<Person {self.trainee_id} {self.masked_id}>"


class Post(Timestamped, Base):
    """A person's role in a unit from start_date to end_date (inclusive; None = current)."""

    __tablename__ = "post"
    __table_args__ = (
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
        Index("ix_post_unit_id_role", "unit_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, values_callable=lambda e: [m.value for m in e], length=32)
    )
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    # Where the post came from, e.g. "roster:花名册.xlsx" or "demo-data".
    source: Mapped[str | None] = mapped_column(String(200))

    person: Mapped[Person] = relationship(back_populates="posts")
    unit: Mapped[OrgUnit] = relationship()

    def held_on(self, day: dt.date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)
