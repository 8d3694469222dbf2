"""Leaders at their own level (issue #16): 本级 headline, 含下级 columns, 样本少, and what a
district's session for street leaders counts for. Every figure worked out by hand below.

平安市/城东区 has two streets:
- 甲街道 (the issue's fixture): 4 sessions of its own; its principal attends 2 and its
  deputy 1 (3 of 8, 37.5%), its two staff all (100%). 甲一社区 holds 4 sessions; its two
  leaders attend 4 of 8, its two staff all. Pooled: leaders 7 of 16 = 43.8%, gap −56.2.
- 乙街道 with three busy communities:
  - 乙街道 itself, 2 sessions: principal both, deputy one and 请假 at the other (3 of 3),
    staff 5 of 6 → leaders 100%, staff 83.3%, gap +16.7.
  - 乙一社区, 5 sessions: the principal at all 5, the deputy never on the sheet (5 of 10),
    staff 9 of 10 (one absence) → 50%, 90%, gap −40.
  - 乙二社区, 3 sessions: the principal all 3, the one grid worker absent at all 3.
  - 乙三社区, 4 sessions: principal and deputy at 1 each (2 of 8), 3 staff all (12 of 12).
  Pooled: leaders 13 of (25 − 1) = 54.2%, staff 26 of 31 = 83.9%, gap −29.7.
- 城东区 holds one session for street leaders (point 3): 甲街道's principal and 乙街道's
  deputy attend, 乙街道's principal is marked absent. Only the district's own people are
  expected there: nobody (the district has no posts), so it changes no rate.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import select

from records.models import Attendance, OrgUnit, Person, TrainingKind
from records.org import ensure_units
from records.reports import leaders
from records.reports import monthly as monthly_report
from records.training import SessionSpec, add_session, mark_attendance
from tests.helpers import add_people, id_number
from writers.charts import leaders as leaders_chart

D = dt.date
PERIOD, END = "2026-11", D(2026, 11, 30)
CITY, DISTRICT = "平安市", "平安市/城东区"
JIA, YI = DISTRICT + "/甲街道", DISTRICT + "/乙街道"
JIA1 = JIA + "/甲一社区"
YI1, YI2, YI3 = YI + "/乙一社区", YI + "/乙二社区", YI + "/乙三社区"
P, A, E = Attendance.present, Attendance.absent, Attendance.excused

PEOPLE = [
    ("甲书记", JIA, "主要领导"), ("甲副", JIA, "分管领导"), ("甲安监", JIA, "专职安监员"),
    ("甲干事", JIA, "工作人员"),
    ("甲一书记", JIA1, "主要领导"), ("甲一副", JIA1, "分管领导"), ("甲一网格A", JIA1, "网格员"),
    ("甲一网格B", JIA1, "网格员"),
    ("乙书记", YI, "主要领导"), ("乙副", YI, "分管领导"), ("乙安监", YI, "专职安监员"),
    ("乙干事A", YI, "工作人员"), ("乙干事B", YI, "工作人员"),
    ("乙一书记", YI1, "主要领导"), ("乙一副", YI1, "分管领导"), ("乙一网格A", YI1, "网格员"),
    ("乙一网格B", YI1, "网格员"),
    ("乙二书记", YI2, "主要领导"), ("乙二网格", YI2, "网格员"),
    ("乙三书记", YI3, "主要领导"), ("乙三副", YI3, "分管领导"), ("乙三网格A", YI3, "网格员"),
    ("乙三网格B", YI3, "网格员"), ("乙三干事", YI3, "工作人员"),
]


def _sessions() -> list[tuple[str, dict[str, Attendance]]]:
    """(holding unit, marks) per session; a name not in marks is not on the sheet."""
    jia_staff = {"甲安监": P, "甲干事": P}
    out = [(JIA, {"甲书记": P, "甲副": P, **jia_staff}), (JIA, {"甲书记": P, **jia_staff}),
           (JIA, {"甲副": A, **jia_staff}), (JIA, {"甲书记": A, **jia_staff})]
    jia1_staff = {"甲一网格A": P, "甲一网格B": P}
    out += [(JIA1, {"甲一书记": P, "甲一副": P, **jia1_staff}),
            (JIA1, {"甲一书记": P, "甲一副": P, **jia1_staff}),
            (JIA1, {"甲一书记": A, **jia1_staff}), (JIA1, {"甲一副": A, **jia1_staff})]
    out += [(YI, {"乙书记": P, "乙副": P, "乙安监": P, "乙干事A": P, "乙干事B": P}),
            (YI, {"乙书记": P, "乙副": E, "乙安监": P, "乙干事A": P, "乙干事B": A})]
    out += [(YI1, {"乙一书记": P, "乙一网格A": P, "乙一网格B": P})] * 4
    out += [(YI1, {"乙一书记": P, "乙一网格A": P, "乙一网格B": A})]
    out += [(YI2, {"乙二书记": P, "乙二网格": A})] * 3
    yi3_staff = {"乙三网格A": P, "乙三网格B": P, "乙三干事": P}
    out += [(YI3, {"乙三书记": P, **yi3_staff}), (YI3, {"乙三副": P, **yi3_staff}),
            (YI3, dict(yi3_staff)), (YI3, dict(yi3_staff))]
    # Point 3: the district's session for street leaders.
    out += [(DISTRICT, {"甲书记": P, "乙副": P, "乙书记": A})]
    return out


def build(session) -> None:
    ensure_units(session, [tuple(p.split("/")) for p in (JIA1, YI1, YI2, YI3)])
    add_people(session, [(name, id_number(seq=f"{200 + i:03d}"), path, role, "2020-01-01")
                         for i, (name, path, role) in enumerate(PEOPLE)], as_of=D(2026, 1, 1))
    person = {p.name: p for p in session.scalars(select(Person))}
    units = {u.path: u for u in session.scalars(select(OrgUnit))}
    for i, (path, marks) in enumerate(_sessions()):
        day = D(2026, 11, 2 + i % 27)
        row, _ = add_session(session, SessionSpec(f"安全生产培训{i}", TrainingKind.classroom,
                                                  units[path], day, 2.0))
        for name, status in marks.items():
            mark_attendance(session, row, [person[name]], status)


@pytest.fixture
def city(session):
    build(session)
    return session


def row(df: pd.DataFrame, path: str) -> pd.Series:
    return df[df["单位"] == path].iloc[0]


def test_street_headline_is_its_own_level(city):
    df = leaders.by_unit(city, period=PERIOD, as_of=END, min_sample=1)
    jia = row(df, JIA)
    # The fixture: own leaders 3 of 8, own staff 8 of 8.
    assert (jia["口径"], jia["场次"], jia["领导参训率%"], jia["领导应到人次"], jia["工作人员参训率%"],
            jia["工作人员应到人次"], jia["领导差距(百分点)"]) == ("本级", 4, 37.5, 8, 100.0, 8, -62.5)
    assert (jia["主要领导参训率%"], jia["主要领导应到人次"], jia["分管领导参训率%"]) == (50.0, 4, 25.0)
    # What the report used to show as the headline, now in its own columns.
    assert (jia["含下级场次"], jia["含下级领导参训率%"], jia["含下级领导应到人次"],
            jia["含下级工作人员参训率%"], jia["含下级领导差距(百分点)"]) == (8, 43.8, 16, 100.0, -56.2)
    # 甲书记 missed one, 甲副 two (one absent, two not on the sheet): both named.
    assert (jia["领导缺席人次"], jia["领导无签到记录人次"], jia["缺训领导人数"]) == (2, 3, 2)
    assert jia["含下级缺训领导人数"] == 4


def test_street_with_busy_communities(city):
    df = leaders.by_unit(city, period=PERIOD, as_of=END, min_sample=1)
    yi = row(df, YI)
    assert (yi["场次"], yi["领导参训率%"], yi["领导应到人次"], yi["领导请假人次"],
            yi["工作人员参训率%"], yi["工作人员应到人次"], yi["领导差距(百分点)"]) == \
        (2, 100.0, 4, 1, 83.3, 6, 16.7)
    assert (yi["含下级场次"], yi["含下级领导参训率%"], yi["含下级领导应到人次"],
            yi["含下级工作人员参训率%"], yi["含下级工作人员应到人次"], yi["含下级领导差距(百分点)"]) == \
        (14, 54.2, 25, 83.9, 31, -29.7)
    yi1, yi2, yi3 = row(df, YI1), row(df, YI2), row(df, YI3)
    assert (yi1["领导参训率%"], yi1["工作人员参训率%"], yi1["领导差距(百分点)"]) == (50.0, 90.0, -40.0)
    assert (yi2["主要领导参训率%"], yi2["分管领导应到人次"], yi2["工作人员参训率%"]) == (100.0, 0, 0.0)
    assert pd.isna(yi2["分管领导参训率%"]) and yi2["领导差距(百分点)"] == 100.0
    assert (yi3["领导参训率%"], yi3["领导应到人次"], yi3["领导差距(百分点)"]) == (25.0, 8, -75.0)
    # Districts and the city: the pooled figure is the headline.
    for path in (DISTRICT, CITY):
        top = row(df, path)
        # leaders 7 + 13 of 16 + 24; staff 16 + 26 of 16 + 31
        assert (top["口径"], top["领导参训率%"], top["工作人员参训率%"], top["领导差距(百分点)"],
                top["场次"]) == ("含下级", 50.0, 89.4, -39.4, 23)
        assert top["含下级领导参训率%"] == top["领导参训率%"]
    # Level by level, worst first on the headline: 甲 −62.5 before 乙 +16.7; communities
    # 乙三 −75, 甲一 −50, 乙一 −40, 乙二 +100.
    assert list(df["单位"]) == [CITY, DISTRICT, JIA, YI, YI3, JIA1, YI1, YI2]


def test_district_session_for_street_leaders_counts_for_nobody_below(city):
    """Point 3: only the organiser's own people are expected; the district has none."""
    df = leaders.by_unit(city, period=PERIOD, as_of=END, min_sample=1)
    district = row(df, DISTRICT)
    assert district["场次"] == 23  # the district's session is one of its sessions …
    own = leaders.by_unit(city, period=PERIOD, as_of=END, unit=DISTRICT, min_sample=1)
    # … but nobody is expected at it: the street rows above did not change, and
    # 乙书记's absence there is not in the named list.
    named = leaders.missed(city, period=PERIOD, as_of=END)
    assert not (named["姓名"] == "乙书记").any()
    assert row(own, JIA)["领导应到人次"] == 8 and row(own, YI)["领导应到人次"] == 4
    assert "上级单位举办的培训只计举办单位自己的人员" in leaders.note()


