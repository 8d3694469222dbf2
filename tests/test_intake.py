"""Intake as an attacker would use it: links, hard links, FIFOs, zip bombs, forged times.

Fast: the intake functions are called directly on temporary folders, no kernel. Anything
that could block (a FIFO) runs in a thread joined with a timeout; zip bombs are small on
disk and stopped by the caps, with memory measured.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import stat
import threading
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from traitlets.config import Config

from autograder import submissions
from autograder.exchange_intake import from_exchange
from autograder.submissions import Intake, collect, discover, from_folder, from_zip
from records.errors import InputFileError

MODULE = "rescue-fire"
HONEST = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
SOLUTION = b'{"the": "instructor solution"}'
SECRET = b"0123456789abcdef-secret-key"
NOW_SLACK = dt.timedelta(minutes=5)


@pytest.fixture
def instance(tmp_path: Path) -> dict[str, Path]:
    """An instance's source notebook and secret, and an empty submitted/ folder."""
    source = tmp_path / "instance" / "course" / "source" / MODULE / f"{MODULE}.ipynb"
    source.parent.mkdir(parents=True)
    source.write_bytes(SOLUTION)
    secret = tmp_path / "instance" / "secret.key"
    secret.write_bytes(SECRET)
    submitted = tmp_path / "instance" / "course" / "submitted"
    submitted.mkdir()
    return {"source": source, "secret": secret, "submitted": submitted, "tmp": tmp_path}


def honest(folder: Path, student: str) -> Path:
    path = folder / student / MODULE / f"{MODULE}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(HONEST)
    return path


