"""Bring submissions into nbgrader's `submitted/<student>/<module>/` layout, safely.

Sources, as trainers really get them:
- a folder: `<student>/<module>/*`, `<student>/<module>.ipynb`, or files named
  `<student>_<module>.ipynb` (also with `submitted/` above the student folders);
- a zip of any of those, as downloaded from a file share;
- the nbgrader exchange (`autograder.exchange_intake`).

Everything is read as regular files only (`autograder.safe_files`): a trainee whose
submission holds a link, a hard link, a FIFO or a device is refused with a reason and the
batch goes on for the others. Zips are read member by member in chunks, with caps on
entries, bytes and compression ratio that do not trust the archive's own headers.

The submission time is the server's receipt time: when intake first saw that content (the
exchange: when it arrived in the inbound folder). A trainee-written timestamp.txt or a zip
entry's date is never used. The timestamp.txt nbgrader reads is written from it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.safe_files import Refused, check_regular, kind, read_regular, walk
from records.errors import InputFileError

log = logging.getLogger(__name__)

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
STAMP = "timestamp.txt"
SKIP = frozenset({"__MACOSX", ".ipynb_checkpoints", "__pycache__"})
MAX_FILE_BYTES = 100 * 1024**2  # nbgrader's own max_file_size default
MAX_SUBMISSION_BYTES = 200 * 1024**2  # one trainee's files, held in memory while placed
MAX_FILES = 500  # per submission
MAX_ZIP_ENTRIES = 20_000
MAX_ZIP_DIRECTORY = 8 * 1024**2  # the central directory zipfile parses into memory
MAX_ZIP_BYTES = 2 * 1024**3  # uncompressed, counted as read
MAX_RATIO = 100  # uncompressed / compressed, checked once a member passes RATIO_FLOOR
RATIO_FLOOR = 1024**2


@dataclass(frozen=True)
class Submission:
    student: str
    folder: Path  # submitted/<student>/<module>
    sha256: str  # of the notebook, so a changed resubmission is regraded
    submitted_at: dt.datetime | None


@dataclass
class Intake:
    """What one intake did: students placed (new or changed), unchanged, refused (why)."""

    placed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    def refuse(self, student: str, reason: str) -> None:
        if student not in self.refused:
            log.warning("拒收 %s 的提交：%s", student, reason)
            self.refused[student] = reason

    def __len__(self) -> int:
        return len(self.placed) + len(self.unchanged)


def read_tree(folder: Path, shown: str, owner: int | None = None) -> tuple[dict[str, bytes], float]:
    """{relative name: bytes} of every file below `folder` and the latest inode change time.

    Refused if anything is not a regular file, is owned by another uid than `owner` (when
    given), or the submission is over the caps. Hidden files and SKIP folders are left out.
    """
    files: dict[str, bytes] = {}
    total = 0
    top = folder.lstat()
    if owner is not None and top.st_uid != owner:
        raise Refused(f"{shown} 的属主（uid {top.st_uid}）不是该学员")
    changed = top.st_ctime
    for entry in walk(folder, SKIP):
        name = f"{shown}/{entry.rel}"
        if entry.problem:
            raise Refused(f"{shown}/{entry.problem}")
        if owner is not None and entry.st.st_uid != owner:
            raise Refused(f"{name} 的属主（uid {entry.st.st_uid}）不是该学员")
        changed = max(changed, entry.st.st_ctime)
        if entry.is_dir:
            continue
        check_regular(entry.st, name)
        if len(files) >= MAX_FILES:
            raise Refused(f"{shown} 中的文件超过 {MAX_FILES} 个")
        data, st = read_regular(entry.path, MAX_FILE_BYTES, name)
        if owner is not None and st.st_uid != owner:
            raise Refused(f"{name} 的属主（uid {st.st_uid}）不是该学员")
        total += len(data)
        if total > MAX_SUBMISSION_BYTES:
            raise Refused(f"{shown} 合计超过 {MAX_SUBMISSION_BYTES // 1024**2} MB")
        files[str(entry.rel)] = data
        changed = max(changed, st.st_ctime)
    return files, changed


def notebook_sha256(folder: Path, module: str) -> str:
    """Hash of the folder's top-level notebooks (names and bytes).

    Refused when anything in the folder is not a regular file (only notebooks are read).
    """
    digest = hashlib.sha256()
    notebooks = []
    for entry in walk(folder, SKIP):
        if entry.problem:
            raise Refused(f"{folder.name}/{entry.problem}")
        if not entry.is_dir:
            check_regular(entry.st, f"{folder.name}/{entry.rel}")
            if len(entry.rel.parts) == 1 and entry.rel.name.endswith(".ipynb"):
                notebooks.append(entry)
    for entry in notebooks:  # walk lists a folder's names sorted, as the hash always did
        digest.update(entry.rel.name.encode())
        digest.update(read_regular(entry.path, MAX_FILE_BYTES, f"{folder.name}/{entry.rel}")[0])
    return digest.hexdigest()


def read_timestamp(folder: Path) -> dt.datetime | None:
    try:
        text = read_regular(folder / STAMP, 1024)[0].decode("utf-8", "replace").strip()
    except Refused:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S.%f %Z", "%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S.%f",
                "%Y-%m-%d %H:%M:%S"):
        try:
            value = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    return None


def _write_timestamp(folder: Path, when: dt.datetime) -> None:
    (folder / STAMP).write_text(when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))


def place(intake: Intake, files: dict[str, bytes], submitted: Path, module: str, student: str,
          received: dt.datetime) -> None:
    """Replace the student's submitted folder if its files differ (idempotent).

    A changed submission gets `received` as its time; an unchanged one keeps its first one.
    """
    if not STUDENT_ID.match(student):
        intake.refuse(student, f"学员账号「{student}」不合规：只能含字母、数字、点、下划线、连字符")
        return
    files = {name: data for name, data in files.items() if name != STAMP}  # never theirs
    home, folder = submitted / student, submitted / student / module
    if home.is_symlink():
        home.unlink()
    if folder.is_dir() and not folder.is_symlink():
        try:
            old, _ = read_tree(folder, folder.name)
        except Refused:
            old = None
        if old is not None and {n: d for n, d in old.items() if n != STAMP} == files:
            intake.unchanged.append(student)
            return
        shutil.rmtree(folder)
    elif folder.is_symlink() or folder.exists():
        folder.unlink()
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    _write_timestamp(folder, received)
    intake.placed.append(student)


def _layout(parts: tuple[str, ...], module: str) -> tuple[str, str] | None:
    """(student, name in the submission) for a path inside a folder or zip, or None."""
    if parts and parts[0] == "submitted":
        parts = parts[1:]
    if not parts or any(p.startswith(".") or p in SKIP for p in parts):
        return None
    name = parts[-1]
    if len(parts) >= 3 and parts[1] == module:  # <student>/<module>/<file...>
        return parts[0], "/".join(parts[2:])
    if len(parts) == 2 and name == f"{module}.ipynb":  # <student>/<module>.ipynb
        return parts[0], name
    if len(parts) == 1 and name.endswith(f"_{module}.ipynb"):  # <student>_<module>.ipynb
        return name[: -len(f"_{module}.ipynb")], f"{module}.ipynb"
    return None


def _claimed(parts: tuple[str, ...], module: str) -> str | None:
    """The student a link or special file at `parts` would have supplied, if any."""
    found = _layout(parts, module)
    if found:
        return found[0]
    inner = parts[1:] if parts and parts[0] == "submitted" else parts
    if len(inner) == 1 or (len(inner) == 2 and inner[1] == module):  # their folders
        return inner[0] if STUDENT_ID.match(inner[0]) else None
    return None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def from_folder(source: Path, submitted: Path, module: str) -> Intake:
    """Copy a folder of submissions in, regular files only."""
    intake = Intake()
    plan: dict[str, dict[str, Path]] = {}
    for entry in walk(source, SKIP):
        if entry.is_dir and not entry.problem:
            continue
        if stat.S_ISREG(entry.st.st_mode):
            found = _layout(entry.rel.parts, module)
            if found:
                plan.setdefault(found[0], {})[found[1]] = entry.path
            continue
        student = _claimed(entry.rel.parts, module)
        reason = entry.problem or f"{entry.rel} 是{kind(entry.st.st_mode)}，只接收普通文件"
        if student:
            intake.refuse(student, reason)
        else:
            log.warning("忽略 %s", reason)
    received = _now()
    for student, paths in sorted(plan.items()):
        if student in intake.refused:
            continue
        try:
            files, total = {}, 0
            for name, path in paths.items():
                files[name] = read_regular(path, MAX_FILE_BYTES, str(path.relative_to(source)))[0]
                total += len(files[name])
                if total > MAX_SUBMISSION_BYTES or len(files) > MAX_FILES:
                    raise Refused(f"{student} 的提交超过 {MAX_SUBMISSION_BYTES // 1024**2} MB "
                                  f"或 {MAX_FILES} 个文件")
        except Refused as exc:
            intake.refuse(student, str(exc))
            continue
        place(intake, files, submitted, module, student, received)
    return intake


def _open_zip(source: Path) -> zipfile.ZipFile:
    """The archive, once its central directory is known to be small enough to parse."""
    try:
        handle = source.open("rb")
    except OSError as exc:
        raise InputFileError(f"{source.name} 无法读取（{exc}）。") from exc
    try:
        end = zipfile._EndRecData(handle)  # type: ignore[attr-defined]  # stdlib's EOCD reader
        if end is None:
            raise zipfile.BadZipFile("找不到 zip 目录")
        if (end[zipfile._ECD_ENTRIES_TOTAL] > MAX_ZIP_ENTRIES  # type: ignore[attr-defined]
                or end[zipfile._ECD_SIZE] > MAX_ZIP_DIRECTORY):  # type: ignore[attr-defined]
            raise InputFileError(f"{source.name} 中的条目超过 {MAX_ZIP_ENTRIES} 个，拒绝处理。")
        archive = zipfile.ZipFile(handle)
        if len(archive.infolist()) > MAX_ZIP_ENTRIES:
            raise InputFileError(f"{source.name} 中的条目超过 {MAX_ZIP_ENTRIES} 个，拒绝处理。")
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        handle.close()
        raise InputFileError(f"{source.name} 不是有效的 zip 文件（{exc}）。") from exc
    except InputFileError:
        handle.close()
        raise
    return archive


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: list[int]) -> bytes:
    """A member's bytes, read in chunks; stops at the first cap (headers are not trusted)."""
    chunks, size = [], 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(1024 * 1024):
                size += len(chunk)
                budget[0] -= len(chunk)
                if budget[0] < 0:
                    raise InputFileError(f"zip 解压后超过 {MAX_ZIP_BYTES // 1024**3} GB，已停止读取。")
                if size > MAX_FILE_BYTES:
                    raise Refused(f"{info.filename} 解压后超过 {MAX_FILE_BYTES // 1024**2} MB")
                if size > RATIO_FLOOR and size > MAX_RATIO * max(info.compress_size, 1):
                    raise Refused(f"{info.filename} 的压缩比超过 {MAX_RATIO}:1（疑似 zip 炸弹）")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        raise Refused(f"{info.filename} 无法解压（{exc}）") from None
    return b"".join(chunks)


