"""Drill sheets: a register of drills (one row per drill), and a drill's participant list.

Same reader and the same person matching as sign-in sheets; all-or-nothing, re-runnable.
Residents on a participant list who are not in the roster (role 居民, no ID number) are
counted, not refused: many people taking part in a drill are not staff.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.drills import (
    DrillSpec,
    add_drill,
    parse_drill_role,
    parse_drill_type,
    parse_form,
    parse_scope,
    upsert_participation,
)
from records.errors import ImportRowsError, InputFileError, RowError
from records.importers.signin import (
    PersonMatcher,
    PersonRow,
    aliases,
    checked_report,
    default_scope,
    find_by_title,
    read_person_rows,
    read_sheet,
)
from records.importers.table import clean_text, parse_date
from records.models import Drill, DrillRole, OrgUnit
from records.training import AttendanceReport, parse_minutes

ROLE_ALIASES = {"role": ["演练角色", "演练职责", "角色", "职责", "分工", "任务", "演练分工",
                         "drill_role", "role"]}

REGISTER_ALIASES = {
    "title": ["演练名称", "名称", "演练项目", "演练主题", "title"],
    "drill_type": ["演练类型", "类型", "类别", "type"],
    "form": ["演练形式", "形式", "form"],
    "scope": ["演练规模", "规模", "组织范围", "单项/综合", "scope"],
    "plan": ["应急预案", "预案", "预案名称", "演练预案", "plan"],
    "scenario": ["情景", "演练情景", "情景设置", "场景", "scenario"],
    "organizer": ["组织单位", "主办单位", "牵头单位", "organizer"],
    "units": ["参演单位", "参加单位", "参与单位", "units"],
    "held_on": ["日期", "演练日期", "时间", "演练时间", "date"],
    "duration": ["时长", "演练时长", "持续时间", "duration", "minutes"],
    "planned": ["计划人数", "计划参演人数", "应参演人数", "planned"],
    "residents": ["居民人数", "群众人数", "参演居民", "residents"],
}
REGISTER_LABELS = {
    "title": "演练名称", "drill_type": "类型", "form": "形式", "scope": "规模",
    "plan": "应急预案", "scenario": "情景", "organizer": "组织单位", "units": "参演单位",
    "held_on": "日期", "duration": "时长(分钟)", "planned": "计划人数", "residents": "居民人数",
}
_LIST_SPLIT = re.compile(r"\s*[、,，;；\n]\s*")


def import_participation(session: Session, path: Path, *, drill: Drill | None = None,
                         sheet: str | None = None, under: OrgUnit | None = None,
                         ) -> AttendanceReport:
    """A drill's participant list → participation rows (and the residents count)."""
    data = read_sheet(path, sheet, aliases(ROLE_ALIASES))
    if drill is None:
        drill = find_by_title(session, data, path.name, Drill, "演练", "--drill")
    scope = under or default_scope(session, drill.organizer)

    def resident(row: PersonRow, has_id: bool) -> bool:
        return row.extra.get("role") is DrillRole.resident and not has_id

    rows, errors, warnings = read_person_rows(
        session, data, day=drill.held_on, scope=scope, extra={"role": parse_drill_role},
        accept_unmatched=resident)
    report = checked_report(path, drill.code, rows, errors, warnings)
    source = f"drill-sheet:{path.name}"
    matched = [r for r in rows if r.person_id is not None]
    upsert_participation(session, drill, [
        {"person_id": r.person_id, "role": r.extra["role"], "status": r.status, "source": source}
        for r in matched], report)
    listed_residents = sum(1 for r in rows if r.person_id is None and r.status.took_part)
    if listed_residents > drill.residents:  # never lower a count recorded from elsewhere
        drill.residents = listed_residents
        report.updated += 1
    report.residents = drill.residents
    session.flush()
    return report


# --------------------------------------------------------------------------- register


