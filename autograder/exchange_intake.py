"""Collect from the nbgrader exchange: nbgrader's layout and settings, SafeTrain's safe reader.

Replaces the copy in nbgrader's ExchangeCollect, which follows links and only warns when a
submission's owner is not the trainee it names. Here, for `<exchange>/<course>/inbound/
<student>+<module>+<time>[+<random>]/`:
- everything is read as regular files only (`autograder.safe_files`);
- the owner is checked on the folder and every file: a name that is a local account must be
  owned by that account's uid; a name that is not (single-user installs, hub users without
  system accounts) must be owned by the grader's own uid, so another local account cannot
  hand in under it. Turn the check off with nbgrader's own
  `c.ExchangeCollect.check_owner = False` when every server writes the exchange as one
  shared uid (e.g. containers all running as `jovyan`): then it proves nothing.
- each trainee's latest submission is the one the server received last, and its receipt
  time is when its files reached the inbound folder (their latest inode change time, which
  a trainee can move later but never earlier), not the time in the folder name or a
  trainee-written timestamp.txt.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
from pathlib import Path

from traitlets.config import Config

from autograder.safe_files import Refused, kind, walk
from autograder.submissions import SKIP, Intake, place, read_tree
from records.errors import InputFileError

log = logging.getLogger(__name__)
DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"  # nbgrader's own default

try:
    import pwd
except ImportError:  # Windows: no owner check possible, as in nbgrader
    pwd = None  # type: ignore[assignment]


def expected_owner(student: str) -> int | None:
    """The uid a submission claiming `student` must have (None: cannot check here)."""
    if pwd is None:
        return None
    try:
        return pwd.getpwnam(student).pw_uid
    except KeyError:
        return os.geteuid()


def _setting(config: Config, section: str, name: str, fallback: object) -> object:
    return config[section].get(name, fallback)


def _received(folder: Path) -> float:
    """Latest inode change time of the folder and everything in it (lstat, no links)."""
    latest = folder.lstat().st_ctime
    for entry in walk(folder, SKIP):
        latest = max(latest, entry.st.st_ctime)
    return latest


def _owner_problem(st: os.stat_result, name: str, student: str, check: bool) -> str | None:
    owner = expected_owner(student) if check else None
    if owner is None or st.st_uid == owner:
        return None
    return f"交换目录中的 {name} 的属主（uid {st.st_uid}）不是学员 {student}（疑似冒名提交）"


def from_exchange(config: Config, submitted: Path, module: str) -> Intake:
    """Each trainee's latest submission of `module` in the exchange's inbound folder.

    A trainee's own link, FIFO or unreadable folder refuses their submission; a folder that
    someone else owns but names them is left out (logged), so it cannot block theirs.
    """
    course = str(_setting(config, "CourseDirectory", "course_id", "")) or "safetrain"
    root = Path(str(_setting(config, "Exchange", "root", DEFAULT_EXCHANGE)))
    inbound = root / course / "inbound"
    check = bool(_setting(config, "ExchangeCollect", "check_owner", True))
    if not check:
        log.warning("ExchangeCollect.check_owner 已关闭：不核对提交文件的属主")
    if not inbound.is_dir():
        raise InputFileError(f"找不到 nbgrader 交换目录 {inbound}：请检查 Exchange.root 和课程 id。")
    try:
        listing = sorted(os.scandir(inbound), key=lambda e: e.name)
    except OSError as exc:
        raise InputFileError(f"无法读取交换目录 {inbound}（{exc.strerror or exc}）。") from None
    intake = Intake()
    latest: dict[str, tuple[float, str]] = {}
    foreign: dict[str, str] = {}
    for item in listing:
        parts = item.name.split("+")
        if len(parts) not in (3, 4) or parts[1] != module:
            continue
        student, st = parts[0], item.stat(follow_symlinks=False)
        problem = _owner_problem(st, item.name, student, check)
        if problem:
            log.warning("未收取：%s", problem)
            foreign[student] = problem
            continue
        if not stat.S_ISDIR(st.st_mode):
            intake.refuse(student, f"交换目录中的 {item.name} 是{kind(st.st_mode)}，只接收普通文件夹")
            continue
        try:
            when = _received(Path(item.path))
        except Refused as exc:
            intake.refuse(student, str(exc))
            continue
        if student not in latest or (when, item.name) > latest[student]:
            latest[student] = (when, item.name)
    for student, problem in foreign.items():
        if student not in latest:
            intake.refuse(student, problem)
    for student, (_, name) in sorted(latest.items()):
        if student in intake.refused:
            continue
        owner = expected_owner(student) if check else None
        try:
            files, changed = read_tree(inbound / name, name, owner)
        except Refused as exc:
            intake.refuse(student, str(exc))
            continue
        received = min(dt.datetime.fromtimestamp(changed, dt.UTC), dt.datetime.now(dt.UTC))
        place(intake, files, submitted, module, student, received)
    return intake
