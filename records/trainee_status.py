"""One trainee's own status, everything the 我的培训 panel shows: posts and their
certificate decisions, modules, hours, sessions and drills (the same evaluation as
`safetrain cert evaluate`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.orm import Session

from records import idcard
from records.cert_register import evaluate_people
from records.cert_rules import LOCAL_TZ, local_date, window_start
from records.curriculum import Curriculum
from records.models import (
    Attempt,
    Attendance,
    Drill,
    DrillParticipation,
    OrgUnit,
    Person,
    TrainingAttendance,
    TrainingSession,
)
from records.training import credited_hours, hours_by_person

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
    required_from: dt.date | None = None  # a requirement that starts after as_of: its first day


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
        starts = curriculum.module_from(m)
        upcoming = starts if m.id in required and starts is not None and starts > as_of else None
        label = MODULE_STATUS_LABELS[status]
        if upcoming is not None and status != "passed":
            label += f"（{upcoming:%Y-%m-%d} 起必修）"
        out.append(ModuleStatus(
            m.id, m.title, m.pass_mark, m.estimated_minutes, m.id in required, status,
            label, s.n if s else 0,
            round(float(s.best), 1) if s is not None and s.best is not None else None,
            float(b.score) if b else None, float(b.max_score) if b else None,
            local_date(s.graded) if s else None, pending,
            m.id in required and m.id not in missing, upcoming))
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

