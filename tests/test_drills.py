"""Drills: register, participants (with residents), evaluation, actions to closure."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from records.drills import (
    DrillSpec,
    add_action,
    add_drill,
    drills_by_person,
    evaluate_drill,
    list_actions,
    list_drills,
    mark_participation,
    parse_drill_role,
    parse_drill_type,
    parse_form,
    parse_scope,
    update_action,
)
from records.errors import ImportRowsError, InputFileError, SafeTrainError
from records.idcard import mask
from records.importers.drills import import_drills, import_participation
from records.models import (
    ActionStatus,
    Attendance,
    Drill,
    DrillForm,
    DrillParticipation,
    DrillRole,
    DrillScope,
    DrillType,
    OrgUnit,
    Person,
)
from scripts.cli import app
from tests.helpers import UNIT_A, UNIT_B, add_people, write_csv, write_xlsx
from tests.test_training import PEOPLE, WANG, ZHANG, flat

D = dt.date
TITLE = "幸福社区消防疏散演练"


def unit(session, path: str) -> OrgUnit:
    return session.scalars(select(OrgUnit).where(OrgUnit.path == path)).one()


@pytest.fixture
def drill(session) -> Drill:
    add_people(session, PEOPLE)
    row, _ = add_drill(session, DrillSpec(
        TITLE, DrillType.fire_evacuation, DrillForm.live, DrillScope.single,
        unit(session, UNIT_A), D(2026, 10, 15), 60, "幸福社区火灾事故应急预案",
        "3号楼厨房起火", [unit(session, UNIT_B)], planned_participants=120, residents=30))
    return row


def test_words_for_type_form_scope_and_role():
    assert parse_drill_type("消防") is DrillType.fire_evacuation
    assert parse_drill_type("燃气泄漏") is DrillType.gas_leak
    assert parse_drill_type("防汛") is DrillType.flood
    assert parse_form("桌面推演") is DrillForm.tabletop and parse_form("实战") is DrillForm.live
    assert parse_scope("综合") is DrillScope.combined and parse_scope("专项") is DrillScope.single
    assert parse_drill_role("总指挥") is DrillRole.commander
    assert parse_drill_role("") is DrillRole.participant
    with pytest.raises(ValueError, match="消防疏散、地震避险"):
        parse_drill_type("踩踏")


def test_add_drill_is_idempotent_and_keeps_units(session, drill):
    spec = DrillSpec(TITLE, DrillType.fire_evacuation, DrillForm.live, DrillScope.single,
                     unit(session, UNIT_A), D(2026, 10, 15), 60, "幸福社区火灾事故应急预案",
                     "3号楼厨房起火", [unit(session, UNIT_B)], 120, 30)
    same, state = add_drill(session, spec)
    assert (same.id, same.code, state) == (drill.id, "D20261015-1", "unchanged")
    assert sorted(u.path for u in drill.units) == [UNIT_B, UNIT_A]
    _, state = add_drill(session, DrillSpec(**{**spec.__dict__, "duration_minutes": 90}))
    assert state == "updated" and drill.duration_minutes == 90


def test_participants_count_toward_actual_participation(session, drill):
    people = {p.id_number: p for p in session.scalars(select(Person))}
    mark_participation(session, drill, [people[WANG]], DrillRole.commander, Attendance.present)
    mark_participation(session, drill, [people[ZHANG]], DrillRole.evacuation, Attendance.absent)
    row = list_drills(session).iloc[0]
    assert (row["计划人数"], row["在册人员参演"], row["居民"], row["实际参演"]) == (120, 1, 30, 31)
    counted = dict(session.execute(drills_by_person(D(2026, 1, 1), D(2026, 12, 31))).all())
    assert counted == {people[WANG].id: 1}  # absent people did not take part


def test_participant_sheet_with_residents_and_title_row(session, drill, tmp_path):
    path = write_csv(tmp_path / "演练.csv", [
        f"{TITLE}参演人员签到（2026年10月15日）", "",
        "姓名,身份证号,单位,演练角色,签到",
        "王五,,朝阳街道,总指挥,到", f"张三,{ZHANG},,疏散引导,到",
        "李四,,朝阳街道,观摩,请假",
    ] + [f"居民{n},,,居民,到" for n in "甲乙丙丁戊"] * 8, "gbk")
    # 40 resident rows, five distinct names repeated: residents are counted, not matched.
    report = import_participation(session, path)
    assert report.target == drill.code and report.created == 3
    assert report.residents == 40  # more than the 30 recorded before, so raised
    roles = dict(session.execute(select(DrillParticipation.role, func.count())
                                 .group_by(DrillParticipation.role)).all())
    assert roles == {DrillRole.commander: 1, DrillRole.evacuation: 1, DrillRole.observer: 1}
    again = import_participation(session, path)
    assert (again.created, again.updated, again.unchanged, again.residents) == (0, 0, 3, 40)


def test_participant_sheet_refuses_unknown_staff_and_roles(session, drill, tmp_path):
    path = write_xlsx(tmp_path / "p.xlsx", ["姓名", "身份证号", "演练角色", "签到"],
                      [["赵六", "", "救护", "到"], ["王五", "", "指挥官兼厨师", "到"]],
                      title=None)
    with pytest.raises(ImportRowsError) as err:
        import_participation(session, path, drill=drill)
    messages = [str(e) for e in err.value.errors]
    assert "第2行" in messages[0] and "花名册中没有「赵六」" in messages[0]
    assert "第3行" in messages[1] and "未知演练角色" in messages[1]
    assert session.scalar(select(func.count()).select_from(DrillParticipation)) == 0


def test_evaluation_and_actions_to_closure(session, drill):
    assert evaluate_drill(session, drill, evaluated_on=D(2026, 10, 16), evaluator="街道应急办",
                          rating="良好", went_well=["3分钟疏散完毕"],
                          findings=["疏散指示灯损坏"]) == "created"
    assert evaluate_drill(session, drill, evaluated_on=D(2026, 10, 16), evaluator="街道应急办",
                          rating="良好", went_well=["3分钟疏散完毕"],
                          findings=["疏散指示灯损坏"]) == "unchanged"
    with pytest.raises(SafeTrainError, match="早于演练日期"):
        evaluate_drill(session, drill, evaluated_on=D(2026, 10, 14))
    with pytest.raises(SafeTrainError, match="优秀、良好、合格、不合格"):
        evaluate_drill(session, drill, evaluated_on=D(2026, 10, 16), rating="还行")

    lamp, state = add_action(session, drill, description="更换疏散指示灯", owner="物业公司",
                             due_on=D(2026, 11, 15))
    assert state == "created"
    assert add_action(session, drill, description="更换疏散指示灯", owner="物业公司",
                      due_on=D(2026, 11, 15))[1] == "unchanged"
    # Due on the 15th: not overdue that day, overdue the day after.
    assert list_actions(session, as_of=D(2026, 11, 15), overdue=True).empty
    late = list_actions(session, as_of=D(2026, 11, 16), overdue=True)
    assert late["逾期天数"].tolist() == [1] and late["状态"].tolist() == ["待整改"]

    with pytest.raises(SafeTrainError, match="--note"):
        update_action(session, lamp.id, ActionStatus.cancelled, on=D(2026, 11, 20))
    _, changed = update_action(session, lamp.id, ActionStatus.done, on=D(2026, 11, 20),
                               note="已更换12盏")
    assert changed and lamp.closed_on == D(2026, 11, 20)
    _, changed = update_action(session, lamp.id, ActionStatus.done, on=D(2026, 11, 25))
    assert not changed and lamp.closed_on == D(2026, 11, 20)  # closing again keeps the day
    assert list_actions(session, as_of=D(2026, 12, 1), overdue=True).empty
    assert list_actions(session, as_of=D(2026, 12, 1)).empty  # only open ones by default
    everything = list_actions(session, as_of=D(2026, 12, 1), include_closed=True)
    assert everything["完成日期"].tolist() == ["2026-11-20"]


def test_drill_register_import(session, tmp_path):
    add_people(session, PEOPLE)
    header = ["序号", "演练名称", "演练类型", "形式", "规模", "应急预案", "组织单位", "参演单位",
              "演练日期", "时长", "计划人数", "居民人数"]
    good = [1, "朝阳街道防汛综合演练", "防汛", "实战", "综合", "防汛应急预案", UNIT_B,
            "幸福社区、和平社区", D(2026, 7, 10), "2小时", 200, 60]
    bad = [2, "和平社区地震演练", "踩踏", "实战", "单项", "", "和平", "", "2026-13-01", "", "三十", ""]
    with pytest.raises(ImportRowsError) as err:
        import_drills(session, write_xlsx(tmp_path / "台账.xlsx", header, [good, bad]))
    text = " ".join(str(e) for e in err.value.errors)
    for words in ("未知演练类型「踩踏」", "相近的单位：安和市/东城区/朝阳街道/和平社区",
                  "日期「2026-13-01」不存在", "演练时长为空", "计划人数「三十」应为整数"):
        assert words in text, words
    assert session.scalar(select(func.count()).select_from(Drill)) == 0

    path = write_xlsx(tmp_path / "台账2.xlsx", header, [good])
    assert import_drills(session, path).created == 1
    assert import_drills(session, path).unchanged == 1
    row = list_drills(session).iloc[0]
    assert (row["类型"], row["形式"], row["规模"], row["时长(分钟)"], row["居民"]) == (
        "防汛", "实战演练", "综合演练", 120, 60)


def test_register_needs_a_type_column(session, tmp_path):
    path = write_csv(tmp_path / "x.csv", ["演练名称,日期", "演练,2026-01-01"])
    with pytest.raises(InputFileError, match="类型"):
        import_drills(session, path)


# --------------------------------------------------------------------------- CLI


runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_cli_drill_commands(instance_env, tmp_path):
    assert invoke("init").exit_code == 0
    roster = write_xlsx(tmp_path / "花名册.xlsx", ["姓名", "身份证号", "所属单位", "岗位", "任职日期"],
                        [list(p) for p in PEOPLE])
    invoke("roster", "import", str(roster), "--as-of", "2026-11-01")
    add = ["drill", "add", "--title", TITLE, "--type", "消防疏散", "--organizer", UNIT_A,
           "--date", "2026-10-15", "--minutes", "60", "--planned", "120", "--residents", "30",
           "--unit", UNIT_B, "--plan", "幸福社区火灾事故应急预案"]
    assert "已登记" in invoke(*add).output and "没有变化" in invoke(*add).output
    assert invoke("drill", "attend", "D20261015-1", WANG, "--role", "指挥").exit_code == 0
    bad_role = runner.invoke(app, ["drill", "attend", "D20261015-1", WANG, "--role", "厨师"])
    assert bad_role.exit_code == 2 and "指挥" in bad_role.output
    assert "已登记" in invoke("drill", "evaluate", "D20261015-1", "--finding", "指示灯坏",
                              "--rating", "良好", "--date", "2026-10-16").output
    assert "#1" in invoke("drill", "add-action", "D20261015-1", "更换指示灯", "--owner", "物业",
                          "--due", "2026-10-31").output
    overdue = invoke("drill", "actions", "--overdue", "--as-of", "2026-11-05", "--format", "csv")
    assert overdue.exit_code == 0 and "更换指示灯,物业,2026-10-31,待整改,5" in overdue.output
    assert "已完成" in invoke("drill", "close-action", "1", "--date", "2026-11-06").output
    none_left = invoke("drill", "actions", "--overdue", "--as-of", "2026-11-07", "--format", "csv")
    assert none_left.output.strip().count("\n") == 0
    listed = invoke("drill", "list", "--format", "csv").output
    assert "D20261015-1" in listed and ",120,1,30,31,良好,0" in listed
    shown = invoke("drill", "show", "D20261015-1")
    assert mask(WANG) in shown.output and WANG not in shown.output
    missing = invoke("drill", "show", "D20990101-1")
    assert missing.exit_code == 1 and "drilllist" in flat(missing.output)
