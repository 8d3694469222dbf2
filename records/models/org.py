"""The org tree: 市 → 区/县 → 街道/乡镇 → 社区/村."""

from __future__ import annotations

import enum

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.models.base import Base, Timestamped


class UnitLevel(enum.IntEnum):
    city = 1
    district = 2
    street = 3
    community = 4

    @property
    def label(self) -> str:
        return ("市", "区/县", "街道/乡镇", "社区/村")[self - 1]


PATH_SEP = "/"


class OrgUnit(Timestamped, Base):
    """One unit; `path` is the names from the city down joined by '/', unique."""

    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[UnitLevel] = mapped_column(
        Enum(UnitLevel, native_enum=False, values_callable=lambda e: [m.name for m in e],
             length=16)
    )
    path: Mapped[str] = mapped_column(String(500), unique=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    # Number of children ever created; the next child's code uses it, so codes never repeat.
    child_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[OrgUnit]] = relationship(back_populates="parent")

    def __repr__(self) -> str:
        return f"<OrgUnit {self.code} {self.path}>"
