"""pyproject.toml and environment.yml pin the same things."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _split(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_deps = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_deps = dict(_split(d) for d in env["dependencies"] if isinstance(d, str))
    assert conda_deps == {**pip_deps, "python": ">=3.11", "pip": "", "make": ""}


PACKAGES = ("records", "writers", "demo", "autograder", "jupyter_safetrain", "scripts")
# Imported only inside a try that works without them (an optional speed-up).
OPTIONAL_IMPORTS = {"pyarrow"}


def _imported_top_level() -> set[str]:
    import ast
    import sys

    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - set(PACKAGES) - OPTIONAL_IMPORTS


def test_every_imported_package_is_declared():
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_split(r)[0] for r in project["dependencies"]}
    declared |= {_split(r)[0] for r in project["optional-dependencies"]["dask"]}
    owners = packages_distributions()
    undeclared = {module: owners.get(module) for module in _imported_top_level()
                  if not {d.lower().replace("_", "-") for d in owners.get(module, [])} & declared}
    assert undeclared == {}
