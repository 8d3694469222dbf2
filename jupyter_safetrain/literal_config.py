"""nbgrader config files read as data in the Jupyter server, never run.

nbgrader's server extensions (assignment list, course list, validate, formgrader) load
`nbgrader_config.py` from the server's root and the assignment folders, folders a trainee,
a kernel or the Jupyter contents API can write; traitlets runs such a file as Python. In a
server where SafeTrain is loaded, `NbGrader.python_config_loader_class` (a traitlets hook) is
this loader instead: it takes `c.Section.name = <literal>` and `load_subconfig("<path>")`
statements and ignores everything else, with a warning naming the file and line.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import Any

from traitlets.config import Config, PyFileConfigLoader
from traitlets.config.loader import ConfigFileNotFound

log = logging.getLogger(__name__)
MAX_SUBCONFIG_DEPTH = 5


class LiteralPyFileConfigLoader(PyFileConfigLoader):
    """A PyFileConfigLoader that parses the file instead of executing it."""

    def load_config(self) -> Config:
        self.clear()
        try:
            self._find_file()
        except OSError as exc:  # no such file here: traitlets moves on quietly
            raise ConfigFileNotFound(str(exc)) from exc
        self.config = read_literal_config(Path(self.full_filename))
        return self.config


def read_literal_config(path: Path, depth: int = 0) -> Config:
    config = Config()
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as exc:
        log.warning("无法读取 nbgrader 配置 %s：%s（已忽略）", path, type(exc).__name__)
        return config
    for node in tree.body:
        if not _apply(node, config, path, depth):
            log.warning("nbgrader 配置 %s 第 %d 行不是字面量设置，未执行（已忽略）", path, node.lineno)
    return config


def _apply(node: ast.stmt, config: Config, path: Path, depth: int) -> bool:
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True  # a docstring
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "c" and _is_call(node.value, "get_config"):
            return True
        if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute)
                and isinstance(target.value.value, ast.Name) and target.value.value.id == "c"):
            value = _literal(node.value)
            if value is _NOT_LITERAL:
                return False
            config[target.value.attr][target.attr] = value
            return True
    if isinstance(node, ast.Expr) and _is_call(node.value, "load_subconfig"):
        args = node.value.args  # type: ignore[attr-defined]
        if len(args) == 1 and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str) \
                and depth < MAX_SUBCONFIG_DEPTH:
            sub = (path.parent / args[0].value).resolve()
            config.merge(read_literal_config(sub, depth + 1))
            return True
    return False


_NOT_LITERAL = object()


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL


def _is_call(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def install() -> None:
    """Make every nbgrader app in this process read config files as data."""
    from nbgrader.apps.baseapp import NbGrader

    NbGrader.python_config_loader_class = LiteralPyFileConfigLoader
