"""The event log: append-only, HMAC-chained with the instance secret, anchored outside the database.

Every entry's MAC covers its sequence number, kind, subject, time, actor, payload and the
previous entry's MAC, so editing, deleting, inserting or reordering entries breaks the chain
at that point. Deleting the *last* entries (and fixing up the head row) leaves a shorter but
intact chain; the anchor file catches that: it lives in the instance folder, not in the
database, and holds the head's sequence number and MAC as of the last commit.

Appends are serialised: they lock the one-row `event_head` table (`SELECT ... FOR UPDATE` on
PostgreSQL; on SQLite a write to it takes the database's write lock first), so two commands
appending at once get consecutive numbers, never two entries with the same predecessor.
The anchor is written after the transaction commits, under a file lock, and only forwards.
"""

from __future__ import annotations

import datetime as dt
import enum
import fcntl
import getpass
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from records.errors import SafeTrainError
from records.models import Event, EventHead

log = logging.getLogger(__name__)

GENESIS_MAC = "0" * 64
ANCHOR_FILENAME = "event_log.anchor"
ACTOR_ENV = "SAFETRAIN_ACTOR"
_VERSION = "safetrain-event-v1"
_PENDING = "event_log.anchor_pending"
_HOOKED = "event_log.anchor_hooked"


class Kind(enum.StrEnum):
    cert_genesis = "cert.genesis"  # existing certificates, logged when the log was introduced
    cert_issued = "cert.issued"
    cert_renewed = "cert.renewed"
    cert_revoked = "cert.revoked"
    cert_reinstated = "cert.reinstated"
    grade_graded = "grade.graded"
    grade_regraded = "grade.regraded"

    @property
    def label(self) -> str:
        return {"cert.genesis": "日志起点", "cert.issued": "发证", "cert.renewed": "续证",
                "cert.revoked": "撤销", "cert.reinstated": "恢复", "grade.graded": "评分",
                "grade.regraded": "重新评分"}[self.value]


class LogBroken(SafeTrainError):
    """The log cannot be appended to (its head row is missing or changed)."""

    exit_code = 4


@dataclass(frozen=True)
class NewEvent:
    kind: Kind
    subject: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Anchor:
    seq: int
    mac: str


def anchor_path(home: Path) -> Path:
    """Where an instance keeps its anchor: beside secret.key, outside the database."""
    return home / ANCHOR_FILENAME


def default_actor() -> str:
    """Who is appending, as far as known: $SAFETRAIN_ACTOR (a hub user), else the OS user."""
    name = os.environ.get(ACTOR_ENV)
    if name:
        return name[:100]
    try:
        return getpass.getuser()[:100]
    except (KeyError, OSError):
        return "unknown"


