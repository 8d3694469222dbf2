"""A plausible synthetic city for demos and benchmarks, deterministic per seed.

安和市 (fictional): districts → streets → communities, with leaders for each street and
community, street inspectors, community grid workers, staff and volunteers; valid ID numbers
(GB 11643 check digit) and common Chinese names. No real person is described.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from records import idcard
from records.importers.roster import ImportReport, RosterRow, import_rows
from records.models import OrgUnit, Person, Post
from records.org import join_path
from records.roles import ROLE_LABELS, Role

CITY = "安和市"
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋"
             "蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷"
             "侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
_GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强海燕文博"
          "欣怡子涵浩然宇轩梓萱一诺晨曦思远雨彤俊杰佳琪鹏飞丹丹红梅玉兰淑珍凤英德明志明春梅"
          "晓东晓燕立新卫东振华永刚桂芳丽娟雪梅亚楠嘉怡昊天")
_PLACE_A = "东西南北中新安和平永兴长宁德福泰康瑞祥丰华明光清河青山锦绣金桥龙湖凤凰文昌"
_PLACE_B = ("城湖山桥园苑庄湾岭林港门台坊塘湖滨江溪原")
_REGIONS = ("110101", "310104", "320102", "330106", "370102", "420106", "440104", "510107",
            "610113", "120103")


@dataclass(frozen=True)
class DemoPerson:
    name: str
    id_number: str
    phone: str
    role: Role
    unit: tuple[str, ...]
    start_date: dt.date


@dataclass(frozen=True)
class CityShape:
    districts: int
    streets_per_district: int
    communities_per_street: int


def shape_for(people: int) -> CityShape:
    """About 20 people per community, 25 communities per street, up to 12 districts."""
    communities = max(2, people // 20)
    streets = max(3, round(communities / 25))
    districts = max(2, min(12, round(streets / 10)))
    per_district = max(1, round(streets / districts))
    per_street = max(2, round(communities / (districts * per_district)))
    return CityShape(districts, per_district, per_street)


class _Names:
    """Unique place names within a parent, from syllable pairs."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def make(self, count: int, suffixes: tuple[str, ...]) -> list[str]:
        names: list[str] = []
        seen: set[str] = set()
        while len(names) < count:
            length = 2 if len(seen) < 300 else 3
            stem = "".join(self.rng.choice(_PLACE_A if i == 0 else _PLACE_A + _PLACE_B)
                           for i in range(length))
            name = stem + self.rng.choice(suffixes)
            if name not in seen:
                seen.add(name)
                names.append(name)
        return names


