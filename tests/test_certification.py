"""Certification rules: pure decisions (no database), then the register on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, update

from records.cert_register import evaluate_people, gather, issue, list_certificates, revoke
from records.cert_rules import (
    Action,
    CertRecord,
    CertStatus,
    Facts,
    ModuleRecord,
    ModuleReq,
    Rule,
    add_years,
    evaluate,
    local_date,
    rules_from,
    valid_until,
    window_start,
)
from records.curriculum import CurriculumError, load_curriculum
from records.drills import DrillSpec, add_drill, mark_participation
from records.models import (
    Attendance,
    Certificate,
    DrillForm,
    DrillRole,
    DrillScope,
    DrillType,
    OrgUnit,
    Person,
    Post,
    TrainingKind,
)
from records.roles import Role
from records.training import SessionSpec, add_session, mark_attendance
from tests.helpers import UNIT_A, UNIT_B, add_people, id_number, pass_modules

D = dt.date
RULE = Rule(Role.grid_worker, (ModuleReq("law", "法律基础", 80), ModuleReq("fire", "火灾自救", 80)),
            hours_per_year=8, drills_per_year=1, validity_years=2, renewal_window_days=60,
            onboarding_days=90)
NO_DEADLINE = Rule(**{**RULE.__dict__, "onboarding_days": 0})
PASSED = {"law": ModuleRecord(D(2026, 1, 5), D(2026, 1, 5), 90.0),
          "fire": ModuleRecord(D(2026, 2, 1), D(2026, 2, 1), 85.0)}


def facts(**overrides) -> Facts:
    base = dict(role_since=D(2024, 3, 1), modules=PASSED, hours=8.0, drills=1, certificates=())
    return Facts(**{**base, **overrides})


def cert(valid_from: dt.date, until: dt.date | None = None, *, revoked: dt.date | None = None,
         number: str = "2026-000001", id: int = 1) -> CertRecord:  # noqa: A002
    return CertRecord(id, number, valid_from, until or valid_until(valid_from, 2), revoked,
                      "造假" if revoked else None)


# --------------------------------------------------------------------------- dates


def test_dates_add_years_and_windows():
    assert valid_until(D(2026, 11, 1), 2) == D(2028, 10, 31)
    assert valid_until(D(2024, 2, 29), 1) == D(2025, 2, 28)  # 29 Feb → one year = to 28 Feb
    assert add_years(D(2024, 2, 29), 1) == D(2025, 3, 1)
    assert window_start(D(2026, 11, 1)) == D(2025, 11, 2)  # 12 months, both ends included
    assert window_start(D(2025, 2, 28)) == D(2024, 2, 29)
    # A UTC moment late in the evening is the next morning in China.
    assert local_date(dt.datetime(2026, 10, 31, 17, 0, tzinfo=dt.UTC)) == D(2026, 11, 1)
    assert local_date(dt.datetime(2026, 10, 31, 15, 59)) == D(2026, 10, 31)  # naive = UTC


# --------------------------------------------------------------------------- pure rules


def test_everything_met_is_eligible_with_validity():
    decision = evaluate(RULE, facts(), D(2026, 11, 1))
    assert decision.status is CertStatus.eligible and decision.action is Action.issue
    assert (decision.valid_from, decision.valid_until) == (D(2026, 11, 1), D(2028, 10, 31))


def test_missing_names_the_module_the_hours_and_the_drill():
    decision = evaluate(NO_DEADLINE, facts(
        modules={"law": PASSED["law"], "fire": ModuleRecord(best_percent=65.0)},
        hours=5.5, drills=0), D(2026, 11, 1))
    assert decision.status is CertStatus.missing and decision.action is Action.none
    text = decision.reason_text
    assert "未通过「火灾自救」（fire，最好成绩 65%，及格线 80%）" in text
    assert "近12个月培训 5.5 学时，差 2.5 学时" in text
    assert "近12个月未参加应急演练" in text
    assert decision.modules_missing == ("fire",)
    assert decision.hours_short == 2.5 and decision.drills_short == 1


def test_onboarding_deadline_edges():
    new = facts(role_since=D(2026, 8, 3), modules={})  # deadline = 2026-11-01
    on_deadline = evaluate(RULE, new, D(2026, 11, 1))
    assert on_deadline.status is CertStatus.onboarding
    assert on_deadline.deadline == D(2026, 11, 1) and "2026-11-01 前" in on_deadline.reason_text
    late = evaluate(RULE, new, D(2026, 11, 2))
    assert late.status is CertStatus.overdue and "已过 1 天" in late.reason_text
    # Modules done but a drill missing after the deadline: not overdue, just missing.
    assert evaluate(RULE, facts(role_since=D(2026, 8, 3), drills=0),
                    D(2026, 11, 2)).status is CertStatus.missing
    assert evaluate(NO_DEADLINE, new, D(2026, 8, 4)).status is CertStatus.missing


@pytest.mark.parametrize(("as_of", "status", "action"), [
    (D(2028, 9, 1), CertStatus.issued, Action.none),      # 60 days left: outside the window
    (D(2028, 9, 2), CertStatus.expiring, Action.renew),   # 59 days left: inside
    (D(2028, 10, 31), CertStatus.expiring, Action.renew),  # last valid day
    (D(2028, 11, 1), CertStatus.eligible, Action.issue),  # the day after: lapsed, re-issued
])
def test_validity_and_renewal_window_edges(as_of, status, action):
    current = cert(D(2026, 11, 1))  # valid to 2028-10-31
    decision = evaluate(RULE, facts(certificates=(current,)), as_of)
    assert (decision.status, decision.action) == (status, action)
    if action is Action.renew:  # the renewal continues the old one without a gap
        assert decision.valid_from == D(2028, 11, 1) and decision.valid_until == D(2030, 10, 31)
        assert decision.renews == current
    if as_of == D(2028, 10, 31):
        assert "今天是最后有效日" in decision.reason_text


def test_expiring_without_the_rules_says_what_to_make_up_and_lapses_after():
    current = cert(D(2026, 11, 1))
    short = facts(certificates=(current,), hours=2.0)
    expiring = evaluate(RULE, short, D(2028, 10, 1))
    assert expiring.status is CertStatus.expiring and expiring.action is Action.none
    assert "续证前须补足" in expiring.reason_text and "差 6 学时" in expiring.reason_text
    lapsed = evaluate(RULE, short, D(2028, 11, 1))
    assert lapsed.status is CertStatus.lapsed
    assert "2026-000001 已于 2028-10-31 到期" in lapsed.reason_text


def test_a_renewal_already_issued_means_nothing_more_to_do():
    old, new = cert(D(2026, 11, 1)), cert(D(2028, 11, 1), number="2028-000007", id=2)
    decision = evaluate(RULE, facts(certificates=(old, new)), D(2028, 10, 15))
    assert decision.status is CertStatus.issued and decision.action is Action.none
    assert "2028-000007" in decision.reason_text


def test_revoked_needs_modules_passed_again_after_the_revocation():
    revoked = cert(D(2026, 11, 1), revoked=D(2027, 3, 1))
    before = evaluate(RULE, facts(certificates=(revoked,)), D(2027, 3, 1))
    assert before.status is CertStatus.revoked and before.action is Action.none
    assert "撤销后须重新通过：law、fire" in before.reason_text
    retaken = {k: ModuleRecord(v.first_passed, D(2027, 4, 1), 95.0) for k, v in PASSED.items()}
    after = evaluate(RULE, facts(certificates=(revoked,), modules=retaken), D(2027, 4, 2))
    assert after.status is CertStatus.eligible and "撤销后已重新通过" in after.reason_text
    # Judged on a day before the revocation, the certificate was still good.
    assert evaluate(RULE, facts(certificates=(revoked,)), D(2027, 2, 28)).status \
        is CertStatus.issued


def test_rules_come_from_the_curriculum_modules_and_roles():
    rules = rules_from(load_curriculum())
    assert [m.id for m in rules[Role.volunteer].modules] == [
        "rescue-fire", "rescue-first-aid", "rescue-disasters"]
    assert "inspector-practice" in [m.id for m in rules[Role.inspector].modules]
    assert all(m.pass_mark == 80 for r in rules.values() for m in r.modules)
    for role in Role:  # every role has explicit, sensible values
        rule = rules[role]
        assert rule.hours_per_year > 0 and rule.drills_per_year >= 1
        assert 0 < rule.renewal_window_days < rule.validity_years * 365
    assert rules[Role.inspector].onboarding_days == 90
    assert rules[Role.principal_leader].hours_per_year == 12


def test_renewal_window_longer_than_validity_is_refused(tmp_path: Path):
    path = tmp_path / "curriculum.yml"
    path.write_text(
        "modules:\n  - {id: a, title: A, version: \"1.0\", estimated_minutes: 10, pass_mark: 80}\n"
        "roles:\n  volunteer: {validity_years: 1, renewal_window_days: 365}\n", encoding="utf-8")
    with pytest.raises(CurriculumError, match="续证窗口"):
        load_curriculum(path)


# --------------------------------------------------------------------------- register (DB)

ZHANG, LI = id_number(seq="451"), id_number(seq="123")
GRID_MODULES = ["law-work-safety", "law-emergency-response", "law-training-rules",
                "rescue-fire", "rescue-first-aid", "rescue-disasters"]
SECRET = b"0" * 64


def unit(session, path: str) -> OrgUnit:
    return session.scalars(select(OrgUnit).where(OrgUnit.path == path)).one()


def ready_grid_worker(session, as_of: dt.date = D(2026, 11, 1)) -> int:
    """张三, grid worker since 2024 with modules, 8 hours and a drill in the 12 months."""
    ids = add_people(session, [("张三", ZHANG, UNIT_A, "网格员", "2024-03-01"),
                               ("李四", LI, UNIT_B, "专职安监员", "2024-03-01")])
    pass_modules(session, ids["张三"], GRID_MODULES)
    training, _ = add_session(session, SessionSpec("集中培训", TrainingKind.classroom,
                                                   unit(session, UNIT_B), D(2026, 5, 10), 8.0))
    mark_attendance(session, training, [session.get(Person, ids["张三"])], Attendance.present)
    drill, _ = add_drill(session, DrillSpec("消防疏散演练", DrillType.fire_evacuation,
                                            DrillForm.live, DrillScope.single,
                                            unit(session, UNIT_A), D(2026, 6, 1), 60))
    mark_participation(session, drill, [session.get(Person, ids["张三"])],
                       DrillRole.evacuation, Attendance.present)
    return ids["张三"]


def status_of(session, person_id: int, as_of: dt.date) -> dict[Role, CertStatus]:
    return {e.held.role: e.decision.status for e in evaluate_people(
        session, load_curriculum(), as_of=as_of, person=session.get(Person, person_id))}


def test_hours_and_drills_count_in_the_12_month_window_only(session):
    person = session.get(Person, ready_grid_worker(session))  # training 2026-05-10, drill 06-01
    [(_, last_day)] = gather(session, as_of=D(2027, 5, 9), person=person)
    assert last_day.hours == 8.0 and last_day.drills == 1
    [(_, after)] = gather(session, as_of=D(2027, 5, 10), person=person)
    assert after.hours == 0.0 and after.drills == 1
    [(_, drill_last)] = gather(session, as_of=D(2027, 5, 31), person=person)
    assert drill_last.drills == 1
    [(_, drill_gone)] = gather(session, as_of=D(2027, 6, 1), person=person)
    assert drill_gone.drills == 0


def test_an_attempt_counts_from_its_day_in_china(session):
    ids = add_people(session, [("张三", ZHANG, UNIT_A, "网格员", "2024-03-01")])
    pass_modules(session, ids["张三"], ["rescue-fire"],
                 graded_at=dt.datetime(2026, 10, 31, 17, 0, tzinfo=dt.UTC))  # 11-01 01:00 CST
    person = session.get(Person, ids["张三"])
    [(_, day_before)] = gather(session, as_of=D(2026, 10, 31), person=person)
    [(_, that_day)] = gather(session, as_of=D(2026, 11, 1), person=person)
    assert "rescue-fire" not in day_before.modules
    assert that_day.modules["rescue-fire"].last_passed == D(2026, 11, 1)


def test_issue_is_idempotent_and_codes_are_stored(session):
    person_id = ready_grid_worker(session)
    curriculum = load_curriculum()
    first = issue(session, curriculum, SECRET, as_of=D(2026, 11, 1))
    assert first.issued == ["2026-000001"] and first.renewed == []
    again = issue(session, curriculum, SECRET, as_of=D(2026, 11, 1))
    assert again.numbers == []
    stored = session.scalars(select(Certificate)).one()
    assert stored.person_id == person_id and stored.role is Role.grid_worker
    assert (stored.valid_from, stored.valid_until) == (D(2026, 11, 1), D(2028, 10, 31))
    assert "近12个月培训 8 学时" in (stored.basis or "")
    assert status_of(session, person_id, D(2026, 11, 2)) == {Role.grid_worker: CertStatus.issued}


def test_renewal_in_the_window_then_revocation_takes_the_renewal_too(session):
    person_id = ready_grid_worker(session)
    curriculum = load_curriculum()
    issue(session, curriculum, SECRET, as_of=D(2026, 11, 1))
    # Two years on, with fresh hours and a fresh drill, inside the 60-day window.
    training, _ = add_session(session, SessionSpec("复训", TrainingKind.lecture,
                                                   unit(session, UNIT_B), D(2028, 9, 1), 8.0))
    mark_attendance(session, training, [session.get(Person, person_id)], Attendance.present)
    drill, _ = add_drill(session, DrillSpec("地震演练", DrillType.earthquake, DrillForm.tabletop,
                                            DrillScope.single, unit(session, UNIT_A),
                                            D(2028, 9, 2), 45))
    mark_participation(session, drill, [session.get(Person, person_id)], DrillRole.participant,
                       Attendance.present)
    assert issue(session, curriculum, SECRET, as_of=D(2028, 9, 1)).numbers == []  # 60 days left
    # Modules required since after the first certificate (their grace is over): renewal waits.
    newer = [m for m in curriculum.required_modules(Role.grid_worker) if m not in GRID_MODULES]
    assert newer, "the curriculum adds grid-worker modules from 2027: this case needs them"
    assert issue(session, curriculum, SECRET, as_of=D(2028, 9, 10)).renewed == []
    pass_modules(session, person_id, newer, graded_at=dt.datetime(2028, 9, 5, 2, 0, tzinfo=dt.UTC))
    renewed = issue(session, curriculum, SECRET, as_of=D(2028, 9, 10))
    assert renewed.renewed == ["2028-000001"]
    assert issue(session, curriculum, SECRET, as_of=D(2028, 9, 11)).numbers == []
    new = session.scalars(select(Certificate).where(Certificate.number == "2028-000001")).one()
    assert (new.valid_from, new.valid_until) == (D(2028, 11, 1), D(2030, 10, 31))
    assert new.renews is not None and new.renews.number == "2026-000001"

    revoked = revoke(session, "2026-000001", reason="培训记录不实", on=D(2028, 9, 20), secret=SECRET)
    assert [c.number for c in revoked] == ["2026-000001", "2028-000001"]
    assert revoke(session, "2026-000001", reason="再次", on=D(2028, 9, 21), secret=SECRET) == []
    assert status_of(session, person_id, D(2028, 9, 21)) == {Role.grid_worker: CertStatus.revoked}
    df = list_certificates(session, as_of=D(2028, 9, 21))
    assert df["状态"].str.startswith("已撤销").all()


def test_a_change_of_post_applies_the_new_posts_rules_and_keeps_history(session):
    person_id = ready_grid_worker(session)
    curriculum = load_curriculum()
    issue(session, curriculum, SECRET, as_of=D(2026, 11, 1))
    # 张三 becomes an inspector of the street on 2026-12-01 (the roster import's way).
    add_people(session, [("张三", ZHANG, UNIT_B, "专职安监员", "2026-12-01")], as_of=D(2026, 12, 1))
    posts = session.scalars(select(Post).where(Post.person_id == person_id)
                            .order_by(Post.start_date)).all()
    assert [(p.role, p.end_date) for p in posts] == [
        (Role.grid_worker, D(2026, 11, 30)), (Role.inspector, None)]
    [result] = evaluate_people(session, curriculum, as_of=D(2026, 12, 15),
                               person=session.get(Person, person_id))
    assert result.held.role is Role.inspector and result.facts.role_since == D(2026, 12, 1)
    assert result.decision.status is CertStatus.onboarding
    assert result.decision.modules_missing == ("inspector-practice",)
    assert "差 4 学时" in result.decision.reason_text  # 12 h for inspectors, 8 done
    assert issue(session, curriculum, SECRET, as_of=D(2026, 12, 15)).numbers == []
    # The grid worker certificate stays in the register.
    history = list_certificates(session, person=session.get(Person, person_id),
                                as_of=D(2026, 12, 15))
    assert history["角色"].tolist() == ["网格员"]
    # Onboarding done: passes the inspector module and gets 4 more hours.
    pass_modules(session, person_id, ["inspector-practice"],
                 graded_at=dt.datetime(2027, 1, 5, tzinfo=dt.UTC))
    training, _ = add_session(session, SessionSpec("执法业务", TrainingKind.classroom,
                                                   unit(session, UNIT_B), D(2027, 1, 6), 4.0))
    mark_attendance(session, training, [session.get(Person, person_id)], Attendance.present)
    report = issue(session, curriculum, SECRET, as_of=D(2027, 1, 10))
    assert report.issued == ["2027-000001"]
    roles = session.scalars(select(Certificate.role).where(Certificate.person_id == person_id)
                            .order_by(Certificate.id)).all()
    assert roles == [Role.grid_worker, Role.inspector]


def test_moving_unit_in_the_same_role_keeps_the_role_start(session):
    person_id = ready_grid_worker(session)
    add_people(session, [("张三", ZHANG, UNIT_B, "网格员", "2026-12-01")], as_of=D(2026, 12, 1))
    [(held, held_facts)] = gather(session, as_of=D(2026, 12, 2),
                                  person=session.get(Person, person_id))
    assert held.unit_path == UNIT_B and held_facts.role_since == D(2024, 3, 1)


def test_evaluate_scope_by_unit_and_an_altered_post_start(session):
    ready_grid_worker(session)
    street = unit(session, UNIT_B)
    community = unit(session, UNIT_A)
    everyone = evaluate_people(session, load_curriculum(), as_of=D(2026, 11, 1), unit=street)
    only_a = evaluate_people(session, load_curriculum(), as_of=D(2026, 11, 1), unit=community)
    assert len(everyone) == 2 and [e.held.name for e in only_a] == ["张三"]
    # 李四 the inspector, nothing passed, in post since 2024: overdue, with the deadline.
    li = next(e for e in everyone if e.held.name == "李四")
    assert li.decision.status is CertStatus.overdue
    assert "岗前期限 2024-05-30 已过" in li.decision.reason_text
    session.execute(update(Post).where(Post.person_id == li.held.person_id)
                    .values(start_date=D(2026, 10, 1)))
    again = evaluate_people(session, load_curriculum(), as_of=D(2026, 11, 1), unit=street)
    assert next(e for e in again if e.held.name == "李四").decision.status \
        is CertStatus.onboarding
