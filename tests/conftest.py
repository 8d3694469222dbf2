"""Fixtures: a freshly migrated records database per test, on SQLite and on PostgreSQL.

Migrations run once per database kind per test run (into a template); each test gets a
copy, so tests are isolated and fast. PostgreSQL comes from SAFETRAIN_TEST_PG_URL: without
it those tests skip, except under CI=true, where a missing server fails the run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from records import db

PG_ENV = "SAFETRAIN_TEST_PG_URL"
RUN_ID = uuid.uuid4().hex[:8]


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {PG_ENV} is not set: the PostgreSQL tests cannot run")
        pytest.skip(f"{PG_ENV} is not set; set it to run the PostgreSQL tests")
    return url


@pytest.fixture(scope="session")
def pg_template() -> Iterator[tuple[str, str]]:
    """(admin URL, name of a migrated template database) for this test run."""
    admin_url = _pg_admin_url()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 (any connection failure means the same thing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL at {admin_url} is not reachable: {exc}")
        pytest.skip(f"PostgreSQL at {admin_url} is not reachable: {exc}")
    name = f"safetrain_tmpl_{RUN_ID}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = db.make_engine(make_url(admin_url).set(database=name).render_as_string(False))
    db.upgrade(engine)
    engine.dispose()
    yield admin_url, name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "records.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    return path


def _fresh_pg(pg_template: tuple[str, str]) -> Iterator[str]:
    admin_url, template = pg_template
    name = f"safetrain_t_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield make_url(admin_url).set(database=name).render_as_string(False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty records database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "records.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        yield from _fresh_pg(request.getfixturevalue("pg_template"))


@pytest.fixture
def pg_url(pg_template: tuple[str, str]) -> Iterator[str]:
    """A migrated, empty PostgreSQL records database (for what only PostgreSQL does)."""
    yield from _fresh_pg(pg_template)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = db.make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed at the end of the test body (if it succeeds)."""
    with db.session_factory(engine).begin() as s:
        yield s


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty (unmigrated) SQLite database URL."""
    yield f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def instance_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An instance directory in tmp, selected through SAFETRAIN_HOME."""
    home = tmp_path / "instance"
    monkeypatch.setenv("SAFETRAIN_HOME", str(home))
    monkeypatch.delenv("SAFETRAIN_DB", raising=False)
    return home
