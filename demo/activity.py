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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from records.cert_audit import cert_event, cert_state
from records.cert_codes import CertFields, sign
from records.cert_rules import LOCAL_TZ, valid_until
from records.curriculum import Curriculum, load_curriculum
from records.event_log import Kind, NewEvent, append
from records.models import (
    ActionStatus,
    Attempt,
    AttemptStatus,
    Attendance,
    Certificate,
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

SOURCE = "demo-activity"
DEFAULT_END = dt.date(2026, 11, 30)
CHUNK = 20000

_LEADERS = (Role.principal_leader, Role.deputy_leader)
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
class _Holder:
    post_id: int
    person_id: int
    role: Role
    start: dt.date
    end: dt.date | None

    def on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class _Culture:
    """How a street's people behave: chance a leader / a staff member attends; polished sheets."""

    leader: float
    staff: float
    polished: bool
    drills: bool  # False: its communities rarely hold drills


class _Writer:
    """Buffers rows per table and inserts them in chunks through the Core."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.buffers: dict[Any, list[dict[str, Any]]] = defaultdict(list)

    def add(self, table: Any, row: dict[str, Any]) -> None:
        buffer = self.buffers[table]
        buffer.append(row)
        if len(buffer) >= CHUNK:
            self.flush(table)

    def flush(self, table: Any = None) -> None:
        for t in [table] if table is not None else list(self.buffers):
            if self.buffers[t]:
                self.connection.execute(insert(t), self.buffers[t])
                self.buffers[t] = []


def _months(end: dt.date, count: int) -> Iterator[tuple[dt.date, dt.date]]:
    """(first, last) day of each of the `count` months ending with `end`'s month."""
    first = add_months(end.replace(day=1), -(count - 1))
    for i in range(count):
        start = add_months(first, i)
        yield start, min(add_months(start, 1) - dt.timedelta(days=1), end)


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _weighted(rng: random.Random, pairs: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


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
    city.report.moves = _moves(session, city.rng, city.units, city.holders, end, months)
    city.cultures()
    say("培训与签到")
    city.trainings()
    say("演练")
    city.drills()
    say("模块成绩与证书")
    city.attempts_and_certificates(curriculum or load_curriculum(),
                                   secret or _secrets.token_hex(32).encode(), seed, anchor)
    log.info("demo activity: %s rows", city.report.rows)
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
        self.holders: dict[int, list[_Holder]] = defaultdict(list)
        for p in self.session.execute(select(Post.id, Post.unit_id, Post.person_id, Post.role,
                                        Post.start_date, Post.end_date)
                                 .order_by(Post.unit_id, Post.person_id, Post.start_date,
                                           Post.id)):
            self.holders[p.unit_id].append(_Holder(p.id, p.person_id, p.role, p.start_date,
                                                   p.end_date))
        self.writer = _Writer(session)
        self.taken = set(self.session.scalars(select(TrainingSession.code))) | set(
            self.session.scalars(select(Drill.code)))
        self.counters: dict[tuple[str, dt.date], int] = defaultdict(int)
        self.by_street: dict[int, _Culture] = {}

    def cultures(self) -> None:
        for u in self.units:
            if u.level == UnitLevel.street:
                polished = self.rng.random() < 0.05
                self.by_street[u.id] = _Culture(
                    leader=_weighted(self.rng, ((0.9, 25), (0.75, 35), (0.55, 28), (0.3, 12))),
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
                dates = [_day(rng, a, b) for a, b in _months(self.end, self.months)]
            elif u.level == UnitLevel.street:
                quarters = list(_months(self.end, self.months))[2::3]
                dates = [_day(rng, a, b) for a, b in quarters]
            else:
                continue
            for day in dates:
                kind = _weighted(rng, ((TrainingKind.classroom, 50), (TrainingKind.lecture, 30),
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
                leader = h.role in _LEADERS
                status, minutes = _presence(rng, mood, leader, hours)
                if status is None:
                    continue  # not on the sheet at all
                self.writer.add(TrainingAttendance.__table__, {
                    "session_id": ids[c], "person_id": h.person_id, "status": status,
                    "minutes": minutes, "note": None, "source": SOURCE})
                self.report.attendance += 1
        self.writer.flush()


    def drills(self) -> None:
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
                day = _day(rng, add_months(self.end, -self.months) + dt.timedelta(days=1), end)
                kind = _weighted(rng, _DRILL_TYPES)
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
        for i in range(0, len(drill_rows), CHUNK):
            self.writer.connection.execute(insert(Drill), drill_rows[i:i + CHUNK])
        self.report.drills = len(drill_rows)
        dids = dict(self.session.execute(
            select(Drill.code, Drill.id).where(Drill.source == SOURCE)).all())
        for c, unit_id, day in drill_plans:
            drill_id = dids[c]
            self.writer.add(drill_unit, {"drill_id": drill_id, "unit_id": unit_id})
            mood = self.culture(unit_id)
            commander_given = False
            for h in self.holders[unit_id]:
                if not h.on(day):
                    continue
                leader = h.role in _LEADERS
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
                    "rating": _weighted(rng, (("优秀", 20), ("良好", 45), ("合格", 30), ("不合格", 5))),
                    "went_well": "响应迅速，分工明确", "findings": "\n".join(findings) or None})
                self.report.evaluations += 1
                for finding in findings:
                    due = evaluated + dt.timedelta(days=rng.choice((15, 30, 45, 60)))
                    status = _weighted(rng, _ACTION_STATES)
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


    def attempts_and_certificates(self, curriculum: Curriculum, secret: bytes, seed: int,
                                  anchor: Path | None = None) -> None:
        rng, end = self.rng, self.end
        people = self.session.execute(select(Person.id, Person.trainee_id, Person.name,
                                             Person.id_number)
                                 .order_by(Person.id)).all()
        person = {p.id: p for p in people}
        current = self.session.execute(
            select(Post.id, Post.person_id, Post.unit_id, Post.role, Post.start_date)
            .where(Post.end_date.is_(None)).order_by(Post.person_id, Post.id)).all()
        numbers: dict[int, int] = defaultdict(int)
        for number in self.session.scalars(select(Certificate.number)):
            year, _, seq = number.partition("-")
            if year.isdigit() and seq.isdigit():
                numbers[int(year)] = max(numbers[int(year)], int(seq))
        renewals: list[tuple[str, str]] = []
        issued_events: list[NewEvent] = []
        revoked_events: list[NewEvent] = []
        seen: set[int] = set()
        for post in current:
            if post.person_id in seen:
                continue
            seen.add(post.person_id)
            p = person[post.person_id]
            leader = post.role in _LEADERS
            diligence = rng.uniform(0.6, 0.98) if leader else rng.uniform(0.88, 1.0)
            pace = rng.choice((60, 90, 150, 300))  # days this person takes over the modules
            passed_all: dt.date | None = post.start_date
            # Modules that become required after the demo's last day are not taken yet: the
            # reports then show them as coming, and holders keep their certificates (grace).
            for module in curriculum.required_modules(post.role, on=end):
                took = post.start_date + dt.timedelta(days=rng.randrange(5, pace))
                if took > end or rng.random() > diligence:
                    passed_all = None
                    if took <= end and rng.random() < 0.5:  # tried and failed
                        _attempt(self.writer, p, module, took, 55.0 + rng.random() * 20, False,
                                 seed)
                        self.report.attempts += 1
                    continue
                if rng.random() < 0.15:  # failed once first
                    _attempt(self.writer, p, module, took - dt.timedelta(days=7),
                             50.0 + rng.random() * 25, False, seed)
                    self.report.attempts += 1
                _attempt(self.writer, p, module, took, 80.0 + rng.random() * 20, True, seed)
                self.report.attempts += 1
                if passed_all is not None:
                    passed_all = max(passed_all, took)
            if passed_all is None or rng.random() > 0.85:
                continue
            rule = curriculum.rule(post.role)
            unit = self.by_id[post.unit_id]
            start = passed_all + dt.timedelta(days=rng.randrange(10, 60))
            # Some first certificates date from an earlier post in the same role: lets some lapse.
            if rng.random() < 0.3:
                start -= dt.timedelta(days=rng.randrange(200, 900))
            issued, previous = start, None
            while start <= end and issued <= end:
                until = valid_until(start, rule.validity_years)
                numbers[issued.year] += 1
                number = f"{issued.year}-{numbers[issued.year]:06d}"
                fields = CertFields(number, p.id_number, p.name, post.role, unit.path, issued,
                                    start, until)
                row = {"number": number, "code": sign(secret, fields), "person_id": p.id,
                       "post_id": post.id, "role": post.role, "unit_id": unit.id,
                       "holder_name": p.name, "unit_path": unit.path, "issued_on": issued,
                       "valid_from": start, "valid_until": until, "renews_id": None,
                       "basis": "演示数据", "revoked_on": None, "revoked_reason": None}
                state = {**row, "renews": previous}
                issued_events.append(cert_event(
                    Kind.cert_renewed if previous else Kind.cert_issued, cert_state(state)))
                revoked = rng.random() < 0.004
                if revoked:
                    row["revoked_on"] = min(end, start + dt.timedelta(days=rng.randrange(30, 300)))
                    row["revoked_reason"] = "培训记录核查不实"
                    revoked_events.append(cert_event(Kind.cert_revoked, cert_state(
                        {**state, "revoked_on": row["revoked_on"],
                         "revoked_reason": row["revoked_reason"]})))
                self.writer.add(Certificate.__table__, row)
                self.report.certificates += 1
                if previous is not None:
                    renewals.append((number, previous))
                if revoked or rng.random() > 0.7:
                    break  # not renewed: lapses at `until`
                # Renewed within the window before expiry, valid from the day after.
                issued = max(start, until - dt.timedelta(days=rng.randrange(
                    1, max(2, rule.renewal_window_days))))
                previous, start = number, until + dt.timedelta(days=1)
        self.writer.flush()
        if renewals:  # link renewals to what they renew, now that both have ids
            cert_ids = dict(self.session.execute(select(Certificate.number, Certificate.id)).all())
            self.session.execute(update(Certificate), [
                {"id": cert_ids[new], "renews_id": cert_ids[old]} for new, old in renewals])
        append(self.session, secret, issued_events + revoked_events, anchor=anchor,
               actor=SOURCE)


def _moves(session: Session, rng: random.Random, units: list[Any],
           holders: dict[int, list[_Holder]], end: dt.date, months: int) -> int:
    """Posts that ended during the year, without touching anyone's current post.

    People whose current post began during the year held another post before it (moved in),
    and each month about 0.8% of the head count left for good: people no longer on the
    roster, whose posts ended that month. Re-importing the roster changes none of this.
    Returns the number of posts that ended; `holders` gets them (sign-in sheets follow).
    """
    from demo.city import _person  # the city's own name and ID-number generator
    from records.people import allocate_trainee_id

    communities = [u.id for u in units if u.level == UnitLevel.community]
    streets = [u.id for u in units if u.level == UnitLevel.street]
    if not communities:
        return 0
    first = add_months(end.replace(day=1), -(months - 1))
    moved_before = set(session.scalars(select(Post.person_id).where(Post.end_date.is_not(None))))
    posts: list[dict[str, Any]] = []
    for unit_id in sorted(holders):
        for h in list(holders[unit_id]):
            if h.end is not None or not first + dt.timedelta(days=30) <= h.start <= end \
                    or h.person_id in moved_before or h.role in _LEADERS or rng.random() > 0.6:
                continue
            pool = streets if h.role is Role.inspector else communities
            target = rng.choice(pool)
            if target == unit_id:
                continue
            ended = h.start - dt.timedelta(days=1)
            started = ended - dt.timedelta(days=rng.randrange(200, 1500))
            posts.append({"person_id": h.person_id, "unit_id": target, "role": h.role,
                          "start_date": started, "end_date": ended, "source": SOURCE})

    head_count = sum(1 for hs in holders.values() for h in hs if h.end is None)
    ids = set(session.scalars(select(Person.id_number)))
    taken = set(session.scalars(select(Person.trainee_id)))
    leavers: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for start, last in _months(end, months):
        for _ in range(max(1, round(head_count * 0.008))):
            role = _weighted(rng, ((Role.staff, 50), (Role.grid_worker, 40), (Role.inspector, 10)))
            unit_id = rng.choice(streets if role is Role.inspector and streets else communities)
            left = _day(rng, start, last)
            p = _person(rng, ids, role, (), left)
            person = {"id_number": p.id_number, "name": p.name, "phone": p.phone,
                      "trainee_id": allocate_trainee_id(p.name, taken)}
            # A quarter stayed only days or weeks: some were never trained there.
            tenure = rng.randrange(5, 30) if rng.random() < 0.25 else rng.randrange(120, 2000)
            post = {"unit_id": unit_id, "role": role, "end_date": left, "source": SOURCE,
                    "start_date": left - dt.timedelta(days=tenure)}
            leavers.append((person, post))
    connection = session.connection()
    if leavers:
        connection.execute(insert(Person.__table__), [person for person, _ in leavers])
        numbers = [person["id_number"] for person, _ in leavers]
        person_ids: dict[str, int] = {}
        for i in range(0, len(numbers), 5000):
            person_ids.update(session.execute(select(Person.id_number, Person.id).where(
                Person.id_number.in_(numbers[i:i + 5000]))).all())
        posts += [{**post, "person_id": person_ids[person["id_number"]]}
                  for person, post in leavers]
    if posts:
        connection.execute(insert(Post.__table__), posts)
    for post in posts:
        holders[post["unit_id"]].append(_Holder(-1, post["person_id"], post["role"],
                                                post["start_date"], post["end_date"]))
    return len(posts)


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


def _attempt(writer: _Writer, p: Any, module: str, day: dt.date, score: float, passed: bool,
             seed: int) -> None:
    graded = dt.datetime.combine(day, dt.time(10, 0), LOCAL_TZ).astimezone(dt.UTC)
    writer.add(Attempt.__table__, {
        "trainee_id": p.trainee_id, "person_id": p.id, "module": module, "module_version": "1.0",
        "submission_sha256": f"demo{seed}-{p.id}-{module}-{day:%Y%m%d}-{int(passed)}",
        "score": round(score, 1), "max_score": 100.0, "passed": passed,
        "status": AttemptStatus.graded, "problems": None, "submitted_at": graded,
        "graded_at": graded})
