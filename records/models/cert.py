"""Certificates: issued on the rules in curriculum.yml, expire, renew, can be revoked."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.models.base import Base, Timestamped
from records.models.org import OrgUnit
from records.models.person import Person, Post
from records.roles import Role


class Certificate(Timestamped, Base):
    """One certificate for one role, valid from valid_from to valid_until (inclusive).

    holder_name and unit_path are what was printed; together with the number, the role, the
    holder's ID number and the dates they are covered by `code`, an HMAC with the instance's
    secret, so a changed row or a made-up certificate no longer matches its code.
    """

    __tablename__ = "certificate"
    __table_args__ = (
        CheckConstraint("valid_until >= valid_from", name="dates_ordered"),
        CheckConstraint("(revoked_on IS NULL) = (revoked_reason IS NULL)",
                        name="revocation_has_reason"),
        Index("ix_certificate_person_id_role", "person_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # 2026-000123
    code: Mapped[str] = mapped_column(String(32), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("post.id", ondelete="SET NULL"))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, values_callable=lambda e: [m.value for m in e], length=32)
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    holder_name: Mapped[str] = mapped_column(String(50))
    unit_path: Mapped[str] = mapped_column(String(500))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    renews_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificate.id", ondelete="SET NULL")
    )
    # What the rules saw at issue (modules and dates, hours, drills), for the history.
    basis: Mapped[str | None] = mapped_column(Text)
    revoked_on: Mapped[dt.date | None] = mapped_column(Date)
    revoked_reason: Mapped[str | None] = mapped_column(String(500))

    person: Mapped[Person] = relationship()
    post: Mapped[Post | None] = relationship()
    unit: Mapped[OrgUnit] = relationship()
    renews: Mapped[Certificate | None] = relationship(remote_side=[id])

    def valid_on(self, day: dt.date) -> bool:
        revoked = self.revoked_on is not None and self.revoked_on <= day
        return self.valid_from <= day <= self.valid_until and not revoked

    def __repr__(self) -> str:
        return f"<Certificate {self.number} {self.role.value}>"
