"""Backup → wipe → restore gives the same register and reports, on SQLite and PostgreSQL;
an altered, mismatched or misplaced archive is refused before anything changes."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import sqlite3
import stat
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from records import db, event_log
from records.backup import BackupError, backup
from records.cert_register import issue, revoke
from records.curriculum import load_curriculum
from records.instance import Instance
from records.restore import restore
from scripts.cli import app
from tests.test_certification import ready_grid_worker

runner = CliRunner()
AS_OF = "2026-11-30"


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(app, list(args), catch_exceptions=False)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def inst(db_url: str, instance_env: Path, monkeypatch: pytest.MonkeyPatch) -> Instance:
    """An instance with a certificate issued and one revoked, a gradebook and a submission."""
    monkeypatch.setenv("SAFETRAIN_DB", db_url)
    assert invoke("init").exit_code == 0
    instance = Instance.from_env()
    secret = instance.secret_file.read_text().strip().encode()
    anchor = event_log.anchor_path(instance.home)
    with db.open_session(db_url) as session:
        ready_grid_worker(session)
        issue(session, load_curriculum(), secret, as_of=dt.date(2026, 11, 1), anchor=anchor)
    with db.open_session(db_url) as session:
        revoke(session, "2026-000001", reason="证件冒用", on=dt.date(2026, 11, 20),
               secret=secret, anchor=anchor)
    gradebook = sqlite3.connect(instance.course_dir / "gradebook.db")
    gradebook.execute("CREATE TABLE grade (student TEXT, score REAL)")
    gradebook.execute("INSERT INTO grade VALUES ('zhangsan', 9.5)")
    gradebook.commit()
    gradebook.close()
    submitted = instance.course_dir / "submitted" / "zhangsan" / "rescue-fire"
    submitted.mkdir(parents=True)
    (submitted / "rescue-fire.ipynb").write_text('{"cells": []}', encoding="utf-8")
    return instance


def outputs() -> list[str]:
    results = [invoke("cert", "audit"), invoke("cert", "list", "--format", "csv", "--as-of", AS_OF),
               invoke("report", "certificates", "--as-of", AS_OF, "--format", "csv")]
    return [f"{r.exit_code}\n{r.output}" for r in results]


def wipe(inst: Instance) -> None:
    shutil.rmtree(inst.home)
    if inst.db_url.startswith("sqlite"):
        path = Path(inst.db_url.removeprefix("sqlite:///"))
        for name in (path.name, path.name + "-wal", path.name + "-shm"):
            path.with_name(name).unlink(missing_ok=True)
    else:
        engine = db.make_engine(inst.db_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()


def test_backup_wipe_restore_gives_identical_results(inst: Instance, tmp_path: Path):
    before = outputs()
    assert before[0].startswith("0\n") and "2026-000001" in before[1]
    (tmp_path / "usb").mkdir()
    made = invoke("backup", str(tmp_path / "usb"))
    assert made.exit_code == 0, made.output
    [archive] = (tmp_path / "usb").glob("safetrain-backup-*.tar.gz")
    assert mode(archive) == 0o600
    wipe(inst)
    done = invoke("restore", str(archive))
    assert done.exit_code == 0, done.output
    assert "完整" in done.output
    assert outputs() == before
    assert mode(inst.secret_file) == 0o600 and mode(inst.home / event_log.ANCHOR_FILENAME) == 0o600
    assert mode(inst.course_dir) == 0o700
    assert mode(inst.course_dir / "submitted" / "zhangsan") == 0o700
    book = sqlite3.connect(inst.course_dir / "gradebook.db")
    assert book.execute("SELECT student, score FROM grade").fetchall() == [("zhangsan", 9.5)]
    book.close()
    if inst.db_url.startswith("sqlite"):
        assert mode(Path(inst.db_url.removeprefix("sqlite:///"))) == 0o600


def test_a_non_empty_instance_is_only_replaced_with_force(inst: Instance, tmp_path: Path):
    report = backup(inst, tmp_path / "b.tar.gz")
    with pytest.raises(BackupError, match="不是空的.*--force"):
        restore(inst, report.path)
    again = restore(inst, report.path, force=True)
    assert again.moved_aside is not None and (again.moved_aside / "course").is_dir()
    assert invoke("cert", "audit").exit_code == 0


def _rewrite(src: Path, dest: Path, change) -> Path:  # noqa: ANN001
    """Copy an archive member by member, letting `change(name, data)` alter the bytes."""
    with tarfile.open(src, "r:gz") as old, tarfile.open(dest, "w:gz") as new:
        for member in old:
            data = old.extractfile(member).read()
            data = change(member.name, data)
            if data is None:
                continue
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))
    return dest


def test_an_altered_archive_is_refused_before_anything_changes(inst: Instance, tmp_path: Path):
    good = backup(inst, tmp_path / "good.tar.gz").path
    wipe(inst)

    def flip_secret(name: str, data: bytes) -> bytes:
        return b"f" * 64 if name == "secret.key" else data

    def fix_checksums(name: str, data: bytes) -> bytes:  # a careful forger: sha256 matches
        if name != "manifest.json":
            return flip_secret(name, data)
        manifest = json.loads(data)
        for entry in manifest["files"]:
            if entry["path"] == "secret.key":
                import hashlib

                entry["sha256"] = hashlib.sha256(b"f" * 64).hexdigest()
                entry["size"] = 64
        return json.dumps(manifest).encode()

    def drop_anchor(name: str, data: bytes) -> bytes | None:
        return None if name == event_log.ANCHOR_FILENAME else data

    cases = {"changed": (flip_secret, "校验值不符"), "forged": (fix_checksums, "MAC"),
             "missing": (drop_anchor, "缺少")}
    for label, (change, why) in cases.items():
        bad = _rewrite(good, tmp_path / f"{label}.tar.gz", change)
        with pytest.raises(BackupError, match=why):
            restore(inst, bad)
        assert not inst.secret_file.exists() and not inst.course_dir.exists(), label
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    refused = invoke("restore", str(tmp_path / "junk.tar.gz"))
    assert refused.exit_code == 2 and "不是可读的 SafeTrain 备份" in refused.output


def test_an_archive_for_another_kind_of_database_is_refused(inst: Instance, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    archive = backup(inst, tmp_path / "b.tar.gz").path
    other = ("sqlite:///" + str(tmp_path / "other.db") if inst.db_url.startswith("postgresql")
             else "postgresql+psycopg://postgres@127.0.0.1:5432/none")
    target = Instance(home=tmp_path / "elsewhere", db_url=other)
    with pytest.raises(BackupError, match="不能恢复到另一种数据库"):
        restore(target, archive)
    assert not target.secret_file.exists()


def test_backup_of_an_uninitialised_instance_says_so(tmp_path: Path):
    with pytest.raises(BackupError, match="没有密钥"):
        backup(Instance(home=tmp_path / "none", db_url=f"sqlite:///{tmp_path}/x.db"), tmp_path)
