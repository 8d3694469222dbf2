"""Who may see what in the Jupyter panels: administrator grants and leaders' own units.

A login (the Jupyter or JupyterHub user name) is a person when it equals their
`Person.trainee_id`. The units it may see are its administrator grants (`AdminScope`, set
with `safetrain admin grant`) and, unless switched off, the units where its person holds a
leader post (主要领导/分管领导) on the day: a leader sees their own unit and what is below
it. Anything else raises `AccessDenied`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from records.cert_rules import LOCAL_TZ, local_date
from records.errors import NotFound, SafeTrainError
from records.models import (
    PATH_SEP,
    AdminScope,
    OrgUnit,
    Person,
    Post,
    UnitLevel,
)
from records.people import normalise_login, posts_held_on
from records.roles import Role

log = logging.getLogger(__name__)


class AccessDenied(SafeTrainError):
    """The login may not see this person or unit (the Jupyter endpoints answer 403)."""

    exit_code = 4


def today() -> dt.date:
    """Today in China, the day every rule is judged on unless told otherwise."""
    return dt.datetime.now(LOCAL_TZ).date()


# --------------------------------------------------------------------------- scopes


@dataclass(frozen=True)
class ScopeUnit:
    """A unit a login may see, with everything below it; `source` is "grant" or "leader"."""

    id: int
    code: str
    name: str
    path: str
    level: UnitLevel
    source: str

    def covers(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path + PATH_SEP)


@dataclass(frozen=True)
class Viewer:
    """The person behind a login (if any) and the units they may see."""

    login: str
    person_id: int | None = None
    name: str | None = None
    scopes: tuple[ScopeUnit, ...] = ()

    @property
    def is_admin(self) -> bool:
        return bool(self.scopes)

    def covers(self, unit: OrgUnit) -> bool:
        return any(s.covers(unit.path) for s in self.scopes)


def viewer_for(session: Session, login: str, *, as_of: dt.date,
               leaders_see_their_units: bool = True) -> Viewer:
    """Resolve a login; an unknown login is a viewer with no person and no scopes."""
    person = session.scalars(select(Person).where(Person.trainee_id == login)).one_or_none()
    rows = session.execute(
        select(OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.path, OrgUnit.level)
        .join(AdminScope, AdminScope.unit_id == OrgUnit.id)
        .where(AdminScope.login == login)
    ).all()
    scopes = {r.id: ScopeUnit(r.id, r.code, r.name, r.path, r.level, "grant") for r in rows}
    if person is not None and leaders_see_their_units:
        held = posts_held_on(as_of, roles=[Role.principal_leader, Role.deputy_leader]) \
            .where(Post.person_id == person.id).subquery()
        for r in session.execute(
            select(OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.path, OrgUnit.level)
            .join(held, held.c.unit_id == OrgUnit.id)
        ):
            scopes.setdefault(r.id, ScopeUnit(r.id, r.code, r.name, r.path, r.level, "leader"))
    # A unit inside another scope adds nothing: keep the outermost ones.
    ordered = sorted(scopes.values(), key=lambda s: (s.path.count(PATH_SEP), s.path))
    kept: list[ScopeUnit] = []
    for scope in ordered:
        if not any(k.covers(scope.path) for k in kept):
            kept.append(scope)
    return Viewer(login, person.id if person else None, person.name if person else None,
                  tuple(sorted(kept, key=lambda s: s.code)))


def require_unit(viewer: Viewer, unit: OrgUnit) -> None:
    if not viewer.covers(unit):
        raise AccessDenied(f"账号 {viewer.login} 无权查看单位 {unit.code}（{unit.path}）")


def require_person(session: Session, viewer: Viewer, person: Person, *, as_of: dt.date) -> None:
    """Oneself, or someone holding a post on `as_of` in a unit the viewer may see."""
    if viewer.person_id == person.id:
        return
    if viewer.scopes:
        held = posts_held_on(as_of).where(Post.person_id == person.id).subquery()
        paths = session.scalars(
            select(OrgUnit.path).join(held, held.c.unit_id == OrgUnit.id)).all()
        if any(s.covers(p) for s in viewer.scopes for p in paths):
            return
    raise AccessDenied(f"账号 {viewer.login} 无权查看人员 {person.trainee_id} 的记录")


def find_unit_by_code(session: Session, code: str) -> OrgUnit:
    unit = session.scalars(select(OrgUnit).where(OrgUnit.code == code)).one_or_none()
    if unit is None:
        raise NotFound(f"没有代码为「{code}」的单位")
    return unit


def child_units(session: Session, unit: OrgUnit) -> list[OrgUnit]:
    return list(session.scalars(
        select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.code)))


# --------------------------------------------------------------------------- grants


def grant(session: Session, login: str, unit: OrgUnit, *, by: str | None = None,
          note: str | None = None) -> str:
    """Let `login` see `unit` and below; "created", or "unchanged" when already granted."""
    login = normalise_login(login)
    exists = session.scalar(select(AdminScope.id).where(
        AdminScope.login == login, AdminScope.unit_id == unit.id))
    if exists is not None:
        return "unchanged"
    session.execute(insert(AdminScope), [{"login": login, "unit_id": unit.id,
                                          "granted_by": by, "note": note}])
    log.info("授予管理范围：%s → %s（操作人 %s）", login, unit.path, by)
    return "created"


def revoke(session: Session, login: str, unit: OrgUnit | None = None) -> list[str]:
    """Remove one grant (or all of a login's when `unit` is None); paths of those removed."""
    login = normalise_login(login)
    stmt = select(AdminScope.id, OrgUnit.path).join(OrgUnit, OrgUnit.id == AdminScope.unit_id) \
        .where(AdminScope.login == login)
    if unit is not None:
        stmt = stmt.where(AdminScope.unit_id == unit.id)
    rows = session.execute(stmt.order_by(OrgUnit.path)).all()
    if rows:
        session.execute(delete(AdminScope).where(AdminScope.id.in_([r.id for r in rows])))
        log.info("收回管理范围：%s → %s", login, "、".join(r.path for r in rows))
    return [r.path for r in rows]


def list_grants(session: Session, *, login: str | None = None) -> pd.DataFrame:
    stmt = (select(AdminScope.login, Person.name, OrgUnit.code, OrgUnit.path,
                   AdminScope.granted_by, AdminScope.created_at, AdminScope.note)
            .join(OrgUnit, OrgUnit.id == AdminScope.unit_id)
            .outerjoin(Person, Person.trainee_id == AdminScope.login)
            .order_by(AdminScope.login, OrgUnit.code))
    if login is not None:
        stmt = stmt.where(AdminScope.login == normalise_login(login))
    rows = session.execute(stmt).all()
    return pd.DataFrame(
        [(r.login, r.name or "（不在花名册）", r.code, r.path, r.granted_by or "",
          local_date(r.created_at).isoformat() if r.created_at else "", r.note or "")
         for r in rows],
        columns=["账号", "姓名", "单位代码", "单位", "授权人", "授权日期", "备注"])
