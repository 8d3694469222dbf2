"""Training sessions and attendance: add, mark, list; credited hours per person.

Library functions take the session first and never commit. Every write is an upsert on a
natural key, so running the same command twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Float, Select, case, cast, func, insert, select, update
from sqlalchemy.orm import Session

from records import idcard
from records.cert_rules import window_start
from records.errors import NotFound, SafeTrainError
from records.models import (
    Attendance,
    OrgUnit,
    Person,
    Post,
    TrainingAttendance,
    TrainingKind,
    TrainingSession,
)
from records.org import subtree_ids
from records.people import posts_held_on
from records.roles import ROLE_LABELS, Role

MAX_SESSION_HOURS = 200.0  # a multi-day course at most; more is a typing error

_KIND_WORDS: dict[str, TrainingKind] = {
    "集中培训": TrainingKind.classroom, "集训": TrainingKind.classroom,
    "培训班": TrainingKind.classroom, "集中学习": TrainingKind.classroom,
    "业务培训": TrainingKind.classroom, "岗前培训": TrainingKind.classroom,
    "专题讲座": TrainingKind.lecture, "讲座": TrainingKind.lecture,
    "专题培训": TrainingKind.lecture, "报告会": TrainingKind.lecture,
    "以老带新": TrainingKind.mentoring, "传帮带": TrainingKind.mentoring,
    "师带徒": TrainingKind.mentoring, "带教": TrainingKind.mentoring,
    "线上自学": TrainingKind.online, "线上学习": TrainingKind.online,
    "网络学习": TrainingKind.online, "在线学习": TrainingKind.online,
    "自学": TrainingKind.online, "线上": TrainingKind.online,
}

_ATTENDANCE_WORDS: dict[str, Attendance] = {
    **{w: Attendance.present for w in (
        "出席", "到", "已到", "迟到", "到会", "签到", "已签到", "参加", "参训", "是", "有", "√", "✓", "✔",
        "y", "yes", "1", "true", "present", "ok")},
    **{w: Attendance.absent for w in (
        "缺席", "未到", "未参加", "未签到", "缺勤", "旷课", "否", "无", "×", "✗", "✘", "x",
        "n", "no", "0", "false", "absent")},
    **{w: Attendance.excused for w in (
        "请假", "事假", "病假", "公假", "公出", "已请假", "excused", "leave")},
    **{w: Attendance.left_early for w in (
        "早退", "中途离开", "提前离开", "left_early", "leftearly", "early")},
}


def parse_kind(text: str) -> TrainingKind:
    """Training kind from a label, key or common variant; ValueError names the accepted ones."""
    key = re.sub(r"\s+", "", text).lower()
    for kind in TrainingKind:
        if key in (kind.value, kind.label):
            return kind
    if key in _KIND_WORDS:
        return _KIND_WORDS[key]
    accepted = "、".join(k.label for k in TrainingKind)
    raise ValueError(f"未知培训形式「{text}」，应为：{accepted}")


def parse_attendance(text: str) -> Attendance:
    """出席 / 缺席 / 请假 / 早退 (also 是/否, √/×, English keys)."""
    key = re.sub(r"\s+", "", text).lower()
    for status in Attendance:
        if key == status.label:
            return status
    if key in _ATTENDANCE_WORDS:
        return _ATTENDANCE_WORDS[key]
    raise ValueError(f"签到「{text}」无法识别，应为：出席、缺席、请假、早退（或 是/否）")


_MINUTES = re.compile(r"^(\d+(?:\.\d+)?)(分钟|分|min|mins|minutes|m)?$")
_HOURS = re.compile(r"^(\d+(?:\.\d+)?)(小时|h|hr|hrs|hours|学时)(?:(\d+)(分钟|分)?)?$")


def parse_minutes(text: str) -> int:
    """Minutes from '90', '90分钟', '1.5小时', '1小时30分', '2h'; ValueError otherwise."""
    key = re.sub(r"\s+", "", text).lower()
    match = _MINUTES.match(key)
    if match:
        minutes = float(match.group(1))
    else:
        match = _HOURS.match(key)
        if not match:
            raise ValueError(f"时长「{text}」无法识别，请填分钟数，如 90")
        minutes = float(match.group(1)) * 60 + float(match.group(3) or 0)
    if minutes != int(minutes):
        raise ValueError(f"时长「{text}」应为整数分钟")
    return int(minutes)


def check_minutes(status: Attendance, minutes: int | None, hours: float) -> str | None:
    """Why (status, minutes) is impossible for a session of `hours`, or None when fine."""
    if status is Attendance.left_early and minutes is None:
        return "早退须填写实际参加的时长（分钟）"
    if minutes is None:
        return None
    if status in (Attendance.absent, Attendance.excused) and minutes > 0:
        return f"{status.label}却填了时长 {minutes} 分钟"
    if minutes > round(hours * 60):
        return f"时长 {minutes} 分钟超过培训时长 {round(hours * 60)} 分钟"
    return None


def credited_hours() -> ColumnElement[float]:
    """Hours an attendance row counts for (SQL; join TrainingSession).

    Present → the session's hours, or minutes/60 when recorded (at most the session's hours);
    left early → minutes/60; absent, excused → 0.
    """
    minutes_h = cast(TrainingAttendance.minutes, Float) / 60.0
    attended = case(
        (TrainingAttendance.minutes.is_(None), TrainingSession.hours),
        (minutes_h < TrainingSession.hours, minutes_h),
        else_=TrainingSession.hours,
    )
    return case(
        (TrainingAttendance.status.in_([Attendance.present, Attendance.left_early]), attended),
        else_=0.0,
    )


def hours_by_person(start: dt.date, end: dt.date) -> Select[Any]:
    """(person_id, hours) credited for sessions held from `start` to `end` inclusive."""
    return (
        select(TrainingAttendance.person_id, func.sum(credited_hours()).label("hours"))
        .join(TrainingSession, TrainingSession.id == TrainingAttendance.session_id)
        .where(TrainingSession.held_on >= start, TrainingSession.held_on <= end)
        .group_by(TrainingAttendance.person_id)
    )


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class SessionSpec:
    title: str
    kind: TrainingKind
    organizer: OrgUnit
    held_on: dt.date
    hours: float
    trainer: str | None = None
    topics: str | None = None
    modules: Sequence[str] = ()


def next_code(session: Session, model: Any, prefix: str, day: dt.date) -> str:
    stem = f"{prefix}{day:%Y%m%d}-"
    taken = set(session.scalars(select(model.code).where(model.code.startswith(stem))))
    n = len(taken) + 1
    while f"{stem}{n}" in taken:
        n += 1
    return f"{stem}{n}"


def add_session(session: Session, spec: SessionSpec, *, known_modules: Iterable[str] = (),
                source: str | None = None) -> tuple[TrainingSession, str]:
    """Create the session, or update it when (title, date, organizer) exists.

    Returns (session, "created" | "updated" | "unchanged"). Modules must be curriculum ids.
    """
    title = spec.title.strip()
    if not title:
        raise SafeTrainError("培训名称不能为空")
    if not 0 < spec.hours <= MAX_SESSION_HOURS:
        raise SafeTrainError(f"培训时长 {spec.hours:g} 小时不合理（应大于0、不超过{MAX_SESSION_HOURS:g}）")
    known = set(known_modules)
    unknown = [m for m in spec.modules if m not in known]
    if unknown:
        raise SafeTrainError(f"未知模块：{'、'.join(unknown)}；可用：{'、'.join(sorted(known))}")
    values: dict[str, Any] = {
        "kind": spec.kind, "hours": float(spec.hours), "trainer": spec.trainer or None,
        "topics": spec.topics or None, "modules": ",".join(dict.fromkeys(spec.modules)) or None,
    }
    existing = session.scalars(select(TrainingSession).where(
        TrainingSession.title == title, TrainingSession.held_on == spec.held_on,
        TrainingSession.organizer_id == spec.organizer.id)).one_or_none()
    if existing is None:
        row = TrainingSession(code=next_code(session, TrainingSession, "T", spec.held_on),
                              title=title, organizer_id=spec.organizer.id,
                              held_on=spec.held_on, source=source, **values)
        session.add(row)
        session.flush()
        return row, "created"
    changed = {k: v for k, v in values.items() if getattr(existing, k) != v}
    if "hours" in changed:
        _check_hours_against_attendance(session, existing, changed["hours"])
    for key, value in changed.items():
        setattr(existing, key, value)
    session.flush()
    return existing, "updated" if changed else "unchanged"


def _check_hours_against_attendance(session: Session, training: TrainingSession,
                                    hours: float) -> None:
    longest = session.scalar(select(func.max(TrainingAttendance.minutes))
                             .where(TrainingAttendance.session_id == training.id))
    if longest is not None and longest > round(hours * 60):
        raise SafeTrainError(f"{training.code} 已有人记录参加 {longest} 分钟，"
                             f"不能把培训时长改为 {hours:g} 小时")


def find_session(session: Session, ref: str) -> TrainingSession:
    """A session by its code (T20261101-1)."""
    found = session.scalars(select(TrainingSession).where(
        TrainingSession.code == ref.strip().upper())).one_or_none()
    if found is None:
        raise NotFound(f"没有编号为「{ref}」的培训：请用 `safetrain training list` 查看编号。")
    return found


# --------------------------------------------------------------------------- attendance


@dataclass
class AttendanceReport:
    file: str = ""
    target: str = ""  # session or drill code
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    residents: int | None = None
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def upsert_attendance(session: Session, training: TrainingSession,
                      rows: Sequence[dict[str, Any]], report: AttendanceReport) -> None:
    """Write rows {person_id, status, minutes, note, source}: insert new, update changed."""
    existing = {
        r.person_id: r for r in session.execute(
            select(TrainingAttendance.id, TrainingAttendance.person_id, TrainingAttendance.status,
                   TrainingAttendance.minutes, TrainingAttendance.note)
            .where(TrainingAttendance.session_id == training.id)
        )
    }
    new, changed = [], []
    for row in rows:
        report.by_status[row["status"].label] = report.by_status.get(row["status"].label, 0) + 1
        old = existing.get(row["person_id"])
        if old is None:
            new.append({"session_id": training.id, **row})
        elif (old.status, old.minutes, old.note) != (row["status"], row["minutes"], row["note"]):
            changed.append({"id": old.id, "status": row["status"], "minutes": row["minutes"],
                            "note": row["note"]})
        else:
            report.unchanged += 1
    if new:
        session.execute(insert(TrainingAttendance), new)
    if changed:
        session.execute(update(TrainingAttendance), changed)
    report.created += len(new)
    report.updated += len(changed)


def mark_attendance(session: Session, training: TrainingSession, people: Sequence[Person],
                    status: Attendance, *, minutes: int | None = None,
                    note: str | None = None) -> AttendanceReport:
    """Mark each person's presence at one session."""
    problem = check_minutes(status, minutes, training.hours)
    if problem:
        raise SafeTrainError(problem)
    report = AttendanceReport(target=training.code, rows=len(people))
    rows = [{"person_id": p.id, "status": status, "minutes": minutes, "note": note,
             "source": "cli"} for p in people]
    upsert_attendance(session, training, rows, report)
    return report


