"""Models and migrations agree, on both databases; commands refuse a database not ready."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from records import db
from records.errors import NotInitialised, SchemaBehind
from records.models import Base


def test_migrations_match_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []
    db.check_schema(engine)  # at head: no error


def test_the_head_revision_constant_is_alembics_head():
    # check_schema compares with db.HEAD_REVISION to spare every command importing Alembic:
    # after adding a migration, set HEAD_REVISION to its revision.
    assert db.head_revision() == db.HEAD_REVISION


def test_downgrade_to_base_and_up_again(engine):
    cfg = db.alembic_config(engine)
    command.downgrade(cfg, "base")
    assert db.current_revision(engine) is None
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()


def test_uninitialised_database_says_run_init(empty_db_url):
    engine = db.make_engine(empty_db_url)
    with pytest.raises(NotInitialised, match="safetrain init"):
        db.check_schema(engine)
    engine.dispose()


def test_database_behind_migrations_says_upgrade(engine):
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(SchemaBehind, match="safetrain db upgrade"):
        db.check_schema(engine)


def test_foreign_tables_are_not_mistaken_for_an_empty_database(empty_db_url):
    engine = db.make_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE other (x INTEGER)"))
    with pytest.raises(NotInitialised, match="不是 SafeTrain"):
        db.check_schema(engine)
    engine.dispose()


def test_sqlite_enforces_foreign_keys(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL always enforces them")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
