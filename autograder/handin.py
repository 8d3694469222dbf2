"""The deployment's own exchange on a hub: hand-ins the records service received.

On a hub, 提交 in 我的培训 sends the notebook's bytes through the trainee's own server to the
records service, which asks the hub whose token it is and stores the bytes here, keyed by
that hub user name and by nothing the trainee wrote:

    <instance>/handin/<module>/<login>/<module>.ipynb     (0600, folders 0700)

The instance belongs to the service's system user (`_st-records`, 0700), so no trainee can
read another's hand-in or drop a folder in. `safetrain grade MODULE --from exchange` reads
it back (`from_handin`) with the same intake rules as every other source: regular files
only, every file owned by the folder's owner (the service), the caps; the receipt time is
when the file reached this folder (the service's clock, never the trainee's).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import stat
from pathlib import Path

from autograder.safe_files import Refused
from autograder.submissions import STUDENT_ID, Intake, place, read_tree
from records.errors import InputFileError
from records.instance import DB_URL_FILENAME, PRIVATE_DIR, PRIVATE_FILE, Instance

log = logging.getLogger(__name__)
HANDIN = "handin"
MODULE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def handin_root(instance: Instance) -> Path:
    return instance.home / HANDIN


def has_handin(instance: Instance) -> bool:
    """Whether this instance is a hub's: its service made the hand-in folder at start, or
    `safetrain hub init` gave it a private `db.url` (then a missing folder is an error,
    never a silent fall-back to nbgrader's exchange)."""
    return handin_root(instance).is_dir() or (instance.home / DB_URL_FILENAME).is_file()


def ensure_root(instance: Instance) -> Path:
    """The hand-in folder, made (0700, the caller's) if missing: the service, at start."""
    _private_dir(handin_root(instance))
    return handin_root(instance)


def _private_dir(path: Path) -> None:
    path.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise InputFileError(f"{path} 不是本服务自己的文件夹，拒绝写入")
    if stat.S_IMODE(st.st_mode) != PRIVATE_DIR:
        path.chmod(PRIVATE_DIR)


def notebook_path(instance: Instance, module: str, login: str) -> Path:
    if not MODULE_ID.match(module) or not STUDENT_ID.match(login):
        raise InputFileError(f"模块 {module!r} 或账号 {login!r} 不合规")
    return handin_root(instance) / module / login / f"{module}.ipynb"


def store(instance: Instance, module: str, login: str, data: bytes) -> dt.datetime:
    """Keep `data` as `login`'s hand-in of `module` (replacing an earlier one, atomically);
    returns the receipt time. `login` must be who the hub said the request came from."""
    path = notebook_path(instance, module, login)
    for folder in (handin_root(instance), path.parent.parent, path.parent):
        _private_dir(folder)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    received = dt.datetime.now(dt.UTC)
    log.info("收到 %s 提交的 %s（%d 字节）", login, module, len(data))
    return received


def received_at(instance: Instance, login: str) -> dict[str, dt.datetime]:
    """{module: receipt time} of `login`'s hand-ins (for 我的培训's 已提交、待评分)."""
    found: dict[str, dt.datetime] = {}
    root = handin_root(instance)
    if not root.is_dir() or not STUDENT_ID.match(login):
        return found
    for module_dir in root.iterdir():
        path = module_dir / login / f"{module_dir.name}.ipynb"
        try:
            st = path.lstat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            found[module_dir.name] = dt.datetime.fromtimestamp(st.st_mtime, dt.UTC)
    return found


def from_handin(instance: Instance, submitted: Path, module: str) -> Intake:
    """Every hand-in of `module` into nbgrader's submitted/<login>/<module>/ (idempotent).

    Refused, with a Chinese one-line error: a hand-in folder that anyone but its owner can
    write to (then ownership proves nothing). Refused per trainee: a link, a special file, a
    file not owned by the hand-in folder's owner, a name that is not a 账号.
    """
    root = handin_root(instance)
    try:
        top = root.lstat()
    except FileNotFoundError:
        raise InputFileError(f"找不到交换目录 {root}：还没有人从 我的培训 提交过，或实例不是 hub 的"
                             "（用 --home 指向 hub 的记录实例，例如 /opt/safetrain/records）。") from None
    except OSError as exc:
        raise InputFileError(f"无法读取交换目录 {root}（{exc.strerror or exc}）：请以 root 或"
                             "记录服务的系统用户运行。") from None
    if not stat.S_ISDIR(top.st_mode) or stat.S_IMODE(top.st_mode) & 0o022:
        raise InputFileError(f"交换目录 {root} 不是文件夹或可被他人写入：拒绝评分（请改为 0700）。")
    owner = top.st_uid
    intake = Intake()
    folder = root / module
    if not folder.is_dir():
        return intake
    try:
        logins = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise InputFileError(f"无法读取交换目录 {folder}（{exc.strerror or exc}）。") from None
    for entry in logins:
        if entry.name.startswith("."):
            continue
        login = entry.name
        if not STUDENT_ID.match(login):
            log.warning("忽略交换目录中的 %r：不是账号", login)
            continue
        try:
            files, changed = read_tree(Path(entry.path), login, owner)
        except Refused as exc:
            intake.refuse(login, str(exc))
            continue
        notebook = f"{module}.ipynb"
        if notebook not in files:
            intake.refuse(login, f"交换目录中没有 {login} 的 {notebook}")
            continue
        received = min(dt.datetime.fromtimestamp(changed, dt.UTC), dt.datetime.now(dt.UTC))
        place(intake, {notebook: files[notebook]}, submitted, module, login, received)
    return intake


def give_back(instance: Instance) -> None:
    """After grading as root in an instance another user owns (the hub's records instance,
    `_st-records`): everything the grading wrote goes to that owner, so the service can read
    the feedback. Links are changed, never followed."""
    if os.geteuid() != 0:
        return
    owner = instance.home.lstat()
    if owner.st_uid == 0:
        return
    for top in (instance.course_dir, instance.reports_dir):
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            for name in [*dirnames, *filenames]:
                os.lchown(os.path.join(dirpath, name), owner.st_uid, owner.st_gid)
        os.lchown(top, owner.st_uid, owner.st_gid)
