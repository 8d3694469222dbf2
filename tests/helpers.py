"""Build roster files the way administrators really keep them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import Engine

from records import db
from records.idcard import check_digit
from records.summary import counts


def id_number(region: str = "110101", birth: str = "19900307", seq: str = "451") -> str:
    first17 = region + birth + seq
    return first17 + check_digit(first17)


def write_xlsx(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]], *,
               title: str | None = "某街道应急管理人员花名册", blank_rows_after_title: int = 1,
               sheet: str = "Sheet1") -> Path:
    """Title row merged across the header (optional), blank rows, then header and data."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
        for _ in range(blank_rows_after_title):
            ws.append([])
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def write_csv(path: Path, lines: Sequence[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def table_counts(engine: Engine) -> dict[str, int]:
    with db.session_factory(engine).begin() as session:
        return counts(session)


AS_OF = dt.date(2026, 11, 1)
HEADER = ["序号", "姓名", "身份证号", "手机号", "所属单位", "岗位", "任职日期"]
UNIT_A = "安和市/东城区/朝阳街道/幸福社区"
UNIT_B = "安和市/东城区/朝阳街道"


# --------------------------------------------------------------------------- training, drills, certificates


def add_people(session, people: Sequence[tuple[str, str, str, str, str]],
               as_of: dt.date = AS_OF) -> dict[str, int]:
    """Roster people (name, id number, unit path, role label, start date) → {name: person id}.

    Goes through the roster importer's own path, so posts look as a real import makes them.
    """
    from sqlalchemy import select

    from records.importers.roster import RosterRow, import_rows
    from records.models import Person
    from records.roles import parse_role

    rows = [RosterRow(row=i, name=name, id_number=number, role=parse_role(role),
                      unit=tuple(unit.split("/")), phone=None,
                      start_date=dt.date.fromisoformat(start), login=None)
            for i, (name, number, unit, role, start) in enumerate(people, start=2)]
    import_rows(session, rows, source="test", as_of=as_of)
    return {p.name: p.id for p in session.scalars(select(Person))}


def pass_modules(session, person_id: int, modules: Sequence[str], *,
                 graded_at: dt.datetime | None = None, passed: bool = True,
                 percent: float = 90.0) -> None:
    """Attempt rows as the autograder writes them (one per module)."""
    from sqlalchemy import select

    from records.models import Attempt, AttemptStatus, Person

    person = session.scalars(select(Person).where(Person.id == person_id)).one()
    when = graded_at or dt.datetime(2026, 9, 1, 2, 0, tzinfo=dt.UTC)
    for module in modules:
        session.add(Attempt(
            trainee_id=person.trainee_id, person_id=person.id, module=module,
            module_version="1.0", submission_sha256=f"{module}-{when.isoformat()}-{passed}",
            score=percent, max_score=100.0, passed=passed, status=AttemptStatus.graded,
            graded_at=when))
    session.flush()
