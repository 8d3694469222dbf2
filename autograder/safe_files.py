"""Reading trainee files as regular files only, never through a link.

A submission is refused when anything in it is a symbolic link, a hard link to another file
(`st_nlink > 1`), a device, a FIFO or a socket: the grader must not read the instance's source
notebook or secret through a trainee's link, and a FIFO must not block it. Files are opened
with O_NOFOLLOW | O_NONBLOCK and checked with fstat, so a file swapped for a link or a FIFO
between the directory listing and the open is refused too.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from records.errors import SafeTrainError

CHUNK = 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class Refused(SafeTrainError):
    """A file or archive member that intake will not read; the message is for the trainer."""


@dataclass(frozen=True)
class Entry:
    """One entry below a walked folder: its path relative to the folder and its lstat."""

    rel: PurePosixPath
    path: Path
    st: os.stat_result
    problem: str | None = None  # set on a folder that could not be listed

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)


def kind(mode: int) -> str:
    """What a file is, in the words the refusal uses."""
    if stat.S_ISLNK(mode):
        return "符号链接"
    if stat.S_ISFIFO(mode):
        return "命名管道（FIFO）"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "设备文件"
    if stat.S_ISSOCK(mode):
        return "套接字"
    if stat.S_ISDIR(mode):
        return "文件夹"
    return "特殊文件"


def check_regular(st: os.stat_result, shown: str) -> None:
    """Refuse anything but a regular file with a single name."""
    if not stat.S_ISREG(st.st_mode):
        raise Refused(f"{shown} 是{kind(st.st_mode)}，只接收普通文件")
    if st.st_nlink > 1:
        raise Refused(f"{shown} 是硬链接（另有 {st.st_nlink - 1} 个名字），只接收普通文件")


def read_regular(path: Path, limit: int, shown: str | None = None) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file (at most `limit`) and its fstat; Refused otherwise."""
    shown = shown or path.name
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:  # ELOOP: a link put in its place; EACCES; ENXIO: a socket
        raise Refused(f"{shown} 无法读取（{exc.strerror or exc}）") from None
    try:
        st = os.fstat(fd)
        check_regular(st, shown)
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, min(CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise Refused(f"{shown} 超过 {limit // 1024**2} MB")
        return b"".join(chunks), st
    finally:
        os.close(fd)


def walk(root: Path, skip: frozenset[str] = frozenset()) -> Iterator[Entry]:
    """Every entry below `root`, depth first, without following links.

    Real folders are descended into; links and special files are yielded (not followed) so
    the caller can refuse them. Names in `skip` and hidden names are left out. A folder that
    cannot be listed is yielded again with `problem` set; `root` itself raises Refused.
    """
    stack: list[tuple[Path, PurePosixPath, os.stat_result | None]] = [(root, PurePosixPath(), None)]
    while stack:
        folder, rel, folder_st = stack.pop()
        try:
            with os.scandir(folder) as entries:
                found = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            if folder_st is None:
                raise Refused(f"{root.name} 无法读取（{exc.strerror or exc}）") from None
            yield Entry(rel, folder, folder_st, f"{rel} 无法读取（{exc.strerror or exc}）")
            continue
        for item in found:
            if item.name.startswith(".") or item.name in skip:
                continue
            st = item.stat(follow_symlinks=False)
            entry = Entry(rel / item.name, Path(item.path), st)
            yield entry
            if stat.S_ISDIR(st.st_mode):
                stack.append((entry.path, entry.rel, st))
