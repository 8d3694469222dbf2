"""One ID on several rows of a roster file (issue #16): a second post (兼职) is fine when the
person's name and phone agree; a different name or phone refuses every row of that ID,
each error naming the rows that disagree, and nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from records import db
from records.errors import ImportRowsError
from records.importers.roster import import_roster
from records.models import Person, Post
from tests.helpers import AS_OF, HEADER, UNIT_A, UNIT_B, id_number, table_counts, write_xlsx

ZHANG = id_number(seq="451")
LI = id_number(seq="123")


def run_import(engine, path, **kwargs):
    with db.session_factory(engine).begin() as session:
        return import_roster(session, path, as_of=AS_OF, **kwargs)


def rows(*extra: list) -> list[list]:
    return [[1, "李四", LI, "13800138001", UNIT_B, "专职安监员", "2024-03-01"], *extra]


def test_same_id_with_another_phone_and_unit_is_refused_naming_both_rows(engine, tmp_path):
    path = write_xlsx(tmp_path / "花名册.xlsx", HEADER, rows(
        [2, "张三", ZHANG, "13800138000", UNIT_A, "网格员", "2024-03-01"],
        [3, "张三", ZHANG, "13900139000", UNIT_B, "工作人员", "2024-03-01"]))
    before = table_counts(engine)
    with pytest.raises(ImportRowsError) as info:
        run_import(engine, path)
    errors = info.value.errors
    assert [e.row for e in errors] == [5, 6]  # header on row 3: the data rows are 4, 5, 6
    for e in errors:
        text = str(e)
        assert "第5行、第6行出现" in text and "手机号不一致" in text
        assert "第5行是 138****8000" in text and "第6行是 139****9000" in text
        assert e.column.startswith("手机号") and ZHANG not in text
        assert "13800138000" not in text
    assert table_counts(engine) == before


def test_same_id_with_another_name_refuses_every_row_of_it(engine, tmp_path):
    path = write_xlsx(tmp_path / "花名册.xlsx", HEADER, rows(
        [2, "张三", ZHANG, "", UNIT_A, "网格员", ""],
        [3, "张四", ZHANG, "", UNIT_B, "工作人员", ""],
        [4, "张三", ZHANG, "", UNIT_B, "志愿者", ""]))
    with pytest.raises(ImportRowsError) as info:
        run_import(engine, path)
    errors = [e for e in info.value.errors if "姓名不一致" in e.reason]
    assert [e.row for e in errors] == [5, 6, 7]
    assert all("第5行的姓名是「张三」，第6行的姓名是「张四」，第7行的姓名是「张三」" in e.reason
               for e in errors)


def test_concurrent_posts_with_agreeing_attributes_are_imported(engine, tmp_path):
    path = write_xlsx(tmp_path / "兼职.xlsx", HEADER, rows(
        [2, "张三", ZHANG, "138 0013 8000", UNIT_A, "网格员", "2024-03-01"],
        [3, "张三", ZHANG, "", UNIT_B, "工作人员", "2024-05-01"],  # no phone: no conflict
        [4, "张三", ZHANG, "138-0013-8000", UNIT_B, "志愿者", ""]))  # the same number
    report = run_import(engine, path)
    assert (report.people_created, report.posts_opened) == (2, 4)
    with db.session_factory(engine).begin() as session:
        zhang = session.scalars(select(Person).where(Person.id_number == ZHANG)).one()
        assert zhang.phone == "13800138000"
        posts = session.scalars(select(Post).where(Post.person_id == zhang.id)).all()
        assert sorted((p.unit.path, p.role.label) for p in posts) == sorted([
            (UNIT_A, "网格员"), (UNIT_B, "工作人员"), (UNIT_B, "志愿者")])


def test_skip_invalid_rejects_every_row_of_a_conflicting_id(engine, tmp_path):
    path = write_xlsx(tmp_path / "花名册.xlsx", HEADER, rows(
        [2, "张三", ZHANG, "13800138000", UNIT_A, "网格员", ""],
        [3, "张三", ZHANG, "13900139000", UNIT_B, "工作人员", ""]))
    report = run_import(engine, path, skip_invalid=True)
    assert report.people_created == 1  # 李四 only: neither of 张三's phones wins
    assert sorted({e.row for e in report.rejected}) == [5, 6]
    with db.session_factory(engine).begin() as session:
        assert session.scalars(select(Person).where(Person.id_number == ZHANG)).first() is None
