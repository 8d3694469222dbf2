from sqlalchemy import func, select

from demo import city as demo_city
from records import idcard
from records.models import OrgUnit, Person, Post, UnitLevel
from records.roles import Role


def test_same_seed_same_city_and_valid_ids():
    a = demo_city.generate(600, seed=7)
    b = demo_city.generate(600, seed=7)
    c = demo_city.generate(600, seed=8)
    assert a == b
    assert a != c
    assert len(a) == 600
    assert len({p.id_number for p in a}) == len(a)
    for p in a[:100]:
        assert idcard.validate(p.id_number) == p.id_number


def test_every_street_and_community_has_a_principal_leader():
    city = demo_city.generate(1000, seed=3)
    units = {p.unit for p in city}
    leaders = {p.unit for p in city if p.role is Role.principal_leader}
    assert units == leaders
    assert any(len(u) == 3 for u in units) and any(len(u) == 4 for u in units)
    assert {p.role for p in city if len(p.unit) == 3} >= {Role.inspector, Role.deputy_leader}


def test_load_into_database_with_post_history(session):
    city = demo_city.generate(400, seed=5)
    report = demo_city.load(session, city, seed=5)
    assert report.people_created == len(city)
    assert session.scalar(select(func.count()).select_from(Person)) == len(city)
    closed = session.scalar(select(func.count()).select_from(Post).where(Post.end_date.is_not(None)))
    assert 0 < closed < len(city) * 0.15
    assert session.scalar(select(func.count()).select_from(OrgUnit)
                          .where(OrgUnit.level == UnitLevel.city)) == 1
    again = demo_city.load(session, city, seed=5)
    assert not again.changed


def test_roster_files_round_trip(tmp_path, session):
    from records.importers.roster import import_roster

    city = demo_city.generate(300, seed=9)
    xlsx = demo_city.write_roster_xlsx(city, tmp_path / "city.xlsx")
    csv = demo_city.write_roster_csv(city, tmp_path / "city.csv", encoding="gb18030")
    report = import_roster(session, xlsx)
    assert report.people_created == len(city)
    assert not import_roster(session, csv).changed
