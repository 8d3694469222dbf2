"""The hub's authenticator and spawner: a hub user is a roster 账号, its system user is the
账号 with the deployment's prefix (`st-zhangsan` for `zhangsan`).

Both are JupyterHub's own classes with one change each: PAM authenticates (and checks the
account of) the prefixed system user, and the spawner runs the server as that user. Users
are created by `safetrain hub start` (`jupyter_safetrain.hub.users`), never by the hub.
"""

from __future__ import annotations

import pwd
from typing import Any

from jupyterhub.auth import PAMAuthenticator
from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Unicode


class SafeTrainPAMAuthenticator(PAMAuthenticator):
    """PAM for the prefixed system users; the hub user name stays the roster 账号."""

    system_user_prefix = Unicode(
        "st-", config=True,
        help="系统用户名前缀：账号 zhangsan 对应系统用户 st-zhangsan。"
             " Prefix of the system user behind each hub user.",
    )

    def system_name(self, name: str) -> str:
        return self.system_user_prefix + name

    async def authenticate(self, handler: Any, data: dict[str, Any]) -> str | None:
        login = self.normalize_username(str(data.get("username", "")))
        if not login or not self.check_allowed(login, None):
            self.log.warning("SafeTrain：账号 %r 不在允许名单中，拒绝登录", login[:40])
            return None
        name = await super().authenticate(handler, {**data, "username": self.system_name(login)})
        return login if name is not None else None

    def system_user_exists(self, user: Any) -> bool:
        try:
            pwd.getpwnam(self.system_name(user.name))
        except KeyError:
            return False
        return True

    def add_system_user(self, user: Any) -> None:
        raise RuntimeError(f"系统用户 {self.system_name(user.name)} 不存在：请运行 safetrain hub start"
                           " 由它创建（hub 本身不创建用户）")


class SafeTrainSpawner(LocalProcessSpawner):
    """LocalProcessSpawner running each server as the hub user's prefixed system user."""

    system_user_prefix = Unicode(
        "st-", config=True,
        help="系统用户名前缀（与认证器一致）。 Prefix of the system user behind each hub user.",
    )

    @property
    def system_name(self) -> str:
        return self.system_user_prefix + self.user.name

    def make_preexec_fn(self, name: str) -> Any:
        del name
        return super().make_preexec_fn(self.system_name)

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        entry = pwd.getpwnam(self.system_name)
        env["USER"] = entry.pw_name
        if entry.pw_dir:
            env["HOME"] = entry.pw_dir
        if entry.pw_shell:
            env["SHELL"] = entry.pw_shell
        return env
