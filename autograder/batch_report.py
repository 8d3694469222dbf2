"""The trainer's batch sheet: one row per trainee, and item analysis (which items nobody got).

Scores come from records (latest attempt per trainee, with attempts used and left) and
per-item results from nbgrader's gradebook, so the sheet covers every trainee of the module,
not only this run's.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
from nbgrader.api import Gradebook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autograder.nbgrader_run import alembic_on_path
from records.attempts import allowances
from records.curriculum import Module
from records.instance import private
from records.models import Attempt, OrgUnit, Person, Post

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
BAD_FILL = PatternFill("solid", fgColor="F8CBAD")


def trainee_rows(session: Session, module: Module) -> pd.DataFrame:
    """Latest attempt of each trainee for `module`, with name, current unit, attempts."""
    limits = allowances(session, module)
    module_id = module.id
    latest = (select(Attempt.trainee_id, func.max(Attempt.graded_at).label("at"))
              .where(Attempt.module == module_id).group_by(Attempt.trainee_id).subquery())
    units = (select(Post.person_id, func.min(OrgUnit.path).label("unit"))
             .join(OrgUnit, OrgUnit.id == Post.unit_id).where(Post.end_date.is_(None))
             .group_by(Post.person_id).subquery())
    stmt = (select(Attempt.trainee_id, Person.name, units.c.unit, Attempt.score,
                   Attempt.max_score, Attempt.passed, Attempt.status, Attempt.problems,
                   Attempt.submitted_at)
            .join(latest, (latest.c.trainee_id == Attempt.trainee_id) & (latest.c.at == Attempt.graded_at))
            .outerjoin(Person, Person.id == Attempt.person_id)
            .outerjoin(units, units.c.person_id == Attempt.person_id)
            .where(Attempt.module == module_id)
            .order_by(units.c.unit, Attempt.trainee_id))
    rows = session.execute(stmt).all()
    df = pd.DataFrame(rows, columns=["账号", "姓名", "单位", "得分", "满分", "通过", "状态", "问题",
                                     "提交时间"])
    df["得分率"] = (df["得分"] / df["满分"].where(df["满分"] > 0)).fillna(0.0)
    df["通过"] = df["通过"].map({True: "是", False: "否"})
    df["状态"] = df["状态"].map(lambda s: s.label if s is not None else "")
    df["提交时间"] = df["提交时间"].map(lambda t: t.strftime("%Y-%m-%d %H:%M") if t else "")
    df["已用次数"] = df["账号"].map(lambda t: limits[t].used).astype(int)
    df["剩余次数"] = df["账号"].map(lambda t: limits[t].left).astype(int)
    return df[["账号", "姓名", "单位", "得分", "满分", "得分率", "通过", "已用次数", "剩余次数",
               "状态", "问题", "提交时间"]]


def item_analysis(db_url: str, course_id: str, module: str, source_notebook: Path) -> pd.DataFrame:
    """Per graded item: points, what it cites, how many answered, share who got it right."""
    source = nbformat.read(source_notebook, as_version=4)
    cites = {c.metadata["nbgrader"]["grade_id"]: c.metadata.get("safetrain", {}).get("cites", "")
             for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")}
    order = list(cites)
    totals: dict[str, list[float]] = {gid: [] for gid in order}
    max_points: dict[str, float] = {}
    with alembic_on_path(), Gradebook(db_url, course_id) as gb:
        for submission in gb.assignment_submissions(module):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    totals.setdefault(grade.name, []).append(float(grade.score) / float(grade.max_score)
                                                             if grade.max_score else 0.0)
                    max_points[grade.name] = float(grade.max_score)
    rows = []
    for gid in order + [g for g in totals if g not in cites]:
        scores = totals.get(gid, [])
        full = sum(1 for s in scores if s >= 0.999)
        rows.append((gid, cites.get(gid, ""), max_points.get(gid, 0.0), len(scores), full,
                     full / len(scores) if scores else 0.0))
    df = pd.DataFrame(rows, columns=["题目", "依据", "分值", "评分人数", "答对人数", "答对率"])
    return df.sort_values(["答对率", "题目"]).reset_index(drop=True)


def write_batch_sheet(path: Path, trainees: pd.DataFrame, items: pd.DataFrame, title: str) -> Path:
    """Formatted xlsx: Chinese headers, frozen header row, percent formats, shortfalls in red."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for sheet, df, widths, percent_col, fail_rule in (
            ("成绩", trainees, [14, 10, 36, 8, 8, 9, 6, 9, 9, 14, 50, 17], "F", ("G", '"否"')),
            ("题目分析", items, [10, 40, 6, 9, 9, 9], "F", ("F", 0.5)),
        ):
            df.to_excel(writer, sheet_name=sheet, index=False, startrow=1)
            ws = writer.sheets[sheet]
            ws["A1"] = f"{title} — {sheet}"
            ws["A1"].font = Font(bold=True, size=13)
            for cell in ws[2]:
                cell.font = Font(bold=True)
                cell.fill = HEADER_FILL
                cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            ws.freeze_panes = "A3"
            for index, width in enumerate(widths):
                ws.column_dimensions[chr(65 + index)].width = width
            last = ws.max_row
            for row in range(3, last + 1):
                ws[f"{percent_col}{row}"].number_format = "0.0%"
            last_col = chr(64 + len(df.columns))
            if last >= 3:
                ws.conditional_formatting.add(f"A3:{last_col}{last}", _shortfall_rule(*fail_rule))
            ws.auto_filter.ref = f"A2:{last_col}{max(last, 2)}"
            _inert(ws)
    return private(path)


def _inert(ws: Worksheet) -> None:
    """Every cell a value, never a formula: openpyxl turns any string starting with = (a
    trainee's name, a problem text) into a live formula; written as a string it is shown."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def _shortfall_rule(column: str, threshold: str | float) -> FormulaRule:
    """Colour a whole row when its `column` shows a shortfall (not passed / rarely right)."""
    test = f"${column}3={threshold}" if isinstance(threshold, str) else f"${column}3<{threshold}"
    return FormulaRule(formula=[test], fill=BAD_FILL)
