"""`pip install -e .` installs and enables both halves of the Jupyter plugin (no manual step)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / "jupyter_safetrain" / "labextension"


def _jupyter(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_")}
    done = subprocess.run([sys.executable, "-m", "jupyter", *args], capture_output=True,
                          text=True, timeout=120, env=env, check=True)
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # no colour codes


def test_prebuilt_extension_is_committed_complete():
    package = json.loads((BUILT / "package.json").read_text())
    assert package["name"] == "safetrain"
    assert (BUILT / package["jupyterlab"]["_build"]["load"]).is_file()


def test_installed_copy_is_the_committed_build():
    installed = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "safetrain"
    message = "the venv's copy is missing or stale: run `pip install -e .` (make test does)"
    assert (installed / "package.json").is_file(), message
    assert json.loads((installed / "package.json").read_text()) == \
        json.loads((BUILT / "package.json").read_text()), message
    config = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "safetrain.json"
    assert json.loads(config.read_text())["ServerApp"]["jpserver_extensions"] == \
        {"jupyter_safetrain": True}


def test_jupyter_lists_both_extensions_enabled():
    lab = _jupyter("labextension", "list")
    assert re.search(r"safetrain v[\d.]+ enabled\s+OK \(python, safetrain\)", lab), lab
    server = _jupyter("server", "extension", "list")
    assert re.search(r"jupyter_safetrain enabled", server), server
    assert re.search(r"jupyter_safetrain\s+OK", server), server
