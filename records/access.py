"""Who may see what in the Jupyter panels, and a trainee's own status.

A login (the Jupyter or JupyterHub user name) is a person when it equals their
`Person.trainee_id`. The units it may see are its administrator grants (`AdminScope`, set
with `safetrain admin grant`) and, unless switched off, the units where its person holds a
leader post (主要领导/分管领导) on the day: a leader sees their own unit and what is below
it. Anything else raises `AccessDenied`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Float, case, cast, delete, func, insert, select
from sqlalchemy.orm import Session

from records import idcard
from records.cert_register import evaluate_people
from records.certification import LOCAL_TZ, local_date, window_start
from records.curriculum import Curriculum
from records.errors import NotFound, SafeTrainError
from records.models import (
    PATH_SEP,
    AdminScope,
    Attempt,
    Attendance,
    Drill,
    DrillParticipation,
    OrgUnit,
    Person,
    Post,
    TrainingAttendance,
    TrainingSession,
    UnitLevel,
)
from records.people import normalise_login, posts_held_on
from records.roles import Role
from records.training import credited_hours, hours_by_person

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
    log.info("admin scope granted: %s → %s (by %s)", login, unit.path, by)
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
        log.info("admin scope revoked: %s → %s", login, ", ".join(r.path for r in rows))
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


# --------------------------------------------------------------------------- own status

MODULE_STATUS_LABELS = {"not_started": "未开始", "submitted": "已提交，待评分",
                        "passed": "已通过", "failed": "未通过"}


@dataclass(frozen=True)
class ModuleStatus:
    id: str
    title: str
    pass_mark: float
    estimated_minutes: int
    required: bool
    status: str  # a key of MODULE_STATUS_LABELS
    status_label: str
    attempts: int = 0
    best_percent: float | None = None
    best_score: float | None = None
    max_score: float | None = None
    last_graded: dt.date | None = None
    submitted_at: dt.datetime | None = None
    counts: bool = False  # counts towards the certificate (a pass before a revocation doesn't)


@dataclass(frozen=True)
class RoleStatus:
    """The certificate side of one post: same evaluation as `safetrain cert evaluate`."""

    role: str
    role_label: str
    unit_code: str
    unit_path: str
    since: dt.date
    status: str
    status_label: str
    reasons: tuple[str, ...]
    certificate: str | None
    valid_until: dt.date | None
    deadline: dt.date | None  # onboarding deadline (new inspectors etc.), when one applies
    days_to_deadline: int | None
    modules_missing: tuple[str, ...]
    hours_required: float
    hours_short: float
    drills_required: int
    drills_short: int


@dataclass(frozen=True)
class SessionRow:
    code: str
    title: str
    held_on: dt.date
    kind: str
    status: str
    hours: float


@dataclass(frozen=True)
class DrillRow:
    code: str
    title: str
    held_on: dt.date
    drill_type: str
    role: str
    status: str


@dataclass(frozen=True)
class TraineeStatus:
    login: str
    name: str
    masked_id: str
    as_of: dt.date
    window_start: dt.date
    roles: list[RoleStatus] = field(default_factory=list)
    modules: list[ModuleStatus] = field(default_factory=list)
    hours: float = 0.0  # 12 months to as_of, as the certificate rules count them
    hours_this_year: float = 0.0  # calendar year to as_of
    hours_required: float = 0.0  # the most any of their posts asks for
    sessions: list[SessionRow] = field(default_factory=list)
    drills: int = 0  # taken part in, 12 months to as_of
    drills_required: int = 0
    drill_list: list[DrillRow] = field(default_factory=list)


def trainee_status(session: Session, curriculum: Curriculum, person: Person, *,
                   as_of: dt.date, submitted: Mapping[str, dt.datetime] | None = None,
                   ) -> TraineeStatus:
    """Everything the 我的培训 panel shows for one person on `as_of`.

    `submitted` maps module ids to the time of a submission not yet in records (found in the
    nbgrader folders by the caller); it makes a module "submitted" until it is graded.
    """
    evaluated = evaluate_people(session, curriculum, as_of=as_of, person=person)
    roles = []
    for e in evaluated:
        rule = curriculum.rule(e.held.role)
        d = e.decision
        roles.append(RoleStatus(
            e.held.role.value, e.held.role.label, _unit_code(session, e.held.unit_id),
            e.held.unit_path, e.facts.role_since, d.status.value, d.status.label, d.reasons,
            d.current.number if d.current else None, d.current.valid_until if d.current else None,
            d.deadline, (d.deadline - as_of).days if d.deadline else None, d.modules_missing,
            rule.hours_per_year, d.hours_short, rule.drills_per_year, d.drills_short))
    start = window_start(as_of)
    missing = {m for r in roles for m in r.modules_missing}
    required = {m for e in evaluated for m in curriculum.required_modules(e.held.role)}
    modules = _module_statuses(session, curriculum, person, required, missing, as_of,
                               submitted or {})
    year_hours = session.execute(
        hours_by_person(dt.date(as_of.year, 1, 1), as_of)
        .where(TrainingAttendance.person_id == person.id)).first()
    return TraineeStatus(
        login=person.trainee_id, name=person.name, masked_id=idcard.mask(person.id_number),
        as_of=as_of, window_start=start, roles=roles, modules=modules,
        hours=evaluated[0].facts.hours if evaluated else _window_hours(session, person, as_of),
        hours_this_year=round(float(year_hours.hours), 2) if year_hours else 0.0,
        hours_required=max((r.hours_required for r in roles), default=0.0),
        sessions=_sessions(session, person, start, as_of),
        drills=evaluated[0].facts.drills if evaluated else 0,
        drills_required=max((r.drills_required for r in roles), default=0),
        drill_list=_drills(session, person, as_of),
    )


def _unit_code(session: Session, unit_id: int) -> str:
    return session.scalar(select(OrgUnit.code).where(OrgUnit.id == unit_id)) or ""


def _window_hours(session: Session, person: Person, as_of: dt.date) -> float:
    row = session.execute(hours_by_person(window_start(as_of), as_of)
                          .where(TrainingAttendance.person_id == person.id)).first()
    return round(float(row.hours), 2) if row else 0.0


def _module_statuses(session: Session, curriculum: Curriculum, person: Person,
                     required: set[str], missing: set[str], as_of: dt.date,
                     submitted: Mapping[str, dt.datetime]) -> list[ModuleStatus]:
    cutoff = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), LOCAL_TZ)
    percent = 100.0 * cast(Attempt.score, Float) / func.nullif(Attempt.max_score, 0)
    stats = {r.module: r for r in session.execute(
        select(Attempt.module, func.count().label("n"), func.max(percent).label("best"),
               func.max(case((Attempt.passed, 1), else_=0)).label("passed"),
               func.max(Attempt.graded_at).label("graded"),
               func.max(Attempt.submitted_at).label("submitted"))
        .where(Attempt.person_id == person.id, Attempt.graded_at < cutoff)
        .group_by(Attempt.module))}
    best: dict[str, Any] = {}  # the best attempt per module: its score and max
    for r in session.execute(
        select(Attempt.module, Attempt.score, Attempt.max_score, percent.label("p"))
        .where(Attempt.person_id == person.id, Attempt.graded_at < cutoff)
    ):
        if r.module not in best or (r.p or 0) > (best[r.module].p or 0):
            best[r.module] = r
    out = []
    for m in curriculum.modules:
        s = stats.get(m.id)
        if m.id not in required and s is None and m.id not in submitted:
            continue
        pending = submitted.get(m.id)
        graded_upto = _aware(s.submitted or s.graded) if s is not None else None
        if pending is not None and graded_upto is not None and _aware(pending) <= graded_upto:
            pending = None  # already graded
        if s is not None and s.passed:
            status = "passed"
        elif pending is not None:
            status = "submitted"
        elif s is not None:
            status = "failed"
        else:
            status = "not_started"
        b = best.get(m.id)
        out.append(ModuleStatus(
            m.id, m.title, m.pass_mark, m.estimated_minutes, m.id in required, status,
            MODULE_STATUS_LABELS[status], s.n if s else 0,
            round(float(s.best), 1) if s is not None and s.best is not None else None,
            float(b.score) if b else None, float(b.max_score) if b else None,
            local_date(s.graded) if s else None, pending,
            m.id in required and m.id not in missing))
    return out


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _sessions(session: Session, person: Person, start: dt.date,
              end: dt.date) -> list[SessionRow]:
    rows = session.execute(
        select(TrainingSession.code, TrainingSession.title, TrainingSession.held_on,
               TrainingSession.kind, TrainingAttendance.status,
               credited_hours().label("hours"))
        .join(TrainingAttendance, TrainingAttendance.session_id == TrainingSession.id)
        .where(TrainingAttendance.person_id == person.id, TrainingSession.held_on >= start,
               TrainingSession.held_on <= end)
        .order_by(TrainingSession.held_on.desc(), TrainingSession.code)).all()
    return [SessionRow(r.code, r.title, r.held_on, r.kind.label, r.status.label,
                       round(float(r.hours), 2)) for r in rows]


def _drills(session: Session, person: Person, as_of: dt.date,
            limit: int = 50) -> list[DrillRow]:
    rows = session.execute(
        select(Drill.code, Drill.title, Drill.held_on, Drill.drill_type,
               DrillParticipation.role, DrillParticipation.status)
        .join(DrillParticipation, DrillParticipation.drill_id == Drill.id)
        .where(DrillParticipation.person_id == person.id, Drill.held_on <= as_of,
               DrillParticipation.status.in_([Attendance.present, Attendance.left_early]))
        .order_by(Drill.held_on.desc(), Drill.code).limit(limit)).all()
    return [DrillRow(r.code, r.title, r.held_on, r.drill_type.label, r.role.label,
                     r.status.label) for r in rows]

