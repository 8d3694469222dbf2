"""A year of plausible activity for the synthetic city, deterministic per seed.

Training sessions held monthly by each community and quarterly by each street, with sign-in
rows for the people in post there on the day; drills (about two a year per community, a
few communities none) with participants, evaluations and improvement actions (some late);
module attempts (new people still working through them); certificates with expiry and
renewal, a few revoked. Leaders attend less often than staff, some streets much less, and
a few streets "polish" their sheets (everyone present), so reports have something to show.

Bulk inserts per table in chunks; re-running on a database that already has the demo's
activity changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import secrets as _secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from demo.moves import moves
from demo.results import attempts_and_certificates
from demo.rows import CHUNK, LEADERS, SOURCE, Holder, Writer, weighted
from demo.rows import day as day_in
from demo.rows import months as months_of
from records.curriculum import Curriculum, load_curriculum
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
    Post,
    TrainingAttendance,
    TrainingKind,
    TrainingSession,
    UnitLevel,
    drill_unit,
)
from records.reports.period import add_months
from records.roles import Role

log = logging.getLogger(__name__)

DEFAULT_END = dt.date(2026, 11, 30)
_TOPICS = ("安全生产法规解读", "隐患排查与治理", "消防安全与灭火器使用", "应急救护与心肺复苏",
           "防汛防台与转移避险", "燃气安全与泄漏处置", "有限空间作业安全", "电动自行车充电安全",
           "地震避险与疏散", "突发事件信息报告", "网格巡查要点", "危化品与小作坊检查")
_DRILL_TYPES = ((DrillType.fire_evacuation, 40), (DrillType.earthquake, 15),
                (DrillType.flood, 15), (DrillType.gas_leak, 12), (DrillType.hazchem, 5),
                (DrillType.typhoon, 5), (DrillType.geological, 3), (DrillType.other, 5))
_DRILL_ROLES = (DrillRole.evacuation, DrillRole.rescue, DrillRole.liaison, DrillRole.cordon,
                DrillRole.logistics, DrillRole.participant)
_ACTION_STATES = ((ActionStatus.done, 60), (ActionStatus.in_progress, 15), (ActionStatus.open, 22),
                  (ActionStatus.cancelled, 3))
_FINDINGS = ("疏散通道堆放杂物", "应急广播音量不足", "灭火器压力不足", "人员清点耗时过长",
             "通讯联络不畅", "应急物资登记不全", "疏散引导人员不到位", "预案职责分工不清")


@dataclass
class ActivityReport:
    sessions: int = 0
    attendance: int = 0
    drills: int = 0
    participation: int = 0
    evaluations: int = 0
    actions: int = 0
    attempts: int = 0
    certificates: int = 0
    moves: int = 0
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return (self.sessions + self.attendance + self.drills + self.participation
                + self.evaluations + self.actions + self.attempts + self.certificates)


@dataclass(frozen=True)
class _Culture:
    """How a street's people behave: chance a leader / a staff member attends; polished sheets."""

    leader: float
    staff: float
    polished: bool
    drills: bool  # False: its communities rarely hold drills


def has_activity(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(TrainingSession)
                               .where(TrainingSession.source == SOURCE)))


def generate(session: Session, *, seed: int = 1, end: dt.date = DEFAULT_END, months: int = 12,
             secret: bytes | None = None, curriculum: Curriculum | None = None,
             progress: Callable[[str], None] | None = None,
             anchor: Path | None = None) -> ActivityReport:
    """Add `months` months of activity ending on `end` for everyone in the database.

    Certificates are logged in the event log as the register would have (issued or renewed,
    then revoked), chained with `secret`; `anchor` is the instance's anchor file.
    """
    if has_activity(session):
        return ActivityReport(skipped=True)
    say = progress or (lambda _msg: None)
    city = _City(session, random.Random(seed), end, months)
    say("人员调动")
    city.report.moves = moves(session, city.rng, city.units, city.holders, end, months)
    city.cultures()
    say("培训与签到")
    city.trainings()
    say("演练")
    city.drills()
    say("模块成绩与证书")
    attempts_and_certificates(city, curriculum or load_curriculum(),
                              secret or _secrets.token_hex(32).encode(), seed, anchor)
    log.info("演示活动记录：共 %s 行", city.report.rows)
    return city.report


