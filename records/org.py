"""The org tree: creating units from paths, stable codes, lookups."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from records.errors import NotFound
from records.models import PATH_SEP, OrgUnit, UnitLevel

# Digits each level adds to a code, like the national division codes (2+2+3+3).
CODE_WIDTH = {UnitLevel.city: 2, UnitLevel.district: 2, UnitLevel.street: 3,
              UnitLevel.community: 3}
MAX_DEPTH = len(UnitLevel)


def join_path(names: Iterable[str]) -> str:
    return PATH_SEP.join(names)


def ensure_units(session: Session, paths: Iterable[tuple[str, ...]]) -> tuple[dict[str, int], int]:
    """Create every unit (and ancestor) named by `paths` that is missing.

    Returns ({path: unit id} for all paths and ancestors, number created). Works level by
    level with one bulk insert each, so a 5,000-unit city costs a handful of statements.
    """
    wanted: set[tuple[str, ...]] = set()
    for path in paths:
        for depth in range(1, len(path) + 1):
            wanted.add(tuple(path[:depth]))
    rows = session.execute(
        select(OrgUnit.id, OrgUnit.path, OrgUnit.code, OrgUnit.child_seq)
    ).all()
    ids = {r.path: r.id for r in rows}
    codes = {r.path: r.code for r in rows}
    seq = {r.path: r.child_seq for r in rows}
    roots_seq = sum(1 for r in rows if PATH_SEP not in r.path)
    created = 0
    for depth in range(1, MAX_DEPTH + 1):
        level = UnitLevel(depth)
        new = sorted(p for p in wanted if len(p) == depth and join_path(p) not in ids)
        if not new:
            continue
        values = []
        for path in new:
            parent_path = join_path(path[:-1]) if depth > 1 else None
            if parent_path is None:
                roots_seq += 1
                n, prefix = roots_seq, ""
            else:
                seq[parent_path] += 1
                n, prefix = seq[parent_path], codes[parent_path]
            code = f"{prefix}{n:0{CODE_WIDTH[level]}d}"
            key = join_path(path)
            codes[key], seq[key] = code, 0
            values.append({"code": code, "name": path[-1], "level": level, "path": key,
                           "parent_id": ids.get(parent_path) if parent_path else None,
                           "child_seq": 0})
        session.execute(insert(OrgUnit), values)
        created += len(values)
        fresh = session.execute(
            select(OrgUnit.id, OrgUnit.path).where(OrgUnit.level == level)
        ).all()
        ids.update({r.path: r.id for r in fresh})
        parents = {join_path(p[:-1]) for p in new if depth > 1}
        if parents:
            session.execute(
                update(OrgUnit),
                [{"id": ids[p], "child_seq": seq[p]} for p in sorted(parents)],
            )
    return {join_path(p): ids[join_path(p)] for p in wanted}, created


def find_unit(session: Session, ref: str) -> OrgUnit:
    """A unit by code or by full path; NotFound names close matches."""
    unit = session.scalars(
        select(OrgUnit).where((OrgUnit.code == ref) | (OrgUnit.path == ref))
    ).one_or_none()
    if unit is not None:
        return unit
    similar = session.scalars(
        select(OrgUnit.path).where(OrgUnit.name.contains(ref.split(PATH_SEP)[-1])).limit(5)
    ).all()
    hint = f"相近的单位：{'；'.join(similar)}" if similar else "请用 `safetrain roster units` 查看单位代码"
    raise NotFound(f"没有代码或路径为「{ref}」的单位。{hint}")


def subtree_ids(session: Session, unit: OrgUnit) -> list[int]:
    """The unit and everything below it (paths are unique prefixes)."""
    return list(session.scalars(
        select(OrgUnit.id).where(
            (OrgUnit.id == unit.id) | OrgUnit.path.startswith(unit.path + PATH_SEP, autoescape=True)
        )
    ))


def list_units(session: Session) -> pd.DataFrame:
    """Every unit with its stable code and level (`safetrain roster units`), by code."""
    rows = session.execute(select(OrgUnit.code, OrgUnit.level, OrgUnit.path)
                           .order_by(OrgUnit.code)).all()
    return pd.DataFrame([(r.code, r.level.label, r.path) for r in rows],
                        columns=["代码", "层级", "单位"])
