"""Training that walked out the door: people who left a post soon after being trained in it.

A post "left" in the period ends between the period's first and last day and is not simply
continued (same person, unit and role again). Trained in it: took part in a training
session while holding that post, at most `months` × 30 days before the post ended. Hours
are those credited for such sessions. The unit is the unit of the post that was left.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from records import idcard
from records.models import (
    Attendance,
    OrgUnit,
    Person,
    Post,
    TrainingAttendance,
    TrainingSession,
)
from records.reports.base import (
    UNIT_COLUMNS,
    Scope,
    as_scope,
    days_between,
    frame,
    in_scope,
    pct,
    tree,
    units_frame,
)
from records.reports.period import Period
from records.roles import Role
from records.training import credited_hours

TITLE = "培训后离岗"
DEFAULT_MONTHS = 6


def _window_days(months: int) -> int:
    return months * 30


def _leavers(scope: Scope, months: int) -> Any:
    """Posts left in the period: post_id, person_id, unit_id, role, dates, next post, training."""
    nxt = aliased(Post, name="next_post")
    next_id = (select(nxt.id)
               .where(nxt.person_id == Post.person_id, nxt.id != Post.id,
                      nxt.start_date > Post.start_date)
               .order_by(nxt.start_date, nxt.id).limit(1)
               .correlate(Post).scalar_subquery())
    left = (select(Post.id.label("post_id"), Post.person_id, Post.unit_id, Post.role,
                   Post.start_date, Post.end_date, next_id.label("next_id"))
            .where(Post.end_date.between(scope.start, scope.end),
                   in_scope(Post.unit_id, scope))
            .subquery("left_posts"))
    cont = aliased(Post, name="cont")
    left = (select(left)
            .outerjoin(cont, cont.id == left.c.next_id)
            .where((cont.id.is_(None)) | (cont.unit_id != left.c.unit_id)
                   | (cont.role != left.c.role))
            .subquery("leavers"))
    took = TrainingAttendance.status.in_([Attendance.present, Attendance.left_early])
    gap = days_between(left.c.end_date, TrainingSession.held_on)
    trained = (select(left.c.post_id, func.max(TrainingSession.held_on).label("last_trained"),
                      func.count().label("sessions"),
                      func.sum(credited_hours()).label("hours"))
               .join(TrainingAttendance, TrainingAttendance.person_id == left.c.person_id)
               .join(TrainingSession, TrainingSession.id == TrainingAttendance.session_id)
               .where(took, TrainingSession.held_on >= left.c.start_date,
                      TrainingSession.held_on <= left.c.end_date,
                      gap <= _window_days(months))
               .group_by(left.c.post_id).subquery("trained"))
    return left, trained


def by_unit(session: Session, *, period: Period | str | None = None,
            as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
            months: int = DEFAULT_MONTHS, scope: Scope | None = None) -> pd.DataFrame:
    """Per unit (rolled up): posts left in the period, how many within `months` of training,
    and the training hours they took with them."""
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    left, trained = _leavers(scope, months)
    t = tree(scope)
    counts = frame(session, (
        select(t.c.ancestor_id, func.count().label("left"),
               func.count(trained.c.post_id).label("trained"),
               func.coalesce(func.sum(trained.c.hours), 0.0).label("hours"))
        .select_from(left)
        .join(t, t.c.unit_id == left.c.unit_id)
        .outerjoin(trained, trained.c.post_id == left.c.post_id)
        .group_by(t.c.ancestor_id)))
    out = units_frame(session, scope)
    label = f"培训后{months}个月内离岗"
    if counts.empty:
        out["本期离岗人数"] = 0
        out[label] = 0
        out["流失学时"] = 0.0
    else:
        c = counts.set_index("ancestor_id")
        out["本期离岗人数"] = out["unit_id"].map(c["left"]).fillna(0).astype("int64")
        out[label] = out["unit_id"].map(c["trained"]).fillna(0).astype("int64")
        out["流失学时"] = pd.to_numeric(out["unit_id"].map(c["hours"])).fillna(0.0).round(1)
    out[f"{label}占比%"] = pct(out[label], out["本期离岗人数"])
    return out[[*UNIT_COLUMNS, "本期离岗人数", label, f"{label}占比%", "流失学时"]]


def people(session: Session, *, period: Period | str | None = None,
           as_of: dt.date | None = None, unit: OrgUnit | str | None = None,
           months: int = DEFAULT_MONTHS, scope: Scope | None = None) -> pd.DataFrame:
    """Named: each post left within `months` of training in it, with where the person went."""
    scope = as_scope(session, scope, period=period, as_of=as_of, unit=unit)
    left, trained = _leavers(scope, months)
    went = aliased(Post, name="went")
    went_unit = aliased(OrgUnit, name="went_unit")
    stmt = (select(OrgUnit.code, OrgUnit.path, Person.name, Person.id_number, left.c.role,
                   left.c.start_date, left.c.end_date, trained.c.last_trained,
                   trained.c.sessions, trained.c.hours, went.role.label("new_role"),
                   went_unit.path.label("new_path"))
            .select_from(left)
            .join(trained, trained.c.post_id == left.c.post_id)
            .join(OrgUnit, OrgUnit.id == left.c.unit_id)
            .join(Person, Person.id == left.c.person_id)
            .outerjoin(went, went.id == left.c.next_id)
            .outerjoin(went_unit, and_(went_unit.id == went.unit_id))
            .order_by(OrgUnit.code, left.c.end_date, Person.name))
    rows = session.execute(stmt).all()
    data = []
    for r in rows:
        where = f"{went_label(r.new_path, r.new_role)}" if r.new_path else "不在花名册（离开）"
        data.append((r.path, r.name, idcard.mask(r.id_number), Role(r.role).label,
                     r.start_date.isoformat(), r.end_date.isoformat(),
                     r.last_trained.isoformat(), (r.end_date - r.last_trained).days,
                     int(r.sessions), round(float(r.hours or 0), 1), where))
    return pd.DataFrame(data, columns=["单位", "姓名", "身份证号", "原岗位", "任职日期", "离岗日期",
                                       "最近培训日期", "培训后天数", "期间培训场次", "期间培训学时",
                                       "去向"])


def went_label(path: str, role: Any) -> str:
    return f"{path}（{Role(role).label}）"
