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