# --------------------------------------------------------------------------- reports


def list_sessions(session: Session, *, unit: OrgUnit | None = None,
                  start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
    """Sessions with attendance counts by status and total hours credited."""
    counts = [
        func.count(TrainingAttendance.id).filter(TrainingAttendance.status == s).label(s.value)
        for s in Attendance
    ]
    stmt = (
        select(TrainingSession.code, TrainingSession.held_on, TrainingSession.title,
               TrainingSession.kind, OrgUnit.path, TrainingSession.hours,
               TrainingSession.trainer, *counts)
        .join(OrgUnit, OrgUnit.id == TrainingSession.organizer_id)
        .outerjoin(TrainingAttendance, TrainingAttendance.session_id == TrainingSession.id)
        .group_by(TrainingSession.id, OrgUnit.path)
        .order_by(TrainingSession.held_on, TrainingSession.code)
    )
    if unit is not None:
        stmt = stmt.where(TrainingSession.organizer_id.in_(subtree_ids(session, unit)))
    if start is not None:
        stmt = stmt.where(TrainingSession.held_on >= start)
    if end is not None:
        stmt = stmt.where(TrainingSession.held_on <= end)
    rows = session.execute(stmt).all()
    columns = ["编号", "日期", "培训名称", "形式", "组织单位", "学时", "授课人",
               *(s.label for s in Attendance)]
    return pd.DataFrame(
        [(r.code, r.held_on.isoformat(), r.title, r.kind.label, r.path, r.hours,
          r.trainer or "", *(getattr(r, s.value) for s in Attendance)) for r in rows],
        columns=columns,
    )


def session_attendance(session: Session, training: TrainingSession) -> pd.DataFrame:
    """Everyone recorded at one session, ID numbers masked."""
    stmt = (
        select(Person.name, Person.id_number, Person.trainee_id, TrainingAttendance.status,
               TrainingAttendance.minutes, TrainingAttendance.note,
               credited_hours().label("hours"))
        .join(TrainingAttendance, TrainingAttendance.person_id == Person.id)
        .join(TrainingSession, TrainingSession.id == TrainingAttendance.session_id)
        .where(TrainingSession.id == training.id)
        .order_by(TrainingAttendance.status, Person.name)
    )
    rows = session.execute(stmt).all()
    return pd.DataFrame(
        [(r.name, idcard.mask(r.id_number), r.trainee_id, r.status.label,
          "" if r.minutes is None else r.minutes, round(r.hours, 2), r.note or "")
         for r in rows],
        columns=["姓名", "身份证号", "账号", "签到", "时长(分钟)", "计入学时", "备注"],
    )


def hours_report(session: Session, *, as_of: dt.date, required: Mapping[Role, float],
                 unit: OrgUnit | None = None) -> pd.DataFrame:
    """People in post on `as_of` with hours credited in the 12 months to `as_of`.

    `required` maps a Role to its yearly hours (from the curriculum's role rules).
    """
    start = window_start(as_of)
    held = posts_held_on(as_of)
    if unit is not None:
        held = held.where(Post.unit_id.in_(subtree_ids(session, unit)))
    held_sq = held.subquery()
    hours_sq = hours_by_person(start, as_of).subquery()
    stmt = (
        select(OrgUnit.path, Person.name, Person.id_number, held_sq.c.role,
               func.coalesce(hours_sq.c.hours, 0.0).label("hours"))
        .select_from(held_sq)
        .join(Person, Person.id == held_sq.c.person_id)
        .join(OrgUnit, OrgUnit.id == held_sq.c.unit_id)
        .outerjoin(hours_sq, hours_sq.c.person_id == held_sq.c.person_id)
        .order_by(OrgUnit.path, Person.name)
    )
    rows = session.execute(stmt).all()
    data = []
    for r in rows:
        need = float(required.get(r.role, 0.0))
        got = round(float(r.hours), 2)
        data.append((r.path, r.name, idcard.mask(r.id_number), ROLE_LABELS[r.role], got, need,
                     round(max(0.0, need - got), 2), "达标" if got >= need else "不足"))
    return pd.DataFrame(data, columns=["单位", "姓名", "身份证号", "角色", "近12个月学时",
                                       "要求学时", "差额", "结论"])