def canonical(payload: Mapping[str, Any]) -> str:
    """The payload as stored and MAC'd: sorted keys, no spaces, dates as ISO strings."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"not JSON: {value!r}")


def utc_iso(moment: dt.datetime) -> str:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def entry_mac(secret: bytes, seq: int, kind: str, subject: str, recorded_at: dt.datetime,
              actor: str, payload: str, prev_mac: str) -> str:
    parts = [_VERSION, str(seq), kind, subject, utc_iso(recorded_at), actor, payload, prev_mac]
    message = b"".join(f"{len(p.encode())}:".encode() + p.encode() for p in parts)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def mac_of(secret: bytes, entry: Any) -> str:
    """The MAC an entry (an Event or a row with its columns) should carry."""
    return entry_mac(secret, entry.seq, entry.kind, entry.subject, entry.recorded_at,
                     entry.actor, entry.payload, entry.prev_mac)


# --------------------------------------------------------------------------- append


def _lock_head(session: Session) -> tuple[int, str]:
    if session.get_bind().dialect.name == "sqlite":
        # Take SQLite's write lock now (a no-op write), so the read below cannot go stale.
        session.execute(update(EventHead).where(EventHead.id == 1).values(seq=EventHead.seq))
    row = session.execute(select(EventHead.seq, EventHead.mac).where(EventHead.id == 1)
                          .with_for_update()).one_or_none()
    if row is None:
        raise LogBroken("事件日志的头记录（event_head 表）不见了：日志可能被改动，请运行"
                        " `safetrain cert audit` 检查，并从备份恢复。")
    return int(row.seq), str(row.mac)


def append(session: Session, secret: bytes, events: Sequence[NewEvent], *,
           anchor: Path | None = None, actor: str | None = None,
           at: dt.datetime | None = None) -> list[int]:
    """Append events in the caller's transaction; returns their sequence numbers.

    With `anchor`, the anchor file is moved forward once the transaction commits.
    """
    if not events:
        return []
    start = Anchor(*_lock_head(session))
    rows = chain_rows(secret, events, start, actor=actor or default_actor(),
                      at=at or dt.datetime.now(dt.UTC))
    last = Anchor(rows[-1]["seq"], rows[-1]["mac"])
    session.execute(insert(Event), rows)
    session.execute(update(EventHead).where(EventHead.id == 1).values(seq=last.seq, mac=last.mac))
    if anchor is not None:
        _anchor_after_commit(session, anchor, last)
    log.debug("event log: %d entries appended, head %d", len(rows), last.seq)
    return [r["seq"] for r in rows]


def chain_rows(secret: bytes, events: Sequence[NewEvent], start: Anchor, *, actor: str,
               at: dt.datetime) -> list[dict[str, Any]]:
    """Rows for `event_log` continuing the chain after `start` (also used by migration 0007)."""
    seq, prev, who = start.seq, start.mac, actor[:100]
    rows = []
    for item in events:
        seq += 1
        payload = canonical(item.payload)
        mac = entry_mac(secret, seq, item.kind.value, item.subject, at, who, payload, prev)
        rows.append({"seq": seq, "kind": item.kind.value, "subject": item.subject,
                     "recorded_at": at, "actor": who, "payload": payload, "prev_mac": prev,
                     "mac": mac})
        prev = mac
    return rows


def _anchor_after_commit(session: Session, path: Path, head: Anchor) -> None:
    session.info[_PENDING] = (path, head)
    if session.info.get(_HOOKED):
        return
    session.info[_HOOKED] = True

    def committed(sess: Session) -> None:
        pending = sess.info.pop(_PENDING, None)
        if pending is None:
            return
        try:
            write_anchor(*pending)
        except OSError as exc:  # committed already: say so loudly rather than fail the command
            log.error("事件日志已写入数据库，但日志锚 %s 未能更新（%s）：请检查该文件的权限，"
                      "之后的 `safetrain cert audit` 只能核对到上一次的锚。", pending[0], exc)

    def rolled_back(sess: Session) -> None:
        sess.info.pop(_PENDING, None)

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_soft_rollback", lambda sess, _tx: rolled_back(sess))


# --------------------------------------------------------------------------- anchor


def read_anchor(path: Path) -> Anchor | None:
    """The anchor, or None when there is none; LogBroken when it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="ascii"))
        return Anchor(int(data["seq"]), str(data["mac"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LogBroken(f"日志锚文件 {path} 无法读取或已损坏（{exc}）：请从备份恢复。") from exc


def write_anchor(path: Path, head: Anchor, *, force: bool = False) -> None:
    """Move the anchor forward to `head` (never back, unless `force`); 0600, atomic."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = read_anchor(path)
        except LogBroken:
            current = None
        if current is not None and current.seq >= head.seq and not force:
            return
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            json.dump({"seq": head.seq, "mac": head.mac}, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        os.close(lock)


def head(session: Session) -> Anchor:
    """The head as the database says (seq 0 for an empty log)."""
    row = session.execute(select(EventHead.seq, EventHead.mac).where(EventHead.id == 1)).one_or_none()
    return Anchor(int(row.seq), str(row.mac)) if row else Anchor(0, GENESIS_MAC)


def anchor_if_missing(session: Session, path: Path) -> bool:
    """Write the anchor from the database's head when the instance has none (first upgrade)."""
    if path.exists():
        return False
    current = head(session)
    if current.seq == 0:
        return False
    write_anchor(path, current)
    return True


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Problem:
    """One broken link or mismatch, in Chinese; `seq` is the entry it concerns, if any."""

    message: str
    seq: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class ChainReport:
    entries: int = 0
    last: Anchor = field(default_factory=lambda: Anchor(0, GENESIS_MAC))
    problems: list[Problem] = field(default_factory=list)


def _describe(entry: Any) -> str:
    try:
        kind = Kind(entry.kind).label
    except ValueError:
        kind = entry.kind
    return f"第 {entry.seq} 条（{kind} {entry.subject}）"


def walk(session: Session, secret: bytes, report: ChainReport,
         batch: int = 2000) -> Iterator[Event]:
    """Yield every entry in order, recording broken links in `report` as it goes."""
    prev, expected = GENESIS_MAC, 1
    stmt = select(Event).order_by(Event.seq).execution_options(yield_per=batch)
    for entry in session.scalars(stmt):
        if entry.seq != expected:
            gap = (f"第 {expected} 条" if entry.seq == expected + 1
                   else f"第 {expected}–{entry.seq - 1} 条")
            report.problems.append(Problem(
                f"日志缺少{gap}（下一条是第 {entry.seq} 条）：日志中间的记录被删除。", expected))
        elif entry.prev_mac != prev:
            report.problems.append(Problem(
                f"{_describe(entry)}与前一条接不上：日志记录被删除、插入或调换了顺序。", entry.seq))
        if not hmac.compare_digest(mac_of(secret, entry), entry.mac):
            report.problems.append(Problem(
                f"{_describe(entry)}的校验码不符：这条日志记录被改动过"
                "（若实例密钥 secret.key 被更换过，所有记录都会这样显示）。", entry.seq))
        prev, expected = entry.mac, entry.seq + 1
        report.entries += 1
        report.last = Anchor(entry.seq, entry.mac)
        yield entry


def check_ends(session: Session, last: Anchor, anchor: Path | None) -> list[Problem]:
    """The head row and the anchor file against the log's last entry."""
    problems = []
    stored = session.execute(select(EventHead.seq, EventHead.mac)
                             .where(EventHead.id == 1)).one_or_none()
    if stored is None:
        problems.append(Problem("事件日志的头记录（event_head 表）不见了：日志被改动。"))
    elif (int(stored.seq), str(stored.mac)) != (last.seq, last.mac):
        problems.append(Problem(
            f"日志头记录说最后一条是第 {stored.seq} 条，日志里最后一条是第 {last.seq} 条：日志被改动。",
            last.seq + 1 if stored.seq > last.seq else stored.seq))
    if anchor is None:
        return problems
    saved = read_anchor(anchor)
    if saved is None:
        if last.seq:
            problems.append(Problem(
                f"找不到日志锚文件 {anchor}：无法确认日志末尾的记录是否被删除（请从备份恢复此文件）。"))
        return problems
    if saved.seq > last.seq:
        problems.append(Problem(
            f"日志锚记载日志共 {saved.seq} 条，数据库中只到第 {last.seq} 条："
            f"日志末尾的 {saved.seq - last.seq} 条记录被删除。", last.seq + 1))
        return problems
    at = session.execute(select(Event.mac).where(Event.seq == saved.seq)).scalar_one_or_none()
    if at != saved.mac:
        problems.append(Problem(
            f"第 {saved.seq} 条日志与日志锚不符：锚之前的日志被改写。", saved.seq))
    return problems


def check_entries(session: Session, secret: bytes, entries: Sequence[Event]) -> list[Problem]:
    """MAC and link of a few entries (one subject's), without walking the whole log."""
    problems = []
    wanted = {e.seq - 1 for e in entries if e.seq > 1}
    before = dict(session.execute(select(Event.seq, Event.mac).where(Event.seq.in_(wanted))).all())
    for e in entries:
        expected = GENESIS_MAC if e.seq == 1 else before.get(e.seq - 1)
        if expected is None:
            problems.append(Problem(f"{_describe(e)}的前一条日志不见了：日志记录被删除。", e.seq))
        elif e.prev_mac != expected:
            problems.append(Problem(
                f"{_describe(e)}与前一条接不上：日志记录被删除、插入或调换了顺序。", e.seq))
        if not hmac.compare_digest(mac_of(secret, e), e.mac):
            problems.append(Problem(f"{_describe(e)}的校验码不符：这条日志记录被改动过。", e.seq))
    return problems


__all__ = ["ANCHOR_FILENAME", "Anchor", "ChainReport", "GENESIS_MAC", "Kind", "LogBroken",
           "NewEvent", "Problem", "anchor_if_missing", "anchor_path", "append", "canonical",
           "chain_rows",
           "check_ends", "check_entries", "default_actor", "entry_mac", "head", "mac_of",
           "read_anchor", "walk", "write_anchor"]
