"""Roster import: people, their unit and role, all-or-nothing, re-runnable.

Two passes: every row is validated first (and checked against what the database already
holds); only when no row is wrong does anything get written, in the caller's transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from records import idcard
from records.errors import ImportRowsError, RowError
from records.importers.roster_rows import (
    FIELD_LABELS,
    LEVEL_FIELDS,
    UNIT_SPLIT,
    Progress,
    RosterRow,
    read_roster_table,
    validate_rows,
)
from records.importers.table import Column, clean_text, read_rows
from records.inert import csv_field
from records.models import PATH_SEP, OrgUnit, Person, Post
from records.org import ensure_units, join_path
from records.people import allocate_trainee_id

log = logging.getLogger(__name__)

__all__ = ["ImportReport", "RosterRow", "import_roster", "import_rows", "read_roster_table",
           "validate_rows", "write_rejects"]


@dataclass
class ImportReport:
    file: str
    rows: int = 0
    people_created: int = 0
    people_updated: int = 0
    people_unchanged: int = 0
    posts_opened: int = 0
    posts_closed: int = 0
    units_created: int = 0
    rejected: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any((self.people_created, self.people_updated, self.posts_opened,
                    self.posts_closed, self.units_created))


def _chunks(items: list[Any], size: int = 900) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def import_roster(
    session: Session,
    path: Path,
    *,
    sheet: str | None = None,
    as_of: dt.date | None = None,
    under: str | None = None,
    skip_invalid: bool = False,
    close_missing: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate and import a roster in the caller's transaction.

    Raises ImportRowsError (nothing written) when any row is invalid, unless skip_invalid,
    in which case valid rows are imported and the bad ones are listed in report.rejected.
    """
    as_of = as_of or dt.date.today()
    under_path = tuple(p for p in UNIT_SPLIT.split(clean_text(under)) if p) if under else ()
    table = read_roster_table(path, sheet)
    report = ImportReport(file=path.name)
    if table.unknown_headers:
        report.warnings.append(f"未识别、已忽略的列：{'、'.join(table.unknown_headers)}")
    if "unit" in table.columns and any(f in table.columns for f in LEVEL_FIELDS):
        report.warnings.append("同时有「所属单位」列和分级单位列：按分级单位列导入")
    rows, errors = validate_rows(table, under=under_path, as_of=as_of, progress=progress)
    report.rows = len(rows) + len({e.row for e in errors})
    plan = _plan(session, rows, path.name, table.columns)
    errors.extend(plan.errors)
    if errors:
        errors.sort(key=lambda e: e.row)
        if not skip_invalid:
            raise ImportRowsError(errors, report.rows)
        report.rejected = errors
        bad = {e.row for e in plan.errors}
        if bad:  # rows refused against the database: plan again without them
            plan = _plan(session, [r for r in rows if r.row not in bad], path.name, table.columns)
    unit_ids, person_ids = _apply(session, plan, report, as_of, source=f"roster:{path.name}")
    if close_missing:
        _close_missing(session, plan.rows, unit_ids, person_ids, report, as_of, under_path)
    return report


def import_rows(session: Session, rows: list[RosterRow], *, source: str,
                as_of: dt.date | None = None) -> ImportReport:
    """Import rows that are already valid (generated data); conflicts raise ImportRowsError."""
    report = ImportReport(file=source, rows=len(rows))
    plan = _plan(session, rows, source, {})
    if plan.errors:
        raise ImportRowsError(plan.errors, len(rows))
    _apply(session, plan, report, as_of or dt.date.today(), source=source)
    return report


@dataclass
class _Plan:
    rows: list[RosterRow]
    existing: dict[str, Any]  # id_number -> Person row (id, name, phone, trainee_id)
    open_posts: dict[int, list[Any]]  # person id -> open Post rows
    taken_ids: set[str]
    errors: list[RowError]


def _plan(session: Session, rows: list[RosterRow], file: str,
          columns: dict[str, Column]) -> _Plan:
    """Load what the database knows about these people and find conflicts with it."""
    id_numbers = sorted({r.id_number for r in rows})
    existing: dict[str, Any] = {}
    for chunk in _chunks(id_numbers):
        for p in session.execute(
            select(Person.id, Person.id_number, Person.name, Person.phone, Person.trainee_id)
            .where(Person.id_number.in_(chunk))
        ):
            existing[p.id_number] = p
    open_posts: dict[int, list[Any]] = defaultdict(list)
    person_ids = [p.id for p in existing.values()]
    for chunk in _chunks(person_ids):
        for post in session.execute(
            select(Post.id, Post.person_id, Post.unit_id, Post.role, Post.start_date,
                   OrgUnit.path)
            .join(OrgUnit, OrgUnit.id == Post.unit_id)
            .where(Post.person_id.in_(chunk), Post.end_date.is_(None))
        ):
            open_posts[post.person_id].append(post)
    taken = set(session.scalars(select(Person.trainee_id)))
    errors: list[RowError] = []
    id_col = columns["id_number"].label if "id_number" in columns else FIELD_LABELS["id_number"]
    login_col = columns["login"].label if "login" in columns else FIELD_LABELS["login"]
    for r in rows:
        known = existing.get(r.id_number)
        if known is not None and known.name != r.name:
            errors.append(RowError(file, r.row, id_col,
                                   f"身份证号 {idcard.mask(r.id_number)} 已登记为「{known.name}」，"
                                   f"与本行姓名「{r.name}」不符：请核对身份证号"))
        if r.login:
            if known is not None and known.trainee_id != r.login:
                errors.append(RowError(file, r.row, login_col,
                                       f"此人已有账号「{known.trainee_id}」，不能改为「{r.login}」"))
            elif known is None and r.login in taken:
                errors.append(RowError(file, r.row, login_col,
                                       f"账号「{r.login}」已被其他人使用"))
    return _Plan(rows, existing, open_posts, taken, errors)


