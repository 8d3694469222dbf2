"""Roster rows: the header names people use, and every check on a row before any write.

Reading and checking only; `records.importers.roster` writes what passes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from records import idcard
from records.errors import InputFileError, RowError
from records.importers.table import (
    Column,
    Table,
    clean_text,
    locate_header,
    parse_date,
    parse_name,
    read_rows,
)
from records.org import MAX_DEPTH, join_path
from records.people import normalise_login
from records.roles import Role, parse_role

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
UNIT_SPLIT = re.compile(r"\s*[/>|\\]\s*")


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
    out["name"] = parse_name(raw.get("name"), fail)

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
        path = tuple(p for p in UNIT_SPLIT.split(text) if p) if text else ()
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
    errors.extend(_conflicting_people(file, rows, label))
    for r in rows:
        first = by_id.setdefault(r.id_number, r)
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


def _mask_phone(phone: str) -> str:
    digits = phone.replace("-", "")
    return digits[:3] + "****" + digits[7:] if len(digits) == 11 else phone[:-4] + "****"


def _conflicting_people(file: str, rows: list[RosterRow],
                        label: Callable[[str], str]) -> list[RowError]:
    """One ID on several rows is one person: several posts (兼职) are fine, but a different
    name or phone means one of the rows is wrong. Every row of that ID is refused, each
    naming the rows and the values that disagree (a row without a phone disagrees with none)."""
    by_id: dict[str, list[RosterRow]] = {}
    for r in rows:
        by_id.setdefault(r.id_number, []).append(r)
    errors: list[RowError] = []
    for id_number, group in by_id.items():
        if len(group) < 2:
            continue
        masked = idcard.mask(id_number)
        numbers = "、".join(f"第{r.row}行" for r in group)
        if len({r.name for r in group}) > 1:
            names = "，".join(f"第{r.row}行的姓名是「{r.name}」" for r in group)
            errors.extend(RowError(file, r.row, label("id_number"),
                                   f"身份证号 {masked} 在{numbers}出现，但姓名不一致（{names}）："
                                   "同一身份证号只能是同一个人，请核对") for r in group)
        phones = [r for r in group if r.phone]
        if len({r.phone.replace("-", "") for r in phones if r.phone}) > 1:
            listed = "，".join(f"第{r.row}行是 {_mask_phone(r.phone or '')}" for r in phones)
            errors.extend(RowError(file, r.row, label("phone"),
                                   f"身份证号 {masked} 在{numbers}出现（兼职可以），但手机号不一致"
                                   f"（{listed}）：请统一后再导入") for r in group)
    return errors