def _member_problem(info: zipfile.ZipInfo, path: PurePosixPath) -> str | None:
    mode = info.external_attr >> 16
    if path.is_absolute() or ".." in path.parts or ":" in path.parts[0] or "\0" in info.filename:
        return f"{info.filename} 是不安全的路径"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # 0: the archiver recorded no type
        return f"{info.filename} 是{kind(mode)}，只接收普通文件"
    return None


def from_zip(source: Path, submitted: Path, module: str) -> Intake:
    """Read a zip of submissions member by member, within the caps."""
    intake = Intake()
    plan: dict[str, dict[str, zipfile.ZipInfo]] = {}
    with _open_zip(source) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            path = PurePosixPath(info.filename.replace("\\", "/"))
            if not path.parts:
                continue
            problem = _member_problem(info, path)
            found = _layout(path.parts, module)
            if problem:
                head = path.parts[: 3 if path.parts[0] == "submitted" else 2]
                student = _claimed(path.parts, module) or _claimed(head, module)
                if student:
                    intake.refuse(student, problem)
                else:
                    log.warning("忽略 %s 中的 %s", source.name, problem)
            elif found:
                plan.setdefault(found[0], {})[found[1]] = info
        budget = [MAX_ZIP_BYTES]
        received = _now()
        for student, members in sorted(plan.items()):
            if student in intake.refused:
                continue
            if len(members) > MAX_FILES:
                intake.refuse(student, f"{student} 的提交超过 {MAX_FILES} 个文件")
                continue
            try:
                files, total = {}, 0
                for name, info in members.items():
                    files[name] = _read_member(archive, info, budget)
                    total += len(files[name])
                    if total > MAX_SUBMISSION_BYTES:
                        raise Refused(f"{student} 的提交合计超过 {MAX_SUBMISSION_BYTES // 1024**2} MB")
            except Refused as exc:
                intake.refuse(student, str(exc))
                continue
            place(intake, files, submitted, module, student, received)
    return intake