def import_drills(session: Session, path: Path, *, sheet: str | None = None) -> AttendanceReport:
    """A register of drills, one row each: all rows valid, or nothing written."""
    alias_map = {a.lower(): f for f, names in REGISTER_ALIASES.items() for a in names}
    data = read_sheet(path, sheet, alias_map, required=("title", "held_on"))
    table = data.table
    file = path.name
    for needed in ("drill_type", "organizer"):
        if needed not in table.columns:
            raise InputFileError(f"{file} 第{table.header_row}行表头中没有「{REGISTER_LABELS[needed]}」列。")
    matcher = PersonMatcher(session, day=dt.date.today(), scope=None, names=(), id_numbers=())
    errors: list[RowError] = []
    specs: list[tuple[int, dict[str, Any]]] = []
    seen: dict[tuple[str, dt.date, str], int] = {}
    for number, raw in table.records():
        row_errors: list[RowError] = []

        def fail(key: str, reason: str, number: int = number,
                 row_errors: list[RowError] = row_errors) -> None:
            col = table.columns.get(key)
            row_errors.append(RowError(file, number, col.label if col else REGISTER_LABELS[key],
                                       reason))

        spec = _register_row(raw, matcher, fail)
        if not row_errors:
            key = (spec["title"], spec["held_on"], spec["organizer"])
            if key in seen:
                fail("title", f"与第{seen[key]}行是同一次演练（名称、日期、组织单位相同）")
            seen.setdefault(key, number)
        errors.extend(row_errors)
        if not row_errors:
            specs.append((number, spec))
    report = AttendanceReport(file=file, rows=len(specs) + len({e.row for e in errors}))
    if errors:
        errors.sort(key=lambda e: e.row)
        raise ImportRowsError(errors, report.rows)
    if not specs:
        raise InputFileError(f"{file}：表头下没有任何演练行。")
    unit_rows = {u.path: u for u in session.scalars(select(OrgUnit).where(
        OrgUnit.path.in_({p for _, s in specs for p in (s["organizer"], *s["units"])})))}
    for _, s in specs:
        spec = DrillSpec(
            title=s["title"], drill_type=s["drill_type"], form=s["form"], scope=s["scope"],
            organizer=unit_rows[s["organizer"]], held_on=s["held_on"],
            duration_minutes=s["duration"], plan=s["plan"], scenario=s["scenario"],
            units=[unit_rows[p] for p in s["units"]], planned_participants=s["planned"],
            residents=s["residents"])
        _, state = add_drill(session, spec, source=f"drill-register:{file}")
        if state == "created":
            report.created += 1
        elif state == "updated":
            report.updated += 1
        else:
            report.unchanged += 1
    return report


def _register_row(raw: dict[str, Any], matcher: PersonMatcher,
                  fail: Callable[[str, str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["title"] = clean_text(raw.get("title"))
    if not out["title"]:
        fail("title", "演练名称为空")
    for key, parse, default in (("drill_type", parse_drill_type, None),
                                ("form", parse_form, "实战演练"),
                                ("scope", parse_scope, "单项演练")):
        text = clean_text(raw.get(key)) or default
        if not text:
            fail(key, f"{REGISTER_LABELS[key]}为空")
            continue
        try:
            out[key] = parse(text)
        except ValueError as exc:
            fail(key, str(exc))
    out["held_on"] = None
    try:
        out["held_on"] = parse_date(raw.get("held_on"))
    except ValueError as exc:
        fail("held_on", str(exc) if clean_text(raw.get("held_on")) else "日期为空")
    else:
        if out["held_on"] > dt.date.today():
            fail("held_on", f"演练日期 {out['held_on']} 在今天之后：只登记已举行的演练")
    organizer = clean_text(raw.get("organizer"))
    out["organizer"], why = matcher.unit(organizer) if organizer else (None, "组织单位为空")
    if why:
        fail("organizer", why)
    out["units"] = []
    for name in _LIST_SPLIT.split(clean_text(raw.get("units"))):
        if not name:
            continue
        path, why = matcher.unit(name)
        if why:
            fail("units", why)
        else:
            out["units"].append(path)
    duration = clean_text(raw.get("duration"))
    out["duration"] = None
    if not duration:
        fail("duration", "演练时长为空：请填分钟数")
    else:
        try:
            out["duration"] = parse_minutes(duration)
        except ValueError as exc:
            fail("duration", str(exc))
    for key in ("planned", "residents"):
        text = clean_text(raw.get(key))
        out[key] = None
        if text:
            if not text.isdigit():
                fail(key, f"{REGISTER_LABELS[key]}「{text}」应为整数")
            else:
                out[key] = int(text)
    out["plan"] = clean_text(raw.get("plan"))[:200] or None
    out["scenario"] = clean_text(raw.get("scenario")) or None
    return out
