"""Head counts by unit and role, counted in the database."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from records.models import PATH_SEP, OrgUnit, Person, Post, UnitLevel
from records.org import subtree_ids
from records.people import posts_held_on
from records.roles import ROLE_LABELS, Role


def roster_summary(session: Session, *, level: UnitLevel = UnitLevel.street,
                   as_of: dt.date | None = None, unit: OrgUnit | None = None) -> pd.DataFrame:
    """People in post on `as_of`, by unit at `level` (posts below it rolled up) and role.

    Columns: 单位代码, 单位, then one per role label, then 合计. A person holding two posts
    in one unit counts once per role.
    """
    day = as_of or dt.date.today()
    held = posts_held_on(day).subquery()
    post_unit = aliased(OrgUnit)
    top = aliased(OrgUnit)
    prefix = func.substr(post_unit.path, 1, func.length(top.path) + 1)
    stmt = (
        select(top.code, top.path, held.c.role, func.count(func.distinct(held.c.person_id)))
        .select_from(held)
        .join(post_unit, post_unit.id == held.c.unit_id)
        .join(top, (top.id == post_unit.id) | (prefix == top.path + PATH_SEP))
        .where(top.level == level)
        .group_by(top.code, top.path, held.c.role)
    )
    if unit is not None:
        stmt = stmt.where(post_unit.id.in_(subtree_ids(session, unit)))
    counts = pd.DataFrame(session.execute(stmt).all(), columns=["code", "path", "role", "n"])
    columns = ["单位代码", "单位", *ROLE_LABELS.values(), "合计"]
    if counts.empty:
        return pd.DataFrame(columns=columns)
    table = counts.pivot_table(index=["code", "path"], columns="role", values="n",
                               aggfunc="sum", fill_value=0)
    table = table.reindex(columns=[r.value for r in Role], fill_value=0)
    table.columns = list(ROLE_LABELS.values())
    table["合计"] = table.sum(axis=1)
    table = table.reset_index().rename(columns={"code": "单位代码", "path": "单位"})
    return table.sort_values("单位代码").reset_index(drop=True)


def counts(session: Session) -> dict[str, int]:
    """Row counts of the main tables (used to show an import changed nothing)."""
    return {
        "units": session.scalar(select(func.count()).select_from(OrgUnit)) or 0,
        "people": session.scalar(select(func.count()).select_from(Person)) or 0,
        "posts": session.scalar(select(func.count()).select_from(Post)) or 0,
        "open_posts": session.scalar(
            select(func.count()).select_from(Post).where(Post.end_date.is_(None))) or 0,
    }
