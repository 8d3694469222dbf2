"""A sign-in sheet's title picks its session by the unit and the date it names (issue #16).

乙街道 and its 乙一社区 both hold “安全生产培训” on 2026-11-03 (and 乙二社区 on 11-04): a sheet
titled “乙一社区2026年11月3日安全生产培训签到表” is 乙一社区's; only a title that names
neither unit (or both at one level) is refused, listing the candidates with their units.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from records.drills import DrillSpec, add_drill
from records.errors import InputFileError
from records.importers.drills import import_participation
from records.importers.signin import import_signin
from records.models import DrillForm, DrillScope, DrillType, OrgUnit, TrainingKind
from records.org import ensure_units
from records.training import SessionSpec, add_session
from tests.helpers import add_people, id_number, write_csv

D = dt.date
STREET = "平安市/城东区/乙街道"
YI1, YI2 = STREET + "/乙一社区", STREET + "/乙二社区"
TITLE = "安全生产培训"


@pytest.fixture
def units(session) -> dict[str, OrgUnit]:
    ensure_units(session, [tuple(YI1.split("/")), tuple(YI2.split("/"))])
    add_people(session, [("王五", id_number(seq="301"), YI1, "网格员", "2020-01-01")],
               as_of=D(2026, 1, 1))
    return {u.path: u for u in session.scalars(select(OrgUnit))}


@pytest.fixture
def sessions(session, units) -> dict[str, str]:
    """{organiser path: session code}: the street and 乙一 on 11-03, 乙二 on 11-04."""
    out = {}
    for path, day in ((STREET, D(2026, 11, 3)), (YI1, D(2026, 11, 3)), (YI2, D(2026, 11, 4))):
        row, _ = add_session(session, SessionSpec(TITLE, TrainingKind.classroom, units[path],
                                                  day, 2.0))
        out[path] = row.code
    return out


def sheet(tmp_path: Path, title: str) -> Path:
    return write_csv(tmp_path / "签到表.csv", [title, "姓名,签到", "王五,出席"])


@pytest.mark.parametrize(("title", "organiser"), [
    ("乙一社区2026年11月3日安全生产培训签到表", YI1),
    ("乙街道2026年11月3日安全生产培训签到表", STREET),
    # The street, then the community: the community's (the lowest level named).
    ("乙街道乙一社区 2026年11月3日 安全生产培训 签到表", YI1),
    # One session that day under that title: no unit needed.
    ("2026年11月4日安全生产培训签到表", YI2),
    # The unit alone decides when the date is missing.
    ("乙二社区安全生产培训签到表", YI2),
])
def test_title_picks_the_session_by_unit_and_date(session, sessions, tmp_path, title, organiser):
    report = import_signin(session, sheet(tmp_path, title))
    assert report.target == sessions[organiser]


@pytest.mark.parametrize("title", [
    "2026年11月3日安全生产培训签到表",  # two sessions that day, no unit named
    "城东区2026年11月3日安全生产培训签到表",  # a unit that organised neither
])
def test_title_that_cannot_decide_lists_the_candidates(session, sessions, tmp_path, title):
    with pytest.raises(InputFileError) as err:
        import_signin(session, sheet(tmp_path, title))
    message = str(err.value)
    assert "标题对应多次培训" in message and "无法区分" in message and "--session" in message
    assert sessions[STREET] in message and sessions[YI1] in message
    assert sessions[YI2] not in message
    assert f"{YI1} {TITLE}" in message and f"{STREET} {TITLE}" in message


def test_title_naming_another_day_is_not_matched(session, sessions, tmp_path):
    with pytest.raises(InputFileError, match="没有对应的已登记培训"):
        import_signin(session, sheet(tmp_path, "乙一社区2026年11月5日安全生产培训签到表"))


def test_drill_sheet_titles_use_the_unit_too(session, units, tmp_path):
    codes = {}
    for path in (STREET, YI1):
        row, _ = add_drill(session, DrillSpec("消防疏散演练", DrillType.fire_evacuation,
                                              DrillForm.live, DrillScope.single, units[path],
                                              D(2026, 11, 6), 60))
        codes[path] = row.code
    path = write_csv(tmp_path / "演练.csv",
                     ["乙一社区2026年11月6日消防疏散演练签到表", "姓名,签到", "王五,出席"])
    report = import_participation(session, path)
    assert report.target == codes[YI1]
