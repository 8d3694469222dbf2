"""nbgrader config files in a Jupyter server with SafeTrain are read as data, never run."""

from __future__ import annotations

import os
from pathlib import Path

from nbgrader.apps.baseapp import NbGrader
from nbgrader.server_extensions.assignment_list.handlers import AssignmentList
from traitlets.config import PyFileConfigLoader

from jupyter_safetrain.literal_config import LiteralPyFileConfigLoader, install, read_literal_config


def _hostile(folder: Path, marker: Path) -> None:
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "c.CourseDirectory.course_id = 'hijacked'\n"
        f"c.Exchange.root = __import__('os').system('touch {marker}') or '/tmp/x'\n"
        "load_subconfig('more.py')\n")
    (folder / "more.py").write_text(f"import os\nos.system('touch {marker}2')\nc.Exchange.cache = '/srv/cache'\n")


def test_nbgrader_apps_in_our_server_parse_config_files(tmp_path, monkeypatch):
    marker = tmp_path / "RAN"
    _hostile(tmp_path, marker)
    monkeypatch.setattr(NbGrader, "python_config_loader_class", PyFileConfigLoader)
    install()
    assert NbGrader.python_config_loader_class is LiteralPyFileConfigLoader
    monkeypatch.chdir(tmp_path)
    # nbgrader's own assignment-list handler loads nbgrader_config.py from the server root
    config = AssignmentList.load_config(object())
    assert not marker.exists() and not Path(f"{marker}2").exists()
    assert config.CourseDirectory.course_id == "hijacked"  # literal values are still read
    assert "root" not in config.Exchange  # an expression is never evaluated
    assert config.Exchange.cache == "/srv/cache"


def test_the_course_folder_config_reads_the_same_as_when_run(tmp_path):
    from autograder.course import write_local_config

    courses = Path(__file__).resolve().parents[1] / "courses"
    path = write_local_config(tmp_path, courses)
    parsed = read_literal_config(path)
    ran = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    assert parsed == ran
    assert os.fspath(tmp_path.resolve()) == parsed.CourseDirectory.root