def _apply(session: Session, plan: _Plan, report: ImportReport, as_of: dt.date,
           source: str) -> tuple[dict[str, int], dict[str, int]]:
    """Write the plan; returns ({unit path: id}, {id number: person id})."""
    unit_ids, report.units_created = ensure_units(session, {r.unit for r in plan.rows})
    by_person: dict[str, list[RosterRow]] = defaultdict(list)
    for r in plan.rows:
        by_person[r.id_number].append(r)

    # People: insert the new, update changed phones, in bulk.
    new_people, phone_updates = [], []
    logins = {r.id_number: r.login for r in plan.rows if r.login}
    taken = plan.taken_ids | set(logins.values())
    for id_number, person_rows in by_person.items():
        first = person_rows[0]
        phone = next((r.phone for r in person_rows if r.phone), None)
        known = plan.existing.get(id_number)
        if known is None:
            trainee_id = logins.get(id_number) or allocate_trainee_id(first.name, taken)
            new_people.append({"id_number": id_number, "name": first.name, "phone": phone,
                               "trainee_id": trainee_id})
        elif phone and phone != known.phone:
            phone_updates.append({"id": known.id, "phone": phone})
    # Core inserts on the tables: the ORM's bulk path costs more than the database here.
    connection = session.connection()
    for chunk in _chunks(new_people, 5000):
        connection.execute(insert(Person.__table__), chunk)
    if phone_updates:
        session.execute(update(Person), phone_updates)
    person_ids = {p.id_number: p.id for p in plan.existing.values()}
    new_ids = [p["id_number"] for p in new_people]
    for chunk in _chunks(new_ids):
        person_ids.update(session.execute(
            select(Person.id_number, Person.id).where(Person.id_number.in_(chunk))
        ).all())
    report.people_created = len(new_people)
    report.people_updated = len(phone_updates)

    # Posts: keep matching open posts, close the ones the file no longer lists, open new ones.
    opened, closed = [], []
    for id_number, person_rows in by_person.items():
        person_id = person_ids[id_number]
        current = {(p.unit_id, p.role): p for p in plan.open_posts.get(person_id, [])}
        wanted = {(unit_ids[r.unit_path], r.role): r for r in person_rows}
        leaving = [p for key, p in current.items() if key not in wanted]
        latest_start = max((p.start_date for p in leaving), default=None)
        for key, r in wanted.items():
            if key in current:
                continue
            if leaving:  # a change of post: dated --as-of unless the row says later
                start = r.start_date if r.start_date and latest_start and \
                    r.start_date > latest_start else as_of
            else:
                start = r.start_date or as_of
            opened.append({"person_id": person_id, "unit_id": key[0], "role": key[1],
                           "start_date": start, "source": source})
        new_start = min((o["start_date"] for o in opened if o["person_id"] == person_id),
                        default=as_of) if leaving else as_of
        for p in leaving:
            end = max(p.start_date, new_start - dt.timedelta(days=1))
            closed.append({"id": p.id, "end_date": end})
        if plan.existing.get(id_number) is not None and not leaving and \
                all(k in current for k in wanted):
            report.people_unchanged += 1
    for chunk in _chunks(opened, 5000):
        connection.execute(insert(Post.__table__), chunk)
    if closed:
        session.execute(update(Post), closed)
    report.posts_opened = len(opened)
    report.posts_closed = len(closed)
    return unit_ids, person_ids


def _close_missing(session: Session, rows: list[RosterRow], unit_ids: dict[str, int],
                   person_ids: dict[str, int], report: ImportReport, as_of: dt.date,
                   under: tuple[str, ...]) -> None:
    """Close open posts, in the units the file covers, of people the file no longer lists."""
    scope = {unit_ids[r.unit_path] for r in rows}
    if under:
        prefix = join_path(under)
        scope |= set(session.scalars(select(OrgUnit.id).where(
            (OrgUnit.path == prefix) | OrgUnit.path.startswith(prefix + PATH_SEP, autoescape=True)
        )))
    listed = set(person_ids.values())
    end = as_of - dt.timedelta(days=1)
    to_close = []
    for chunk in _chunks(sorted(scope)):
        for post in session.execute(
            select(Post.id, Post.person_id, Post.start_date)
            .where(Post.unit_id.in_(chunk), Post.end_date.is_(None))
        ):
            if post.person_id not in listed:
                to_close.append({"id": post.id, "end_date": max(post.start_date, end)})
    if to_close:
        session.execute(update(Post), to_close)
    report.posts_closed += len(to_close)


def write_rejects(path: Path, table_path: Path, rejects: list[RowError],
                  sheet: str | None = None) -> Path:
    """The rejected rows as they were in the file, with a 错误原因 column (UTF-8 with BOM)."""
    rows = dict(read_rows(table_path, sheet))
    table = read_roster_table(table_path, sheet)
    header = [clean_text(c) for c in rows.get(table.header_row, [])]
    reasons: dict[int, list[str]] = defaultdict(list)
    for e in rejects:
        reasons[e.row].append(f"{e.column}：{e.reason}" if e.column else e.reason)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(["原行号", *header, "错误原因"])
        for number in sorted(reasons):
            cells = [clean_text(c) for c in rows.get(number, [])]
            # Inert in a spreadsheet (= + - @ get an apostrophe, which the importer takes off).
            writer.writerow([number, *(csv_field(c) for c in cells), "；".join(reasons[number])])
    return path
