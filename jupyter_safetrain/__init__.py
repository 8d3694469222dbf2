"""The Jupyter plugin: a Jupyter Server extension and the prebuilt JupyterLab extension behind
the 我的培训 and 培训覆盖 panels, and the JupyterHub deployment (hub/).

The server extension answers JSON under /safetrain/api/; the front end is `labextension/`
(built from the repository's labextension/). It may use the autograder (nbgrader's config).

Installed with the package: `etc/jupyter/jupyter_server_config.d/safetrain.json` enables the
server side and `share/jupyter/labextensions/safetrain/` holds the front end.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from jupyter_safetrain.app import SafeTrainApp

    return [{"module": "jupyter_safetrain", "app": SafeTrainApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    # Used by `jupyter labextension develop` (make labextension); pip installs the data files.
    return [{"src": "labextension", "dest": "safetrain"}]
