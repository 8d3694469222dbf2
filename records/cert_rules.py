"""Certification rules: facts about one person in one role in, a decision with reasons out.

Pure functions, no database: `records.cert_facts` gathers the facts, `records.cert_register`
applies the decisions. The rules come from `courses/curriculum.yml` (modules with `required_for` and
`pass_mark`, and the `roles:` section); see `Rule.from_curriculum`.

Dates are calendar days in China (UTC+8). "Per year" is the 12 months up to the day of
evaluation (`window_start`), so a person is judged the same way on any day of the year.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from records.curriculum import Curriculum
from records.roles import Role

# China has one time zone and no daylight saving: a fixed offset needs no tz database.
LOCAL_TZ = dt.timezone(dt.timedelta(hours=8), "UTC+08:00")


class CertStatus(enum.StrEnum):
    issued = "issued"
    expiring = "expiring"
    eligible = "eligible"
    lapsed = "lapsed"
    revoked = "revoked"
    onboarding = "onboarding"
    overdue = "overdue"
    missing = "missing"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    CertStatus.issued: "持证有效",
    CertStatus.expiring: "即将到期",
    CertStatus.eligible: "可发证",
    CertStatus.lapsed: "已过期",
    CertStatus.revoked: "已撤销",
    CertStatus.onboarding: "岗前培训期",
    CertStatus.overdue: "岗前培训逾期",
    CertStatus.missing: "未达标",
}


class Action(enum.StrEnum):
    none = "none"
    issue = "issue"
    renew = "renew"


@dataclass(frozen=True)
class ModuleReq:
    id: str
    title: str
    pass_mark: float
    effective_from: dt.date | None = None  # required from this day (None: always)


@dataclass(frozen=True)
class Rule:
    """Everything one role must meet, from the curriculum (one source of truth)."""

    role: Role
    modules: tuple[ModuleReq, ...]
    hours_per_year: float
    drills_per_year: int
    validity_years: int
    renewal_window_days: int
    onboarding_days: int
    # Effective dates (None: always in force). A post begun before `onboarding_from` has no
    # pre-job deadline; the hours rule counts from `hours_from` (prorated in its first year);
    # someone in the role before a module's `effective_from` has `grace_days` to pass it.
    hours_from: dt.date | None = None
    onboarding_from: dt.date | None = None
    grace_days: int = 0

    @classmethod
    def from_curriculum(cls, curriculum: Curriculum, role: Role) -> Rule:
        rule = curriculum.rule(role)
        modules = tuple(
            ModuleReq(m.id, m.title, m.pass_mark, curriculum.module_from(m))
            for m in curriculum.modules if role in m.required_for
        )
        return cls(role, modules, rule.hours_per_year, rule.drills_per_year,
                   rule.validity_years, rule.renewal_window_days, rule.onboarding_days,
                   curriculum.hours_from(role), curriculum.onboarding_from(role),
                   curriculum.new_module_grace_days)

    def hours_required(self, as_of: dt.date) -> float:
        """Hours due in the 12 months up to `as_of`: none before the rule starts, prorated
        by day in its first year."""
        if self.hours_from is None:
            return self.hours_per_year
        days = (as_of - self.hours_from).days + 1
        if days <= 0:
            return 0.0
        return self.hours_per_year if days >= 365 else round(self.hours_per_year * days / 365, 2)

    def module_counts_from(self, module: ModuleReq, role_since: dt.date) -> dt.date | None:
        """First day `module` counts against someone in the role since `role_since` (None:
        always). In the role before it became required: the day after the grace period;
        otherwise the day it became required (the pre-job deadline is a separate rule)."""
        start = module.effective_from
        if start is None:
            return None
        if role_since < start:
            return start + dt.timedelta(days=self.grace_days + 1)
        return start


def rules_from(curriculum: Curriculum) -> dict[Role, Rule]:
    return {role: Rule.from_curriculum(curriculum, role) for role in Role}


@dataclass(frozen=True)
class ModuleRecord:
    """A person's results in one module, up to the day of evaluation."""

    first_passed: dt.date | None = None
    last_passed: dt.date | None = None
    best_percent: float | None = None


@dataclass(frozen=True)
class CertRecord:
    id: int
    number: str
    valid_from: dt.date
    valid_until: dt.date
    revoked_on: dt.date | None = None
    revoked_reason: str | None = None


@dataclass(frozen=True)
class Facts:
    """What the records say about one person in one role on the day of evaluation."""

    role_since: dt.date  # start of the unbroken run of posts in this role
    modules: Mapping[str, ModuleRecord] = field(default_factory=dict)
    hours: float = 0.0  # credited training hours in the 12-month window
    drills: int = 0  # drills taken part in, same window
    certificates: Sequence[CertRecord] = ()  # this person's, for this role


