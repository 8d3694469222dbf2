"""Effective dates for requirements (issue #16): go_live, a module's effective_from with a grace
period for people already in the role, the hours rule prorated in its first year, and no
pre-job deadline for posts begun before the rule.

The curriculum here is the shipped one with go_live 2026-01-01, a 90-day grace, and
rescue-disasters required only from 2026-10-01. Grid workers (8 h a year, one drill, 90
days to pass the required modules after taking the post):
- 老网格, in post since 2020: every module but rescue-disasters, 7 h, one drill.
- 早网格, in post since 2023-05-01: nothing passed.
- 新网格, in post since 2026-09-01 (after go-live): nothing passed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from records.cert_register import evaluate_people
from records.cert_rules import CertStatus, Facts, ModuleRecord, Rule, evaluate
from records.curriculum import Curriculum, CurriculumError, courses_dir, load_curriculum
from records.drills import DrillSpec, add_drill, mark_participation
from records.models import (
    Attendance,
    DrillForm,
    DrillRole,
    DrillScope,
    DrillType,
    OrgUnit,
    Person,
    TrainingKind,
)
from records.reports import onboarding
from records.reports.statuses import person_statuses
from records.roles import Role
from records.training import SessionSpec, add_session, mark_attendance
from tests.helpers import add_people, id_number, pass_modules

D = dt.date
UNIT = "平安市/城东区/甲街道/甲一社区"
NEW_MODULE = "rescue-disasters"
GO_LIVE, MODULE_FROM, GRACE = D(2026, 1, 1), D(2026, 10, 1), 90


def curriculum(go_live: dt.date | None = GO_LIVE) -> Curriculum:
    base = load_curriculum()
    modules = [m.model_copy(update={"effective_from": MODULE_FROM}) if m.id == NEW_MODULE
               else m for m in base.modules]
    return base.model_copy(update={"go_live": go_live, "new_module_grace_days": GRACE,
                                   "modules": modules})


def grid_rule(c: Curriculum) -> Rule:
    return Rule.from_curriculum(c, Role.grid_worker)


# --------------------------------------------------------------------------- the rules alone


def test_hours_are_prorated_in_the_first_year_only():
    rule = grid_rule(curriculum())
    assert rule.hours_required(D(2025, 12, 31)) == 0.0
    assert rule.hours_required(D(2026, 1, 1)) == round(8 / 365, 2)
    assert rule.hours_required(D(2026, 11, 1)) == 6.68  # 305 days of 365
    assert rule.hours_required(D(2026, 12, 31)) == 8.0
    assert grid_rule(curriculum(go_live=None)).hours_required(D(2026, 11, 1)) == 8.0


def test_module_in_grace_does_not_count_against_a_holder():
    rule = grid_rule(curriculum())
    others = {m.id: ModuleRecord(D(2020, 6, 1), D(2020, 6, 1), 90.0) for m in rule.modules
              if m.id != NEW_MODULE}
    facts = Facts(role_since=D(2020, 3, 1), modules=others, hours=8.0, drills=1)
    before = evaluate(rule, facts, D(2026, 9, 30))  # not required yet at all
    assert before.status is CertStatus.eligible and before.in_grace == ()
    during = evaluate(rule, facts, D(2026, 12, 30))  # last day of the grace
    assert during.status is CertStatus.eligible and during.in_grace == (NEW_MODULE,)
    assert "宽限期至 2026-12-30" in during.reason_text
    after = evaluate(rule, facts, D(2026, 12, 31))
    assert after.status is CertStatus.missing and after.modules_missing == (NEW_MODULE,)
    assert after.deadline is None  # in post before go-live: no pre-job deadline
    newcomer = Facts(role_since=D(2026, 11, 1), modules=others, hours=8.0, drills=1)
    # Took the post after the module became required: no grace, the pre-job deadline applies.
    late = evaluate(rule, newcomer, D(2027, 2, 15))
    assert late.status is CertStatus.overdue and late.modules_missing == (NEW_MODULE,)


# --------------------------------------------------------------------------- on both databases


@pytest.fixture
def people(session) -> dict[str, Person]:
    names = {"老网格": "2020-03-01", "早网格": "2023-05-01", "新网格": "2026-09-01"}
    add_people(session, [(name, id_number(seq=f"{400 + i:03d}"), UNIT, "网格员", start)
                         for i, (name, start) in enumerate(names.items())], as_of=D(2026, 9, 1))
    found = {p.name: p for p in session.scalars(select(Person))}
    old = found["老网格"]
    pass_modules(session, old.id, [m.id for m in load_curriculum().modules
                                   if Role.grid_worker in m.required_for and m.id != NEW_MODULE],
                 graded_at=dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC))
    unit = session.scalars(select(OrgUnit).where(OrgUnit.path == UNIT)).one()
    training, _ = add_session(session, SessionSpec("安全生产培训", TrainingKind.classroom, unit,
                                                   D(2026, 10, 20), 7.0))
    mark_attendance(session, training, [old], Attendance.present)
    drill, _ = add_drill(session, DrillSpec("消防疏散演练", DrillType.fire_evacuation,
                                            DrillForm.live, DrillScope.single, unit,
                                            D(2026, 10, 21), 60))
    mark_participation(session, drill, [old], DrillRole.participant, Attendance.present)
    return found


def statuses(session, c: Curriculum, day: dt.date) -> dict[str, tuple[str, str, dt.date | None]]:
    results = evaluate_people(session, c, as_of=day)
    return {e.held.name: (e.decision.status.value, ",".join(e.decision.modules_missing),
                          e.decision.deadline) for e in results}


def test_register_on_go_live_dates(session, people):
    got = statuses(session, curriculum(), D(2026, 11, 1))
    assert got["老网格"] == ("eligible", "", None)  # 7 h of 6.68 due; the new module in grace
    # In post before go-live: not overdue, just not yet qualified.
    assert got["早网格"][0] == "missing" and got["早网格"][2] is None
    assert NEW_MODULE not in got["早网格"][1]  # in its grace too
    assert got["新网格"] == ("onboarding", got["新网格"][1], D(2026, 11, 30))
    # Without a go-live date every rule is as old as the posts: 早网格 shows 逾期.
    legacy = statuses(session, curriculum(go_live=None), D(2026, 11, 1))
    assert legacy["早网格"][0] == "overdue" and legacy["早网格"][2] == D(2023, 7, 30)
    later = statuses(session, curriculum(), D(2027, 1, 5))
    assert later["老网格"][:2] == ("missing", NEW_MODULE)  # the grace ended on 12-30
    assert later["新网格"][0] == "overdue"


def test_report_statuses_and_onboarding_follow_the_rules(session, people):
    c = curriculum()
    df = person_statuses(session, as_of=D(2026, 11, 1), curriculum=c,
                         new_roles=(Role.grid_worker,), recent_days=5000, names=True)
    by_name = df.set_index("name")
    assert by_name.loc["早网格", "status"] == "missing"
    assert by_name.loc["老网格", "status"] == "eligible"
    new = onboarding.people(session, as_of=D(2026, 11, 1), roles=(Role.grid_worker,),
                            within_days=5000, curriculum=c)
    row = new.set_index("姓名").loc["早网格"]
    assert row["岗前期限"] == "" and row["期限状态"] == "未设期限"
    assert new.set_index("姓名").loc["新网格", "岗前期限"] == "2026-11-30"


# --------------------------------------------------------------------------- the file


def _write(tmp_path: Path, **top: object) -> Path:
    data = yaml.safe_load((courses_dir() / "curriculum.yml").read_text(encoding="utf-8"))
    data.update(top)
    path = tmp_path / "curriculum.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_curriculum_has_a_go_live_date():
    c = load_curriculum()
    assert c.go_live is not None and c.new_module_grace_days > 0
    rule = Rule.from_curriculum(c, Role.inspector)
    assert rule.onboarding_from == c.go_live and all(m.effective_from >= c.go_live
                                                     for m in rule.modules)
    assert rule.modules[0].effective_from == c.go_live  # the first modules date from go-live


def test_bad_dates_are_reported_in_chinese_with_their_place(tmp_path):
    with pytest.raises(CurriculumError) as err:
        load_curriculum(_write(tmp_path, go_live="2026-13-01"))
    assert "go_live" in str(err.value) and "应为日期" in str(err.value)
    path = _write(tmp_path, go_live="2026-02-01")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["roles"]["inspector"]["onboarding_effective_from"] = "2026-03-01"
    data["modules"][0]["effective_from"] = "2026-04-01"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    c = load_curriculum(path)
    assert c.onboarding_from(Role.inspector) == D(2026, 3, 1)
    assert c.onboarding_from(Role.staff) == D(2026, 2, 1)
    assert c.module_from(c.modules[0]) == D(2026, 4, 1)
    assert c.required_modules(Role.inspector, on=D(2026, 3, 31)) == \
        [m for m in c.required_modules(Role.inspector, on=D(2026, 4, 1)) if m != c.modules[0].id]


def test_coverage_counts_only_modules_in_force_on_the_last_day(session, people):
    from records.reports import coverage
    from records.reports.base import resolve_scope

    def pass_rate(c: Curriculum) -> float:
        scope = resolve_scope(session, as_of=D(2026, 11, 1), today=D(2026, 11, 1))
        df = coverage.by_unit(session, scope=scope, curriculum=c)
        return float(df.loc[df["单位"].str.endswith("甲一社区"), "必修模块通过率%"].iloc[0])

    # rescue-disasters in force since 2026-10-01: 老网格 has not passed it (in grace, not passed).
    assert pass_rate(curriculum()) == 0.0
    # Required only from 2027: not yet part of the rate, so 老网格 has passed all there is.
    later = curriculum().model_copy(update={"modules": [
        m.model_copy(update={"effective_from": D(2027, 6, 1)}) if m.id == NEW_MODULE else m
        for m in curriculum().modules]})
    assert pass_rate(later) == round(100 / 3, 1)