def test_small_samples_are_marked_and_ranked_after(city):
    df = leaders.by_unit(city, period=PERIOD, as_of=END)  # default: fewer than 10 人次
    jia, yi = row(df, JIA), row(df, YI)
    assert jia["样本少"] == "主要领导、分管领导、领导、工作人员"  # 4, 4, 8, 8
    assert yi["样本少"] == "主要领导、分管领导、领导、工作人员"  # 2, 1, 3, 6 after 请假
    assert row(df, YI3)["样本少"] == "主要领导、分管领导、领导"  # staff rests on 12
    assert row(df, YI1)["样本少"] == "主要领导、分管领导"  # leaders 10, staff 10: firm
    assert row(df, CITY)["样本少"] == ""
    # 乙一 is the one community whose comparison is firm: it leads although 乙三 (−75) and
    # 甲一 (−50) have larger gaps (with min_sample=1: 乙三, 甲一, 乙一, 乙二).
    assert list(df["单位"]) == [CITY, DISTRICT, JIA, YI, YI1, YI3, JIA1, YI2]
    # At 8, 乙三 (leaders 8, staff 12) and 甲一 (8, 8) are firm too; 乙二 (3, 3) is not.
    eight = leaders.by_unit(city, period=PERIOD, as_of=END, min_sample=8)
    assert list(eight["单位"])[4:] == [YI3, JIA1, YI1, YI2]
    assert row(eight, YI2)["样本少"] == "主要领导、领导、工作人员"
    # Streets at 8: 甲 (8, 8) firm, 乙 (3, 6) small.
    assert row(eight, JIA)["样本少"] == "主要领导、分管领导"


