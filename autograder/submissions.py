"""Bring submissions into nbgrader's `submitted/<student>/<module>/` layout.

Sources, as trainers really get them:
- the nbgrader exchange (collected with nbgrader's own ExchangeCollect);
- a folder: `<student>/<module>/*.ipynb`, `<student>/<module>.ipynb`, or files named
  `<student>_<module>.ipynb` (also with `submitted/` above the student folders);
- a zip of any of those, as downloaded from a file share.
A timestamp.txt is kept (from the exchange, the file's time, or the zip entry's time), so
nbgrader and SafeTrain know when it was submitted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from records.errors import InputFileError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_ZIP_BYTES = 2 * 1024**3  # uncompressed total; stops zip bombs
MAX_MEMBER_BYTES = 200 * 1024**2


@dataclass(frozen=True)
class Submission:
    student: str
    folder: Path  # submitted/<student>/<module>
    sha256: str  # of the notebook, so a changed resubmission is regraded
    submitted_at: dt.datetime | None


def notebook_sha256(folder: Path, module: str) -> str:
    digest = hashlib.sha256()
    notebooks = sorted(folder.glob("*.ipynb"))
    for path in notebooks:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def read_timestamp(folder: Path) -> dt.datetime | None:
    stamp = folder / "timestamp.txt"
    if not stamp.exists():
        return None
    text = stamp.read_text().strip()
    for fmt in ("%Y-%m-%d %H:%M:%S.%f %Z", "%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S.%f",
                "%Y-%m-%d %H:%M:%S"):
        try:
            value = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    return None


def _write_timestamp(folder: Path, when: dt.datetime) -> None:
    (folder / "timestamp.txt").write_text(when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))


def _place(files: dict[str, tuple[bytes, dt.datetime]], submitted: Path, module: str,
           student: str) -> None:
    """Replace the student's submitted folder if the notebooks differ (idempotent)."""
    if not STUDENT_ID.match(student):
        raise InputFileError(f"学员账号「{student}」不合规：只能含字母、数字、点、下划线、连字符。")
    folder = submitted / student / module
    new = {name: data for name, (data, _) in files.items()}
    if folder.is_dir():
        old = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != "timestamp.txt"}
        if old == new:
            return
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, data in new.items():
        (folder / name).write_bytes(data)
    _write_timestamp(folder, max(when for _, when in files.values()))


def _layout(parts: tuple[str, ...], module: str) -> tuple[str, str] | None:
    """(student, file name) for a path inside a folder or zip, or None if it is not ours."""
    if parts and parts[0] == "submitted":
        parts = parts[1:]
    name = parts[-1]
    if name.startswith(".") or any(p in ("__MACOSX", ".ipynb_checkpoints") for p in parts):
        return None
    if len(parts) == 3 and parts[1] == module:  # <student>/<module>/<file>
        return parts[0], name
    if len(parts) == 2 and name == f"{module}.ipynb":  # <student>/<module>.ipynb
        return parts[0], name
    if len(parts) == 1 and name.endswith(f"_{module}.ipynb"):  # <student>_<module>.ipynb
        return name[: -len(f"_{module}.ipynb")], f"{module}.ipynb"
    return None


def from_folder(source: Path, submitted: Path, module: str) -> int:
    """Copy a folder of submissions in; returns how many students it held."""
    grouped: dict[str, dict[str, tuple[bytes, dt.datetime]]] = {}
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        found = _layout(path.relative_to(source).parts, module)
        if found:
            when = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
            grouped.setdefault(found[0], {})[found[1]] = (path.read_bytes(), when)
    for student, files in grouped.items():
        _place(files, submitted, module, student)
    return len(grouped)


def from_zip(source: Path, submitted: Path, module: str) -> int:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(f"{source.name} 不是有效的 zip 文件（{exc}）。") from exc
    grouped: dict[str, dict[str, tuple[bytes, dt.datetime]]] = {}
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise InputFileError(f"{source.name} 解压后超过 {MAX_ZIP_BYTES // 1024**3} GB，拒绝处理。")
        for member in members:
            path = PurePosixPath(member.filename.replace("\\", "/"))
            if path.is_absolute() or ".." in path.parts:
                raise InputFileError(f"{source.name} 中有不安全的路径：{member.filename}")
            found = _layout(path.parts, module)
            if not found:
                continue
            if member.file_size > MAX_MEMBER_BYTES:
                raise InputFileError(f"{source.name} 中的 {member.filename} 过大。")
            when = dt.datetime(*member.date_time, tzinfo=dt.UTC)
            grouped.setdefault(found[0], {})[found[1]] = (archive.read(member), when)
    for student, files in grouped.items():
        _place(files, submitted, module, student)
    return len(grouped)


def collect(source: str, submitted: Path, module: str) -> int:
    """Bring submissions in from `source` ('exchange' is handled by the caller)."""
    path = Path(source)
    if not path.exists():
        raise InputFileError(f"找不到提交来源 {source}。")
    if path.is_dir():
        return from_folder(path, submitted, module)
    if path.suffix.lower() == ".zip":
        return from_zip(path, submitted, module)
    raise InputFileError(f"{source}：请给出文件夹或 .zip 文件。")


def discover(submitted: Path, module: str, students: list[str] | None = None) -> list[Submission]:
    """Every student folder holding this module, with its notebook hash and time."""
    found = []
    for folder in sorted(submitted.glob(f"*/{module}")):
        student = folder.parent.name
        if students and student not in students:
            continue
        if folder.is_dir():
            found.append(Submission(student, folder, notebook_sha256(folder, module),
                                    read_timestamp(folder)))
    return found