def placed(submitted: Path, student: str) -> dict[str, bytes]:
    folder = submitted / student / MODULE
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def everything_under(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def bounded(fn, *args, timeout: float = 20.0, unblock: list[Path] | None = None):
    """fn(*args) in a thread; fails (and unblocks FIFO readers) if it takes over `timeout`."""
    out: dict[str, object] = {}
    thread = threading.Thread(target=lambda: out.setdefault("value", fn(*args)), daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        for fifo in unblock or []:  # a writer end lets a blocked reader see EOF
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        pytest.fail(f"intake blocked for more than {timeout} s")
    return out["value"]


# --------------------------------------------------------------------------- folders


def test_notebook_linked_to_the_source_is_refused_not_graded_as_the_solution(instance):
    src = instance["tmp"] / "from"
    honest(src, "alice")
    linked = src / "mallory" / MODULE / f"{MODULE}.ipynb"
    linked.parent.mkdir(parents=True)
    linked.symlink_to(instance["source"])
    (src / f"eve_{MODULE}.ipynb").symlink_to(instance["source"])  # the flat layout too
    intake = from_folder(src, instance["submitted"], MODULE)
    assert intake.placed == ["alice"]
    assert set(intake.refused) == {"mallory", "eve"}
    assert all("符号链接" in reason for reason in intake.refused.values())
    assert SOLUTION not in everything_under(instance["submitted"])
    assert not (instance["submitted"] / "mallory").exists()


def test_linked_extra_file_and_linked_folder_copy_no_secret(instance):
    src = instance["tmp"] / "from"
    honest(src, "mallory")
    (src / "mallory" / MODULE / "notes.txt").symlink_to(instance["secret"])
    honest(src, "trudy")
    (src / "trudy" / MODULE / "data").symlink_to(instance["secret"].parent, target_is_directory=True)
    (src / "oscar").symlink_to(instance["secret"].parent / "course", target_is_directory=True)
    intake = from_folder(src, instance["submitted"], MODULE)
    assert set(intake.refused) == {"mallory", "trudy", "oscar"}
    assert "notes.txt 是符号链接" in intake.refused["mallory"]
    assert SECRET not in everything_under(instance["submitted"])
    assert intake.placed == []


def test_hard_link_is_refused(instance):
    src = instance["tmp"] / "from"
    target = honest(src, "mallory")
    target.unlink()
    os.link(instance["source"], target)  # same file system: tmp_path
    intake = from_folder(src, instance["submitted"], MODULE)
    assert "硬链接" in intake.refused["mallory"]
    assert SOLUTION not in everything_under(instance["submitted"])


def test_fifo_socket_and_device_do_not_block_and_are_refused(instance):
    src = instance["tmp"] / "from"
    honest(src, "alice")
    fifo = src / "mallory" / MODULE / f"{MODULE}.ipynb"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    honest(src, "trudy")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "trudy" / MODULE / "s"))
    expected = {"mallory", "trudy"}
    try:
        os.mknod(src / f"oscar_{MODULE}.ipynb", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        expected.add("oscar")
    except PermissionError:  # no CAP_MKNOD here: the other two still count
        pass
    try:
        intake = bounded(from_folder, src, instance["submitted"], MODULE, unblock=[fifo])
    finally:
        sock.close()
    assert intake.placed == ["alice"] and set(intake.refused) == expected
    assert "命名管道" in intake.refused["mallory"] and "套接字" in intake.refused["trudy"]


def test_fifo_swapped_in_after_listing_is_refused_by_fstat(instance):
    """The reader itself refuses non-regular files (O_NONBLOCK + fstat), not just the walk."""
    fifo = instance["tmp"] / "late.ipynb"
    os.mkfifo(fifo)
    from autograder.safe_files import Refused, read_regular

    def read() -> str:
        try:
            read_regular(fifo, 1024)
        except Refused as exc:
            return str(exc)
        return "read"

    assert "命名管道" in bounded(read, unblock=[fifo])


def test_forged_timestamp_is_ignored_and_receipt_time_kept(instance):
    src = instance["tmp"] / "from"
    honest(src, "alice")
    (src / "alice" / MODULE / "timestamp.txt").write_text("2000-01-01 00:00:00.000000 UTC")
    os.utime(src / "alice" / MODULE / f"{MODULE}.ipynb", (0, 0))  # and an ancient mtime
    before = dt.datetime.now(dt.UTC)
    intake = from_folder(src, instance["submitted"], MODULE)
    folder = instance["submitted"] / "alice" / MODULE
    first = submissions.read_timestamp(folder)
    assert intake.placed == ["alice"] and first is not None
    assert before - NOW_SLACK < first < before + NOW_SLACK
    assert "2000" not in (folder / "timestamp.txt").read_text()
    # The same content again keeps the time it was first received (idempotent).
    again = from_folder(src, instance["submitted"], MODULE)
    assert again.unchanged == ["alice"] and submissions.read_timestamp(folder) == first


def test_bad_student_ids_are_refused_one_by_one(instance):
    src = instance["tmp"] / "from"
    honest(src, "alice")
    (src / f"张三_{MODULE}.ipynb").write_bytes(HONEST)
    intake = from_folder(src, instance["submitted"], MODULE)
    assert intake.placed == ["alice"] and "不合规" in intake.refused["张三"]


def test_discover_leaves_out_a_linked_submission(instance):
    submitted = instance["submitted"]
    honest(submitted, "alice")
    linked = submitted / "mallory" / MODULE / f"{MODULE}.ipynb"
    linked.parent.mkdir(parents=True)
    linked.symlink_to(instance["source"])
    refused: dict[str, str] = {}
    found = discover(submitted, MODULE, refused=refused)
    assert [s.student for s in found] == ["alice"] and "符号链接" in refused["mallory"]


def test_notebook_hash_is_unchanged_for_regular_files(instance):
    """Attempts are keyed by this hash: it must stay what it was before links were refused."""
    import hashlib

    folder = honest(instance["submitted"], "alice").parent
    (folder / "b.ipynb").write_bytes(b"second")
    (folder / "data.csv").write_bytes(b"not hashed")
    expected = hashlib.sha256()
    for path in sorted(folder.glob("*.ipynb")):  # the previous implementation
        expected.update(path.name.encode())
        expected.update(path.read_bytes())
    assert submissions.notebook_sha256(folder, MODULE) == expected.hexdigest()


# --------------------------------------------------------------------------- zips


def _zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            archive.writestr(info, data)
    return path


def test_zip_symlink_entries_and_unsafe_paths_are_refused(instance):
    link = zipfile.ZipInfo(f"mallory/{MODULE}/{MODULE}.ipynb")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    fifo = zipfile.ZipInfo(f"oscar_{MODULE}.ipynb")
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    archive = _zip(instance["tmp"] / "in.zip", [
        (f"alice/{MODULE}/{MODULE}.ipynb", HONEST),
        (link, str(instance["source"]).encode()),
        (fifo, HONEST),
        (f"trudy/{MODULE}/../../../escaped.ipynb", HONEST),
        (f"../bob_{MODULE}.ipynb", HONEST),
        ("/tmp/absolute.ipynb", HONEST),
    ])
    intake = from_zip(archive, instance["submitted"], MODULE)
    assert intake.placed == ["alice"]
    assert set(intake.refused) == {"mallory", "oscar", "trudy"}
    assert "符号链接" in intake.refused["mallory"] and "不安全的路径" in intake.refused["trudy"]
    written = [p.name for p in instance["tmp"].rglob("*") if p.suffix == ".ipynb"]
    assert "escaped.ipynb" not in written and f"bob_{MODULE}.ipynb" not in written
    assert not Path("/tmp/absolute.ipynb").exists()


def test_zip_bomb_member_stops_at_the_ratio_with_bounded_memory(instance):
    bomb = instance["tmp"] / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"alice/{MODULE}/{MODULE}.ipynb", HONEST)
        with archive.open(f"mallory/{MODULE}/{MODULE}.ipynb", "w") as member:
            zeros = bytes(1024 * 1024)
            for _ in range(64):  # 64 MB of zeros, about 64 KB compressed
                member.write(zeros)
    assert bomb.stat().st_size < 1024 * 1024
    tracemalloc.start()
    try:
        intake = from_zip(bomb, instance["submitted"], MODULE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert intake.placed == ["alice"] and "压缩比" in intake.refused["mallory"]
    assert peak < 16 * 1024**2, f"peak {peak / 1024**2:.1f} MB"


def test_zip_caps_on_total_bytes_and_entries(instance, monkeypatch):
    archive = _zip(instance["tmp"] / "many.zip",
                   [(f"s{n:02d}_{MODULE}.ipynb", bytes(100_000)) for n in range(30)])
    monkeypatch.setattr(submissions, "MAX_ZIP_BYTES", 1_000_000)
    with pytest.raises(InputFileError, match="已停止读取"):
        from_zip(archive, instance["submitted"], MODULE)
    monkeypatch.setattr(submissions, "MAX_ZIP_ENTRIES", 10)
    with pytest.raises(InputFileError, match="条目超过 10 个"):
        from_zip(archive, instance["submitted"], MODULE)


def test_zip_entry_dates_are_not_the_submission_time(instance):
    old = zipfile.ZipInfo(f"alice_{MODULE}.ipynb", date_time=(1990, 1, 1, 0, 0, 0))
    stamp = zipfile.ZipInfo(f"alice/{MODULE}/timestamp.txt")
    archive = _zip(instance["tmp"] / "dated.zip", [(old, HONEST)])
    before = dt.datetime.now(dt.UTC)
    intake = collect(str(archive), instance["submitted"], MODULE)
    when = submissions.read_timestamp(instance["submitted"] / "alice" / MODULE)
    assert intake.placed == ["alice"] and when is not None and when > before - NOW_SLACK
    forged = _zip(instance["tmp"] / "forged.zip",
                  [(f"bob/{MODULE}/{MODULE}.ipynb", HONEST), (stamp, b"2000-01-01 00:00:00 UTC")])
    collect(str(forged), instance["submitted"], MODULE)
    assert submissions.read_timestamp(instance["submitted"] / "bob" / MODULE) > before - NOW_SLACK


# --------------------------------------------------------------------------- exchange


@pytest.fixture
def exchange(tmp_path: Path) -> tuple[Config, Path]:
    config = Config()
    config.Exchange.root = str(tmp_path / "exchange")
    config.CourseDirectory.course_id = "safetrain"
    inbound = tmp_path / "exchange" / "safetrain" / "inbound"
    inbound.mkdir(parents=True)
    inbound.chmod(0o733)
    return config, inbound


def handed_in(inbound: Path, student: str, stamp: str = "2026-11-18 09:30:00.000000 UTC",
              data: bytes = HONEST) -> Path:
    folder = inbound / f"{student}+{MODULE}+{stamp}+r4nd0m"
    folder.mkdir()
    (folder / f"{MODULE}.ipynb").write_bytes(data)
    (folder / "timestamp.txt").write_text(stamp)
    return folder


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing file owners needs root")


def test_exchange_receipt_time_not_the_trainee_written_one(exchange, instance):
    config, inbound = exchange
    handed_in(inbound, "zhangsan", stamp="2000-01-01 00:00:00.000000 UTC")
    before = dt.datetime.now(dt.UTC)
    intake = from_exchange(config, instance["submitted"], MODULE)
    folder = instance["submitted"] / "zhangsan" / MODULE
    assert intake.placed == ["zhangsan"] and placed(instance["submitted"], "zhangsan")[
        f"{MODULE}.ipynb"] == HONEST
    assert submissions.read_timestamp(folder) > before - NOW_SLACK
    assert from_exchange(config, instance["submitted"], MODULE).unchanged == ["zhangsan"]


def test_exchange_links_fifos_and_hard_links_are_refused(exchange, instance):
    config, inbound = exchange
    (handed_in(inbound, "mallory") / "notes.txt").symlink_to(instance["secret"])
    (inbound / f"oscar+{MODULE}+2026-11-18 09:30:00 UTC").symlink_to(
        instance["source"].parent, target_is_directory=True)
    fifo = handed_in(inbound, "trudy") / "pipe.ipynb"
    os.mkfifo(fifo)
    hard = handed_in(inbound, "eve") / f"{MODULE}.ipynb"
    hard.unlink()
    os.link(instance["source"], hard)
    handed_in(inbound, "zhangsan")
    intake = bounded(from_exchange, config, instance["submitted"], MODULE, unblock=[fifo])
    assert intake.placed == ["zhangsan"]
    assert set(intake.refused) == {"mallory", "oscar", "trudy", "eve"}
    assert "硬链接" in intake.refused["eve"] and "命名管道" in intake.refused["trudy"]
    everything = everything_under(instance["submitted"])
    assert SECRET not in everything and SOLUTION not in everything


@needs_root
def test_exchange_refuses_a_submission_not_owned_by_the_trainee(exchange, instance):
    config, inbound = exchange
    nobody = 65534  # `nobody` is a local account: its submissions must be owned by it
    handed_in(inbound, "nobody")  # owned by root, claims nobody
    lisi = handed_in(inbound, "lisi")  # no local account: must be the grader's own uid
    for path in (lisi, *lisi.iterdir()):
        os.chown(path, 12345, 12345)
    ok = handed_in(inbound, "wangwu")
    other = handed_in(inbound, "wangwu", stamp="2030-01-01 00:00:00 UTC", data=SOLUTION)
    os.chown(other, nobody, nobody)  # someone else's folder naming wangwu cannot block his
    intake = from_exchange(config, instance["submitted"], MODULE)
    assert set(intake.refused) == {"nobody", "lisi"}
    assert all("属主" in r for r in intake.refused.values())
    assert intake.placed == ["wangwu"]
    assert placed(instance["submitted"], "wangwu")[f"{MODULE}.ipynb"] == HONEST
    assert ok.is_dir()
    config.ExchangeCollect.check_owner = False  # nbgrader's own switch, for shared-uid hubs
    intake = from_exchange(config, instance["submitted"], MODULE)
    assert "lisi" in intake.placed and "nobody" in intake.placed


def test_intake_report_counts(instance):
    intake = Intake(placed=["a"], unchanged=["b", "c"], refused={"d": "x"})
    assert len(intake) == 3


def test_not_a_zip_and_an_oversized_submission(instance, monkeypatch):
    broken = instance["tmp"] / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputFileError, match="不是有效的 zip"):
        collect(str(broken), instance["submitted"], MODULE)
    monkeypatch.setattr(submissions, "MAX_SUBMISSION_BYTES", 150_000)
    archive = _zip(instance["tmp"] / "big.zip", [
        (f"alice/{MODULE}/{MODULE}.ipynb", HONEST),
        (f"mallory/{MODULE}/a.bin", os.urandom(100_000)),
        (f"mallory/{MODULE}/b.bin", os.urandom(100_000)),
    ])
    intake = from_zip(archive, instance["submitted"], MODULE)
    assert intake.placed == ["alice"] and "合计超过" in intake.refused["mallory"]
