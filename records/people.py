"""People and posts: trainee ids, and who held which post when."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from records.errors import NotFound
from records.models import OrgUnit, Person, Post
from records.roles import Role

TRAINEE_ID_RE = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
_NOT_ASCII_ID = re.compile(r"[^a-z0-9]")


@lru_cache(maxsize=20000)
def _char_pinyin(char: str) -> str:
    from pypinyin import Style, lazy_pinyin  # 0.3 s to import: only where ids are made

    return "".join(lazy_pinyin(char, style=Style.NORMAL))


def trainee_id_stem(name: str) -> str:
    """Pinyin of a name without tones, e.g. 张伟 → zhangwei; 'trainee' when nothing usable.

    Character by character (cached): names share few characters, so 100,000 names cost
    milliseconds, and an id needs to be readable and stable, not phonetically perfect.
    """
    stem = _NOT_ASCII_ID.sub("", "".join(map(_char_pinyin, name)).lower())
    if not stem or not stem[0].isalpha():
        stem = "t" + stem
    return stem[:24] if len(stem) > 1 else "trainee"


def allocate_trainee_id(name: str, taken: set[str]) -> str:
    """A free id from the name's pinyin (zhangwei, zhangwei2, ...); adds it to `taken`."""
    stem = trainee_id_stem(name)
    candidate, n = stem, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}{n}"
    taken.add(candidate)
    return candidate


def normalise_login(text: str) -> str:
    """A login from a roster cell, lower-cased; ValueError with the rule when it is unusable."""
    login = text.strip().lower()
    if not TRAINEE_ID_RE.match(login):
        raise ValueError(
            f"账号「{text}」不可用：须以英文字母开头，只含小写字母、数字、点、下划线或连字符，2–32位"
        )
    return login


def find_person(session: Session, *, trainee_id: str | None = None,
                id_number: str | None = None) -> Person:
    stmt = select(Person)
    if trainee_id is not None:
        stmt = stmt.where(Person.trainee_id == trainee_id)
    if id_number is not None:
        stmt = stmt.where(Person.id_number == id_number)
    person = session.scalars(stmt).one_or_none()
    if person is None:
        raise NotFound(f"没有找到这个人员（{trainee_id or '身份证号已隐去'}）。")
    return person


def posts_held_on(day: dt.date, *, unit_ids: Iterable[int] | None = None,
                  roles: Iterable[Role] | None = None) -> Select[tuple[Post]]:
    """Posts held on `day` (start ≤ day ≤ end, open posts have no end)."""
    stmt = select(Post).where(
        Post.start_date <= day, (Post.end_date.is_(None)) | (Post.end_date >= day)
    )
    if unit_ids is not None:
        stmt = stmt.where(Post.unit_id.in_(list(unit_ids)))
    if roles is not None:
        stmt = stmt.where(Post.role.in_(list(roles)))
    return stmt


def holders_on(session: Session, unit: OrgUnit, role: Role, day: dt.date) -> list[Person]:
    """Who held `role` in `unit` on `day`."""
    stmt = posts_held_on(day, unit_ids=[unit.id], roles=[role])
    return [post.person for post in session.scalars(stmt)]


def tenure_after(session: Session, person: Person, day: dt.date) -> dt.timedelta | None:
    """How long after `day` (say, a training) the person left the post they held that day.

    None while that post is still open or when they held no post on `day`.
    """
    posts = session.scalars(posts_held_on(day).where(Post.person_id == person.id)).all()
    ends = [p.end_date for p in posts]
    if not ends or any(e is None for e in ends):
        return None
    return max(e for e in ends if e is not None) - day


def first_trainees(session: Session, count: int) -> list[str]:
    """The first `count` people's logins, in roster insertion order."""
    return list(session.scalars(select(Person.trainee_id).order_by(Person.id).limit(count)))


def person_by_login(session: Session, login: str) -> Person | None:
    return session.scalars(select(Person).where(Person.trainee_id == login)).one_or_none()
