"""Training sessions, attendance and sign-in sheets, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from records.errors import ImportRowsError, InputFileError, NotFound, SafeTrainError
from records.idcard import mask
from records.importers.matching import find_person_ref
from records.importers.signin import import_signin
from records.models import Attendance, OrgUnit, Person, TrainingAttendance, TrainingKind
from records.training import (
    SessionSpec,
    add_session,
    hours_by_person,
    list_sessions,
    mark_attendance,
    parse_attendance,
    parse_kind,
    parse_minutes,
    session_attendance,
)
from scripts.cli import app
from tests.helpers import UNIT_A, UNIT_B, add_people, id_number, write_csv, write_xlsx

D = dt.date
UNIT_C = "安和市/东城区/朝阳街道/和平社区"
ZHANG, LI, WANG, ZHANG2 = (id_number(seq="451"), id_number(seq="123"),
                           id_number(region="320102", birth="19781103", seq="002"),
                           id_number(birth="19850101", seq="777"))
PEOPLE = [("张三", ZHANG, UNIT_A, "网格员", "2024-03-01"),
          ("李四", LI, UNIT_B, "专职安监员", "2024-03-01"),
          ("王五", WANG, UNIT_B, "主要领导", "2020-01-01"),
          ("张三", ZHANG2, UNIT_C, "网格员", "2025-01-01")]  # a second 张三, other community
TITLE = "朝阳街道应急知识集中培训"


def unit(session, path: str) -> OrgUnit:
    return session.scalars(select(OrgUnit).where(OrgUnit.path == path)).one()


@pytest.fixture
def training(session):
    add_people(session, PEOPLE)
    row, _ = add_session(session, SessionSpec(TITLE, TrainingKind.classroom, unit(session, UNIT_B),
                                              D(2026, 10, 20), 3.0, "王科长", "消防",
                                              ["rescue-fire"]), known_modules=["rescue-fire"])
    return row


def attendance_count(session) -> int:
    return session.scalar(select(func.count()).select_from(TrainingAttendance)) or 0


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(("text", "kind"), [
    ("集中培训", TrainingKind.classroom), ("集训", TrainingKind.classroom),
    ("讲座", TrainingKind.lecture), ("传帮带", TrainingKind.mentoring),
    ("以老带新", TrainingKind.mentoring), ("线上自学", TrainingKind.online),
    ("online", TrainingKind.online),
])
def test_kinds(text, kind):
    assert parse_kind(text) is kind


@pytest.mark.parametrize(("text", "status"), [
    ("出席", Attendance.present), ("是", Attendance.present), ("√", Attendance.present),
    ("迟到", Attendance.present), ("否", Attendance.absent), ("缺席", Attendance.absent),
    ("×", Attendance.absent), ("请假", Attendance.excused), ("病假", Attendance.excused),
    ("早退", Attendance.left_early), (" 出 席 ", Attendance.present),
])
def test_attendance_words(text, status):
    assert parse_attendance(text) is status


def test_unknown_words_name_the_choices():
    with pytest.raises(ValueError, match="集中培训、专题讲座、以老带新、线上自学"):
        parse_kind("开会")
    with pytest.raises(ValueError, match="出席、缺席、请假、早退"):
        parse_attendance("出差")


@pytest.mark.parametrize(("text", "minutes"), [
    ("90", 90), ("90分钟", 90), ("1.5小时", 90), ("1小时30分", 90), ("2h", 120), ("45 min", 45),
])
def test_minutes(text, minutes):
    assert parse_minutes(text) == minutes


def test_bad_minutes():
    with pytest.raises(ValueError, match="分钟数"):
        parse_minutes("半天")


# --------------------------------------------------------------------------- sessions


def test_add_session_is_idempotent_and_updates(session, training):
    spec = SessionSpec(TITLE, TrainingKind.classroom, unit(session, UNIT_B), D(2026, 10, 20), 3.0,
                       "王科长", "消防", ["rescue-fire"])
    same, state = add_session(session, spec, known_modules=["rescue-fire"])
    assert (same.id, same.code, state) == (training.id, "T20261020-1", "unchanged")
    longer = SessionSpec(**{**spec.__dict__, "hours": 4.0})
    _, state = add_session(session, longer, known_modules=["rescue-fire"])
    assert state == "updated" and training.hours == 4.0
    other = SessionSpec(**{**spec.__dict__, "title": "第二场"})
    second, _ = add_session(session, other, known_modules=["rescue-fire"])
    assert second.code == "T20261020-2"


def test_add_session_refuses_nonsense(session, training):
    base = SessionSpec("x", TrainingKind.lecture, unit(session, UNIT_B), D(2026, 10, 20), 3.0)
    with pytest.raises(SafeTrainError, match="不合理"):
        add_session(session, SessionSpec(**{**base.__dict__, "hours": 0}))
    with pytest.raises(SafeTrainError, match="未知模块：fire"):
        add_session(session, SessionSpec(**{**base.__dict__, "modules": ["fire"]}),
                    known_modules=["rescue-fire"])


def test_credited_hours_per_status(session, training):
    people = {p.id_number: p for p in session.scalars(select(Person))}
    mark_attendance(session, training, [people[ZHANG]], Attendance.present)
    mark_attendance(session, training, [people[LI]], Attendance.left_early, minutes=90)
    mark_attendance(session, training, [people[WANG]], Attendance.excused)
    mark_attendance(session, training, [people[ZHANG2]], Attendance.present, minutes=150)
    hours = dict(session.execute(hours_by_person(D(2026, 1, 1), D(2026, 12, 31))).all())
    assert hours == {people[ZHANG].id: 3.0, people[LI].id: 1.5, people[WANG].id: 0.0,
                     people[ZHANG2].id: 2.5}
    # Raising the session's length does not raise what an early leaver gets.
    training.hours = 4.0
    session.flush()
    hours = dict(session.execute(hours_by_person(D(2026, 1, 1), D(2026, 12, 31))).all())
    assert hours[people[ZHANG].id] == 4.0 and hours[people[LI].id] == 1.5
    df = session_attendance(session, training)
    assert set(df["身份证号"]) == {mask(n) for n in (ZHANG, LI, WANG, ZHANG2)}
    assert ZHANG not in df.to_csv()


def test_attendance_rules_and_idempotence(session, training):
    zhang = session.scalars(select(Person).where(Person.id_number == ZHANG)).one()
    with pytest.raises(SafeTrainError, match="早退须填写"):
        mark_attendance(session, training, [zhang], Attendance.left_early)
    with pytest.raises(SafeTrainError, match="超过培训时长 180 分钟"):
        mark_attendance(session, training, [zhang], Attendance.present, minutes=200)
    first = mark_attendance(session, training, [zhang], Attendance.present)
    again = mark_attendance(session, training, [zhang], Attendance.present)
    changed = mark_attendance(session, training, [zhang], Attendance.absent)
    assert (first.created, again.unchanged, changed.updated) == (1, 1, 1)
    assert attendance_count(session) == 1


def test_people_on_the_command_line(session, training):
    assert find_person_ref(session, LI).id_number == LI
    assert find_person_ref(session, "李四").id_number == LI
    with pytest.raises(NotFound, match="有 2 位「张三」") as err:
        find_person_ref(session, "张三")
    assert ZHANG not in str(err.value) and mask(ZHANG) in str(err.value)
    with pytest.raises(NotFound, match="校验位"):
        find_person_ref(session, ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1"))


# --------------------------------------------------------------------------- sign-in sheets


def gbk_sheet(tmp_path: Path, rows: list[str], title: str = f"2026年10月20日{TITLE}签到表") -> Path:
    lines = [title, ",,,,,", "序号,姓 名,身份证号（选填）,所在单位,签到情况,时长（分钟）,联系电话", *rows]
    return write_csv(tmp_path / "签到表.csv", lines, "gbk")


def test_gbk_csv_with_title_row_finds_its_session_and_imports(session, training, tmp_path):
    path = gbk_sheet(tmp_path, [f"1,张三,{ZHANG},,出席,,13800138000", "2,李四,,,早退,1.5小时,",
                                "3,王 五,,朝阳街道,请假,,", ",,,,,,"])
    report = import_signin(session, path)
    assert (report.target, report.rows, report.created) == (training.code, 3, 3)
    assert report.by_status == {"出席": 1, "早退": 1, "请假": 1}
    assert report.warnings == []  # 序号 and 联系电话 are expected, not worth a warning
    again = import_signin(session, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_messy_rows_are_all_reported_and_nothing_is_written(session, training, tmp_path):
    bad_checksum = ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1")
    path = gbk_sheet(tmp_path, [
        f"1,张三,{bad_checksum},,出席,,",   # row 4
        "2,张三,,,出席,,",                  # row 5: two 张三 in the street
        "3,李四,,,早退,,",                  # row 6: no minutes
        "4,王五,,,迟迟,,",                  # row 7
        "5,赵六,,,出席,,",                  # row 8: not in the roster
        "6,李四,,朝阳街道,出席,200,",       # row 9: longer than the session
    ])
    with pytest.raises(ImportRowsError) as err:
        import_signin(session, path)
    messages = [str(e) for e in err.value.errors]
    assert messages[0].startswith("签到表.csv 第4行「身份证号(选填)（C列）」：身份证号 1101********")
    assert "校验位不正确" in messages[0] and bad_checksum not in " ".join(messages)
    assert "第5行" in messages[1] and "有 2 位「张三」" in messages[1]
    assert mask(ZHANG) in messages[1] and mask(ZHANG2) in messages[1]
    assert "和平社区" in messages[1] and "请在本行填写身份证号" in messages[1]
    assert "第6行" in messages[2] and "早退须填写" in messages[2]
    assert "第7行" in messages[3] and "签到「迟迟」无法识别" in messages[3]
    assert "第8行" in messages[4] and "花名册中没有「赵六」" in messages[4]
    assert "第9行" in messages[5] and "超过培训时长 180 分钟" in messages[5]
    assert attendance_count(session) == 0


def test_same_name_is_resolved_by_unit_and_duplicates_refused(session, training, tmp_path):
    path = gbk_sheet(tmp_path, ["1,张三,,幸福社区,出席,,", "2,张三,,和平社区,缺席,,",
                                f"3,张三,{ZHANG},,出席,,"])
    with pytest.raises(ImportRowsError) as err:
        import_signin(session, path)
    [dup] = err.value.errors
    assert dup.row == 6 and "与第4行是同一人" in dup.reason


def test_xlsx_with_level_columns_and_yes_no(session, training, tmp_path):
    path = write_xlsx(tmp_path / "signin.xlsx", ["姓名", "街道", "社区", "是否参加"],
                      [["张三", "朝阳街道", "和平社区", "是"], ["李四", "朝阳街道", "", "否"]],
                      title=None)
    report = import_signin(session, path, training=training)
    assert report.by_status == {"出席": 1, "缺席": 1}
    zhang2 = session.scalars(select(Person).where(Person.id_number == ZHANG2)).one()
    status = session.scalar(select(TrainingAttendance.status)
                            .where(TrainingAttendance.person_id == zhang2.id))
    assert status is Attendance.present


def test_sheet_without_status_column_means_present(session, training, tmp_path):
    path = write_csv(tmp_path / "s.csv", ["姓名,身份证号", f"王五,{WANG}"])
    report = import_signin(session, path, training=training)
    assert report.by_status == {"出席": 1}
    assert any("没有「签到」列" in w for w in report.warnings)


def test_title_that_names_no_session_says_what_to_do(session, training, tmp_path):
    path = gbk_sheet(tmp_path, ["1,王五,,,出席,,"], title="2026年10月21日 消防讲座签到表")
    with pytest.raises(InputFileError, match="没有对应的已登记培训.*--session"):
        import_signin(session, path)
    no_title = write_csv(tmp_path / "plain.csv", ["姓名,签到", "王五,出席"])
    with pytest.raises(InputFileError, match="没有标题行"):
        import_signin(session, no_title)


def test_list_sessions_counts_by_status(session, training):
    people = session.scalars(select(Person)).all()
    mark_attendance(session, training, people[:3], Attendance.present)
    mark_attendance(session, training, people[3:], Attendance.absent)
    df = list_sessions(session, start=D(2026, 1, 1), end=D(2026, 12, 31))
    row = df.iloc[0]
    assert (row["编号"], row["形式"], row["出席"], row["缺席"]) == (training.code, "集中培训", 3, 1)
    assert list_sessions(session, unit=unit(session, UNIT_A)).empty


# --------------------------------------------------------------------------- CLI


runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def flat(text: str) -> str:
    """Output without the line breaks rich adds at 80 columns."""
    return "".join(text.split())


def test_cli_training_commands(instance_env, tmp_path):
    assert invoke("init").exit_code == 0
    roster = write_xlsx(tmp_path / "花名册.xlsx", ["姓名", "身份证号", "所属单位", "岗位", "任职日期"],
                        [[n, i, u, r, s] for n, i, u, r, s in PEOPLE])
    assert invoke("roster", "import", str(roster), "--as-of", "2026-11-01").exit_code == 0
    add = ["training", "add", "--title", TITLE, "--kind", "集中培训", "--organizer", UNIT_B,
           "--date", "2026-10-20", "--hours", "3", "--module", "rescue-fire"]
    assert "已登记" in invoke(*add).output
    assert "没有变化" in invoke(*add).output
    bad = runner.invoke(app, [*add[:5], "开会", *add[6:]])
    assert bad.exit_code == 2 and "集中培训、专题讲座" in bad.output

    ambiguous = invoke("training", "attend", "T20261020-1", "张三")
    assert ambiguous.exit_code == 1 and "有2位「张三」" in flat(ambiguous.output)
    assert ZHANG not in ambiguous.output
    early = invoke("training", "attend", "T20261020-1", LI, "--status", "早退")
    assert early.exit_code == 1 and "早退须填写" in flat(early.output)
    ok = invoke("training", "attend", "T20261020-1", LI, "王五", "--status", "早退",
                "--minutes", "60")
    assert ok.exit_code == 0 and "新增 created: 2" in ok.output

    sheet = gbk_sheet(tmp_path, [f"1,张三,{ZHANG},,出席,,"])
    dry = invoke("training", "import-signin", str(sheet), "--dry-run")
    assert dry.exit_code == 0 and "试运行" in dry.output
    real = invoke("training", "import-signin", str(sheet))
    assert "已写入签到" in real.output
    assert "没有变化" in invoke("training", "import-signin", str(sheet)).output
    bad_sheet = gbk_sheet(tmp_path, ["1,张三,,,出席,,"])
    refused = invoke("training", "import-signin", str(bad_sheet))
    assert refused.exit_code == 2 and "未导入任何数据" in flat(refused.output)

    shown = invoke("training", "show", "T20261020-1", "--format", "csv")
    assert shown.exit_code == 0 and ZHANG not in shown.output and mask(ZHANG) in shown.output
    listed = invoke("training", "list", "--year", "2026", "--format", "json")
    assert '"出席": 1' in listed.output and '"早退": 2' in listed.output
    hours = invoke("training", "hours", "--as-of", "2026-11-01", "--format", "csv")
    lines = hours.output.strip().splitlines()
    assert lines[0] == "单位,姓名,身份证号,角色,近12个月学时,要求学时,差额,结论"
    assert any(line.startswith(f"{UNIT_B},王五,{mask(WANG)},主要领导,1.0,12.0,11.0,不足")
               for line in lines), lines
    assert all(i not in hours.output for i in (ZHANG, LI, WANG, ZHANG2))
