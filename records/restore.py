"""Restore an instance from a `records.backup` archive: check everything, then replace.

The archive is read once, into a private staging folder inside the instance, each file
checked against the manifest as it is written; the manifest's MAC is checked with the
archived secret. Nothing in the instance changes until the archive has passed, and a
non-empty instance is only replaced with `force` (its files moved aside, not deleted).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import func, inspect, select, table

from records import db
from records.backup import (
    FORMAT,
    MANIFEST,
    PG_NAME,
    SQLITE_NAME,
    BackupError,
    RestoreReport,
    _kind,
    _manifest_mac,
    _pg_command,
    _sqlite_path,
)
from records.event_log import ANCHOR_FILENAME
from records.instance import Instance

log = logging.getLogger(__name__)

_TOP = {"db", "secret.key", ANCHOR_FILENAME, "course"}
_CHUNK = 1 << 20


def _altered(archive: Path, why: str) -> BackupError:
    return BackupError(f"备份文件 {archive} 已损坏或被改动：{why}。拒绝恢复。")


def _safe_name(archive: Path, name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] not in _TOP:
        raise _altered(archive, f"清单里有不该有的路径「{name}」")
    return path


def _copy_checked(src: Any, dest: Path, expected: dict[str, Any], archive: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest, size = hashlib.sha256(), 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    if size != expected["size"] or digest.hexdigest() != expected["sha256"]:
        raise _altered(archive, f"「{expected['path']}」的内容与清单中的校验值不符")


def read_archive(archive: Path, staging: Path) -> dict[str, Any]:
    """Unpack into `staging`, checking every file; returns the manifest."""
    import tarfile

    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive} 不是可读的 SafeTrain 备份（{exc}）。") from None
    with tar:
        try:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise _altered(archive, "第一个文件不是 manifest.json")
            manifest = json.load(tar.extractfile(first))  # type: ignore[arg-type]
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise BackupError(f"{archive} 不是本程序能读的备份格式（应为 {FORMAT}）。")
            listed = {f["path"]: f for f in manifest["files"]}
            for name in listed:
                _safe_name(archive, name)
            seen: set[str] = set()
            for member in tar:
                if member is first:
                    continue
                if member.name not in listed or member.name in seen or not member.isfile():
                    raise _altered(archive, f"多出了清单里没有的「{member.name}」")
                seen.add(member.name)
                _copy_checked(tar.extractfile(member), staging.joinpath(member.name),
                              listed[member.name], archive)
        except (tarfile.TarError, EOFError, OSError, KeyError, TypeError, ValueError) as exc:
            raise _altered(archive, f"无法完整读出（{exc}）") from None
    missing = sorted(set(listed) - seen)
    if missing:
        raise _altered(archive, f"缺少 {'、'.join(missing[:5])}")
    secret = (staging / "secret.key").read_text("ascii").strip().encode()
    if not hmac.compare_digest(_manifest_mac(secret, manifest), str(manifest.get("mac", ""))):
        raise _altered(archive, "清单的校验码（MAC）与备份中的密钥不符")
    return manifest


def _record_rows(url: str) -> int:
    """Rows in the database's tables (0 for a missing SQLite file or an empty schema)."""
    if _kind(url) == "sqlite" and not _sqlite_path(url).exists():
        return 0
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            names = [n for n in inspect(conn).get_table_names()
                     if n not in ("alembic_version", "event_head")]
            return sum(conn.execute(select(func.count()).select_from(table(n))).scalar() or 0
                       for n in names)
    except Exception as exc:  # noqa: BLE001 (any failure to open means: cannot restore here)
        raise BackupError(f"无法打开目标数据库 {db.safe_url(engine)}：{exc}") from None
    finally:
        engine.dispose()


def _occupied(inst: Instance, secret: bytes) -> list[str]:
    found = []
    rows = _record_rows(inst.db_url)
    if rows:
        found.append(f"数据库里已有 {rows} 行记录")
    if inst.course_dir.is_dir() and any(p.is_file() for p in inst.course_dir.rglob("*")):
        found.append(f"课程目录 {inst.course_dir} 里已有文件")
    if inst.secret_file.exists() and inst.secret_file.read_text("ascii").strip().encode() != secret:
        found.append("实例密钥 secret.key 与备份中的不同")
    return found


def restore(inst: Instance, archive: Path, *, force: bool = False) -> RestoreReport:
    """Check the archive, then put its database, secret, anchor and course folder in place."""
    kind = _kind(inst.db_url)
    inst.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(dir=inst.home, prefix=".restore-"))
    try:
        manifest = read_archive(archive, staging)
        database = manifest["database"]
        if database["kind"] != kind:
            raise BackupError(f"备份来自 {database['kind']} 数据库，本实例用的是 {kind}："
                              "不能恢复到另一种数据库。")
        if str(database["revision"]) > db.HEAD_REVISION:
            raise BackupError(f"备份由较新的程序生成（数据库版本 {database['revision']}，"
                              f"本程序只到 {db.HEAD_REVISION}）：请先升级程序再恢复。")
        secret = (staging / "secret.key").read_text("ascii").strip().encode()
        occupied = _occupied(inst, secret)
        if occupied and not force:
            raise BackupError(f"实例 {inst.home} 不是空的（{'；'.join(occupied)}）："
                              "恢复会覆盖这些内容。确认要覆盖，请加 --force（原有文件会移到"
                              " before-restore-时间 目录，不会删除）。")
        report = RestoreReport(archive, kind, str(database["revision"]),
                               str(manifest["created_at"]), len(manifest["files"]))
        aside = inst.home / f"before-restore-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"
        _put_files(inst, staging, aside)
        if kind == "sqlite":
            _put_sqlite(inst, staging / SQLITE_NAME, aside)
        else:
            _pg_command("pg_restore", inst.db_url, "--clean", "--if-exists", "--no-owner",
                        "--no-privileges", "--single-transaction", "--exit-on-error",
                        str(staging / PG_NAME))
        if aside.exists():
            report.moved_aside = aside
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if report.revision != db.HEAD_REVISION:
        report.notes.append(f"备份的数据库版本是 {report.revision}：请运行 `safetrain db upgrade`。")
    log.info("已把备份 %s 恢复到 %s", archive, inst.home)
    return report


def _move_aside(path: Path, aside: Path) -> None:
    if path.exists() or path.is_symlink():
        aside.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.move(str(path), str(aside / path.name))


def _put_files(inst: Instance, staging: Path, aside: Path) -> None:
    for name in ("secret.key", ANCHOR_FILENAME):
        target = inst.home / name
        _move_aside(target, aside)
        if (staging / name).exists():
            os.replace(staging / name, target)
            os.chmod(target, 0o600)
    if inst.course_dir.exists() and any(inst.course_dir.iterdir()):
        _move_aside(inst.course_dir, aside)
    elif inst.course_dir.is_dir():
        inst.course_dir.rmdir()
    course = staging / "course"
    if course.is_dir():
        os.replace(course, inst.course_dir)
    else:
        inst.course_dir.mkdir(mode=0o700)
    os.chmod(inst.course_dir, 0o700)
    for path in inst.course_dir.rglob("*"):
        os.chmod(path, 0o700 if path.is_dir() else 0o600)


def _put_sqlite(inst: Instance, snapshot: Path, aside: Path) -> None:
    target = _sqlite_path(inst.db_url)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for suffix in ("-wal", "-shm", "-journal"):
        _move_aside(target.with_name(target.name + suffix), aside)
    _move_aside(target, aside)
    shutil.move(str(snapshot), str(target))
    os.chmod(target, 0o600)