@dataclass(frozen=True)
class Decision:
    status: CertStatus
    reasons: tuple[str, ...]
    action: Action = Action.none
    current: CertRecord | None = None  # valid on the day
    valid_from: dt.date | None = None  # of the certificate to issue
    valid_until: dt.date | None = None
    renews: CertRecord | None = None
    modules_missing: tuple[str, ...] = ()
    hours_short: float = 0.0
    drills_short: int = 0
    deadline: dt.date | None = None  # onboarding deadline, when the role has one
    in_grace: tuple[str, ...] = ()  # newly required modules not passed, still in grace

    @property
    def reason_text(self) -> str:
        return "；".join(self.reasons)


# --------------------------------------------------------------------------- dates


def add_years(day: dt.date, years: int) -> dt.date:
    """Same date `years` later (or earlier); 29 February becomes 1 March."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)


def valid_until(valid_from: dt.date, years: int) -> dt.date:
    """Last day (inclusive) of a certificate valid for `years` from `valid_from`."""
    return add_years(valid_from, years) - dt.timedelta(days=1)


def window_start(as_of: dt.date) -> dt.date:
    """First day of the 12 months that end on `as_of` (inclusive)."""
    return add_years(as_of, -1) + dt.timedelta(days=1)


def local_date(moment: dt.datetime) -> dt.date:
    """The calendar day in China of a moment (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(LOCAL_TZ).date()


def _num(value: float) -> str:
    return f"{round(value, 1):g}"


# --------------------------------------------------------------------------- rules


def evaluate(rule: Rule, facts: Facts, as_of: dt.date) -> Decision:
    """Judge one person in one role on `as_of`.

    A valid certificate → issued (or expiring in the renewal window, renewed when the rules
    hold). No valid certificate → eligible when the rules hold, else revoked / lapsed /
    onboarding / overdue / missing, with the reasons. A newly required module still in its
    grace period does not count against anyone; the reasons say until when.
    """
    decision = _evaluate(rule, facts, as_of)
    grace = _in_grace(rule, facts, as_of)
    if not grace:
        return decision
    notes = tuple(f"新增必修「{m.title}」（{m.id}）宽限期至 {last}，届时仍未通过即计为未达标"
                  for m, last in grace)
    return replace(decision, reasons=decision.reasons + notes,
                   in_grace=tuple(m.id for m, _ in grace))


def _in_grace(rule: Rule, facts: Facts, as_of: dt.date) -> list[tuple[ModuleReq, dt.date]]:
    out = []
    for module in rule.modules:
        counts = rule.module_counts_from(module, facts.role_since)
        record = facts.modules.get(module.id, ModuleRecord())
        if counts is not None and module.effective_from is not None and \
                module.effective_from <= as_of < counts and record.last_passed is None:
            out.append((module, counts - dt.timedelta(days=1)))
    return out


def _evaluate(rule: Rule, facts: Facts, as_of: dt.date) -> Decision:
    certs = sorted(facts.certificates, key=lambda c: (c.valid_from, c.id))

    def revoked(c: CertRecord) -> bool:
        return c.revoked_on is not None and c.revoked_on <= as_of

    current = next((c for c in reversed(certs)
                    if c.valid_from <= as_of <= c.valid_until and not revoked(c)), None)
    upcoming = next((c for c in certs if c.valid_from > as_of and not revoked(c)), None)
    latest = next((c for c in reversed(certs) if c.valid_from <= as_of), None)
    # After a revocation, only module passes after it count (a revoked certificate is not
    # re-issued on the same results).
    cutoff = latest.revoked_on if latest is not None and revoked(latest) else None

    missing, shortfalls = _shortfalls(rule, facts, cutoff, as_of)
    hours_short = max(0.0, round(rule.hours_required(as_of) - facts.hours, 2))
    drills_short = max(0, rule.drills_per_year - facts.drills)
    holds = not shortfalls
    common = dict(modules_missing=missing, hours_short=hours_short, drills_short=drills_short)

    if current is not None:
        days_left = (current.valid_until - as_of).days
        if upcoming is not None:
            return Decision(CertStatus.issued, (
                f"证书 {current.number} 有效至 {current.valid_until}；已续证，"
                f"新证书 {upcoming.number} 自 {upcoming.valid_from} 起有效",), current=current,
                **common)
        if days_left < rule.renewal_window_days:
            when = "今天是最后有效日" if days_left == 0 else f"{days_left} 天后到期"
            head = f"证书 {current.number} 有效至 {current.valid_until}（{when}）"
            if holds:
                start = current.valid_until + dt.timedelta(days=1)
                return Decision(CertStatus.expiring, (head, "已满足续证条件，可续证"),
                                Action.renew, current, start,
                                valid_until(start, rule.validity_years), current, **common)
            return Decision(CertStatus.expiring, (head, "续证前须补足：", *shortfalls),
                            current=current, **common)
        return Decision(CertStatus.issued,
                        (f"证书 {current.number} 有效至 {current.valid_until}",),
                        current=current, **common)

    if upcoming is not None:
        return Decision(CertStatus.issued,
                        (f"证书 {upcoming.number} 自 {upcoming.valid_from} 起有效",), **common)

    # No pre-job deadline for a post begun before the pre-job rule took effect.
    pre_job = rule.onboarding_from is None or facts.role_since >= rule.onboarding_from
    deadline = (facts.role_since + dt.timedelta(days=rule.onboarding_days)
                if rule.onboarding_days and pre_job else None)
    if holds:
        reasons = ["满足全部持证条件"]
        if latest is not None and cutoff is not None:
            reasons.append(f"原证书 {latest.number} 于 {latest.revoked_on} 撤销后已重新通过必修模块")
        elif latest is not None:
            reasons.append(f"原证书 {latest.number} 已于 {latest.valid_until} 到期")
        return Decision(CertStatus.eligible, tuple(reasons), Action.issue, None, as_of,
                        valid_until(as_of, rule.validity_years), deadline=deadline, **common)
    if latest is not None and cutoff is not None:
        head = f"证书 {latest.number} 已于 {latest.revoked_on} 撤销：{latest.revoked_reason}"
        return Decision(CertStatus.revoked, (head, *shortfalls), deadline=deadline, **common)
    if latest is not None:
        head = f"证书 {latest.number} 已于 {latest.valid_until} 到期"
        return Decision(CertStatus.lapsed, (head, *shortfalls), deadline=deadline, **common)
    if deadline is not None and as_of <= deadline:
        head = f"{facts.role_since} 任职，须在 {deadline} 前通过全部必修模块"
        return Decision(CertStatus.onboarding, (head, *shortfalls), deadline=deadline, **common)
    if deadline is not None and missing:
        late = (as_of - deadline).days
        head = f"{facts.role_since} 任职，岗前期限 {deadline} 已过 {late} 天"
        return Decision(CertStatus.overdue, (head, *shortfalls), deadline=deadline, **common)
    return Decision(CertStatus.missing, tuple(shortfalls), deadline=deadline, **common)


def _shortfalls(rule: Rule, facts: Facts, cutoff: dt.date | None,
                as_of: dt.date) -> tuple[tuple[str, ...], list[str]]:
    """(ids of modules due and not passed, one sentence per unmet rule)."""
    missing: list[str] = []
    reasons: list[str] = []
    redo: list[str] = []  # passed, but only before the revocation
    for module in rule.modules:
        counts = rule.module_counts_from(module, facts.role_since)
        if counts is not None and as_of < counts:  # not required yet, or in its grace period
            continue
        record = facts.modules.get(module.id, ModuleRecord())
        passed = record.last_passed is not None and (cutoff is None or record.last_passed > cutoff)
        if passed:
            continue
        missing.append(module.id)
        if record.last_passed is not None:
            redo.append(module.id)
            continue
        if record.best_percent is not None:
            detail = f"最好成绩 {record.best_percent:.0f}%，及格线 {module.pass_mark:g}%"
        else:
            detail = "尚无成绩"
        reasons.append(f"未通过「{module.title}」（{module.id}，{detail}）")
    if redo:
        reasons.insert(0, f"撤销后须重新通过：{'、'.join(redo)}")
    required = rule.hours_required(as_of)
    short = round(required - facts.hours, 2)
    if short > 0:
        since = ("" if required == rule.hours_per_year or rule.hours_from is None
                 else f"，学时要求自 {rule.hours_from} 起按天折算")
        reasons.append(f"近12个月培训 {_num(facts.hours)} 学时，差 {_num(short)} 学时"
                       f"（要求 {_num(required)} 学时{since}）")
    if facts.drills < rule.drills_per_year:
        if facts.drills == 0:
            reasons.append(f"近12个月未参加应急演练（要求 {rule.drills_per_year} 次）")
        else:
            reasons.append(f"近12个月参加演练 {facts.drills} 次，差 "
                           f"{rule.drills_per_year - facts.drills} 次")
    return tuple(missing), reasons


def basis_text(rule: Rule, facts: Facts) -> str:
    """What the rules saw when a certificate was issued, kept with it for the history."""
    passed = "、".join(
        f"{m.id} {facts.modules[m.id].last_passed}" for m in rule.modules
        if m.id in facts.modules and facts.modules[m.id].last_passed is not None
    )
    return (f"通过模块：{passed or '无要求'}；近12个月培训 {_num(facts.hours)} 学时；"
            f"参加演练 {facts.drills} 次")