def collect(source: str, submitted: Path, module: str) -> Intake:
    """Bring submissions in from a folder or a zip ('exchange': `exchange_intake`)."""
    path = Path(source)
    if not path.exists():
        raise InputFileError(f"找不到提交来源 {source}。")
    if path.is_dir():
        return from_folder(path, submitted, module)
    if path.suffix.lower() == ".zip":
        return from_zip(path, submitted, module)
    raise InputFileError(f"{source}：请给出文件夹或 .zip 文件。")


def discover(submitted: Path, module: str, students: list[str] | None = None,
             refused: dict[str, str] | None = None) -> list[Submission]:
    """Every student folder holding this module, with its notebook hash and time.

    A folder holding a link or special file is left out, and noted in `refused`.
    """
    found = []
    if not submitted.is_dir():
        return found
    for home in sorted(submitted.iterdir()):
        student, folder = home.name, home / module
        if (students and student not in students) or not (folder.is_symlink() or folder.exists()):
            continue
        if home.is_symlink() or folder.is_symlink() or not folder.is_dir():
            reason = f"submitted/{student}/{module} 是符号链接或不是文件夹"
        else:
            try:
                found.append(Submission(student, folder, notebook_sha256(folder, module),
                                        read_timestamp(folder)))
                continue
            except Refused as exc:
                reason = str(exc)
        log.warning("未收取 %s 的提交：%s", student, reason)
        if refused is not None:
            refused.setdefault(student, reason)
    return found
