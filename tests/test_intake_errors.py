"""The error paths of autograder.submissions that the attack tests do not reach: a missing
or unusable source, a member that does not decompress, a member over the per-file cap, a
folder with too many files. Each names the file or trainee and the batch goes on."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from autograder import submissions
from autograder.submissions import collect, from_folder, from_zip
from records.errors import InputFileError

MODULE = "rescue-fire"
HONEST = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


@pytest.fixture
def submitted(tmp_path: Path) -> Path:
    folder = tmp_path / "submitted"
    folder.mkdir()
    return folder


def test_a_missing_source_is_named(tmp_path, submitted):
    with pytest.raises(InputFileError, match="找不到提交来源"):
        collect(str(tmp_path / "nowhere.zip"), submitted, MODULE)


def test_a_source_that_is_neither_folder_nor_zip(tmp_path, submitted):
    other = tmp_path / "提交.rar"
    other.write_bytes(b"Rar!")
    with pytest.raises(InputFileError, match="请给出文件夹或 .zip 文件"):
        collect(str(other), submitted, MODULE)


def test_a_member_that_does_not_decompress_refuses_only_its_trainee(tmp_path, submitted):
    archive = tmp_path / "torn.zip"
    broken = f"mallory/{MODULE}/{MODULE}.ipynb"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(f"alice/{MODULE}/{MODULE}.ipynb", HONEST)
        out.writestr(broken, HONEST * 50)
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as read:
        info = read.getinfo(broken)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start:start + 8] = b"\xff" * 8  # the deflate stream, not the headers
    archive.write_bytes(bytes(data))
    intake = collect(str(archive), submitted, MODULE)
    assert intake.placed == ["alice"]
    assert "无法解压" in intake.refused["mallory"] or "CRC" in intake.refused["mallory"]


def test_a_member_over_the_file_cap_is_refused(tmp_path, submitted, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_FILE_BYTES", 1000)
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        out.writestr(f"alice/{MODULE}/{MODULE}.ipynb", HONEST)
        out.writestr(f"mallory/{MODULE}/{MODULE}.ipynb", b" " * 5000)
    intake = from_zip(archive, submitted, MODULE)
    assert intake.placed == ["alice"] and "解压后超过" in intake.refused["mallory"]


def test_a_folder_with_too_many_files_is_refused(tmp_path, submitted, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_FILES", 3)
    source = tmp_path / "in"
    for student, count in (("alice", 1), ("mallory", 5)):
        folder = source / student / MODULE
        folder.mkdir(parents=True)
        (folder / f"{MODULE}.ipynb").write_bytes(HONEST)
        for n in range(count - 1):
            (folder / f"data{n}.csv").write_bytes(b"1")
    intake = from_folder(source, submitted, MODULE)
    assert intake.placed == ["alice"] and "3 个文件" in intake.refused["mallory"]
