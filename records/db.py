"""Engine, sessions and schema state. One engine per command; only Alembic changes the schema."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from records.errors import NotInitialised, SchemaBehind

if TYPE_CHECKING:  # Alembic costs a quarter second to import: only migrations load it
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest migration, so that opening a session need not load Alembic to ask; a test
# keeps it equal to what Alembic finds in MIGRATIONS_DIR.
HEAD_REVISION = "0007"


def make_engine(url: str) -> Engine:
    """Engine for a records URL; SQLite gets foreign keys on. Nothing is created on disk:
    only `upgrade` (safetrain init / db upgrade) makes a SQLite file, owner-only."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite database (None for PostgreSQL or an in-memory database)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" \
            or database.startswith("file:"):
        return None
    return Path(database)


def _missing(engine: Engine) -> bool:
    path = sqlite_file(engine)
    return path is not None and not path.exists()


def _create_private(engine: Engine) -> None:
    """The SQLite file and its folder, owner-only (0600 / 0700); an existing file made so."""
    path = sqlite_file(engine)
    if path is None:
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)  # WAL and SHM files take the database file's mode


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 (DB-API object)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine, secret: bytes | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    if secret is not None:  # migrations that write the event log chain it with this key
        cfg.attributes["secret"] = secret
    return cfg


def head_revision() -> str:
    """The newest migration, as Alembic reads it from MIGRATIONS_DIR."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    assert head is not None, "records/migrations has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision in Alembic's version table (None: no table, or empty, or no file)."""
    if _missing(engine):  # connecting would create an empty SQLite file
        return None
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except OperationalError as exc:
        raise NotInitialised(
            f"无法连接记录数据库 {safe_url(engine)}：{exc.orig}. Cannot open the records database."
        ) from exc


def upgrade(engine: Engine, revision: str = "head", *,
            secret: bytes | None = None) -> tuple[str | None, str]:
    """Run migrations; returns (revision before, revision after).

    `secret` is the instance's key, for migrations that write event-log entries (0007).
    """
    from alembic import command

    _create_private(engine)
    before = current_revision(engine)
    command.upgrade(alembic_config(engine, secret), revision)
    return before, current_revision(engine) or ""


def check_schema(engine: Engine) -> None:
    """Raise a clear error unless the database exists and is at the code's head revision.

    A missing SQLite file is not created by asking: commands other than init leave none.
    """
    current = current_revision(engine)
    if current is None:
        if not _missing(engine) and inspect(engine).get_table_names():
            raise NotInitialised(
                f"数据库 {safe_url(engine)} 里已有别的表，但不是 SafeTrain 的记录库。"
                " The database holds tables that are not SafeTrain's."
            )
        raise NotInitialised(
            "记录数据库尚未初始化：请先运行 `safetrain init`。"
            " The records database is not initialised: run `safetrain init` first."
        )
    head = HEAD_REVISION
    if current != head:
        raise SchemaBehind(
            f"记录数据库版本 {current} 落后于程序版本 {head}：请先备份，再运行 `safetrain db upgrade`。"
            " The database is behind the code's migrations: back it up, then run"
            " `safetrain db upgrade`."
        )


def safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def shown_url(url: str) -> str:
    """A database URL as it may be printed: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


class Rollback(Exception):  # noqa: N818 (a signal, not an error)
    """Raise inside `open_session` to discard the transaction quietly (dry runs)."""


@contextmanager
def open_session(url: str, *, check: bool = True) -> Iterator[Session]:
    """One engine and one transaction for a command; commits on success, rolls back on error.

    Disposes the engine on exit. Raising `Rollback` inside discards the work silently.
    """
    engine = make_engine(url)
    try:
        if check:
            check_schema(engine)
        with session_factory(engine).begin() as session:
            yield session
    except Rollback:
        pass
    finally:
        engine.dispose()
