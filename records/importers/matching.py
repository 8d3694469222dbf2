"""Finding roster people for rows of a sheet or names on the command line.

By ID number when there is one; else by name among the people in post on the day, inside
the unit the row names (or a default scope). A name that fits two people is refused with
the candidates listed, IDs masked: a wrong match would credit the wrong person.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from records import idcard
from records.errors import NotFound
from records.importers.table import clean_text
from records.models import PATH_SEP, OrgUnit, Person, UnitLevel
from records.people import posts_held_on

_UNIT_SPLIT = re.compile(r"\s*[/>|\\]\s*")


@dataclass(frozen=True)
class _Held:
    person_id: int
    name: str
    id_number: str
    unit_path: str
    role_label: str


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root + PATH_SEP)


class PersonMatcher:
    """Roster people for sheet rows, loaded in a few queries for the whole file.

    By ID number when given; else by name among people in post on `day`, inside the unit the
    row names (or inside `scope` when it names none). Ambiguity is an error, with the
    candidates listed (IDs masked).
    """

    def __init__(self, session: Session, *, day: dt.date, scope: OrgUnit | None,
                 names: Iterable[str], id_numbers: Iterable[str]) -> None:
        self.day = day
        self.scope = scope
        ids, wanted_names = sorted(set(id_numbers)), sorted(set(names))
        self.by_id: dict[str, Any] = {}
        for chunk in _chunks(ids):
            for p in session.execute(select(Person.id, Person.id_number, Person.name)
                                     .where(Person.id_number.in_(chunk))):
                self.by_id[p.id_number] = p
        self.held: dict[str, list[_Held]] = defaultdict(list)
        self.named: dict[str, int] = defaultdict(int)  # people of that name, in post or not
        held = posts_held_on(day).subquery()
        for chunk in _chunks(wanted_names):
            for p in session.execute(select(Person.name, Person.id).where(Person.name.in_(chunk))):
                self.named[p.name] += 1
            for r in session.execute(
                select(Person.id, Person.name, Person.id_number, OrgUnit.path, held.c.role)
                .join(held, held.c.person_id == Person.id)
                .join(OrgUnit, OrgUnit.id == held.c.unit_id)
                .where(Person.name.in_(chunk))
            ):
                self.held[r.name].append(_Held(r.id, r.name, r.id_number, r.path, r.role.label))
        self.units = {r.path: r for r in session.execute(
            select(OrgUnit.id, OrgUnit.path, OrgUnit.level))}

    def unit(self, text: str) -> tuple[str | None, str | None]:
        """(unit path, None) for a unit written in full or by its lower levels; else (None, why)."""
        path = PATH_SEP.join(p for p in _UNIT_SPLIT.split(text) if p)
        if path in self.units:
            return path, None
        if self.scope is not None and f"{self.scope.path}{PATH_SEP}{path}" in self.units:
            return f"{self.scope.path}{PATH_SEP}{path}", None
        ends = [p for p in self.units if p.endswith(PATH_SEP + path)]
        if len(ends) > 1 and self.scope is not None:
            ends = [p for p in ends if _within(p, self.scope.path)] or ends
        if len(ends) == 1:
            return ends[0], None
        if not ends:
            last = path.split(PATH_SEP)[-1]
            similar = sorted(p for p in self.units if last in p.split(PATH_SEP)[-1])[:3]
            hint = f"相近的单位：{'；'.join(similar)}" if similar else \
                "请写完整路径，如 市/区/街道/社区"
            return None, f"单位「{text}」不存在。{hint}"
        return None, f"单位「{text}」不唯一：{'；'.join(sorted(ends)[:4])}，请写完整路径"

    def match(self, name: str, id_number: str | None,
              unit_path: str | None) -> tuple[int | None, str | None, str]:
        """(person id, None, "") or (None, reason, field the reason is about)."""
        if id_number:
            known = self.by_id.get(id_number)
            if known is None:
                return None, (f"身份证号 {idcard.mask(id_number)} 不在花名册中："
                              "请先用 `safetrain roster import` 导入此人"), "id_number"
            if name and known.name != name:
                return None, (f"身份证号 {idcard.mask(id_number)} 登记的姓名是「{known.name}」，"
                              f"与本行「{name}」不符：请核对"), "id_number"
            return known.id, None, ""
        where = unit_path or (self.scope.path if self.scope is not None else None)
        candidates = [h for h in self.held.get(name, [])
                      if where is None or _within(h.unit_path, where)]
        people = {h.person_id: h for h in candidates}
        if len(people) == 1:
            return next(iter(people)), None, ""
        if len(people) > 1:
            listed = "；".join(f"{idcard.mask(h.id_number)}（{h.unit_path} {h.role_label}）"
                              for h in sorted(people.values(), key=lambda h: h.id_number)[:5])
            return None, (f"有 {len(people)} 位「{name}」符合，无法确定是谁：{listed}。"
                          "请在本行填写身份证号"), "name"
        elsewhere = sorted({h.unit_path for h in self.held.get(name, [])})
        place = f"「{where}」" if where else "任何单位"
        if elsewhere:
            return None, (f"{place}中 {self.day} 没有在岗的「{name}」；同名者在："
                          f"{'；'.join(elsewhere[:3])}。请核对单位或填写身份证号"), "name"
        if self.named.get(name):
            return None, (f"「{name}」{self.day} 不在岗（岗位已结束或尚未开始）："
                          "请填写身份证号"), "name"
        return None, f"花名册中没有「{name}」：请先导入花名册，或核对姓名", "name"


def _chunks(items: list[Any], size: int = 900) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def default_scope(session: Session, organizer: OrgUnit) -> OrgUnit:
    """Where names without a unit are looked for: the organizer's street (or the organizer
    itself when it is a street or above), so a community's sheet finds street leaders too."""
    if organizer.level <= UnitLevel.street:
        return organizer
    street = PATH_SEP.join(organizer.path.split(PATH_SEP)[:UnitLevel.street])
    return session.scalars(select(OrgUnit).where(OrgUnit.path == street)).one_or_none() \
        or organizer


def find_person_ref(session: Session, ref: str) -> Person:
    """A person named on the command line: ID number, trainee id (login) or a unique name."""
    text = re.sub(r"\s+", "", clean_text(ref))
    if re.fullmatch(r"\d{17}[\dXx]", text):
        try:
            number = idcard.validate(text)
        except idcard.InvalidIdNumber as exc:
            raise NotFound(f"身份证号 {idcard.mask(text)} 无效：{exc}") from None
        person = session.scalars(select(Person).where(Person.id_number == number)).one_or_none()
        if person is None:
            raise NotFound(f"身份证号 {idcard.mask(number)} 不在花名册中。")
        return person
    person = session.scalars(select(Person).where(Person.trainee_id == text.lower())).one_or_none()
    if person is not None:
        return person
    named = session.scalars(select(Person).where(Person.name == text)).all()
    if len(named) == 1:
        return named[0]
    if not named:
        raise NotFound(f"没有账号或姓名为「{ref}」的人员：可用身份证号、账号或姓名指定。")
    listed = "；".join(f"{p.trainee_id}（{p.masked_id}）" for p in named[:6])
    raise NotFound(f"有 {len(named)} 位「{text}」，请改用账号或身份证号指定：{listed}")