def generate(people: int, seed: int = 1,
             progress: Callable[[int, int], None] | None = None) -> list[DemoPerson]:
    """Exactly `people` people in a city shaped by `shape_for`."""
    rng = random.Random(seed)
    shape = shape_for(people)
    names = _Names(rng)
    ids: set[str] = set()
    out: list[DemoPerson] = []
    today = dt.date(2026, 11, 1)
    units: list[tuple[tuple[str, ...], bool]] = []  # (path, is_street)
    for district in names.make(shape.districts, ("区",)):
        for street in names.make(shape.streets_per_district, ("街道", "街道", "镇")):
            units.append(((CITY, district, street), True))
            village = street.endswith("镇")
            for community in names.make(shape.communities_per_street,
                                        ("村",) if village else ("社区",)):
                units.append(((CITY, district, street, community), False))
    per_unit = people / len(units)
    for path, is_street in units:
        size = max(3, int(rng.gauss(per_unit, per_unit * 0.15)))
        roles = [Role.principal_leader, Role.deputy_leader]
        if is_street:
            roles += [Role.deputy_leader] + [Role.inspector] * max(1, size // 4)
        else:
            roles += [Role.grid_worker] * max(1, size // 3)
        while len(roles) < size:
            roles.append(rng.choice((Role.staff, Role.staff, Role.volunteer)))
        for role in roles:
            out.append(_person(rng, ids, role, path, today))
            if progress and len(out) % 5000 == 0:
                progress(len(out), people)
        if len(out) >= people:
            break
    communities = [path for path, is_street in units if not is_street]
    while len(out) < people:  # top up with community staff and volunteers
        path = communities[len(out) % len(communities)]
        out.append(_person(rng, ids, rng.choice((Role.staff, Role.volunteer)), path, today))
    return out[:people]


def _person(rng: random.Random, ids: set[str], role: Role, unit: tuple[str, ...],
            today: dt.date) -> DemoPerson:
    surname = rng.choice(_SURNAMES)
    given = rng.choice(_GIVEN) if rng.random() < 0.35 else rng.choice(_GIVEN) + rng.choice(_GIVEN)
    while True:
        birth = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randrange(365 * 38))
        first17 = f"{rng.choice(_REGIONS)}{birth:%Y%m%d}{rng.randrange(1000):03d}"
        number = first17 + idcard.check_digit(first17)
        if number not in ids:
            ids.add(number)
            break
    phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
    start = today - dt.timedelta(days=rng.randrange(30, 365 * 6))
    return DemoPerson(surname + given, number, phone, role, unit, start)


def load(session: Session, people: list[DemoPerson], seed: int = 1,
         as_of: dt.date | None = None) -> ImportReport:
    """Put the city straight into the database, with some post history (people who moved)."""
    rows = [RosterRow(row=n, name=p.name, id_number=p.id_number, role=p.role, unit=p.unit,
                      phone=p.phone, start_date=p.start_date, login=None)
            for n, p in enumerate(people, start=1)]
    report = import_rows(session, rows, source="demo-data", as_of=as_of)
    if report.people_created:
        _add_history(session, people, random.Random(seed + 1))
    return report


def _add_history(session: Session, people: list[DemoPerson], rng: random.Random) -> None:
    """One in twenty held an earlier post elsewhere, ended the day before the current one."""
    unit_ids = dict(session.execute(select(OrgUnit.path, OrgUnit.id)).all())
    person_ids = dict(session.execute(select(Person.id_number, Person.id)).all())
    paths = sorted({join_path(p.unit) for p in people})
    history = []
    for p in people:
        if rng.random() >= 0.05 or len(paths) < 2:
            continue
        previous = rng.choice([x for x in rng.sample(paths, 2) if x != join_path(p.unit)])
        end = p.start_date - dt.timedelta(days=1)
        start = end - dt.timedelta(days=rng.randrange(60, 900))
        history.append({"person_id": person_ids[p.id_number], "unit_id": unit_ids[previous],
                        "role": rng.choice((Role.staff, Role.grid_worker)), "start_date": start,
                        "end_date": end, "source": "demo-data"})
    if history:
        session.execute(insert(Post), history)


ROSTER_HEADER = ("序号", "姓名", "身份证号", "手机号", "市", "区/县", "街道/乡镇", "社区/村", "岗位",
                 "任职日期")


def roster_rows(people: list[DemoPerson]) -> Iterator[list[object]]:
    for n, p in enumerate(people, start=1):
        levels = list(p.unit) + [""] * (4 - len(p.unit))
        yield [n, p.name, p.id_number, p.phone, *levels, ROLE_LABELS[p.role],
               p.start_date.isoformat()]


def write_roster_xlsx(people: list[DemoPerson], path: Path,
                      title: str = f"{CITY}基层应急管理人员花名册") -> Path:
    """As administrators keep it: a merged title row, a header, IDs stored as text."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("花名册")
    title_fmt = workbook.add_format({"bold": True, "font_size": 14, "align": "center"})
    head_fmt = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text_fmt = workbook.add_format({"num_format": "@"})
    sheet.merge_range(0, 0, 0, len(ROSTER_HEADER) - 1, title, title_fmt)
    sheet.write_row(1, 0, ROSTER_HEADER, head_fmt)
    for r, row in enumerate(roster_rows(people), start=2):
        for c, value in enumerate(row):
            if isinstance(value, str):
                sheet.write_string(r, c, value, text_fmt if c in (2, 3) else None)
            else:
                sheet.write_number(r, c, value)
    for col, width in enumerate((6, 10, 21, 14, 8, 10, 12, 12, 12, 12)):
        sheet.set_column(col, col, width)
    sheet.freeze_panes(2, 0)
    workbook.close()
    return path


def write_roster_csv(people: list[DemoPerson], path: Path, encoding: str = "utf-8-sig") -> Path:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(ROSTER_HEADER)
        writer.writerows(roster_rows(people))
    return path
