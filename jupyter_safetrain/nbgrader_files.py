"""The trainee's side of nbgrader: submissions not graded yet, and opening a released module.

Records only know graded attempts; a submission waiting for `safetrain grade` is found in
the instance's submitted/ folder or in the trainee's nbgrader cache (written by `nbgrader
submit`). Opening a module uses nbgrader's own fetch when the exchange has it, else copies
the instance's release/ folder (single-user installs, where the instance is local).
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import logging
import os
import re
import shutil
from pathlib import Path

from jupyter_core.paths import jupyter_config_path, jupyter_data_dir
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError, ExchangeFactory
from nbgrader.utils import parse_utc
from traitlets.config import Config

from records.curriculum import courses_dir
from records.errors import NotFound, SafeTrainError
from records.instance import Instance

log = logging.getLogger(__name__)
NBGRADER_CONFIG = "nbgrader_config.py"
NBGRADER_CONFIG_JSON = "nbgrader_config.json"
# What the panel reads of nbgrader's settings; nothing else can change what it does.
SETTINGS = {("CourseDirectory", "course_id"), ("CourseDirectory", "ignore"), ("Exchange", "root"),
            ("Exchange", "cache"), ("Exchange", "path_includes_course")}
COURSE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"  # nbgrader's own default


def _literal_settings(text: str) -> dict[tuple[str, str], object]:
    """`c.Section.name = <literal>` statements of an nbgrader_config.py, found by parsing it."""
    found: dict[tuple[str, str], object] = {}
    for node in ast.parse(text).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute)
                and isinstance(target.value.value, ast.Name) and target.value.value.id == "c"):
            try:
                found[(target.value.attr, target.attr)] = ast.literal_eval(node.value)
            except ValueError:  # not a literal: an expression we will not evaluate
                continue
    return found


def _valid(key: tuple[str, str], value: object) -> bool:
    if key == ("CourseDirectory", "course_id"):
        return isinstance(value, str) and bool(COURSE_ID.match(value))
    if key in (("Exchange", "root"), ("Exchange", "cache")):
        return isinstance(value, str) and Path(value).is_absolute()
    if key == ("Exchange", "path_includes_course"):
        return isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)  # ignore


def read_settings(path: Path) -> Config:
    """The few nbgrader settings the panel uses (SETTINGS), read from an nbgrader_config.py
    or .json without running it; anything else in the file is left alone."""
    config = Config()
    try:
        text = path.read_text(encoding="utf-8")
        found = (_literal_settings(text) if path.suffix == ".py" else
                 {(section, name): value for section, values in json.loads(text).items()
                  if isinstance(values, dict) for name, value in values.items()})
    except (OSError, SyntaxError, ValueError, AttributeError) as exc:
        log.warning("未读取 %s 中的 nbgrader 设置：%s", path, exc)
        return config
    for key, value in found.items():
        if key not in SETTINGS:
            continue
        if _valid(key, value):
            config[key[0]][key[1]] = value
        else:
            log.warning("已忽略 nbgrader 设置 %s.%s（%s）：%r", *key, path, value)
    return config


def trainee_config(instance: Instance, root_dir: Path) -> Config:
    """The course's nbgrader settings, overlaid with those on the Jupyter config path, as
    nbgrader's assignment list finds them; never executed (`read_settings`).

    Files inside the notebook folder are skipped: the trainee, their kernel and the Jupyter
    contents API can write there. `instance` is unused: its course folder's config file only
    points back at the course's (`autograder.course.write_local_config`).
    """
    del instance
    root = Path(os.path.realpath(root_dir))
    config = Config()
    folders = [courses_dir(), *(Path(p) for p in reversed(jupyter_config_path()))]
    for folder in folders:
        for name in (NBGRADER_CONFIG, NBGRADER_CONFIG_JSON):
            path = Path(os.path.realpath(folder / name))
            if path.is_relative_to(root):
                log.warning("%s 在学员的 notebook 文件夹里，不读取", folder / name)
            elif path.is_file():
                config.merge(read_settings(path))
    return config


def _setting(config: Config, section: str, name: str, fallback: object) -> object:
    return config[section].get(name, fallback)


def course_id(config: Config) -> str:
    return str(_setting(config, "CourseDirectory", "course_id", "") or "safetrain")


def pending_submissions(config: Config, instance: Instance,
                        login: str) -> dict[str, dt.datetime]:
    """{module: time of the latest submission found} for one trainee."""
    found: dict[str, dt.datetime] = {}

    def keep(module: str, stamp: str) -> None:
        try:
            when = parse_utc(stamp.strip())
        except ValueError:
            log.warning("无法识别 %s/%s 的 nbgrader 时间戳 %r", login, module, stamp)
            return
        if module not in found or when > found[module]:
            found[module] = when

    submitted = instance.course_dir / "submitted" / login
    if submitted.is_dir():
        for stamp in submitted.glob("*/timestamp.txt"):
            keep(stamp.parent.name, stamp.read_text(encoding="utf-8"))
    cache = Path(str(_setting(config, "Exchange", "cache",
                              str(Path(jupyter_data_dir()) / "nbgrader_cache"))))
    folder = cache / course_id(config)
    if folder.is_dir():
        for entry in folder.glob(f"{login}+*+*"):
            _, module, stamp = entry.name.split("+", 2)
            keep(module, stamp)
    return found


def _notebook_in(folder: Path, module: str) -> Path:
    preferred = folder / f"{module}.ipynb"
    if preferred.is_file():
        return preferred
    notebooks = sorted(folder.rglob("*.ipynb"))
    if not notebooks:
        raise NotFound(f"模块 {module} 的文件夹 {folder.name} 里没有 notebook")
    return notebooks[0]


def open_module(config: Config, instance: Instance, root_dir: Path,
                module: str) -> tuple[str, str]:
    """Make the module's released notebook present under `root_dir`; (path relative to it, how).

    how: "existing" (already fetched: the trainee's work is never overwritten), "fetched"
    (nbgrader exchange) or "copied" (the instance's release folder).
    """
    course = course_id(config)
    in_course = bool(_setting(config, "Exchange", "path_includes_course", False))
    dest = root_dir / course / module if in_course else root_dir / module
    if dest.is_dir():
        return str(_notebook_in(dest, module).relative_to(root_dir)), "existing"
    exchange = Path(str(_setting(config, "Exchange", "root", DEFAULT_EXCHANGE)))
    release = instance.course_dir / "release" / module
    if (exchange / course / "outbound" / module).is_dir():
        cfg = Config(config)
        cfg.CourseDirectory.course_id = course
        cfg.CourseDirectory.assignment_id = module
        cfg.Exchange.assignment_dir = str(root_dir)
        try:
            ExchangeFactory(config=cfg).FetchAssignment(
                coursedir=CourseDirectory(config=cfg), authenticator=Authenticator(config=cfg),
                config=cfg).start()
        except ExchangeError as exc:
            raise SafeTrainError(f"nbgrader 获取模块 {module} 失败：{exc}") from exc
        how = "fetched"
    elif release.is_dir():
        ignore = list(_setting(config, "CourseDirectory", "ignore",  # type: ignore[call-overload]
                               [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]))
        shutil.copytree(release, dest, ignore=shutil.ignore_patterns(*ignore))
        how = "copied"
    else:
        raise NotFound(f"模块 {module} 尚未发布：请管理员运行 `safetrain course release {module}`")
    log.info("模块 %s 已%s到 %s", module, {"fetched": "获取", "copied": "复制"}[how], dest)
    return str(_notebook_in(dest, module).relative_to(root_dir)), how
