"""System users of a deployment: one per trainee (prefix + 账号) and one for the records service.

Created idempotently with `useradd`; a name that already exists on the system and was not
created by this deployment (its registry, `hub/users.json`, 0600) is refused, never taken
over. Passwords are set with `chpasswd` through its standard input, never a command line.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from records.errors import SafeTrainError

log = logging.getLogger(__name__)
MAX_NAME = 32  # useradd's limit
SHELL = "/bin/bash"
NOLOGIN = "/usr/sbin/nologin"


class UserError(SafeTrainError):
    exit_code = 6


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (账号, reason)


@dataclass(frozen=True)
class Registry:
    """The system users this deployment created (so only those are ever reused or removed)."""

    path: Path

    def names(self) -> set[str]:
        try:
            return set(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return set()

    def add(self, name: str) -> None:
        names = self.names() | {name}
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(names)), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(self.path)


def exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _useradd(name: str, home: Path, *, system: bool, comment: str) -> None:
    cmd = ["useradd", "--home-dir", str(home), "--comment", comment, "--user-group"]
    cmd += ["--system", "--shell", NOLOGIN, "--no-create-home"] if system else \
        ["--create-home", "--shell", SHELL]
    done = subprocess.run([*cmd, name], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise UserError(f"无法创建系统用户 {name}：{done.stderr.strip() or done.stdout.strip()}")


def ensure_user(name: str, home: Path, registry: Registry, *, system: bool = False,
                comment: str = "SafeTrain") -> bool:
    """Create `name` unless this deployment already did; True when created now."""
    if exists(name):
        if name not in registry.names():
            raise UserError(f"系统中已有用户 {name}，但不是本部署创建的：拒绝使用。"
                            "请换一个前缀（--user-prefix）或先核实这个用户。")
        return False
    home.parent.mkdir(parents=True, exist_ok=True)
    _useradd(name, home, system=system, comment=comment)
    registry.add(name)
    if not system:
        home.chmod(0o700)
    log.info("已创建系统用户 %s（%s）", name, home)
    return True


def sync_trainees(logins: Iterable[str], prefix: str, home_base: Path,
                  registry: Registry) -> SyncReport:
    """One system user per 账号: created when missing, refused when the name is taken."""
    report = SyncReport()
    for login in sorted(set(logins)):
        name = prefix + login
        if len(name) > MAX_NAME:
            report.refused.append((login, f"系统用户名 {name} 超过 {MAX_NAME} 个字符"))
            continue
        try:
            created = ensure_user(name, home_base / name, registry, comment="SafeTrain trainee")
        except UserError as exc:
            report.refused.append((login, str(exc)))
            continue
        (report.created if created else report.kept).append(login)
    for login, reason in report.refused:
        log.warning("账号 %s 没有系统用户，不能登录：%s", login, reason)
    return report


def set_password(name: str, password: str, registry: Registry) -> None:
    """Set a deployment user's password (chpasswd reads it from standard input)."""
    if name not in registry.names() or not exists(name):
        raise UserError(f"{name} 不是本部署创建的系统用户：先运行 safetrain hub start 创建用户")
    if not password or any(c in password for c in ":\n\r"):
        raise UserError("密码不能为空，也不能含冒号或换行")
    done = subprocess.run(["chpasswd"], input=f"{name}:{password}\n", capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise UserError(f"无法为 {name} 设置密码：{done.stderr.strip()}")


def remove_users(registry: Registry, names: Iterable[str] | None = None) -> list[str]:
    """userdel -r the given (default: all) users this deployment created."""
    ours = registry.names()
    removed = []
    for name in sorted(set(names) & ours if names is not None else ours):
        if exists(name):
            subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)
            removed.append(name)
    remaining = ours - set(removed)
    if registry.path.exists():
        registry.path.write_text(json.dumps(sorted(remaining)), encoding="utf-8")
    return removed


def chown_tree(path: Path, name: str) -> None:
    """Give a folder and everything in it to system user `name` (the service's instance)."""
    entry = pwd.getpwnam(name)
    for root, dirs, files in os.walk(path):
        for item in [root, *(os.path.join(root, d) for d in dirs),
                     *(os.path.join(root, f) for f in files)]:
            os.lchown(item, entry.pw_uid, entry.pw_gid)
