"""Does the deployment's database want a password? On these machines PostgreSQL is often set
to trust local connections, and then "no password in any environment" proves nothing, so
`safetrain hub` refuses to start when a connection without one succeeds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from records.errors import SafeTrainError

SOCKET_DIRS = ("/var/run/postgresql", "/tmp")


class PasswordNotRequired(SafeTrainError):
    exit_code = 6


class DatabaseUnreachable(SafeTrainError):
    exit_code = 3


@dataclass(frozen=True)
class Attempt:
    user: str
    host: str
    port: int
    database: str
    connected: bool
    error: str


@contextmanager
def _no_password_sources() -> Iterator[None]:
    """No PGPASSWORD / PGPASSFILE / PGSERVICE from our environment during the attempts."""
    saved = {k: os.environ.pop(k) for k in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE",
                                            "PGSERVICEFILE") if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def try_without_password(url: str, users: tuple[str, ...] = ("postgres",),
                         timeout: int = 5) -> list[Attempt]:
    """Connect to the URL's host, port and database as its user and each of `users`, with no
    password at all (no ~/.pgpass either); one Attempt each."""
    import psycopg

    parsed = make_url(url)
    host, port = parsed.host or "127.0.0.1", parsed.port or 5432
    database = parsed.database or "postgres"
    # The URL's host, and the local socket of the same server where a trainee would look.
    hosts = [host, *(d for d in SOCKET_DIRS if os.path.exists(f"{d}/.s.PGSQL.{port}"))]
    attempts = []
    with _no_password_sources():
        for user in dict.fromkeys([parsed.username or "postgres", *users]):
            for where in hosts:
                try:
                    with psycopg.connect(host=where, port=port, dbname=database, user=user,
                                         passfile=os.devnull, connect_timeout=timeout,
                                         sslmode="disable" if where == host else "prefer"):
                        attempts.append(Attempt(user, where, port, database, True, ""))
                except psycopg.OperationalError as exc:
                    attempts.append(Attempt(user, where, port, database, False,
                                            str(exc).strip().splitlines()[-1]))
    return attempts


def _wants_password(error: str) -> bool:
    return any(s in error for s in ("password authentication failed", "no password supplied",
                                    "password is required", "fe_sendauth"))


def require_password(url: str) -> list[Attempt]:
    """Raise unless every password-less connection is refused for wanting a password."""
    if make_url(url).get_backend_name() != "postgresql":
        raise PasswordNotRequired("JupyterHub 部署的记录库必须是 PostgreSQL（带密码认证）；"
                                  "SQLite 只用于单用户（make demo）。")
    attempts = try_without_password(url)
    let_in = [a for a in attempts if a.connected]
    if let_in:
        who = "、".join(a.user for a in let_in)
        raise PasswordNotRequired(
            f"不用密码就能以 {who} 连接数据库 {let_in[0].host}:{let_in[0].port}/"
            f"{let_in[0].database}：拒绝启动。请在 pg_hba.conf 中改为 scram-sha-256 认证"
            "（不要用 trust），重新加载 PostgreSQL 后再试（见 docs/hub.md）。")
    tcp = [a for a in attempts if not a.host.startswith("/")]
    unreachable = [a for a in tcp if not _wants_password(a.error)]
    if unreachable and len(unreachable) == len(tcp):
        raise DatabaseUnreachable(f"无法连接数据库 {unreachable[0].host}:{unreachable[0].port}："
                                  f"{unreachable[0].error}")
    return attempts
