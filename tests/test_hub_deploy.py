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


def _stock_templates() -> Path:
    from jupyterhub._data import DATA_FILES_PATH

    return Path(DATA_FILES_PATH) / "templates"


def _template_env():  # noqa: ANN202
    """Our folder before the stock one, and the stock one also as "templates/…": the
    loaders JupyterHub builds from template_paths (JupyterHub.init_tornado_settings)."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader

    stock = str(_stock_templates())
    return Environment(autoescape=True, loader=ChoiceLoader([
        PrefixLoader({"templates": FileSystemLoader([stock])}, "/"),
        FileSystemLoader([str(deploy.TEMPLATES), stock])]))


def _blocks(env, name: str) -> set[str]:  # noqa: ANN001
    """Every block of a stock template and the templates it extends."""
    from jinja2 import nodes

    tree = env.parse(env.loader.get_source(env, name)[0])
    found = {block.name for block in tree.find_all(nodes.Block)}
    for parent in tree.find_all(nodes.Extends):
        found |= _blocks(env, parent.template.value)
    return found


def test_hub_pages_are_chinese_templates_that_extend_the_stock_ones(tmp_path: Path) -> None:
    import re

    from jinja2 import nodes

    layout = deploy.Layout(tmp_path)
    users = deploy.HubUsers({"zhangsan"}, set(), set(), set())
    c = _load(deploy.render_config(layout, deploy.Settings(), users, {"zhangsan"}))
    (folder,) = map(Path, c.JupyterHub.template_paths)
    assert folder.is_dir() and {"login.html", "page.html"} <= {p.name for p in folder.iterdir()}
    env = _template_env()
    for path in sorted(folder.glob("*.html")):
        tree = env.parse(path.read_text(encoding="utf-8"))  # parses, or raises
        (extends,) = tree.find_all(nodes.Extends)
        # Extends the stock page of the same name; overrides only blocks that page has (a
        # block renamed by a JupyterHub upgrade would otherwise be dropped without a word).
        assert extends.template.value == f"templates/{path.name}", path.name
        assert (_stock_templates() / path.name).is_file(), path.name
        ours = {block.name for block in tree.find_all(nodes.Block)}
        assert ours <= _blocks(env, extends.template.value), (path.name, ours)

    # The login form posts the stock form's fields (read from the installed JupyterHub).
    def fields(text: str) -> set[str]:
        return set(re.findall(r'\bname="([^"]+)"', text)) - {"description", "keywords",
                                                             "viewport"}

    stock = fields((_stock_templates() / "login.html").read_text(encoding="utf-8"))
    assert {"username", "password", "_xsrf"} <= stock
    assert stock <= fields((folder / "login.html").read_text(encoding="utf-8"))
    page = env.get_template("login.html").render(
        static_url=lambda *a, **k: "/static/x", base_url="/hub/", prefix="/", user=None,
        xsrf="XSRF", xsrf_token="XSRF", authenticator_login_url="/hub/login?next=%2Fhub%2F",
        authenticator=type("Auth", (), {"request_otp": False})(), login_url="/hub/login",
        parsed_scopes=set(),
        announcement_login=c.JupyterHub.template_vars["announcement_login"])
    assert "账号" in page and "密码" in page and "value='登录'" in page
    assert "Sign in" not in page and "Username" not in page
    assert 'name="_xsrf" value="XSRF"' in page and 'action="/hub/login?next=%2Fhub%2F"' in page
    assert c.JupyterHub.template_vars["announcement_login"] in page  # still shown
