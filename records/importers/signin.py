"""Sign-in sheets (签到表): who came to a training session, matched to the roster.

Read with `records.importers.table` like a roster: any encoding, title rows, header
variants, Excel row numbers. People are matched by ID number, or by name + unit (or by name
alone inside the organizer's street); a name that fits two people is refused, never guessed.
All-or-nothing: any bad row means nothing is written. `records.importers.drills` reuses the
row reading and the matching for drill participation sheets.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from records import idcard
from records.errors import ImportRowsError, InputFileError, RowError
from records.importers.matching import PersonMatcher, default_scope
from records.importers.table import Table, clean_text, locate_header, parse_name, read_rows
from records.models import PATH_SEP, Attendance, OrgUnit, TrainingSession
from records.training import (
    AttendanceReport,
    check_minutes,
    parse_attendance,
    parse_minutes,
    upsert_attendance,
)

LEVEL_FIELDS = ("city", "district", "street", "community")
FIELD_LABELS = {
    "name": "姓名", "id_number": "身份证号", "unit": "所属单位", "status": "签到",
    "minutes": "时长(分钟)", "note": "备注", "city": "市", "district": "区/县",
    "street": "街道/乡镇", "community": "社区/村",
}
ALIAS_LISTS: dict[str, list[str]] = {
    "name": ["姓名", "名字", "人员姓名", "参训人员", "参训人", "参会人员", "参加人员", "参演人员",
             "name", "full_name"],
    "id_number": ["身份证号", "身份证号码", "公民身份号码", "身份证", "证件号码", "身份证件号码",
                  "id_number", "idnumber", "id_card", "idcard", "id"],
    "unit": ["所属单位", "单位", "工作单位", "所在单位", "单位名称", "unit", "org", "organization"],
    "status": ["签到", "签到情况", "签到状态", "出勤", "出勤情况", "考勤", "是否参加", "是否出席",
               "是否签到", "是否到会", "参加情况", "出席情况", "状态", "attendance", "status",
               "present"],
    "minutes": ["时长", "参训时长", "学习时长", "在场时长", "实际时长", "参加时长", "分钟",
                "时长分钟", "minutes", "duration"],
    "note": ["备注", "说明", "note", "notes", "remark", "remarks"],
    "city": ["市", "城市", "地市", "所属市", "city"],
    "district": ["区/县", "区县", "区", "县", "县区", "区(县)", "县(区)", "所属区县", "district",
                 "county"],
    "street": ["街道/乡镇", "街道乡镇", "街道", "乡镇", "街镇", "街道(乡镇)", "乡镇(街道)",
               "乡镇/街道", "所属街道", "street", "township", "town"],
    "community": ["社区/村", "社区村", "社区", "村", "村居", "村(社区)", "社区(村)", "村/社区",
                  "所属社区", "community", "village"],
}


def aliases(extra: Mapping[str, list[str]] | None = None) -> dict[str, str]:
    lists = {**ALIAS_LISTS, **(extra or {})}
    return {alias.lower(): f for f, names in lists.items() for alias in names}


# Columns every sign-in sheet has and nobody needs told are ignored.
_USUAL_EXTRAS = {"序号", "编号", "no", "no.", "签名", "本人签名", "签字", "联系电话", "手机号",
                 "手机", "电话", "职务", "岗位", "性别"}
_TITLE_DATE = re.compile(r"(\d{4})\s*(?:年|[-/.])\s*(\d{1,2})\s*(?:月|[-/.])\s*(\d{1,2})")


@dataclass
class Sheet:
    """A located header plus the text of the rows above it (the sheet's title)."""

    table: Table
    title_text: str
    title_dates: list[dt.date]


def read_sheet(path: Path, sheet: str | None, alias_map: Mapping[str, str],
               required: tuple[str, ...] = ("name",)) -> Sheet:
    rows = list(read_rows(path, sheet))
    table = locate_header(path, iter(rows), alias_map, required)
    above = [cells for number, cells in rows if number < table.header_row]
    texts: list[str] = []
    dates: list[dt.date] = []
    for cells in above:
        for cell in cells:
            if isinstance(cell, dt.date):  # a date typed into a title cell
                dates.append(cell.date() if isinstance(cell, dt.datetime) else cell)
            elif clean_text(cell):
                texts.append(clean_text(cell))
    title = " ".join(texts)
    for match in _TITLE_DATE.finditer(title):
        try:
            dates.append(dt.date(*(int(g) for g in match.groups())))
        except ValueError:
            continue
    return Sheet(table, title, dates)


def find_by_title(session: Session, sheet: Sheet, file: str, model: Any, noun: str,
                  option: str) -> Any:
    """The training (or drill) a sheet's title names: its title appears in the rows above the
    header, and its date too when they carry one. Anything else is an error saying what to do."""
    compact = re.sub(r"\s+", "", sheet.title_text)
    hint = f"请用 {option} 指定编号（`safetrain {'training' if noun == '培训' else 'drill'} list` 可查）"
    if not compact:
        raise InputFileError(f"{file}：表头上方没有标题行，无法判断是哪一次{noun}。{hint}。")
    stmt = select(model)
    if sheet.title_dates:
        stmt = stmt.where(model.held_on.in_(sheet.title_dates))
    found = [s for s in session.scalars(stmt) if re.sub(r"\s+", "", s.title) in compact]
    if len(found) > 1:
        found = _organised_by_named_unit(session, compact, found)
    if len(found) == 1:
        return found[0]
    when = "、".join(d.isoformat() for d in sheet.title_dates) or "标题中没有日期"
    if not found:
        raise InputFileError(
            f"{file}：标题「{sheet.title_text[:80]}」（{when}）没有对应的已登记{noun}。"
            f"请先登记这次{noun}，或{hint}。"
        )
    units = {u.id: u.path for u in session.scalars(
        select(OrgUnit).where(OrgUnit.id.in_({s.organizer_id for s in found})))}
    listed = "；".join(f"{s.code} {s.held_on} {units.get(s.organizer_id, '')} {s.title}"
                      for s in found)
    raise InputFileError(f"{file}：标题对应多次{noun}（{listed}），标题中的日期和单位名称"
                         f"无法区分，{hint}。")


def _organised_by_named_unit(session: Session, compact: str, found: list[Any]) -> list[Any]:
    """Of several sessions whose title and date fit, those organised by the unit the sheet's
    title names (乙一社区…培训签到表: 乙一社区's, not its street's). A title naming a street
    and then a community (乙街道乙一社区…) means the community: the lowest level named wins.
    When the title names none of their organisers, all of them (the caller refuses)."""
    units = {u.id: u for u in session.scalars(
        select(OrgUnit).where(OrgUnit.id.in_({s.organizer_id for s in found})))}
    named = [s for s in found
             if (name := re.sub(r"\s+", "", units[s.organizer_id].name)) and name in compact]
    if not named:
        return found
    lowest = max(units[s.organizer_id].level for s in named)
    return [s for s in named if units[s.organizer_id].level == lowest]


# --------------------------------------------------------------------------- rows


@dataclass
class PersonRow:
    """One valid sheet row: who (person_id, or None for an accepted unmatched row) and what."""

    row: int
    name: str
    person_id: int | None
    status: Attendance
    minutes: int | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def read_person_rows(
    session: Session,
    sheet: Sheet,
    *,
    day: dt.date,
    scope: OrgUnit | None,
    hours: float | None = None,
    extra: Mapping[str, Callable[[str], Any]] | None = None,
    accept_unmatched: Callable[[PersonRow, bool], bool] | None = None,
) -> tuple[list[PersonRow], list[RowError], list[str]]:
    """Validate every row and match its person; returns (rows, errors, warnings).

    `extra` parses further columns (e.g. a drill role); `accept_unmatched(row, has_id)` lets
    a caller keep a row whose person is not in the roster (residents at a drill).
    """
    table = sheet.table
    file = table.path.name
    extra = dict(extra or {})
    errors: list[RowError] = []
    warnings: list[str] = []
    unknown = [h for h in table.unknown_headers if h.lower() not in _USUAL_EXTRAS]
    if unknown:
        warnings.append(f"未识别、已忽略的列：{'、'.join(unknown)}")
    if "status" not in table.columns:
        warnings.append("表中没有「签到」列：表中所列人员均记为出席")

    def label(field_name: str) -> str:
        col = table.columns.get(field_name)
        return col.label if col else FIELD_LABELS.get(field_name, field_name)

    parsed: list[tuple[int, dict[str, Any]]] = []
    for number, raw in table.records():
        row_errors: list[RowError] = []

        def fail(field_name: str, reason: str, number: int = number,
                 row_errors: list[RowError] = row_errors) -> None:
            row_errors.append(RowError(file, number, label(field_name), reason))

        values = _parse_fields(raw, table, extra, hours, fail)
        errors.extend(row_errors)
        if not row_errors:
            parsed.append((number, values))

    matcher = PersonMatcher(session, day=day, scope=scope,
                            names=[v["name"] for _, v in parsed],
                            id_numbers=[v["id_number"] for _, v in parsed if v["id_number"]])
    rows: list[PersonRow] = []
    first_row: dict[int, int] = {}
    for number, v in parsed:
        unit_path = None
        if v["unit"]:
            unit_path, why = matcher.unit(v["unit"])
            if why:
                errors.append(RowError(file, number, label(v["unit_field"]), why))
                continue
        row = PersonRow(number, v["name"], None, v["status"], v["minutes"], v["note"],
                        {k: v[k] for k in extra})
        person_id, why, about = matcher.match(v["name"], v["id_number"], unit_path)
        if person_id is None:
            if accept_unmatched is not None and accept_unmatched(row, bool(v["id_number"])):
                rows.append(row)
                continue
            errors.append(RowError(file, number, label(about), why or ""))
            continue
        if person_id in first_row:
            errors.append(RowError(file, number, label("name"),
                                   f"与第{first_row[person_id]}行是同一人，请删去重复的一行"))
            continue
        first_row[person_id] = number
        row.person_id = person_id
        rows.append(row)
    return rows, errors, warnings


def _parse_fields(raw: dict[str, Any], table: Table, extra: Mapping[str, Callable[[str], Any]],
                  hours: float | None, fail: Callable[[str, str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["name"] = parse_name(raw.get("name"), fail)

    out["id_number"] = None
    value = raw.get("id_number")
    if isinstance(value, float) and value >= 1e14:
        fail("id_number", "身份证号被 Excel 存成了数字，末几位已经丢失：请把该列设为“文本”格式后重新填写")
    else:
        text = re.sub(r"\s+", "", clean_text(value)).upper().lstrip("'")
        if text:
            try:
                out["id_number"] = idcard.validate(text)
            except idcard.InvalidIdNumber as exc:
                fail("id_number", f"身份证号 {idcard.mask(text)} 无效：{exc}")

    levels = [f for f in LEVEL_FIELDS if f in table.columns]
    if levels:
        names = [clean_text(raw.get(f)) for f in levels]
        out["unit"] = PATH_SEP.join(n for n in names if n)
        out["unit_field"] = next((f for f, n in zip(levels, names, strict=True) if n), levels[0])
    else:
        out["unit"] = clean_text(raw.get("unit"))
        out["unit_field"] = "unit"

    status = Attendance.present
    if "status" in table.columns:
        text = clean_text(raw.get("status"))
        if not text:
            fail("status", "签到为空：请填 出席、缺席、请假 或 早退")
        else:
            try:
                status = parse_attendance(text)
            except ValueError as exc:
                fail("status", str(exc))
    out["status"] = status

    out["minutes"] = None
    minutes_text = clean_text(raw.get("minutes"))
    if minutes_text:
        try:
            out["minutes"] = parse_minutes(minutes_text)
        except ValueError as exc:
            fail("minutes", str(exc))
    if hours is not None:
        problem = check_minutes(status, out["minutes"], hours)
        if problem:
            fail("minutes" if out["minutes"] is not None or "minutes" in table.columns
                 else "status", problem)

    note = clean_text(raw.get("note"))
    out["note"] = note[:200] or None
    for key, parse in extra.items():
        text = clean_text(raw.get(key))
        try:
            out[key] = parse(text)
        except ValueError as exc:
            fail(key, str(exc))
            out[key] = None
    return out


# --------------------------------------------------------------------------- import


def import_signin(session: Session, path: Path, *, training: TrainingSession | None = None,
                  sheet: str | None = None, under: OrgUnit | None = None) -> AttendanceReport:
    """Import a sign-in sheet into one session's attendance, all-or-nothing, re-runnable.

    The session is `training`, or the one the sheet's title row names. Names without a unit
    are looked for under `under` (default: the organizer's street).
    """
    data = read_sheet(path, sheet, aliases())
    if training is None:
        training = find_by_title(session, data, path.name, TrainingSession, "培训",
                                 "--session")
    scope = under or default_scope(session, training.organizer)
    rows, errors, warnings = read_person_rows(session, data, day=training.held_on, scope=scope,
                                              hours=training.hours)
    report = checked_report(path, training.code, rows, errors, warnings)
    source = f"signin:{path.name}"
    upsert_attendance(session, training, [
        {"person_id": r.person_id, "status": r.status, "minutes": r.minutes, "note": r.note,
         "source": source} for r in rows], report)
    return report


def checked_report(path: Path, target: str, rows: list[Any], errors: list[RowError],
                   warnings: list[str]) -> AttendanceReport:
    """The import's report, all-or-nothing: any bad row raises them all (in row order), and
    a sheet with no person rows under its header is an error."""
    report = AttendanceReport(file=path.name, target=target, warnings=warnings)
    report.rows = len(rows) + len({e.row for e in errors})
    if errors:
        errors.sort(key=lambda e: e.row)
        raise ImportRowsError(errors, report.rows)
    if not rows:
        raise InputFileError(f"{path.name}：表头下没有任何人员行。")
    return report
