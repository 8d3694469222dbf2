"""Roster import: people, their unit and role, all-or-nothing, re-runnable.

Two passes: every row is validated first (and checked against what the database already
holds); only when no row is wrong does anything get written, in the caller's transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from records import idcard
from records.errors import ImportRowsError, InputFileError, RowError
from records.importers.table import Column, Table, clean_text, locate_header, parse_date, read_rows
from records.models import PATH_SEP, OrgUnit, Person, Post
from records.org import MAX_DEPTH, ensure_units, join_path
from records.people import allocate_trainee_id, normalise_login
from records.roles import Role, parse_role

log = logging.getLogger(__name__)

LEVEL_FIELDS = ("city", "district", "street", "community")
FIELD_LABELS = {
    "name": "姓名", "id_number": "身份证号", "phone": "手机号", "role": "角色",
    "start_date": "任职日期", "unit": "所属单位", "login": "账号", "city": "市",
    "district": "区/县", "street": "街道/乡镇", "community": "社区/村",
}
_ALIAS_LISTS = {
    "name": ["姓名", "名字", "人员姓名", "name", "full_name"],
    "id_number": ["身份证号", "身份证号码", "公民身份号码", "身份证", "证件号码", "身份证件号码",
                  "id_number", "idnumber", "id_card", "idcard", "id"],
    "phone": ["手机号", "手机号码", "联系电话", "电话", "手机", "联系方式", "电话号码",
              "phone", "mobile", "tel"],
    "role": ["角色", "岗位", "职务", "人员类别", "人员类型", "岗位类别", "role", "position"],
    "start_date": ["任职日期", "入职日期", "任职时间", "入职时间", "上岗日期", "上岗时间",
                   "任职起始日期", "start_date", "startdate", "start"],
    "unit": ["所属单位", "单位", "工作单位", "所在单位", "单位名称", "unit", "org", "organization"],
    "login": ["账号", "帐号", "登录名", "用户名", "登录账号", "login", "username", "user"],
    "city": ["市", "城市", "地市", "所属市", "city"],
    "district": ["区/县", "区县", "区", "县", "县区", "区(县)", "县(区)", "所属区县", "district",
                 "county"],
    "street": ["街道/乡镇", "街道乡镇", "街道", "乡镇", "街镇", "街道(乡镇)", "乡镇(街道)", "乡镇/街道",
               "所属街道", "street", "township", "town"],
    "community": ["社区/村", "社区村", "社区", "村", "村居", "村(社区)", "社区(村)", "村/社区",
                  "所属社区", "community", "village"],
}
ALIASES = {alias.lower(): f for f, names in _ALIAS_LISTS.items() for alias in names}
REQUIRED = ("name", "id_number")

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")
_UNIT_SPLIT = re.compile(r"\s*[/>|\\]\s*")
_CJK_NAME = re.compile(r"^[\u3400-\u9fff·]+$")


@dataclass(frozen=True)
class RosterRow:
    row: int
    name: str
    id_number: str
    role: Role
    unit: tuple[str, ...]
    phone: str | None
    start_date: dt.date | None
    login: str | None

    @property
    def unit_path(self) -> str:
        return join_path(self.unit)


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


Progress = Callable[[int, int], None]


def read_roster_table(path: Path, sheet: str | None = None) -> Table:
    """Locate the header of a roster file; InputFileError when it is not a roster."""
    table = locate_header(path, read_rows(path, sheet), ALIASES, REQUIRED)
    has_levels = any(f in table.columns for f in LEVEL_FIELDS)
    if "role" not in table.columns:
        raise InputFileError(f"{path.name} 第{table.header_row}行表头中没有「角色/岗位/职务」列。")
    if not has_levels and "unit" not in table.columns:
        raise InputFileError(
            f"{path.name} 第{table.header_row}行表头中没有单位列：需要「所属单位」一列"
            "（如 安和市/东城区/朝阳街道/幸福社区），或「市」「区/县」「街道/乡镇」「社区/村」几列。"
        )
    return table


def validate_rows(
    table: Table,
    *,
    under: tuple[str, ...] = (),
    as_of: dt.date,
    progress: Progress | None = None,
) -> tuple[list[RosterRow], list[RowError]]:
    """Check every row on its own and against the other rows of the file."""
    file = table.path.name
    rows: list[RosterRow] = []
    errors: list[RowError] = []
    use_levels = any(f in table.columns for f in LEVEL_FIELDS)
    total = len(table.rows)
    for done, (number, raw) in enumerate(table.records(), start=1):
        row_errors: list[RowError] = []

        def fail(field_name: str, reason: str, number: int = number,
                 row_errors: list[RowError] = row_errors) -> None:
            col = table.columns.get(field_name)
            row_errors.append(RowError(file, number, col.label if col else
                                       FIELD_LABELS.get(field_name, field_name), reason))

        parsed = _parse_row(raw, table.columns, under, use_levels, as_of, fail)
        if row_errors:
            errors.extend(row_errors)
        else:
            rows.append(RosterRow(row=number, **parsed))
        if progress and done % 2000 == 0:
            progress(done, total)
    errors.extend(_cross_row_errors(file, rows, table.columns))
    if progress:
        progress(total, total)
    bad_rows = {e.row for e in errors}
    return [r for r in rows if r.row not in bad_rows], errors


def _parse_row(
    raw: dict[str, Any],
    columns: dict[str, Column],
    under: tuple[str, ...],
    use_levels: bool,
    as_of: dt.date,
    fail: Callable[[str, str], None],
) -> dict[str, Any]:
    """Field values of one row; problems go to `fail` (the row is then dropped)."""
    out: dict[str, Any] = {}
    name = clean_text(raw.get("name"))
    if _CJK_NAME.match(name.replace(" ", "")):
        name = name.replace(" ", "")  # "张  三" is aligned, not two words
    name = re.sub(r"\s+", " ", name)
    if not name:
        fail("name", "姓名为空")
    elif len(name) > 50 or any(ch.isdigit() for ch in name):
        fail("name", f"姓名「{name}」不像人名（含数字或过长）")
    out["name"] = name

    out["id_number"] = _parse_id(raw.get("id_number"), as_of, fail)

    role_text = clean_text(raw.get("role"))
    if not role_text:
        fail("role", "角色为空")
    else:
        try:
            out["role"] = parse_role(role_text)
        except ValueError as exc:
            fail("role", str(exc))

    out["unit"] = _parse_unit(raw, under, use_levels, fail)

    phone = re.sub(r"[\s()（）]", "", clean_text(raw.get("phone")))
    if phone.startswith("+86"):
        phone = phone[3:]
    if phone and not (_MOBILE.match(phone.replace("-", "")) or _LANDLINE.match(phone)):
        fail("phone", f"电话「{phone}」不是有效的手机号或固定电话")
    elif _MOBILE.match(phone.replace("-", "")):
        phone = phone.replace("-", "")
    out["phone"] = phone or None

    out["start_date"] = None
    start_raw = raw.get("start_date")
    if clean_text(start_raw):
        try:
            start = parse_date(start_raw)
        except ValueError as exc:
            fail("start_date", str(exc))
        else:
            if start > as_of:
                fail("start_date", f"任职日期 {start} 晚于导入基准日 {as_of}（可用 --as-of 指定）")
            elif start.year < 1950:
                fail("start_date", f"任职日期 {start} 不合理")
            out["start_date"] = start

    out["login"] = None
    login_text = clean_text(raw.get("login"))
    if login_text:
        try:
            out["login"] = normalise_login(login_text)
        except ValueError as exc:
            fail("login", str(exc))
    return out


def _parse_id(value: Any, as_of: dt.date, fail: Callable[[str, str], None]) -> str:
    if isinstance(value, float) and value >= 1e14:
        fail("id_number", "身份证号被 Excel 存成了数字，末几位已经丢失：请把该列设为“文本”格式后重新填写")
        return ""
    text = re.sub(r"\s+", "", clean_text(value)).upper().lstrip("'")
    if not text:
        fail("id_number", "身份证号为空")
        return ""
    try:
        return idcard.validate(text, today=as_of)
    except idcard.InvalidIdNumber as exc:
        fail("id_number", f"身份证号 {idcard.mask(text)} 无效：{exc}")
        return ""


def _parse_unit(
    raw: dict[str, Any],
    under: tuple[str, ...],
    use_levels: bool,
    fail: Callable[[str, str], None],
) -> tuple[str, ...]:
    if use_levels:
        # With --under, a file may carry only the lower level columns.
        present = [f for f in LEVEL_FIELDS if f in raw]
        names = [clean_text(raw.get(f)) for f in present]
        while names and not names[-1]:
            names.pop()
        if "" in names:
            gap = present[names.index("")]
            fail(gap, f"「{FIELD_LABELS[gap]}」为空，但下一级单位不为空")
            return ()
        path = tuple(names)
        field_name = present[0] if present else "unit"
    else:
        text = clean_text(raw.get("unit"))
        path = tuple(p for p in _UNIT_SPLIT.split(text) if p) if text else ()
        field_name = "unit"
    full = under + path if under and path[: len(under)] != under else (path or under)
    if not full:
        fail(field_name, "所属单位为空")
    elif len(full) > MAX_DEPTH:
        fail(field_name, f"单位「{join_path(full)}」超过四级（市/区县/街道乡镇/社区村）")
    elif any(len(n) > 100 for n in full):
        fail(field_name, "单位名称过长")
    return full


def _cross_row_errors(file: str, rows: list[RosterRow],
                      columns: dict[str, Column]) -> list[RowError]:
    def label(field_name: str) -> str:
        col = columns.get(field_name)
        return col.label if col else FIELD_LABELS[field_name]

    errors: list[RowError] = []
    by_id: dict[str, RosterRow] = {}
    posts_seen: dict[tuple[str, str, Role], int] = {}
    login_owner: dict[str, RosterRow] = {}
    for r in rows:
        first = by_id.setdefault(r.id_number, r)
        if first.name != r.name:
            errors.append(RowError(file, r.row, label("id_number"),
                                   f"身份证号 {idcard.mask(r.id_number)} 在第{first.row}行的姓名是"
                                   f"「{first.name}」，这里是「{r.name}」"))
        key = (r.id_number, r.unit_path, r.role)
        if key in posts_seen:
            errors.append(RowError(file, r.row, label("id_number"),
                                   f"与第{posts_seen[key]}行重复（同一人、同一单位、同一角色）"))
        posts_seen.setdefault(key, r.row)
        if r.login:
            owner = login_owner.setdefault(r.login, r)
            if owner.id_number != r.id_number:
                errors.append(RowError(file, r.row, label("login"),
                                       f"账号「{r.login}」已在第{owner.row}行给了「{owner.name}」"))
            elif first.login and first.login != r.login:
                errors.append(RowError(file, r.row, label("login"),
                                       f"同一人在第{first.row}行的账号是「{first.login}」"))
    return errors


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
    under_path = tuple(p for p in _UNIT_SPLIT.split(clean_text(under)) if p) if under else ()
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
            writer.writerow([number, *cells, "；".join(reasons[number])])
    return path
