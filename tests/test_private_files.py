"""Private files (issue 17, point 4): the instance is the owner's alone, IDs are never
echoed whole, and only `safetrain init` (or `db upgrade`) creates a database."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from records import db
from records.instance import DB_FILENAME, Instance
from scripts.cli import app
from tests.helpers import id_number
from tests.test_reports import city

runner = CliRunner()
PERIOD = ["--period", "2026-11", "--as-of", "2026-11-30"]
FULL_ID = id_number(seq="777")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_init_makes_the_instance_owner_only(instance_env):
    instance_env.mkdir()
    instance_env.chmod(0o755)  # an older instance, readable by all: init closes it
    result = cli("init")
    assert result.exit_code == 0, result.output
    inst = Instance.from_env()
    for folder in (inst.home, inst.course_dir, inst.reports_dir, inst.imports_dir):
        assert mode(folder) == 0o700, folder
    assert mode(inst.secret_file) == 0o600
    database = inst.home / DB_FILENAME
    assert mode(database) == 0o600
    assert cli("init").exit_code == 0 and mode(database) == 0o600  # again: nothing changes
    for extra in inst.home.glob(f"{DB_FILENAME}-*"):  # WAL and SHM, if SQLite left them
        assert mode(extra) & 0o077 == 0, extra


def test_reports_are_owner_only(instance_env):
    assert cli("init").exit_code == 0
    inst = Instance.from_env()
    engine = db.make_engine(inst.db_url)
    with db.session_factory(engine).begin() as session:
        city(session)
    engine.dispose()
    assert cli("report", "coverage", *PERIOD, "--format", "xlsx").exit_code == 0
    assert cli("report", "monthly", *PERIOD, "--seed", "1").exit_code == 0
    out = instance_env.parent / "elsewhere" / "leaders.csv"
    out.parent.mkdir()
    assert cli("report", "leaders", *PERIOD, "--format", "csv", "--out", str(out)).exit_code == 0
    written = [*inst.reports_dir.rglob("*.*"), out]
    assert {p.suffix for p in written} >= {".xlsx", ".html", ".pdf", ".csv"}
    for path in written:
        assert mode(path) == 0o600, path


@pytest.mark.parametrize("command", [
    ("report", "coverage", *PERIOD),
    ("report", "monthly", *PERIOD),
    ("admin", "show", "zhangsan"),
    ("db", "status"),
])
def test_commands_before_init_create_no_database(instance_env, command):
    result = cli(*command)
    assert result.exit_code == 3, result.output
    assert not (instance_env / DB_FILENAME).exists()
    assert not instance_env.exists() or not any(instance_env.rglob("*.db"))
    if command[0] != "db":
        assert "safetrain init" in result.output


def test_admin_never_echoes_a_whole_id(db_url, engine, instance_env):
    from records.access import grant
    from records.org import find_unit

    with db.session_factory(engine).begin() as session:
        city(session)
        grant(session, f"x{FULL_ID}", find_unit(session, "01"), by="test")
    for command in (("admin", "show", FULL_ID), ("admin", "grant", FULL_ID, "01"),
                    ("admin", "revoke", FULL_ID, "--all"), ("admin", "show", f"x{FULL_ID}"),
                    ("admin", "list")):
        result = runner.invoke(app, ["--db", db_url, *command])
        assert FULL_ID not in result.output, (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), command
    shown = runner.invoke(app, ["--db", db_url, "admin", "show", FULL_ID]).output
    assert f"{FULL_ID[:4]}********{FULL_ID[-4:]}" in shown
    listed = runner.invoke(app, ["--db", db_url, "admin", "list", "--format", "csv"]).output
    assert f"x{FULL_ID[:4]}********{FULL_ID[-4:]}" in listed  # x + ID is a usable login
