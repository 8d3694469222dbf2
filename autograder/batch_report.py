"""The trainer's batch sheet's tables: one row per trainee, and item analysis (which items
nobody got); `writers.batch_sheet` writes them.

Scores come from records (latest attempt per trainee, with attempts used and left) and
per-item results from nbgrader's gradebook, so the sheet covers every trainee of the module,
not only this run's.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
from nbgrader.api import Gradebook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autograder.nbgrader_run import alembic_on_path
from records.attempts import allowances
from records.curriculum import Module
from records.models import Attempt, OrgUnit, Person, Post


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
    # A column mixing times and attempts recorded without one holds NaT (truthy, no strftime).
    df["提交时间"] = df["提交时间"].map(
        lambda t: "" if t is None or pd.isna(t) else t.strftime("%Y-%m-%d %H:%M"))
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
