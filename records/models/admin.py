"""Administrator scopes: which org units a Jupyter login may see in the coverage panel."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.models.base import Base, Timestamped
from records.models.org import OrgUnit


class AdminScope(Timestamped, Base):
    """`login` may see `unit` and everything below it.

    Keyed by the Jupyter/JupyterHub user name, not by person: an administrator of the
    district office need not be in any roster. Revoking deletes the row.
    """

    __tablename__ = "admin_scope"
    __table_args__ = (UniqueConstraint("login", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(32))  # the unique constraint indexes it
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    granted_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(200))

    unit: Mapped[OrgUnit] = relationship()

    def __repr__(self) -> str:
        return f"<AdminScope {self.login} unit={self.unit_id}>"
