"""Who may see what (records.access), a trainee's own status, and `safetrain admin`."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from records.access import (
    AccessDenied,
    grant,
    list_grants,
    require_person,
    require_unit,
    revoke,
    viewer_for,
)
from records.curriculum import load_curriculum
from records.org import find_unit
from records.people import find_person
from records.trainee_status import trainee_status
from scripts.cli import app
from tests.test_jupyter_fixtures import (
    AS_OF,
    EAST,
    HAPPY,
    IDS,
    STREET,
    WEST,
    WEST_COMMUNITY,
    build_city,
)


@pytest.fixture
def city(session):
    return build_city(session)


def test_trainee_sees_only_themself(session, city):
    me = viewer_for(session, "zhangsan", as_of=AS_OF)
    assert me.name == "张三" and not me.is_admin
    require_person(session, me, find_person(session, trainee_id="zhangsan"), as_of=AS_OF)
    with pytest.raises(AccessDenied, match="lisi"):
        require_person(session, me, find_person(session, trainee_id="lisi"), as_of=AS_OF)
    with pytest.raises(AccessDenied):
        require_unit(me, find_unit(session, HAPPY))  # not even their own community


def test_admin_sees_their_district_and_nothing_else(session, city):
    grant(session, "dcadmin", find_unit(session, EAST), by="test")
    admin = viewer_for(session, "dcadmin", as_of=AS_OF)
    assert admin.person_id is None and [s.path for s in admin.scopes] == [EAST]
    require_unit(admin, find_unit(session, HAPPY))  # below the district
    require_person(session, admin, find_person(session, trainee_id="zhangsan"), as_of=AS_OF)
    with pytest.raises(AccessDenied):
        require_unit(admin, find_unit(session, WEST))
    with pytest.raises(AccessDenied):
        require_unit(admin, find_unit(session, "安和市"))  # nor above it
    with pytest.raises(AccessDenied):
        require_person(session, admin, find_person(session, trainee_id="zhaoliu"), as_of=AS_OF)


def test_a_unit_whose_name_extends_another_is_not_inside_it(session, city):
    # 安和市/东城区 must not cover a sibling 安和市/东城区新区 (prefix of the path, not a parent).
    from records.org import ensure_units

    ensure_units(session, [("安和市", "东城区新区")])
    grant(session, "dcadmin", find_unit(session, EAST))
    with pytest.raises(AccessDenied):
        require_unit(viewer_for(session, "dcadmin", as_of=AS_OF),
                     find_unit(session, "安和市/东城区新区"))


def test_leaders_see_their_unit_while_in_post(session, city):
    leader = viewer_for(session, "wangwu", as_of=AS_OF)
    assert [(s.path, s.source) for s in leader.scopes] == [(STREET, "leader")]
    before = viewer_for(session, "wangwu", as_of=dt.date(2024, 12, 31))  # not yet in post
    assert before.scopes == ()
    off = viewer_for(session, "wangwu", as_of=AS_OF, leaders_see_their_units=False)
    assert off.scopes == ()


def test_nested_grants_keep_the_outer_unit(session, city):
    grant(session, "boss", find_unit(session, STREET))
    grant(session, "boss", find_unit(session, EAST))
    assert [s.path for s in viewer_for(session, "boss", as_of=AS_OF).scopes] == [EAST]


def test_grant_and_revoke_are_idempotent(session, city):
    east = find_unit(session, EAST)
    assert grant(session, "DCAdmin", east, by="root") == "created"  # logins are lower case
    assert grant(session, "dcadmin", east) == "unchanged"
    listed = list_grants(session)
    assert listed[["账号", "单位"]].values.tolist() == [["dcadmin", EAST]]
    assert listed["姓名"].tolist() == ["（不在花名册）"]
    assert revoke(session, "dcadmin", east) == [EAST]
    assert revoke(session, "dcadmin", east) == []
    with pytest.raises(ValueError, match="账号"):
        grant(session, "x", east)  # not a usable login


def test_trainee_status_figures(session, city):
    curriculum = load_curriculum()
    me = trainee_status(session, curriculum, find_person(session, trainee_id="zhangsan"),
                        as_of=AS_OF,
                        submitted={"rescue-disasters": dt.datetime(2026, 11, 18, tzinfo=dt.UTC)})
    assert me.masked_id == "1101********" + IDS["张三"][-4:]
    assert (me.hours, me.hours_this_year, me.hours_required) == (5.0, 5.0, 8.0)
    assert (me.drills, me.drills_required) == (1, 1)
    assert [d.title for d in me.drill_list] == ["幸福社区消防疏散演练"]
    assert [s.hours for s in me.sessions] == [2.0, 3.0]
    status = {m.id: m.status for m in me.modules if m.required_from is None}
    assert status == {"law-work-safety": "passed", "law-emergency-response": "passed",
                      "law-training-rules": "passed", "rescue-fire": "passed",
                      "rescue-first-aid": "failed", "rescue-disasters": "submitted"}
    # Modules required only later are listed too, not started, with their first day.
    later = {m.id: (m.status, m.required_from) for m in me.modules if m.required_from}
    assert later and all(st == "not_started" and day > AS_OF for st, day in later.values())
    first_aid = next(m for m in me.modules if m.id == "rescue-first-aid")
    assert (first_aid.best_percent, first_aid.attempts) == (60.0, 1)
    [role] = me.roles
    assert (role.role, role.status) == ("grid_worker", "overdue")
    assert role.modules_missing == ("rescue-first-aid", "rescue-disasters")
    assert role.hours_short == 3.0 and any("差 3 学时" in r for r in role.reasons)


def test_new_inspector_has_an_onboarding_deadline(session, city):
    lisi = trainee_status(session, load_curriculum(), find_person(session, trainee_id="lisi"),
                          as_of=AS_OF)
    [role] = lisi.roles
    assert (role.status, role.deadline, role.days_to_deadline) == \
        ("onboarding", dt.date(2026, 12, 30), 40)
    assert {m.id for m in lisi.modules if m.required} >= {"inspector-practice"}
    assert all(m.status == "not_started" for m in lisi.modules)


def test_certificate_holder_sees_expiry(session, city):
    from records.cert_register import issue
    from records.drills import find_drill, mark_participation
    from records.models import Attendance, DrillRole, TrainingKind
    from records.training import SessionSpec, add_session, mark_attendance

    person = find_person(session, trainee_id="sunba")  # passed everything; give hours, a drill
    course, _ = add_session(session, SessionSpec("网格员业务培训", TrainingKind.classroom,
                                                 find_unit(session, STREET), AS_OF, 6.0))
    mark_attendance(session, course, [person], Attendance.present)
    mark_participation(session, find_drill(session, "D20261115-1"), [person],
                       DrillRole.participant, Attendance.present)
    curriculum = load_curriculum()
    report = issue(session, curriculum, b"k" * 32, as_of=AS_OF, person=person)
    assert report.issued
    [role] = trainee_status(session, curriculum, person, as_of=AS_OF).roles
    assert (role.status, role.certificate, role.valid_until) == \
        ("issued", report.issued[0], dt.date(2028, 11, 19))


def test_person_without_post_has_no_requirements(session, city):
    from sqlalchemy import update

    from records.models import Post

    zhaoliu = find_person(session, trainee_id="zhaoliu")
    session.execute(update(Post).where(Post.person_id == zhaoliu.id)
                    .values(end_date=dt.date(2026, 10, 31)))
    status = trainee_status(session, load_curriculum(), zhaoliu, as_of=AS_OF)
    assert status.roles == [] and status.modules == [] and status.hours_required == 0
    assert WEST_COMMUNITY  # the unit they left


# --------------------------------------------------------------------------- CLI

runner = CliRunner()


def test_admin_cli_grant_list_show_revoke(instance_env):
    from records import db

    assert runner.invoke(app, ["init"]).exit_code == 0
    engine = db.make_engine(f"sqlite:///{instance_env / 'safetrain.db'}")
    with db.session_factory(engine).begin() as session:
        build_city(session)
    engine.dispose()

    def run(*args: str):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        return result.exit_code, result.output

    code, out = run("admin", "grant", "dcadmin", "0101")
    assert code == 0 and "已授权" in out and EAST in out
    assert "没有变化" in run("admin", "grant", "dcadmin", EAST)[1]
    code, out = run("admin", "list", "--format", "csv")
    assert code == 0 and "dcadmin" in out and "0101" in out
    code, out = run("admin", "show", "wangwu", "--as-of", "2026-11-20")
    assert code == 0 and "王五" in out and "领导岗位" in out
    assert run("admin", "grant", "dcadmin", "9999")[0] == 1  # unknown unit: says so
    assert run("admin", "revoke", "dcadmin")[0] == 2  # neither a unit nor --all
    code, out = run("admin", "revoke", "dcadmin", "--all")
    assert code == 0 and "已撤销" in out
    assert "没有变化" in run("admin", "revoke", "dcadmin", "--all")[1]
