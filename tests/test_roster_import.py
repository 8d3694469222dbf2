"""Roster import on SQLite and PostgreSQL: messy input, all-or-nothing, re-runs, post history."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from sqlalchemy import select

from records import db
from records.errors import ImportRowsError
from records.importers.roster import import_roster
from records.models import OrgUnit, Person, Post, UnitLevel
from records.people import holders_on, tenure_after
from records.roles import Role
from tests.helpers import (
    AS_OF,
    HEADER,
    UNIT_A,
    UNIT_B,
    id_number,
    table_counts,
    write_csv,
    write_xlsx,
)

ZHANG = id_number(seq="451")
LI = id_number(seq="123")
WANG = id_number(region="320102", birth="19781103", seq="002")


def good_rows():
    return [
        [1, "张  三", ZHANG, "138 0013 8000", UNIT_A, "网格员", "2024-03-01"],
        [2, "李四", "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in LI),
         "13800138001", UNIT_B, "专职安监员", "2024年3月1日"],
        [3, "王五", WANG, "", UNIT_B, "主要领导", None],
    ]


def run_import(engine, path, **kwargs):
    with db.session_factory(engine).begin() as session:
        return import_roster(session, path, as_of=kwargs.pop("as_of", AS_OF), **kwargs)


def test_messy_xlsx_imports_people_units_and_posts(engine, tmp_path):
    path = write_xlsx(tmp_path / "花名册.xlsx", HEADER, good_rows())
    report = run_import(engine, path)
    assert (report.rows, report.people_created, report.posts_opened) == (3, 3, 3)
    assert report.units_created == 4  # 市, 区, 街道, 社区
    with db.session_factory(engine).begin() as session:
        people = {p.name: p for p in session.scalars(select(Person))}
        assert set(people) == {"张三", "李四", "王五"}  # aligned spaces removed
        assert people["李四"].id_number == LI  # full-width digits normalised
        assert people["张三"].phone == "13800138000"
        zhang_post = people["张三"].posts[0]
        assert zhang_post.role is Role.grid_worker
        assert zhang_post.unit.path == UNIT_A and zhang_post.unit.level is UnitLevel.community
        assert zhang_post.start_date == dt.date(2024, 3, 1)
        assert people["王五"].posts[0].start_date == AS_OF  # no date given: --as-of
        codes = dict(session.execute(select(OrgUnit.path, OrgUnit.code)).all())
        assert codes == {"安和市": "01", "安和市/东城区": "0101", UNIT_B: "0101001",
                         UNIT_A: "0101001001"}
        assert {p.trainee_id for p in people.values()} == {"zhangsan", "lisi", "wangwu"}


def test_reimport_changes_nothing(engine, tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", HEADER, good_rows())
    run_import(engine, path)
    before = table_counts(engine)
    report = run_import(engine, path, as_of=AS_OF + dt.timedelta(days=30))
    assert not report.changed
    assert report.people_unchanged == 3
    assert table_counts(engine) == before


def test_changed_role_closes_old_post_and_opens_new_one(engine, tmp_path):
    run_import(engine, write_xlsx(tmp_path / "a.xlsx", HEADER, good_rows()))
    moved = good_rows()
    moved[0][4:6] = [UNIT_B, "专职安监员"]  # 张三: grid worker → street inspector
    later = dt.date(2026, 12, 1)
    report = run_import(engine, write_xlsx(tmp_path / "b.xlsx", HEADER, moved), as_of=later)
    assert (report.posts_opened, report.posts_closed, report.people_unchanged) == (1, 1, 2)
    with db.session_factory(engine).begin() as session:
        zhang = session.scalars(select(Person).where(Person.id_number == ZHANG)).one()
        old, new = zhang.posts
        assert (old.role, old.start_date, old.end_date) == (Role.grid_worker, dt.date(2024, 3, 1),
                                                            later - dt.timedelta(days=1))
        assert (new.role, new.start_date, new.end_date) == (Role.inspector, later, None)
        community = session.scalars(select(OrgUnit).where(OrgUnit.path == UNIT_A)).one()
        assert [p.name for p in holders_on(session, community, Role.grid_worker,
                                           dt.date(2025, 1, 1))] == ["张三"]
        assert holders_on(session, community, Role.grid_worker, later) == []
        assert tenure_after(session, zhang, dt.date(2026, 6, 1)) == dt.timedelta(days=182)


def test_invalid_rows_write_nothing_and_name_file_row_and_column(engine, tmp_path):
    run_import(engine, write_xlsx(tmp_path / "ok.xlsx", HEADER, good_rows()[:1]))
    before = table_counts(engine)
    rows = good_rows() + [
        [4, "赵六", ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1"), "", UNIT_A, "网格员", ""],
        [5, "钱七", id_number(seq="777"), "12345", UNIT_A, "安全员", "2024-02-30"],
        [6, "", "", "", "", "", ""],  # blank row: skipped, not an error
        [7, "孙八", 110101199003074514.0, "", UNIT_A, "网格员", ""],
    ]
    path = write_xlsx(tmp_path / "bad.xlsx", HEADER, rows)
    with pytest.raises(ImportRowsError) as info:
        run_import(engine, path)
    messages = [str(e) for e in info.value.errors]
    assert any(m.startswith("bad.xlsx 第7行「身份证号（C列）」") and "校验位" in m for m in messages)
    assert any("第8行「手机号（D列）」" in m for m in messages)
    assert any("第8行「岗位（F列）」：未知角色「安全员」" in m for m in messages)
    assert any("第8行「任职日期（G列）」" in m and "不存在" in m for m in messages)
    assert any("第10行" in m and "存成了数字" in m for m in messages)
    assert not any("第9行" in m for m in messages)
    assert all(ZHANG not in m for m in messages)  # IDs masked in every message
    assert table_counts(engine) == before


def test_conflicts_with_database_are_refused(engine, tmp_path):
    run_import(engine, write_xlsx(tmp_path / "a.xlsx", HEADER, good_rows()))
    renamed = good_rows()
    renamed[0][1] = "张叁"
    before = table_counts(engine)
    with pytest.raises(ImportRowsError, match="1 处错误") as info:
        run_import(engine, write_xlsx(tmp_path / "b.xlsx", HEADER, renamed))
    assert "已登记为「张三」" in str(info.value.errors[0])
    assert table_counts(engine) == before


def test_duplicates_and_conflicting_names_within_file(engine, tmp_path):
    rows = good_rows()
    rows.append([4, "张三", ZHANG, "", UNIT_A, "网格员", ""])
    rows.append([5, "张四", ZHANG, "", UNIT_B, "工作人员", ""])
    with pytest.raises(ImportRowsError) as info:
        run_import(engine, write_xlsx(tmp_path / "d.xlsx", HEADER, rows))
    text = "\n".join(map(str, info.value.errors))
    assert "第7行" in text and "与第4行重复" in text
    assert "第8行" in text and "姓名是「张三」" in text


def test_same_person_two_posts_is_allowed(engine, tmp_path):
    rows = good_rows()
    rows.append([4, "王五", WANG, "", UNIT_A, "主要领导", ""])
    report = run_import(engine, write_xlsx(tmp_path / "two.xlsx", HEADER, rows))
    assert (report.people_created, report.posts_opened) == (3, 4)


def test_skip_invalid_imports_the_rest_and_lists_rejects(engine, tmp_path):
    from records.importers.roster import write_rejects

    rows = good_rows() + [[4, "钱七", "123", "", UNIT_A, "网格员", ""]]
    path = write_xlsx(tmp_path / "mixed.xlsx", HEADER, rows)
    report = run_import(engine, path, skip_invalid=True)
    assert report.people_created == 3
    assert [e.row for e in report.rejected] == [7]
    out = write_rejects(tmp_path / "rejects.csv", path, report.rejected)
    with out.open(encoding="utf-8-sig") as fh:
        lines = list(csv.reader(fh))
    assert lines[0][0] == "原行号" and lines[0][-1] == "错误原因"
    assert lines[1][0] == "7" and "18位" in lines[1][-1]


def test_level_columns_login_column_and_under(engine, tmp_path):
    header = ["姓名", "身份证号", "社区", "职务", "账号"]
    rows = [["张三", ZHANG, "幸福社区", "网格员", "Zhang.San"],
            ["王五", WANG, "", "主要领导", ""]]
    path = write_xlsx(tmp_path / "street.xlsx", header, rows, title=None)
    run_import(engine, path, under="安和市/东城区/朝阳街道")
    with db.session_factory(engine).begin() as session:
        posts = {p.person.name: (p.unit.path, p.person.trainee_id)
                 for p in session.scalars(select(Post))}
    assert posts == {"张三": (UNIT_A, "zhang.san"), "王五": (UNIT_B, "wangwu")}


def test_gap_in_level_columns_is_an_error(engine, tmp_path):
    header = ["姓名", "身份证号", "市", "区/县", "街道/乡镇", "社区/村", "角色"]
    rows = [["张三", ZHANG, "安和市", "", "朝阳街道", "幸福社区", "网格员"]]
    with pytest.raises(ImportRowsError, match="1 处错误") as info:
        run_import(engine, write_xlsx(tmp_path / "gap.xlsx", header, rows))
    assert "「区/县」为空" in str(info.value.errors[0])


def test_trainee_ids_are_unique_for_namesakes_and_stable(engine, tmp_path):
    rows = [[1, "张伟", id_number(seq="101"), "", UNIT_A, "志愿者", ""],
            [2, "张伟", id_number(seq="103"), "", UNIT_A, "志愿者", ""]]
    run_import(engine, write_xlsx(tmp_path / "a.xlsx", HEADER, rows))
    rows.append([3, "张伟", id_number(seq="105"), "", UNIT_B, "志愿者", ""])
    run_import(engine, write_xlsx(tmp_path / "b.xlsx", HEADER, rows))
    with db.session_factory(engine).begin() as session:
        ids = dict(session.execute(select(Person.id_number, Person.trainee_id)).all())
    assert ids[id_number(seq="101")] == "zhangwei"
    assert ids[id_number(seq="103")] == "zhangwei2"
    assert ids[id_number(seq="105")] == "zhangwei3"


def test_close_missing_ends_posts_of_people_no_longer_listed(engine, tmp_path):
    run_import(engine, write_xlsx(tmp_path / "a.xlsx", HEADER, good_rows()))
    later = dt.date(2027, 1, 1)
    report = run_import(engine, write_xlsx(tmp_path / "b.xlsx", HEADER, good_rows()[:2]),
                        as_of=later, close_missing=True)
    assert report.posts_closed == 1
    with db.session_factory(engine).begin() as session:
        wang = session.scalars(select(Person).where(Person.id_number == WANG)).one()
        assert wang.posts[0].end_date == later - dt.timedelta(days=1)


def test_gbk_csv_with_title_row(engine, tmp_path):
    lines = ["朝阳街道应急管理人员花名册,,,,,,", ",,,,,,", ",".join(HEADER)]
    lines += [",".join(str(c or "") for c in row) for row in good_rows()]
    path = write_csv(tmp_path / "gbk.csv", lines, "gbk")
    assert run_import(engine, path).people_created == 3