class _City:
    """The city as the generator sees it: units, who held which post when, the RNG."""

    def __init__(self, session: Session, rng: random.Random, end: dt.date, months: int) -> None:
        self.session, self.rng, self.end, self.months = session, rng, end, months
        self.report = ActivityReport()
        self.units = self.session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.name,
                                            OrgUnit.level, OrgUnit.parent_id, OrgUnit.path)
                                     .order_by(OrgUnit.code)).all()
        self.by_id = {u.id: u for u in self.units}
        self.holders: dict[int, list[Holder]] = defaultdict(list)
        for p in self.session.execute(select(Post.id, Post.unit_id, Post.person_id, Post.role,
                                        Post.start_date, Post.end_date)
                                 .order_by(Post.unit_id, Post.person_id, Post.start_date,
                                           Post.id)):
            self.holders[p.unit_id].append(Holder(p.id, p.person_id, p.role, p.start_date,
                                                   p.end_date))
        self.writer = Writer(session)
        self.taken = set(self.session.scalars(select(TrainingSession.code))) | set(
            self.session.scalars(select(Drill.code)))
        self.counters: dict[tuple[str, dt.date], int] = defaultdict(int)
        self.by_street: dict[int, _Culture] = {}

    def cultures(self) -> None:
        for u in self.units:
            if u.level == UnitLevel.street:
                polished = self.rng.random() < 0.05
                self.by_street[u.id] = _Culture(
                    leader=weighted(self.rng, ((0.9, 25), (0.75, 35), (0.55, 28), (0.3, 12))),
                    staff=self.rng.uniform(0.85, 0.96), polished=polished,
                    drills=self.rng.random() > 0.1)

    def culture(self, unit_id: int) -> _Culture:
        u = self.by_id[unit_id]
        while u.level > UnitLevel.street and u.parent_id is not None:
            u = self.by_id[u.parent_id]
        return self.by_street.get(u.id, _Culture(0.8, 0.9, False, True))

    def code(self, prefix: str, day: dt.date) -> str:
        while True:  # the CLI's code style, skipping codes already in use
            self.counters[(prefix, day)] += 1
            candidate = f"{prefix}{day:%Y%m%d}-{self.counters[(prefix, day)]}"
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate

    def trainings(self) -> None:
        rng = self.rng
        session_rows: list[dict[str, Any]] = []
        plans: list[tuple[str, int, dt.date, float]] = []  # (code, unit, day, hours)
        for u in self.units:
            if u.level == UnitLevel.community:
                dates = [day_in(rng, a, b) for a, b in months_of(self.end, self.months)]
            elif u.level == UnitLevel.street:
                quarters = list(months_of(self.end, self.months))[2::3]
                dates = [day_in(rng, a, b) for a, b in quarters]
            else:
                continue
            for day in dates:
                kind = weighted(rng, ((TrainingKind.classroom, 50), (TrainingKind.lecture, 30),
                                       (TrainingKind.online, 12), (TrainingKind.mentoring, 8)))
                hours = rng.choice((1.5, 2.0, 2.0, 3.0, 4.0))
                topic = rng.choice(_TOPICS)
                c = self.code("T", day)
                session_rows.append({
                    "code": c, "title": f"{u.name}{day.month}月{topic}培训", "kind": kind,
                    "organizer_id": u.id, "held_on": day, "hours": hours,
                    "trainer": rng.choice(("区应急管理局", "街道安监中队", "消防救援站", "红十字会",
                                           "社区书记", "外聘专家")),
                    "topics": topic, "modules": None, "source": SOURCE})
                plans.append((c, u.id, day, hours))
        for i in range(0, len(session_rows), CHUNK):
            self.writer.connection.execute(insert(TrainingSession), session_rows[i:i + CHUNK])
        self.report.sessions = len(session_rows)
        ids = dict(self.session.execute(select(TrainingSession.code, TrainingSession.id)
                                   .where(TrainingSession.source == SOURCE)).all())
        for c, unit_id, day, hours in plans:
            mood = self.culture(unit_id)
            for h in self.holders[unit_id]:
                if not h.on(day):
                    continue
                if h.role is Role.volunteer and rng.random() > 0.3:
                    continue  # volunteers are invited now and then
                leader = h.role in LEADERS
                status, minutes = _presence(rng, mood, leader, hours)
                if status is None:
                    continue  # not on the sheet at all
                self.writer.add(TrainingAttendance.__table__, {
                    "session_id": ids[c], "person_id": h.person_id, "status": status,
                    "minutes": minutes, "note": None, "source": SOURCE})
                self.report.attendance += 1
        self.writer.flush()


    def drills(self) -> None:
        drill_rows, drill_plans = self._plan_drills()
        for i in range(0, len(drill_rows), CHUNK):
            self.writer.connection.execute(insert(Drill), drill_rows[i:i + CHUNK])
        self.report.drills = len(drill_rows)
        dids = dict(self.session.execute(
            select(Drill.code, Drill.id).where(Drill.source == SOURCE)).all())
        self._drill_outcomes(drill_plans, dids)

    def _plan_drills(self) -> tuple[list[dict[str, Any]], list[tuple[str, int, dt.date]]]:
        """The year's drills of each street (one) and community (most: one to three)."""
        rng, end = self.rng, self.end
        drill_rows, drill_plans = [], []
        titles: set[tuple[str, dt.date]] = set()
        for u in self.units:
            mood = self.culture(u.id) if u.level >= UnitLevel.street else None
            if u.level == UnitLevel.community:
                count = rng.choice((1, 2, 2, 3)) if mood and mood.drills and rng.random() > 0.08 \
                    else (0 if rng.random() < 0.7 else 1)
            elif u.level == UnitLevel.street:
                count = 1
            else:
                continue
            for _ in range(count):
                day = day_in(rng, add_months(self.end, -self.months) + dt.timedelta(days=1), end)
                kind = weighted(rng, _DRILL_TYPES)
                form = DrillForm.tabletop if rng.random() < 0.3 else DrillForm.live
                expected = sum(1 for h in self.holders[u.id]
                               if h.on(day) and h.role is not Role.volunteer)
                residents = 0 if form is DrillForm.tabletop else rng.randrange(0, 120)
                c = self.code("D", day)
                title = f"{u.name}{kind.label}演练"
                if (title, day) in titles:
                    title += f"（{c}）"
                titles.add((title, day))
                drill_rows.append({
                    "code": c, "title": title, "drill_type": kind, "form": form,
                    "scope": DrillScope.combined if u.level == UnitLevel.street
                    else DrillScope.single,
                    "plan": f"{u.name}{kind.label}应急预案", "scenario": None, "organizer_id": u.id,
                    "held_on": day, "duration_minutes": rng.choice((30, 45, 60, 90, 120)),
                    "planned_participants": expected + int(residents * rng.uniform(0.9, 1.4)),
                    "residents": residents, "source": SOURCE})
                drill_plans.append((c, u.id, day))
        return drill_rows, drill_plans

    def _drill_outcomes(self, drill_plans: list[tuple[str, int, dt.date]],
                        dids: dict[str, int]) -> None:
        """Who took part in each drill, and its evaluation with improvement actions."""
        rng, end = self.rng, self.end
        for c, unit_id, day in drill_plans:
            drill_id = dids[c]
            self.writer.add(drill_unit, {"drill_id": drill_id, "unit_id": unit_id})
            mood = self.culture(unit_id)
            commander_given = False
            for h in self.holders[unit_id]:
                if not h.on(day):
                    continue
                leader = h.role in LEADERS
                status, _ = _presence(rng, mood, leader, 1.0)
                if status is None:
                    continue
                if h.role is Role.principal_leader and not commander_given and \
                        status is Attendance.present:
                    role, commander_given = DrillRole.commander, True
                else:
                    role = rng.choice(_DRILL_ROLES)
                self.writer.add(DrillParticipation.__table__, {
                    "drill_id": drill_id, "person_id": h.person_id, "role": role, "status": status,
                    "source": SOURCE})
                self.report.participation += 1
            if rng.random() < 0.65:
                evaluated = day + dt.timedelta(days=rng.randrange(0, 8))
                findings = rng.sample(_FINDINGS, rng.randrange(0, 3))
                self.writer.add(DrillEvaluation.__table__, {
                    "drill_id": drill_id, "evaluated_on": evaluated, "evaluator": "街道应急办",
                    "rating": weighted(rng, (("优秀", 20), ("良好", 45), ("合格", 30), ("不合格", 5))),
                    "went_well": "响应迅速，分工明确", "findings": "\n".join(findings) or None})
                self.report.evaluations += 1
                for finding in findings:
                    due = evaluated + dt.timedelta(days=rng.choice((15, 30, 45, 60)))
                    status = weighted(rng, _ACTION_STATES)
                    closed = min(due + dt.timedelta(days=rng.randrange(-10, 20)), end) \
                        if status.closed else None
                    self.writer.add(DrillAction.__table__, {
                        "drill_id": drill_id, "description": f"整改：{finding}",
                        "owner": "社区主任" if self.by_id[unit_id].level == UnitLevel.community
                        else "街道应急办",
                        "due_on": due, "status": status,
                        "closed_on": max(closed, day) if closed else None,
                        "closure_note": "已整改" if status is ActionStatus.done else
                        ("合并到其他措施" if status is ActionStatus.cancelled else None)})
                    self.report.actions += 1
        self.writer.flush()


def _presence(rng: random.Random, mood: _Culture, leader: bool,
              hours: float) -> tuple[Attendance | None, int | None]:
    """A status (None: not on the sheet) and minutes for early leavers."""
    if mood.polished:
        return Attendance.present, None
    chance = mood.leader if leader else mood.staff
    if rng.random() < chance:
        if rng.random() < 0.05:
            return Attendance.left_early, max(10, int(hours * 60 * rng.uniform(0.3, 0.8)))
        return Attendance.present, None
    roll = rng.random()
    if leader:  # the leader who "hears a summary afterwards" is often not on the sheet
        if roll < 0.35:
            return None, None
        return (Attendance.excused, None) if roll < 0.7 else (Attendance.absent, None)
    return (Attendance.excused, None) if roll < 0.5 else (Attendance.absent, None)


