"""Reports on a small hand-built city whose answers are worked out by hand (both databases).

安和市/东城区 has two streets. 朝阳街道 holds three communities: 幸福社区, 和平社区 and
空白社区 (no one in it). 光明街道 has two new inspectors and nothing else. November 2026:

- 周 (grid worker) moves from 幸福 to 和平 on 11-16; H (staff, 幸福) leaves on 11-03 and
  I (staff, 和平) on 11-25, both for good; 钱 is deputy leader of both 朝阳街道 and 和平社区.
- Sessions: T0 幸福 10-15 (outside the period), T1 幸福 11-05, T2 幸福 11-20,
  T3 和平 11-18, T4 朝阳街道 11-10; who attended is set out in `city()`.
- Drills: DR1 幸福 11-12, DR2 和平 06-01 (an action overdue since 07-01), DR3 朝阳街道
  11-20 with 空白社区 listed as taking part.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from records import db
from records.curriculum import load_curriculum
from records.drills import DrillSpec, add_action, add_drill, mark_participation, update_action
from records.models import (
    ActionStatus,
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
from records.org import ensure_units
from records.reports import (
    REPORTS,
    Period,
    certificates,
    coverage,
    drills,
    leaders,
    onboarding,
    resolve_scope,
    spot_check,
    turnover,
)
from records.reports import monthly as monthly_report
from records.reports.base import column_kind
from records.reports.period import add_months
from records.roles import Role
from records.training import SessionSpec, add_session, mark_attendance
from tests.helpers import add_people, id_number, pass_modules
from writers.bundle import worker_pool

D = dt.date
NOV = "2026-11"
END = D(2026, 11, 30)
CITY, DISTRICT = "安和市", "安和市/东城区"
STREET, STREET2 = "安和市/东城区/朝阳街道", "安和市/东城区/光明街道"
XINGFU, HEPING, EMPTY = STREET + "/幸福社区", STREET + "/和平社区", STREET + "/空白社区"
LAWS = ["law-work-safety", "law-emergency-response", "law-training-rules"]
RESCUE = ["rescue-fire", "rescue-first-aid", "rescue-disasters"]

# name: (unit, role, start); 钱 holds two posts.
PEOPLE = [
    ("张主任", XINGFU, "主要领导", "2020-01-01"), ("王副主任", XINGFU, "分管领导", "2020-01-01"),
    ("网格甲", XINGFU, "网格员", "2021-01-01"), ("网格乙", XINGFU, "网格员", "2021-01-01"),
    ("工作丙", XINGFU, "工作人员", "2021-01-01"), ("志愿戊", XINGFU, "志愿者", "2022-01-01"),
    ("周网格", XINGFU, "网格员", "2022-01-01"), ("离职H", XINGFU, "工作人员", "2025-01-01"),
    ("赵主任", HEPING, "主要领导", "2020-01-01"), ("钱副书记", HEPING, "分管领导", "2020-01-01"),
    ("网格丁", HEPING, "网格员", "2021-01-01"), ("离职I", HEPING, "工作人员", "2021-01-01"),
    ("孙书记", STREET, "主要领导", "2019-01-01"), ("钱副书记", STREET, "分管领导", "2020-01-01"),
    ("安监E", STREET, "专职安监员", "2020-03-01"),
    ("新安监F", STREET2, "专职安监员", "2026-09-01"), ("新安监G", STREET2, "专职安监员", "2026-07-01"),
]


def _numbers() -> dict[str, str]:
    names = dict.fromkeys(name for name, *_ in PEOPLE)
    return {name: id_number(seq=f"{100 + i:03d}") for i, name in enumerate(names)}


NUMBERS = _numbers()


def unit(session, path: str) -> OrgUnit:
    return session.scalars(select(OrgUnit).where(OrgUnit.path == path)).one()


def city(session) -> dict[str, int]:
    """Build the city above; returns {name: person id}."""
    ensure_units(session, [tuple(EMPTY.split("/"))])
    ids = add_people(session, [(name, NUMBERS[name], path, role, start)
                               for name, path, role, start in PEOPLE], as_of=D(2026, 1, 1))
    # 周 moves to 和平 on 11-16; H and I leave for good.
    add_people(session, [("周网格", NUMBERS["周网格"], HEPING, "网格员", "2026-11-16")],
               as_of=D(2026, 11, 16))
    for name, day in (("离职H", D(2026, 11, 3)), ("离职I", D(2026, 11, 25))):
        session.execute(update(Post).where(Post.person_id == ids[name]).values(end_date=day))
    person = {name: session.get(Person, pid) for name, pid in ids.items()}

    def training(path: str, day: dt.date, hours: float, marks: dict[str, tuple]) -> None:
        row, _ = add_session(session, SessionSpec(f"{path[-4:]}{day}培训", TrainingKind.classroom,
                                                  unit(session, path), day, hours))
        for name, (status, *minutes) in marks.items():
            mark_attendance(session, row, [person[name]], status,
                            minutes=minutes[0] if minutes else None)

    P, A, E, L = Attendance.present, Attendance.absent, Attendance.excused, Attendance.left_early
    training(XINGFU, D(2026, 10, 15), 2.0, {"网格甲": (P,), "周网格": (P,), "离职H": (P,)})
    training(XINGFU, D(2026, 11, 5), 2.0, {"张主任": (A,), "王副主任": (E,), "网格甲": (P,),
                                           "网格乙": (P,), "工作丙": (L, 60), "周网格": (P,)})
    training(XINGFU, D(2026, 11, 20), 3.0, {"王副主任": (P,), "网格甲": (P,), "网格乙": (A,),
                                            "工作丙": (P,), "周网格": (P,)})
    training(HEPING, D(2026, 11, 18), 2.0, {"赵主任": (P,), "钱副书记": (A,), "网格丁": (P,),
                                            "周网格": (P,)})
    training(STREET, D(2026, 11, 10), 4.0, {"孙书记": (P,), "安监E": (P,)})

    def drill(path: str, day: dt.date, kind: DrillType, form: DrillForm, marks: dict,
              units: tuple[str, ...] = (), planned: int | None = None,
              residents: int = 0, scope: DrillScope = DrillScope.single):
        row, _ = add_drill(session, DrillSpec(
            f"{path[-4:]}{kind.label}演练", kind, form, scope, unit(session, path), day, 60,
            units=[unit(session, u) for u in units], planned_participants=planned,
            residents=residents))
        for name, status in marks.items():
            mark_participation(session, row, [person[name]], DrillRole.participant, status)
        return row

    drill(XINGFU, D(2026, 11, 12), DrillType.fire_evacuation, DrillForm.live,
          {"网格甲": P, "张主任": A, "网格乙": L}, planned=30, residents=10)
    dr2 = drill(HEPING, D(2026, 6, 1), DrillType.flood, DrillForm.tabletop, {"网格丁": P})
    late, _ = add_action(session, dr2, description="补充沙袋", owner="赵主任", due_on=D(2026, 7, 1))
    done, _ = add_action(session, dr2, description="更新名单", owner="网格丁", due_on=D(2026, 7, 1))
    update_action(session, done.id, ActionStatus.done, on=D(2026, 6, 20))
    drill(STREET, D(2026, 11, 20), DrillType.earthquake, DrillForm.live,
          {"孙书记": P, "安监E": P}, units=(EMPTY,), planned=5, scope=DrillScope.combined)

    pass_modules(session, ids["网格甲"], LAWS + RESCUE)
    pass_modules(session, ids["网格乙"], LAWS + RESCUE[:2])
    pass_modules(session, ids["安监E"], LAWS + RESCUE + ["inspector-practice"])
    pass_modules(session, ids["志愿戊"], RESCUE)
    pass_modules(session, ids["新安监F"], LAWS,
                 graded_at=dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.UTC))
    # Passed after the report's last day: does not count.
    pass_modules(session, ids["张主任"], LAWS + RESCUE,
                 graded_at=dt.datetime(2026, 12, 5, 2, 0, tzinfo=dt.UTC))

    def cert(name: str, path: str, role: Role, start: dt.date, until: dt.date,
             issued: dt.date | None = None, revoked: dt.date | None = None) -> None:
        number = f"T-{len(session.scalars(select(Certificate.id)).all()) + 1:04d}"
        session.add(Certificate(
            number=number, code=f"CODE-{number}", person_id=ids[name], role=role,
            unit_id=unit(session, path).id, holder_name=name, unit_path=path,
            issued_on=issued or start, valid_from=start, valid_until=until, revoked_on=revoked,
            revoked_reason="核查不实" if revoked else None))
        session.flush()

    cert("网格甲", XINGFU, Role.grid_worker, D(2024, 12, 21), D(2026, 12, 20))  # 20 days left
    cert("安监E", STREET, Role.inspector, D(2024, 3, 1), D(2027, 2, 28))  # 90 days left
    cert("孙书记", STREET, Role.principal_leader, D(2023, 12, 11), D(2026, 12, 10))
    cert("孙书记", STREET, Role.principal_leader, D(2026, 12, 11), D(2029, 12, 10),
         issued=D(2026, 11, 20))  # already renewed
    cert("工作丙", XINGFU, Role.staff, D(2024, 11, 1), D(2026, 10, 31))  # lapsed 30 days ago
    cert("网格丁", HEPING, Role.grid_worker, D(2025, 6, 1), D(2027, 5, 31),
         revoked=D(2026, 11, 10))
    session.flush()
    return ids


@pytest.fixture
def ids(session) -> dict[str, int]:
    return city(session)


def row(df: pd.DataFrame, path: str, column: str = "单位") -> pd.Series:
    match = df[df[column] == path]
    assert len(match) == 1, f"{path} appears {len(match)} times"
    return match.iloc[0]


def nan(value) -> bool:
    return value is None or pd.isna(value)


# --------------------------------------------------------------------------- period


@pytest.mark.parametrize(("text", "start", "end", "code", "label"), [
    ("2026-11", D(2026, 11, 1), D(2026, 11, 30), "2026-11", "2026年11月"),
    ("2026年2月", D(2026, 2, 1), D(2026, 2, 28), "2026-02", "2026年2月"),
    ("2026-Q4", D(2026, 10, 1), D(2026, 12, 31), "2026-Q4", "2026年第四季度"),
    ("2026q1", D(2026, 1, 1), D(2026, 3, 31), "2026-Q1", "2026年第一季度"),
    ("2026年第三季度", D(2026, 7, 1), D(2026, 9, 30), "2026-Q3", "2026年第三季度"),
    ("2026", D(2026, 1, 1), D(2026, 12, 31), "2026", "2026年"),
])
def test_period_parses_month_quarter_year(text, start, end, code, label):
    period = Period.parse(text)
    assert (period.start, period.end, period.code, period.label) == (start, end, code, label)
    assert Period.parse(period.code) == period


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "11月", "last month", ""])
def test_period_rejects_nonsense(text):
    with pytest.raises(ValueError, match="统计期"):
        Period.parse(text)


def test_add_months_clamps_to_month_end():
    assert add_months(D(2026, 8, 31), -6) == D(2026, 2, 28)
    assert add_months(D(2026, 11, 30), -12) == D(2025, 11, 30)
    assert add_months(D(2026, 1, 15), 13) == D(2027, 2, 15)


def test_scope_defaults_and_limits(session, ids):
    scope = resolve_scope(session, period=NOV, today=D(2026, 11, 25))
    assert (scope.start, scope.end, scope.unit_path) == (D(2026, 11, 1), D(2026, 11, 25), CITY)
    assert resolve_scope(session, period=NOV, as_of=D(2027, 1, 1)).end == END
    assert resolve_scope(session, as_of=D(2026, 10, 9)).period == Period.parse("2026-10")
    from records.errors import SafeTrainError

    with pytest.raises(SafeTrainError, match="早于"):
        resolve_scope(session, period="2026-12", today=D(2026, 11, 25))
    with pytest.raises(SafeTrainError, match="统计期"):
        resolve_scope(session, period="2026-13")


# --------------------------------------------------------------------------- coverage


def test_coverage_counts_people_where_they_are_and_rolls_up(session, ids):
    df = coverage.by_unit(session, period=NOV, as_of=END)
    assert list(df["单位"][:3]) == [CITY, DISTRICT, STREET]  # tree order
    xf = row(df, XINGFU)
    assert (xf["主要领导"], xf["分管领导"], xf["网格员"], xf["工作人员"], xf["志愿者"],
            xf["在岗人数"]) == (1, 1, 2, 1, 1, 6)  # 周 moved out, H left
    assert xf["必修模块通过率%"] == 33.3  # 网格甲 and 志愿戊 of 6
    assert xf["本期学时达标率%"] == 66.7  # 王, 甲, 乙, 丙 (left early after 60 min: 1 h)
    assert xf["本期演练参与率%"] == 33.3  # 甲 present, 乙 left early; 张 absent
    assert (xf["持证人数"], xf["即将到期"], xf["已过期"]) == (1, 1, 1)
    hp = row(df, HEPING)
    assert (hp["网格员"], hp["在岗人数"], hp["本期学时达标率%"]) == (2, 4, 75.0)
    st = row(df, STREET)
    # 钱 holds posts in 朝阳街道 and 和平社区: one person in the street's total.
    assert (st["分管领导"], st["在岗人数"]) == (2, 12)
    assert st["必修模块通过率%"] == 25.0  # 甲, 戊, E
    assert st["本期学时达标率%"] == 75.0
    assert (st["本期演练参与率%"], st["近12个月演练参与率%"]) == (33.3, 41.7)
    assert (st["持证人数"], st["持证率%"], st["即将到期"], st["已过期"]) == (3, 25.0, 1, 1)
    assert row(df, CITY)["在岗人数"] == 14 and row(df, STREET2)["专职安监员"] == 2
    empty = row(df, EMPTY)
    assert empty["在岗人数"] == 0 and nan(empty["必修模块通过率%"]) and nan(empty["持证率%"])


def test_coverage_for_a_quarter_prorates_hours(session, ids):
    df = coverage.by_unit(session, period="2026-Q4", as_of=D(2026, 12, 31))
    # 92 days: grid workers and staff need 8 × 92/365 ≈ 2.02 h, leaders 3.02 h.
    xf = row(df, XINGFU)
    assert xf["本期学时达标率%"] == 33.3  # 甲 7, 丙 4; 乙 2 and 王 3 fall just short


def test_coverage_limited_to_a_unit(session, ids):
    df = coverage.by_unit(session, period=NOV, as_of=END, unit=HEPING)
    assert list(df["单位"]) == [HEPING]
    assert row(df, HEPING)["在岗人数"] == 4
    by_code = coverage.by_unit(session, period=NOV, as_of=END, unit=unit(session, STREET).code)
    assert set(by_code["单位"]) == {STREET, XINGFU, HEPING, EMPTY}
    assert row(by_code, STREET)["在岗人数"] == 12


# --------------------------------------------------------------------------- leaders


def test_leaders_rates_gaps_and_rollup(session, ids):
    df = leaders.by_unit(session, period=NOV, as_of=END)
    xf = row(df, XINGFU)
    # 张: absent T1, not on the T2 sheet; 王: excused T1 (not counted), present T2.
    assert (xf["场次"], xf["主要领导参训率%"], xf["分管领导参训率%"], xf["领导参训率%"]) == \
        (2, 0.0, 100.0, 33.3)
    # Staff: T1 甲 乙 丙(left early) 周 all in; T2 甲 丙 in, 乙 absent; 周 no longer expected.
    assert (xf["工作人员应到人次"], xf["工作人员实到人次"], xf["工作人员参训率%"]) == (7, 6, 85.7)
    assert (xf["领导差距(百分点)"], xf["主要领导差距(百分点)"], xf["分管领导差距(百分点)"]) == \
        (-52.4, -85.7, 14.3)
    assert (xf["领导应到人次"], xf["领导实到人次"], xf["领导请假人次"], xf["领导缺席人次"],
            xf["领导无签到记录人次"], xf["缺训领导人数"]) == (4, 1, 1, 1, 1, 1)
    hp = row(df, HEPING)  # 周 expected here from 11-16; I expected (left 11-25) but not on sheet
    assert (hp["工作人员应到人次"], hp["工作人员实到人次"], hp["领导参训率%"]) == (3, 2, 50.0)
    st = row(df, STREET)
    # The street's headline is its own (本级) T4: 孙 present, 钱 not on the sheet, E present.
    assert (st["口径"], st["场次"], st["主要领导参训率%"], st["分管领导参训率%"], st["领导参训率%"],
            st["工作人员参训率%"], st["领导差距(百分点)"]) == ("本级", 1, 100.0, 0.0, 50.0, 100.0, -50.0)
    assert (st["含下级场次"], st["含下级领导参训率%"], st["含下级工作人员参训率%"],
            st["含下级领导差距(百分点)"]) == (4, 42.9, 81.8, -38.9)
    # 钱 missed at both of his units: one leader in the street's pooled count.
    assert (st["领导缺席人次"], st["领导无签到记录人次"], st["缺训领导人数"]) == (0, 1, 1)
    assert st["含下级缺训领导人数"] == 2
    assert row(df, CITY)["领导差距(百分点)"] == -38.9
    for path in (EMPTY, STREET2):
        r = row(df, path)
        assert r["场次"] == 0 and nan(r["领导参训率%"]) and nan(r["领导差距(百分点)"])
    # Level by level, worst first, nothing to compare last.
    assert list(df["单位"]) == [CITY, DISTRICT, STREET, STREET2, XINGFU, HEPING, EMPTY]


def test_leaders_named_with_masked_ids(session, ids):
    df = leaders.missed(session, period=NOV, as_of=END)
    assert list(zip(df["姓名"], df["单位"], strict=True)) == [
        ("张主任", XINGFU), ("钱副书记", HEPING), ("钱副书记", STREET), ("王副主任", XINGFU)] or \
        list(zip(df["姓名"], df["单位"], strict=True)) == [
        ("张主任", XINGFU), ("钱副书记", STREET), ("钱副书记", HEPING), ("王副主任", XINGFU)]
    zhang = row(df, "张主任", "姓名")
    assert (zhang["应参加场次"], zhang["参加"], zhang["缺席"], zhang["无签到记录"], zhang["缺训场次"],
            zhang["参训率%"]) == (2, 0, 1, 1, 2, 0.0)
    assert zhang["未参加（编号）"] == "T20261105-1（缺席）、T20261120-1（无签到记录）"
    assert zhang["身份证号"] == NUMBERS["张主任"][:4] + "********" + NUMBERS["张主任"][-4:]
    wang = row(df, "王副主任", "姓名")
    assert (wang["请假"], wang["缺训场次"], wang["参训率%"]) == (1, 0, 100.0)
    assert not df["身份证号"].str.fullmatch(r"\d{17}[\dX]").any()


def test_leaders_for_drills(session, ids):
    df = leaders.by_unit(session, period=NOV, as_of=END, activity="drill")
    xf = row(df, XINGFU)  # DR1 on 11-12: 周 still in 幸福; 王, 丙, 周 not on the list
    assert (xf["场次"], xf["主要领导参训率%"], xf["分管领导参训率%"], xf["工作人员参训率%"]) == \
        (1, 0.0, 0.0, 50.0)
    st = row(df, STREET)  # its own DR3: 孙 and E present, 钱 not on the list
    assert (st["场次"], st["主要领导参训率%"], st["分管领导参训率%"], st["工作人员参训率%"]) == \
        (1, 100.0, 0.0, 100.0)
    # Pooled: DR1 and DR3 (DR3 lists 空白社区 too: still one drill)
    assert (st["含下级场次"], st["含下级工作人员参训率%"]) == (2, 60.0)
    both = leaders.by_unit(session, period=NOV, as_of=END, activity="all")
    assert (row(both, STREET)["场次"], row(both, STREET)["含下级场次"]) == (2, 6)


# --------------------------------------------------------------------------- certificates


def test_certificates_by_unit_and_people(session, ids):
    df = certificates.by_unit(session, period=NOV, as_of=END)
    st = row(df, STREET)
    assert (st["在岗人数"], st["持证人数"], st["30天内到期"], st["60天内到期"], st["90天内到期"],
            st["已过期"], st["已撤销"]) == (12, 3, 1, 1, 2, 1, 1)
    xf = row(df, XINGFU)
    assert (xf["持证人数"], xf["30天内到期"], xf["已过期"]) == (1, 1, 1)
    assert row(df, EMPTY)["在岗人数"] == 0 and nan(row(df, EMPTY)["持证率%"])
    people = certificates.people(session, period=NOV, as_of=END)
    assert list(people["姓名"]) == ["网格甲", "安监E", "工作丙"]  # 孙 renewed: not listed
    assert list(people["状态"]) == ["30天内到期", "90天内到期", "已过期 30 天"]
    assert list(people["剩余天数"][:2]) == [20, 90]
    assert people.iloc[2]["有效期至"] == "2026-10-31"


# --------------------------------------------------------------------------- drills


def test_drills_by_unit(session, ids):
    df = drills.by_unit(session, period=NOV, as_of=END)
    xf = row(df, XINGFU)
    assert (xf["本期演练次数"], xf["近12个月演练次数"], xf["本单位最近演练日期"], xf["本期无演练"]) == \
        (1, 1, "2026-11-12", "")
    assert (xf["计划参演人数"], xf["实际参演人数"], xf["参演完成率%"]) == (30, 12, 40.0)
    hp = row(df, HEPING)
    assert (hp["本期无演练"], hp["近12个月无演练"], hp["逾期整改项"]) == ("是", "", 1)
    assert nan(hp["参演完成率%"])  # its drill had no plan
    assert row(df, EMPTY)["本期演练次数"] == 1  # listed as taking part in DR3
    st = row(df, STREET)
    assert (st["本期演练次数"], st["近12个月演练次数"], st["下属社区近12个月无演练数"],
            st["计划参演人数"], st["实际参演人数"], st["逾期整改项"]) == (2, 3, 0, 35, 14, 1)
    st2 = row(df, STREET2)
    assert (st2["本期演练次数"], st2["本期无演练"], st2["近12个月无演练"]) == (0, "是", "是")
    assert row(df, CITY)["本期无演练"] == ""  # only streets and communities are expected to drill
    six = drills.by_unit(session, period=NOV, as_of=END, months=3)
    assert row(six, HEPING)["近3个月无演练"] == "是"
    assert row(six, STREET)["下属社区近3个月无演练数"] == 1


def test_drills_by_type_and_overdue_actions(session, ids):
    types = drills.by_type(session, period=NOV, as_of=END)
    assert list(types["演练类型"]) == ["消防疏散", "地震避险", "合计"]
    total = row(types, "合计", "演练类型")
    assert (total["实战演练"], total["桌面演练"], total["其中综合演练"], total["合计"],
            total["在册人员参演人次"], total["居民参演人次"]) == (2, 0, 1, 2, 4, 10)
    actions = drills.overdue_actions(session, period=NOV, as_of=END)
    assert list(actions["整改措施"]) == ["补充沙袋"]
    assert actions.iloc[0]["逾期天数"] == 152


# --------------------------------------------------------------------------- onboarding, turnover


def test_onboarding_new_inspectors(session, ids):
    df = onboarding.people(session, period=NOV, as_of=END)
    assert list(df["姓名"]) == ["新安监G", "新安监F"]  # overdue first; E started in 2020
    g, f = df.iloc[0], df.iloc[1]
    assert (g["必修模块通过"], g["岗前期限"], g["期限状态"], g["逾期天数"]) == \
        ("0/7", "2026-09-29", "逾期 62 天", 62)
    assert (f["必修模块通过"], f["岗前期限"], f["期限状态"], f["在岗天数"]) == \
        ("3/7", "2026-11-30", "剩余 0 天", 90)
    assert "检查与隐患治理" in f["未通过模块"]
    grid = onboarding.people(session, period=NOV, as_of=END, roles=[Role.grid_worker],
                             within_days=400)
    assert grid.empty and list(grid.columns) == list(df.columns)


def test_turnover_by_unit_and_people(session, ids):
    df = turnover.by_unit(session, period=NOV, as_of=END)
    xf = row(df, XINGFU)
    assert (xf["本期离岗人数"], xf["培训后6个月内离岗"], xf["流失学时"]) == (2, 2, 6.0)
    hp = row(df, HEPING)  # I left without ever being trained
    assert (hp["本期离岗人数"], hp["培训后6个月内离岗"]) == (1, 0)
    st = row(df, STREET)
    assert (st["本期离岗人数"], st["培训后6个月内离岗"], st["培训后6个月内离岗占比%"]) == \
        (3, 2, 66.7)
    people = turnover.people(session, period=NOV, as_of=END).set_index("姓名")
    assert set(people.index) == {"周网格", "离职H"}
    assert (people.loc["周网格", "最近培训日期"], people.loc["周网格", "培训后天数"],
            people.loc["周网格", "期间培训场次"], people.loc["周网格", "期间培训学时"]) == \
        ("2026-11-05", 10, 2, 4.0)
    assert people.loc["周网格", "去向"] == f"{HEPING}（网格员）"
    assert people.loc["离职H", "去向"] == "不在花名册（离开）"
    # Within 1 month (30 days): 周's T1 was 10 days before, H's T0 19 days: both still count.
    assert row(turnover.by_unit(session, period=NOV, as_of=END, months=1), XINGFU)[
        "培训后1个月内离岗"] == 2


# --------------------------------------------------------------------------- spot-check


def test_draw_is_reproducible_and_local():
    streets = {"01": [f"01{i:02d}" for i in range(10)], "02": [f"02{i:02d}" for i in range(12)]}
    first = spot_check.draw(streets, 0.2, seed=7)
    assert first == spot_check.draw(streets, 0.2, seed=7)
    assert len([c for c in first if c.startswith("01")]) == 2  # ⌈20% × 10⌉
    assert len([c for c in first if c.startswith("02")]) == 3  # ⌈20% × 12⌉
    assert first != spot_check.draw(streets, 0.2, seed=8)
    # Another district gaining streets does not change this one's sample.
    grown = {**streets, "02": streets["02"] + ["0299"]}
    assert [c for c in spot_check.draw(grown, 0.2, seed=7) if c.startswith("01")] == \
        [c for c in first if c.startswith("01")]
    assert len(spot_check.draw({"x": ["a"] * 0 + ["a1", "a2", "a3"]}, 0.1, seed=1)) == 1


def test_spot_check_sample(session, ids):
    df = spot_check.sample(session, period=NOV, as_of=END, seed=42)
    assert df.attrs["seed"] == 42
    assert list(df["抽查层级"]) == ["街道/乡镇", "社区/村"]  # ⌈20% × 2⌉ streets, ⌈10% × 3⌉
    again = spot_check.sample(session, period=NOV, as_of=END, seed=42)
    assert list(again["单位代码"]) == list(df["单位代码"])
    everything = spot_check.sample(session, period=NOV, as_of=END, seed=1, street_rate=1.0,
                                   community_rate=1.0)
    st = row(everything, STREET)
    assert (st["在岗人数"], st["本期培训场次"], st["本期培训签到人次"], st["本期演练次数"]) == \
        (12, 4, 13, 2)
    assert row(everything, EMPTY)["本期演练次数"] == 1
    fresh = spot_check.sample(session, period=NOV, as_of=END)
    assert 100000 <= fresh.attrs["seed"] <= 999999


# --------------------------------------------------------------------------- monthly


def test_monthly_bundle_and_summary(session, ids):
    bundle = monthly_report.build(session, period=NOV, as_of=END, seed=5, min_sample=1)
    keys = [s.key for s in bundle.sheets]
    assert keys == ["coverage/units", "leaders/units", "leaders/named", "certificates/units",
                    "certificates/people", "drills/units", "drills/types", "drills/actions",
                    "onboarding/people", "turnover/units", "turnover/people", "spot-check/sample"]
    text = "\n".join(bundle.summary)
    # The street's own (本级) T4: leaders 1 of 2, its staff 1 of 1.
    assert "本月 1 个街道/乡镇（共 1 个样本足够）本级领导参训率低于本单位工作人员，平均低 50 个百分点" in text
    assert "安和市/东城区/朝阳街道（领导 50%，应到 2 人次；工作人员 100%，应到 1 人次）" in text
    assert "安和市（含下级）领导参训率 42.9%，比工作人员（81.8%）低 38.9 个百分点" in text
    assert "2 名领导有缺训" in text and "随机种子 5" in text
    assert "本月离岗 3 人，其中 2 人在培训后 6 个月内离岗" in text
    # Same answers as calling each report on its own.
    pd.testing.assert_frame_equal(bundle.sheet("leaders/units").df,
                                  leaders.by_unit(session, period=NOV, as_of=END, min_sample=1))
    no_id = re.compile(r"\d{17}[\dX]")
    for sheet in bundle.sheets:
        for column in sheet.df.columns:
            assert re.search(r"[\u4e00-\u9fff]", str(column)), f"{sheet.key}: {column}"
            values = sheet.df[column].astype(str)
            assert not values.str.contains(no_id).any(), f"full ID in {sheet.key}/{column}"


@pytest.fixture
def committed(engine) -> Iterator[Session]:
    """The city committed (workers read only what is committed), and a session to read it."""
    with db.session_factory(engine).begin() as session:
        city(session)
    with db.session_factory(engine).begin() as session:
        yield session


def test_monthly_on_worker_processes_gives_the_same_bundle(committed, db_url):
    alone = monthly_report.build(committed, period=NOV, as_of=END, seed=5)
    pool = worker_pool(db_url, 2)
    assert pool is not None
    arrived: list[str] = []
    try:
        together = monthly_report.build(committed, period=NOV, as_of=END, seed=5, pool=pool,
                                        on_sheet=lambda sheet: arrived.append(sheet.key))
    finally:
        pool.shutdown()
    assert sorted(arrived) == sorted(s.key for s in alone.sheets)  # each sheet once
    assert together.summary == alone.summary
    for one, other in zip(alone.sheets, together.sheets, strict=True):
        assert (one.key, one.name, one.title, one.note) == \
            (other.key, other.name, other.title, other.note)
        pd.testing.assert_frame_equal(one.df, other.df)


def test_a_failing_job_on_a_worker_reaches_the_caller(committed, db_url, monkeypatch):
    def broken(*args):
        raise RuntimeError("job failed")

    monkeypatch.setitem(monthly_report.JOBS, "leaders", broken)  # before the fork
    pool = worker_pool(db_url, 2)
    try:
        with pytest.raises(RuntimeError, match="job failed"):
            monthly_report.build(committed, period=NOV, as_of=END, seed=5, pool=pool)
    finally:
        pool.shutdown()


def test_no_worker_pool_where_it_cannot_help(tmp_path):
    assert worker_pool("sqlite://") is None
    assert worker_pool("sqlite:///:memory:") is None
    assert worker_pool(f"sqlite:///{tmp_path / 'r.db'}", 1) is None


@pytest.mark.postgres
def test_workers_read_the_parents_snapshot_on_postgresql(pg_url):
    engine = db.make_engine(pg_url)
    with db.session_factory(engine).begin() as session:
        city(session)
    new_unit = f"{STREET}/新社区"
    options = monthly_report.Options(seed=5)
    with db.session_factory(engine).begin() as session:
        scope = resolve_scope(session, period=NOV, as_of=END)
        snapshot = session.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        with db.session_factory(engine).begin() as other:  # added after the report started
            ensure_units(other, [tuple(new_unit.split("/"))])

        def units(snapshot: str | None) -> set[str]:
            tables = monthly_report._run_job("coverage", pg_url, scope.period, scope.end, None,
                                             snapshot, load_curriculum(), options)
            return set(tables["coverage/heads"]["单位"])

        assert STREET in units(snapshot) and new_unit not in units(snapshot)
        assert new_unit in units(None)
    engine.dispose()


def test_every_report_is_empty_but_well_formed_on_an_empty_database(session):
    scope = resolve_scope(session, period=NOV, as_of=END)
    assert scope.unit_path == "全部单位"
    bundle = monthly_report.build(session, scope=scope, seed=1)
    for sheet in bundle.sheets:
        assert sheet.df.empty, sheet.key
        assert len(sheet.df.columns) > 0, sheet.key
    assert bundle.summary and "没有在岗人员" in bundle.summary[0]
    for info in REPORTS.values():
        for part in info.parts:
            assert part.fn(session, scope=scope).empty


def test_a_unit_with_no_people_or_activity(session):
    ensure_units(session, [("安和市", "东城区", "朝阳街道", "空白社区")])
    bundle = monthly_report.build(session, period=NOV, as_of=END, seed=1)
    cov = bundle.sheet("coverage/units").df
    assert len(cov) == 4 and (cov["在岗人数"] == 0).all() and cov["必修模块通过率%"].isna().all()
    assert bundle.sheet("leaders/named").df.empty
    assert list(bundle.sheet("spot-check/sample").df["抽查层级"]) == ["街道/乡镇", "社区/村"]


def test_column_kinds_drive_colours():
    from records.reports.base import Kind

    assert column_kind("领导参训率%") is Kind.rate
    assert column_kind("本期演练参与率%") is Kind.share
    assert column_kind("领导差距(百分点)") is Kind.gap
    assert column_kind("30天内到期") is Kind.attention
    assert column_kind("已过期") is Kind.shortfall
    assert column_kind("培训后6个月内离岗") is Kind.shortfall
    assert column_kind("近12个月无演练", pd.Series(["是"])) is Kind.flag
    assert column_kind("本期无演练", pd.Series(["是"])) is Kind.text
    assert column_kind("在岗人数", pd.Series([1])) is Kind.count
