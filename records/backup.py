"""Backups a street office can restore: one archive, a manifest, checksums, a MAC.

The archive (tar.gz, 0600) holds a consistent snapshot of the records database (SQLite's
backup API, or `pg_dump --format=custom` for PostgreSQL), the instance secret, the event
log's anchor and the nbgrader course folder (SQLite files in it, such as gradebook.db, are
snapshotted the same way). `manifest.json` lists every file with its size and sha256 and
carries an HMAC over itself with the archived secret.

`restore` reads the whole archive into a private staging folder first, checking each file
against the manifest (nothing missing, nothing extra, nothing changed) and the manifest's
MAC, and refuses an archive made for another kind of database or a newer program. Only
then does it touch the instance, and it refuses a non-empty one unless `force` (what it
replaces is moved aside into `before-restore-<time>/`, not deleted).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from records import db
from records.errors import SafeTrainError
from records.event_log import ANCHOR_FILENAME
from records.instance import Instance

log = logging.getLogger(__name__)

FORMAT = "safetrain-backup-v1"
MANIFEST = "manifest.json"
SQLITE_NAME = "db/records.sqlite"
PG_NAME = "db/records.pgdump"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_CHUNK = 1 << 20


class BackupError(SafeTrainError):
    """A backup could not be made, or an archive cannot be restored."""

    exit_code = 2


@dataclass
class BackupReport:
    path: Path
    kind: str
    revision: str
    files: int
    size: int


@dataclass
class RestoreReport:
    archive: Path
    kind: str
    revision: str
    created_at: str
    files: int
    moved_aside: Path | None = None
    notes: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest_mac(secret: bytes, manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "mac"}
    data = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(secret, data.encode(), hashlib.sha256).hexdigest()


def _kind(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"不支持备份这种数据库：{backend}（只支持 SQLite 和 PostgreSQL）")
    return backend


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("内存数据库无法备份或恢复")
    return Path(database)


def _pg_command(program: str, url: str, *args: str) -> None:
    """Run pg_dump / pg_restore against a SQLAlchemy URL; the password goes by environment."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    target = parsed.set(drivername="postgresql", password=None).render_as_string(False)
    try:
        subprocess.run([program, *args, f"--dbname={target}"], env=env, check=True,
                       capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(f"找不到 {program}：请安装 PostgreSQL 客户端（postgresql-client）。") from None
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"{program} 失败：{exc.stderr.strip()[-800:]}") from None


def _snapshot_sqlite(src: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite file (the backup API, not a file copy)."""
    source = sqlite3.connect(f"{src.resolve().as_uri()}?mode=ro", uri=True)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as src:
        return src.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC


def _course_files(course: Path) -> list[Path]:
    if not course.is_dir():
        return []
    out = []
    for path in sorted(course.rglob("*")):
        if path.is_symlink():
            log.warning("备份跳过符号链接 %s（只备份普通文件）", path)
        elif path.is_file() and not path.name.endswith(("-wal", "-shm", "-journal")):
            out.append(path)
    return out


# --------------------------------------------------------------------------- backup


def backup(inst: Instance, dest: Path) -> BackupReport:
    """Write one archive of the instance to `dest` (a file, or a folder to put it in)."""
    if not inst.secret_file.exists():
        raise BackupError(f"实例 {inst.home} 没有密钥 secret.key：不是已初始化的实例，无从备份。")
    kind = _kind(inst.db_url)
    engine = db.make_engine(inst.db_url)
    try:
        db.check_schema(engine)
        revision = db.current_revision(engine) or ""
    finally:
        engine.dispose()
    stamp = dt.datetime.now(dt.UTC)
    if dest.is_dir():
        dest = dest / f"safetrain-backup-{stamp:%Y%m%d-%H%M%S}.tar.gz"
    if dest.exists():
        raise BackupError(f"{dest} 已存在：请换一个文件名，或给出一个目录。")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".safetrain-backup-") as tmp:
        staging = Path(tmp)
        members: list[tuple[str, Path]] = []
        db_file = staging / "db"
        if kind == "sqlite":
            _snapshot_sqlite(_sqlite_path(inst.db_url), db_file)
            members.append((SQLITE_NAME, db_file))
        else:
            _pg_command("pg_dump", inst.db_url, "--format=custom", "--no-owner",
                        "--no-privileges", f"--file={db_file}")
            members.append((PG_NAME, db_file))
        members.append(("secret.key", inst.secret_file))
        anchor = inst.home / ANCHOR_FILENAME
        if anchor.exists():
            members.append((ANCHOR_FILENAME, anchor))
        for n, path in enumerate(_course_files(inst.course_dir)):
            name = "course/" + path.relative_to(inst.course_dir).as_posix()
            if path.suffix == ".db" and _is_sqlite(path):
                copy = staging / f"course-{n}.db"
                _snapshot_sqlite(path, copy)
                path = copy
            members.append((name, path))
        files = [{"path": name, "size": path.stat().st_size, "sha256": _sha256(path)}
                 for name, path in members]
        manifest: dict[str, Any] = {
            "format": FORMAT, "created_at": stamp.isoformat(timespec="seconds"),
            "database": {"kind": kind, "revision": revision}, "files": files}
        manifest["mac"] = _manifest_mac(inst.secret_file.read_text("ascii").strip().encode(),
                                        manifest)
        partial = dest.with_name(dest.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                _add_bytes(tar, MANIFEST, json.dumps(manifest, ensure_ascii=False,
                                                     indent=1).encode())
                for name, path in members:
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime = path.stat().st_size, 0o600, stamp.timestamp()
                    with path.open("rb") as src:
                        tar.addfile(info, src)
            os.chmod(partial, 0o600)
            os.replace(partial, dest)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    log.info("已写入备份 %s（%d 个文件）", dest, len(members))
    return BackupReport(dest, kind, revision, len(members), dest.stat().st_size)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, dt.datetime.now(dt.UTC).timestamp()
    tar.addfile(info, io.BytesIO(data))
