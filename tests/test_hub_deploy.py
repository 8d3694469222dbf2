"""`safetrain hub`'s pieces without a hub: system users, the generated configuration, the
password check, the command's refusals. The real thing end to end: tests/test_hub_e2e.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from traitlets.config import Config

from jupyter_safetrain.hub import (
    ACCESS_SCOPE,
    SCOPE_OWN,
    SCOPE_UNITS,
    SERVICE_NAME,
    deploy,
    pgcheck,
)
from jupyter_safetrain.hub.users import Registry, sync_trainees


def test_existing_system_names_and_long_names_are_refused(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "users.json")
    # "ro" + "ot" is root: it exists and this deployment did not create it.
    report = sync_trainees(["ot", "x" * 31], "ro", tmp_path / "home", registry)
    reasons = dict(report.refused)
    assert "不是本部署创建的" in reasons["ot"] and "拒绝使用" in reasons["ot"]
    assert "超过 32 个字符" in reasons["x" * 31]
    assert report.created == [] and registry.names() == set()
    assert not (tmp_path / "home").exists()


def _load(text: str) -> Config:
    config = Config()
    exec(compile(text, "jupyterhub_config.py", "exec"), {"get_config": lambda: config})  # noqa: S102
    return config


def test_the_configuration_holds_no_credential_and_explicit_allow_lists(tmp_path: Path) -> None:
    layout = deploy.Layout(tmp_path)
    settings = deploy.Settings(user_prefix="st-", instructors=["teacher"])
    users = deploy.HubUsers({"zhangsan", "lisi", "wangwu"}, {"wangwu"}, {"dcadmin"}, {"teacher"})
    text = deploy.render_config(layout, settings, users, users.allowed - {"lisi"})
    assert "postgresql" not in text and "secret" not in text.replace("cookie_secret", "")
    c = _load(text)
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"
    assert c.Authenticator.allowed_users == {"zhangsan", "wangwu", "dcadmin", "teacher"}
    assert c.Authenticator.allow_existing_users is False and c.Authenticator.allow_all is False
    assert c.Authenticator.admin_users == set()
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["safetrain-trainee"]["users"] == ["wangwu", "zhangsan"]  # lisi was refused
    assert roles["safetrain-leader"]["users"] == ["wangwu"]
    assert SCOPE_UNITS not in roles["safetrain-trainee"]["scopes"]
    assert SCOPE_UNITS in roles["safetrain-administrator"]["scopes"]
    assert roles["safetrain-instructor"]["users"] == ["teacher"]
    assert set(c.Spawner.server_token_scopes) == {"users:activity!user", "access:servers!server",
                                                  ACCESS_SCOPE, SCOPE_OWN, SCOPE_UNITS}
    (service,) = c.JupyterHub.services
    assert service["name"] == SERVICE_NAME and service["user"] == "_st-records"
    assert service["environment"]["SAFETRAIN_HOME"] == str(tmp_path / "records")
    assert not any("DB" in key for key in service["environment"])
    assert c.Spawner.environment["SAFETRAIN_RECORDS_URL"].endswith(f"/services/{SERVICE_NAME}/")
    assert c.JupyterHub.spawner_class.endswith("SafeTrainSpawner")
    assert c.JupyterHub.authenticator_class.endswith("SafeTrainPAMAuthenticator")


def test_a_database_without_passwords_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://safetrain_records@127.0.0.1:5432/safetrain"
    wants = "connection failed: fe_sendauth: no password supplied"

    def attempts(*outcomes: tuple[str, str, bool, str]) -> None:
        monkeypatch.setattr(pgcheck, "try_without_password", lambda _url: [
            pgcheck.Attempt(user, host, 5432, "safetrain", ok, error)
            for user, host, ok, error in outcomes])

    attempts(("safetrain_records", "127.0.0.1", False, wants),
             ("postgres", "/var/run/postgresql", True, ""))
    with pytest.raises(pgcheck.PasswordNotRequired, match="不用密码就能以 postgres.*拒绝启动"):
        pgcheck.require_password(url)
    attempts(("safetrain_records", "127.0.0.1", False, wants),
             ("postgres", "127.0.0.1", False, wants),
             ("postgres", "/var/run/postgresql", False, "Peer authentication failed"))
    assert len(pgcheck.require_password(url)) == 3
    attempts(("safetrain_records", "127.0.0.1", False, "Connection refused"))
    with pytest.raises(pgcheck.DatabaseUnreachable, match="无法连接数据库"):
        pgcheck.require_password(url)
    with pytest.raises(pgcheck.PasswordNotRequired, match="必须是 PostgreSQL"):
        pgcheck.require_password("sqlite:///x.db")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="safetrain hub refuses to run except as root")
def test_init_refuses_a_password_on_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scripts.cli import app

    result = CliRunner().invoke(app, ["hub", "init", "--prefix", str(tmp_path), "--db",
                                      "postgresql+psycopg://u:hunter2@127.0.0.1/db"])
    assert result.exit_code == 2 and "不要写密码" in result.output
    result = CliRunner().invoke(app, ["hub", "init", "--prefix", str(tmp_path), "--db",
                                      "sqlite:///x.db"])
    assert result.exit_code == 2 and "PostgreSQL" in result.output


def test_user_servers_get_no_instructor_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """#20: formgrader, create assignment, the course and assignment lists are off in every
    user server (command line: wins over any config file) and nbgrader's lab extension is
    disabled in the page configuration the servers read."""
    import json

    from jupyter_server.serverapp import ServerApp

    layout = deploy.Layout(tmp_path)
    users = deploy.HubUsers({"zhangsan"}, set(), set(), set())
    c = _load(deploy.render_config(layout, deploy.Settings(user_prefix="st-"), users, {"zhangsan"}))
    app = ServerApp()
    app.parse_command_line(c.Spawner.args)
    assert app.config.ServerApp.jpserver_extensions == {
        name: False for name in deploy.NBGRADER_SERVER_EXTENSIONS}
    assert c.Spawner.environment["JUPYTER_CONFIG_PATH"] == str(layout.jupyter_config)
    deploy.publish_curriculum(layout)
    page = json.loads((layout.jupyter_config / "labconfig" / "page_config.json").read_text())
    assert page == {"disabledExtensions": {"@jupyter/nbgrader": True}}
    assert oct((layout.jupyter_config / "labconfig").stat().st_mode & 0o777) == "0o755"