def test_named_list_and_chart_agree_with_the_table(city):
    df = leaders.by_unit(city, period=PERIOD, as_of=END, min_sample=1)
    named = leaders.missed(city, period=PERIOD, as_of=END)
    for _, r in df.iterrows():
        mine = named[named["单位"] == r["单位"]]
        assert (mine["缺训场次"] > 0).sum() == r["缺训领导人数"] or r["口径"] == "含下级", r["单位"]
        assert mine["缺训场次"].sum() == r["领导缺席人次"] + r["领导无签到记录人次"] \
            or r["口径"] == "含下级", r["单位"]
    below = named[named["单位"].str.startswith(YI)]
    # 乙副 only 请假: named (expected more than attended) but not counted as 缺训.
    assert below["姓名"].nunique() == 4
    assert below[below["缺训场次"] > 0]["姓名"].nunique() == row(df, YI)["含下级缺训领导人数"] == 3
    sheet = monthly_report.Sheet("leaders/units", "领导参训对比", "", df)
    fig = leaders_chart(sheet)
    bars = {trace.name: list(trace.y) for trace in fig.data}
    streets = df[df["层级"] == "街道/乡镇"]
    assert list(fig.data[0].x) == ["城东区/甲街道", "城东区/乙街道"]
    assert bars["领导"] == list(streets["领导参训率%"])
    assert bars["工作人员"] == list(streets["工作人员参训率%"])


def test_chart_marks_small_samples(city):
    df = leaders.by_unit(city, period=PERIOD, as_of=END)
    fig = leaders_chart(monthly_report.Sheet("leaders/units", "领导参训对比", "", df))
    assert list(fig.data[0].x) == ["城东区/甲街道（样本少）", "城东区/乙街道（样本少）"]


def test_monthly_summary_reads_the_own_level(city):
    bundle = monthly_report.build(city, period=PERIOD, as_of=END, seed=3, min_sample=1)
    text = "\n".join(bundle.summary)
    assert ("本月 1 个街道/乡镇（共 2 个样本足够）本级领导参训率低于本单位工作人员，"
            "平均低 62.5 个百分点；差距最大的是 平安市/城东区/甲街道（领导 37.5%，应到 8 人次；"
            "工作人员 100%，应到 8 人次）。") in text
    assert "平安市（含下级）领导参训率 50%，比工作人员（89.4%）低 39.4 个百分点" in text
    small = monthly_report.build(city, period=PERIOD, as_of=END, seed=3)
    assert "有签到记录的 2 个街道/乡镇样本都太少" in "\n".join(small.summary)
    assert "样本少" in small.sheet("leaders/units").note
