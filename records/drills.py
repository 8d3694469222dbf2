"""Drills (应急演练): register, participation, after-action evaluation, improvement actions.

Actual participation is what the records say (people present + residents counted), never a
typed-in total. Improvement actions carry an owner, a due date and a status until closed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.orm import Session

from records import idcard
from records.errors import NotFound, SafeTrainError
from records.models import (
    ActionStatus,
    Attendance,
    Drill,
    DrillAction,
    DrillEvaluation,
    DrillForm,
    DrillParticipation,
    DrillRole,
    DrillScope,
    DrillType,
    OrgUnit,
    Person,
)
from records.org import subtree_ids
from records.training import AttendanceReport, next_code

RATINGS = ("优秀", "良好", "合格", "不合格")

_TYPE_WORDS = {
    "消防": DrillType.fire_evacuation, "火灾": DrillType.fire_evacuation,
    "疏散": DrillType.fire_evacuation, "消防演练": DrillType.fire_evacuation,
    "地震": DrillType.earthquake, "防震": DrillType.earthquake, "防震减灾": DrillType.earthquake,
    "防汛": DrillType.flood, "洪涝": DrillType.flood, "防洪": DrillType.flood,
    "内涝": DrillType.flood, "危化品": DrillType.hazchem, "危险化学品泄漏": DrillType.hazchem,
    "燃气": DrillType.gas_leak, "天然气泄漏": DrillType.gas_leak, "煤气泄漏": DrillType.gas_leak,
    "台风": DrillType.typhoon, "防台": DrillType.typhoon, "地灾": DrillType.geological,
    "滑坡": DrillType.geological, "泥石流": DrillType.geological,
}
_FORM_WORDS = {"桌面": DrillForm.tabletop, "桌面推演": DrillForm.tabletop,
               "实战": DrillForm.live, "实兵": DrillForm.live, "现场演练": DrillForm.live}
_SCOPE_WORDS = {"单项": DrillScope.single, "专项": DrillScope.single,
                "专项演练": DrillScope.single, "综合": DrillScope.combined}
_ROLE_WORDS = {
    "总指挥": DrillRole.commander, "副总指挥": DrillRole.commander, "现场指挥": DrillRole.commander,
    "指挥长": DrillRole.commander, "疏散": DrillRole.evacuation, "疏散组": DrillRole.evacuation,
    "引导": DrillRole.evacuation, "救护组": DrillRole.rescue, "医疗救护": DrillRole.rescue,
    "抢险": DrillRole.rescue, "抢险救援": DrillRole.rescue, "通讯": DrillRole.liaison,
    "联络": DrillRole.liaison, "警戒组": DrillRole.cordon, "安全警戒": DrillRole.cordon,
    "后勤": DrillRole.logistics, "保障": DrillRole.logistics, "参演": DrillRole.participant,
    "队员": DrillRole.participant, "观摩": DrillRole.observer, "观察员": DrillRole.observer,
    "评估": DrillRole.observer, "评估组": DrillRole.observer, "群众": DrillRole.resident,
    "村民": DrillRole.resident, "居民群众": DrillRole.resident,
}


def _parse(text: str, enum_type: type[Any], words: dict[str, Any], what: str) -> Any:
    key = re.sub(r"\s+", "", text).lower()
    for member in enum_type:
        if key in (member.value, member.label, member.label.removesuffix("演练")):
            return member
    if key in words:
        return words[key]
    accepted = "、".join(m.label for m in enum_type)
    raise ValueError(f"未知{what}「{text}」，应为：{accepted}")


def parse_drill_type(text: str) -> DrillType:
    return _parse(text, DrillType, _TYPE_WORDS, "演练类型")


def parse_form(text: str) -> DrillForm:
    return _parse(text, DrillForm, _FORM_WORDS, "演练形式")


def parse_scope(text: str) -> DrillScope:
    return _parse(text, DrillScope, _SCOPE_WORDS, "演练规模")


def parse_drill_role(text: str) -> DrillRole:
    """Role in a drill; an empty cell means an ordinary participant."""
    if not text.strip():
        return DrillRole.participant
    return _parse(text, DrillRole, _ROLE_WORDS, "演练角色")


@dataclass(frozen=True)
class DrillSpec:
    title: str
    drill_type: DrillType
    form: DrillForm
    scope: DrillScope
    organizer: OrgUnit
    held_on: dt.date
    duration_minutes: int
    plan: str | None = None
    scenario: str | None = None
    units: Sequence[OrgUnit] = ()
    planned_participants: int | None = None
    residents: int | None = None  # None: leave as recorded


def add_drill(session: Session, spec: DrillSpec, *,
              source: str | None = None) -> tuple[Drill, str]:
    """Create the drill, or update it when (title, date, organizer) exists.

    Returns (drill, "created" | "updated" | "unchanged").
    """
    title = spec.title.strip()
    if not title:
        raise SafeTrainError("演练名称不能为空")
    if not 0 < spec.duration_minutes <= 7 * 24 * 60:
        raise SafeTrainError(f"演练时长 {spec.duration_minutes} 分钟不合理")
    for name, value in (("计划人数", spec.planned_participants), ("居民人数", spec.residents)):
        if value is not None and value < 0:
            raise SafeTrainError(f"{name}不能为负数")
    values: dict[str, Any] = {
        "drill_type": spec.drill_type, "form": spec.form, "scope": spec.scope,
        "duration_minutes": spec.duration_minutes, "plan": spec.plan or None,
        "scenario": spec.scenario or None, "planned_participants": spec.planned_participants,
    }
    if spec.residents is not None:
        values["residents"] = spec.residents
    units = {u.id: u for u in (spec.organizer, *spec.units)}
    drill = session.scalars(select(Drill).where(
        Drill.title == title, Drill.held_on == spec.held_on,
        Drill.organizer_id == spec.organizer.id)).one_or_none()
    if drill is None:
        drill = Drill(code=next_code(session, Drill, "D", spec.held_on), title=title,
                      organizer_id=spec.organizer.id, held_on=spec.held_on, source=source,
                      **{"residents": 0, **values})
        drill.units = list(units.values())
        session.add(drill)
        session.flush()
        return drill, "created"
    changed = {k: v for k, v in values.items() if getattr(drill, k) != v}
    for key, value in changed.items():
        setattr(drill, key, value)
    if spec.units and {u.id for u in drill.units} != set(units):
        drill.units = list(units.values())
        changed["units"] = True
    session.flush()
    return drill, "updated" if changed else "unchanged"


def find_drill(session: Session, ref: str) -> Drill:
    found = session.scalars(select(Drill).where(Drill.code == ref.strip().upper())).one_or_none()
    if found is None:
        raise NotFound(f"没有编号为「{ref}」的演练：请用 `safetrain drill list` 查看编号。")
    return found


def upsert_participation(session: Session, drill: Drill, rows: Sequence[dict[str, Any]],
                         report: AttendanceReport) -> None:
    """Write rows {person_id, role, status, source}: insert new, update changed."""
    existing = {r.person_id: r for r in session.execute(
        select(DrillParticipation.id, DrillParticipation.person_id, DrillParticipation.role,
               DrillParticipation.status).where(DrillParticipation.drill_id == drill.id))}
    new, changed = [], []
    for row in rows:
        report.by_status[row["status"].label] = report.by_status.get(row["status"].label, 0) + 1
        old = existing.get(row["person_id"])
        if old is None:
            new.append({"drill_id": drill.id, **row})
        elif (old.role, old.status) != (row["role"], row["status"]):
            changed.append({"id": old.id, "role": row["role"], "status": row["status"]})
        else:
            report.unchanged += 1
    if new:
        session.execute(insert(DrillParticipation), new)
    if changed:
        session.execute(update(DrillParticipation), changed)
    report.created += len(new)
    report.updated += len(changed)


def mark_participation(session: Session, drill: Drill, people: Sequence[Person],
                       role: DrillRole, status: Attendance) -> AttendanceReport:
    report = AttendanceReport(target=drill.code, rows=len(people))
    upsert_participation(session, drill, [
        {"person_id": p.id, "role": role, "status": status, "source": "cli"} for p in people
    ], report)
    return report


def drills_by_person(start: dt.date, end: dt.date) -> Select[Any]:
    """(person_id, drills) taken part in (present or left early), held from start to end."""
    return (
        select(DrillParticipation.person_id,
               func.count(func.distinct(DrillParticipation.drill_id)).label("drills"))
        .join(Drill, Drill.id == DrillParticipation.drill_id)
        .where(Drill.held_on >= start, Drill.held_on <= end,
               DrillParticipation.status.in_([Attendance.present, Attendance.left_early]))
        .group_by(DrillParticipation.person_id)
    )


# --------------------------------------------------------------------------- evaluation


def evaluate_drill(session: Session, drill: Drill, *, evaluated_on: dt.date,
                   evaluator: str | None = None, rating: str | None = None,
                   went_well: Sequence[str] = (), findings: Sequence[str] = ()) -> str:
    """Record (or replace) the after-action review; "created" | "updated" | "unchanged"."""
    if evaluated_on < drill.held_on:
        raise SafeTrainError(f"评估日期 {evaluated_on} 早于演练日期 {drill.held_on}")
    if rating is not None and rating not in RATINGS:
        raise SafeTrainError(f"评估结论「{rating}」应为：{'、'.join(RATINGS)}")
    values = {"evaluated_on": evaluated_on, "evaluator": evaluator or None, "rating": rating,
              "went_well": "\n".join(went_well) or None, "findings": "\n".join(findings) or None}
    current = drill.evaluation
    if current is None:
        drill.evaluation = DrillEvaluation(**values)
        session.flush()
        return "created"
    changed = {k: v for k, v in values.items() if getattr(current, k) != v}
    for key, value in changed.items():
        setattr(current, key, value)
    session.flush()
    return "updated" if changed else "unchanged"


def add_action(session: Session, drill: Drill, *, description: str, owner: str,
               due_on: dt.date) -> tuple[DrillAction, str]:
    """An improvement action; the same description on the same drill is updated, not doubled."""
    description = description.strip()
    if not description or not owner.strip():
        raise SafeTrainError("整改措施和责任人都不能为空")
    if due_on < drill.held_on:
        raise SafeTrainError(f"整改期限 {due_on} 早于演练日期 {drill.held_on}")
    action = session.scalars(select(DrillAction).where(
        DrillAction.drill_id == drill.id, DrillAction.description == description)).one_or_none()
    if action is None:
        action = DrillAction(drill_id=drill.id, description=description, owner=owner.strip(),
                             due_on=due_on, status=ActionStatus.open)
        session.add(action)
        session.flush()
        return action, "created"
    changed = (action.owner, action.due_on) != (owner.strip(), due_on)
    action.owner, action.due_on = owner.strip(), due_on
    session.flush()
    return action, "updated" if changed else "unchanged"


def update_action(session: Session, action_id: int, status: ActionStatus, *,
                  on: dt.date, note: str | None = None) -> tuple[DrillAction, bool]:
    """Move an action to `status` (closing it records the day); (action, changed)."""
    action = session.get(DrillAction, action_id)
    if action is None:
        raise NotFound(f"没有编号为 {action_id} 的整改措施：请用 `safetrain drill actions` 查看。")
    if status is ActionStatus.cancelled and not note:
        raise SafeTrainError("取消整改措施须用 --note 写明原因")
    if status.closed and on < action.drill.held_on:
        raise SafeTrainError(f"完成日期 {on} 早于演练日期 {action.drill.held_on}")
    changed = False
    if action.status is not status:  # closing again keeps the first closing day
        action.status = status
        action.closed_on = on if status.closed else None
        changed = True
    if note is not None and note != action.closure_note:
        action.closure_note = note
        changed = True
    session.flush()
    return action, changed


# --------------------------------------------------------------------------- reports


def list_drills(session: Session, *, unit: OrgUnit | None = None, start: dt.date | None = None,
                end: dt.date | None = None) -> pd.DataFrame:
    """Drills with planned vs recorded participants, evaluation and open actions."""
    took_part = DrillParticipation.status.in_([Attendance.present, Attendance.left_early])
    people = (select(DrillParticipation.drill_id, func.count().label("n"))
              .where(took_part).group_by(DrillParticipation.drill_id).subquery())
    open_actions = (select(DrillAction.drill_id, func.count().label("n"))
                    .where(DrillAction.status.in_([ActionStatus.open, ActionStatus.in_progress]))
                    .group_by(DrillAction.drill_id).subquery())
    stmt = (
        select(Drill.code, Drill.held_on, Drill.title, Drill.drill_type, Drill.form, Drill.scope,
               OrgUnit.path, Drill.duration_minutes, Drill.planned_participants, Drill.residents,
               func.coalesce(people.c.n, 0).label("people"),
               func.coalesce(open_actions.c.n, 0).label("open_actions"),
               DrillEvaluation.rating, DrillEvaluation.id.label("evaluation_id"))
        .join(OrgUnit, OrgUnit.id == Drill.organizer_id)
        .outerjoin(people, people.c.drill_id == Drill.id)
        .outerjoin(open_actions, open_actions.c.drill_id == Drill.id)
        .outerjoin(DrillEvaluation, DrillEvaluation.drill_id == Drill.id)
        .order_by(Drill.held_on, Drill.code)
    )
    if unit is not None:
        stmt = stmt.where(Drill.organizer_id.in_(subtree_ids(session, unit)))
    if start is not None:
        stmt = stmt.where(Drill.held_on >= start)
    if end is not None:
        stmt = stmt.where(Drill.held_on <= end)
    rows = session.execute(stmt).all()
    return pd.DataFrame(
        [(r.code, r.held_on.isoformat(), r.title, r.drill_type.label, r.form.label,
          r.scope.label, r.path, r.duration_minutes,
          "" if r.planned_participants is None else r.planned_participants,
          r.people, r.residents, r.people + r.residents,
          (r.rating or "已评估") if r.evaluation_id else "未评估", r.open_actions)
         for r in rows],
        columns=["编号", "日期", "演练名称", "类型", "形式", "规模", "组织单位", "时长(分钟)",
                 "计划人数", "在册人员参演", "居民", "实际参演", "评估", "未完成整改"],
    )


def drill_participants(session: Session, drill: Drill) -> pd.DataFrame:
    rows = session.execute(
        select(Person.name, Person.id_number, DrillParticipation.role, DrillParticipation.status)
        .join(DrillParticipation, DrillParticipation.person_id == Person.id)
        .where(DrillParticipation.drill_id == drill.id)
        .order_by(DrillParticipation.role, Person.name)
    ).all()
    return pd.DataFrame(
        [(r.name, idcard.mask(r.id_number), r.role.label, r.status.label) for r in rows],
        columns=["姓名", "身份证号", "演练角色", "签到"],
    )


def list_actions(session: Session, *, as_of: dt.date, unit: OrgUnit | None = None,
                 overdue: bool = False, include_closed: bool = False,
                 drill: Drill | None = None) -> pd.DataFrame:
    """Improvement actions; `overdue` keeps open ones past their due date on `as_of`."""
    stmt = (
        select(DrillAction, Drill.code, Drill.title, OrgUnit.path)
        .join(Drill, Drill.id == DrillAction.drill_id)
        .join(OrgUnit, OrgUnit.id == Drill.organizer_id)
        .order_by(DrillAction.due_on, DrillAction.id)
    )
    open_states = [ActionStatus.open, ActionStatus.in_progress]
    if overdue:
        stmt = stmt.where(DrillAction.status.in_(open_states), DrillAction.due_on < as_of)
    elif not include_closed:
        stmt = stmt.where(DrillAction.status.in_(open_states))
    if unit is not None:
        stmt = stmt.where(Drill.organizer_id.in_(subtree_ids(session, unit)))
    if drill is not None:
        stmt = stmt.where(Drill.id == drill.id)
    data = []
    for action, code, title, path in session.execute(stmt).all():
        late = (as_of - action.due_on).days if not action.status.closed else 0
        data.append((action.id, code, title, path, action.description, action.owner,
                     action.due_on.isoformat(), action.status.label,
                     max(late, 0) if late > 0 else "",
                     action.closed_on.isoformat() if action.closed_on else "",
                     action.closure_note or ""))
    return pd.DataFrame(data, columns=["措施编号", "演练编号", "演练名称", "组织单位", "整改措施",
                                       "责任人", "期限", "状态", "逾期天数", "完成日期", "说明"])
