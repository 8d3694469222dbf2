"""What a submission can make an instructor's or a trainee's browser do: nothing.

Hostile outputs and markdown (script, img onerror, iframe, javascript: links, SVG onload,
an unquoted image width) go through InertOutputs and are rendered with nbgrader's feedback
template and with formgrader's exporter as our course-folder config sets it up. Each check
is first shown to catch the payloads when the step is left out (the control), then to find
none with it. Headless Chromium opens the feedback page to prove no script ran. A config
file written into the notebook folder is never executed by /safetrain/api/me.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell
from nbgrader.server_extensions.formgrader import handlers as formgrader_handlers
from nbgrader.utils import compute_checksum
from traitlets.config import Config, PyFileConfigLoader

from autograder.course import write_local_config
from autograder.preprocessors import HideHiddenTests, InertOutputs
from records.curriculum import courses_dir

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
IMG = "<img src=x onerror=\"document.title='PWNED-img'\">"
SCRIPT = "<script>document.title='PWNED-script'</script>"
IFRAME = "<iframe src=\"javascript:parent.document.title='PWNED-iframe'\"></iframe>"
LINK = "[看这里](javascript:document.title='PWNED-link')"
SVG = ("<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"document.title='PWNED-svg'\">"
       "<circle r=\"3\"/></svg>")
PAYLOADS = "\n\n".join([IMG, SCRIPT, IFRAME, LINK, SVG])
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TEMPLATES = formgrader_handlers.template_path
BOOTSTRAP = str(Path(formgrader_handlers.static_path) / "node_modules" / "bootstrap" / "dist" / "css")


def require(ok: bool, why: str) -> None:
    """Skip when a tool is missing; under CI=true fail instead (nothing may silently skip)."""
    if not ok:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {why}")
        pytest.skip(why)


def graded_cell(cell, grade_id: str, *, locked: bool = False, solution: bool = False,
                grade: bool = False, points: float = 0):
    cell.metadata.nbgrader = {"grade_id": grade_id, "locked": locked, "solution": solution,
                              "grade": grade, "schema_version": 3}
    if grade:
        cell.metadata.nbgrader["points"] = points
    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    if grade:
        cell.metadata.nbgrader["score"] = 0.0  # as GetGrades leaves it for the templates
    return cell


def hostile_notebook() -> nbformat.NotebookNode:
    """An autograded notebook as a hostile trainee leaves it (outputs already produced)."""
    title = graded_cell(new_markdown_cell("# 火灾自救\n\n请阅读 **说明**。"), "intro", locked=True)
    stub = graded_cell(new_markdown_cell("在这里作答"), "q-written", solution=True, grade=True,
                       points=2)
    answered = graded_cell(new_markdown_cell("在这里作答"), "q-essay", solution=True, grade=True,
                           points=2)
    answered.source = f"我的回答：\n\n{PAYLOADS}"  # checksum now differs: the trainee's text
    added = new_markdown_cell(f"学员加的说明 ![x](attachment:evil.svg) {PAYLOADS}")
    added.attachments = {"evil.svg": {"image/svg+xml": SVG}}
    forged = new_markdown_cell(f"伪造 {PAYLOADS}")
    forged.metadata.nbgrader = {"grade_id": "intro", "locked": True, "checksum": "0" * 32}
    raw = new_raw_cell(SCRIPT + IMG)
    raw.metadata.raw_mimetype = "text/html"
    code = new_code_cell("show()")
    code.outputs = [
        new_output("display_data", data={"text/html": IMG + SCRIPT, "text/plain": "<HTML>"}),
        new_output("display_data", data={"application/javascript": "document.title='PWNED-js'"}),
        new_output("display_data", data={"image/svg+xml": SVG}),
        new_output("display_data", data={"text/markdown": PAYLOADS}),
        new_output("display_data", data={"text/latex": "$x$", "text/plain": "x"}),
        new_output("display_data", data={
            "application/vnd.plotly.v1+json": {"data": [], "layout": {"title": IMG}}}),
        new_output("display_data", data={"image/png": PNG},
                   metadata={"image/png": {"width": "1 onload=document.title='PWNED-width'"}}),
        new_output("display_data", data={"image/png": SVG.encode().hex()}),  # not a PNG
        new_output("display_data", data={"image/png": PNG},
                   metadata={"filenames": {"image/png": "javascript:alert(1)"}}),
        new_output("execute_result", execution_count=1,
                   data={"text/html": f"<b>{IFRAME}</b>"}),
        new_output("stream", name="stdout", text=f"printed {SCRIPT}\n"),
        new_output("error", ename="ValueError", evalue=IMG, traceback=[f"ValueError: {IMG}"]),
    ]
    image = graded_cell(new_markdown_cell("![图](attachment:ok.png)"), "figure", locked=True)
    image.attachments = {"ok.png": {"image/png": PNG}}
    nb = new_notebook(cells=[title, stub, answered, added, forged, raw, code, image],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"},
                                "widgets": {"application/vnd.jupyter.widget-state+json": {
                                    "state": {}, "version_major": 2, "version_minor": 0,
                                    "x": SCRIPT}}})
    return nb


class LiveMarkup(HTMLParser):
    """Everything in a page that would run the payloads: script text, on* handlers,
    javascript: URLs, frames, (unescaped) SVG with handlers."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("iframe", "object", "embed", "frame"):
            self.found.append(f"<{tag}>")
        self._in_script = tag == "script"
        for name, value in attrs:
            value = (value or "").strip()
            if name.startswith("on") and "PWNED" in value:
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action", "formaction", "data", "xlink:href") \
                    and value.lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and "PWNED" in data:
            self.found.append(f"<script>{data.strip()[:60]}")


def live(html: str) -> list[str]:
    parser = LiveMarkup()
    parser.feed(html)
    return parser.found


def feedback_html(nb: nbformat.NotebookNode, inert: bool = True) -> str:
    """The notebook through nbgrader's feedback template, as GenerateFeedback sets it up."""
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [TEMPLATES]
    config.HTMLExporter.extra_template_paths = [BOOTSTRAP]
    exporter = HTMLExporter(config=config)
    if inert:
        exporter.register_preprocessor(InertOutputs, enabled=True)
    exporter.register_preprocessor(HideHiddenTests, enabled=True)
    resources = {"nbgrader": {"notebook": "rescue-fire", "score": 1.0, "max_score": 4.0,
                              "late_penalty": 0.0}}
    return exporter.from_notebook_node(copy.deepcopy(nb), resources=resources)[0]


def formgrader_html(notebook: Path, config: Config) -> str:
    """As formgrader's SubmissionHandler renders an autograded notebook for an instructor."""
    config = copy.deepcopy(config)
    config.HTMLExporter.template_name = "formgrade"  # FormgradeExtension.build_extra_config
    config.HTMLExporter.extra_template_basedirs = [TEMPLATES]
    resources = {"assignment_id": "rescue-fire", "notebook_id": "rescue-fire",
                 "submission_id": "abc", "index": 0, "total": 1, "base_url": "",
                 "student": "mallory", "last_name": None, "first_name": None,
                 "notebook_path": "autograded/mallory/rescue-fire/rescue-fire.ipynb"}
    return HTMLExporter(config=config).from_filename(str(notebook), resources=resources)[0]


# --------------------------------------------------------------------------- the step


def test_outputs_keep_only_text_and_checked_images():
    nb = hostile_notebook()
    InertOutputs().preprocess(nb, {})
    outputs = nb.cells[6].outputs
    allowed = {"text/plain", "image/png", "image/jpeg", "image/gif"}
    for output in outputs:
        assert set(output.get("data", {})) <= allowed, output
    assert outputs[0].data == {"text/plain": "<HTML>"}  # its own plain text, not the HTML
    assert outputs[1].data == {"text/plain": "document.title='PWNED-js'"}  # shown as text
    assert outputs[2].data == {"text/plain": SVG}
    assert outputs[6].data == {"image/png": PNG} and outputs[6].metadata == {}
    assert outputs[7].data == {"text/plain": SVG.encode().hex()}  # a fake PNG is text
    assert outputs[8].metadata == {}  # no filenames: no src chosen by the trainee
    assert outputs[9].data["text/plain"].startswith("<b><iframe")
    assert outputs[10].text.startswith("printed <script>")  # escaped by every renderer
    assert set(nb.metadata) == {"kernelspec"}


def test_trainee_markdown_becomes_verbatim_text_instructor_markdown_stays():
    nb = hostile_notebook()
    before = copy.deepcopy(nb)
    InertOutputs().preprocess(nb, {})
    title, stub, answered, added, forged, raw, _, image = nb.cells
    assert title.source == before.cells[0].source and stub.source == "在这里作答"
    for cell in (answered, added, forged, raw):
        assert cell.cell_type == "markdown" and cell.source.startswith("```")
        assert "attachments" not in cell
    assert image.attachments == {"ok.png": {"image/png": PNG}}
    once = copy.deepcopy(nb)
    InertOutputs().preprocess(nb, {})  # formgrader runs it again on autograded notebooks
    assert nb == once


def test_feedback_page_has_no_live_trainee_markup():
    nb = hostile_notebook()
    assert len(live(feedback_html(nb, inert=False))) >= 5  # the control: payloads are live
    html = feedback_html(nb)
    assert live(html) == []
    assert "<h1" in html and "请阅读 <strong>说明</strong>" in html  # the instructor's markdown
    assert f"data:image/png;base64,{PNG}" in html
    assert "&lt;script&gt;document.title=&#39;PWNED-script&#39;&lt;/script&gt;" in html or \
        "&lt;script&gt;document.title='PWNED-script'&lt;/script&gt;" in html  # shown, as text


def test_formgrader_with_our_course_config_shows_no_live_markup(tmp_path):
    """Even a notebook autograded before InertOutputs existed: the config we install in the
    course folder (formgrader loads it) runs the step and nbconvert's sanitiser."""
    notebook = tmp_path / "rescue-fire.ipynb"
    nbformat.write(hostile_notebook(), notebook)
    stock = Config()
    assert len(live(formgrader_html(notebook, stock))) >= 5  # the control
    course = tmp_path / "course"
    course.mkdir()
    path = write_local_config(course, courses_dir())
    ours = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    assert ours.HTMLExporter.sanitize_html is True
    assert live(formgrader_html(notebook, ours)) == []


def test_pipeline_runs_the_step_after_execution_and_in_feedback(tmp_path):
    from nbgrader.preprocessors import IgnorePattern

    from autograder.limits import Limits
    from autograder.pipeline import grading_config

    config = grading_config(Config(), "rescue-fire", tmp_path, Limits())
    steps = list(config.Autograde.autograde_preprocessors)
    assert steps.index(InertOutputs) == 1 and steps[2] is IgnorePattern
    assert list(config.GenerateFeedback.preprocessors)[0] is InertOutputs


def _chromium_title(page: Path, tmp_path: Path) -> str:
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90)
    match = re.search(r"<title>(.*?)</title>", done.stdout, re.S)
    assert match, done.stderr[-2000:]
    return match.group(1)


def test_feedback_page_runs_no_trainee_script_in_chromium(tmp_path):
    require(Path(CHROMIUM).exists(), "Chromium is not installed (`make chromium`)")
    nb = hostile_notebook()
    control = tmp_path / "control.html"
    control.write_text(feedback_html(nb, inert=False), encoding="utf-8")
    assert "PWNED" in _chromium_title(control, tmp_path)  # the payloads do run without it
    page = tmp_path / "feedback.html"
    page.write_text(feedback_html(nb), encoding="utf-8")
    assert "PWNED" not in _chromium_title(page, tmp_path)


# --------------------------------------------------------------------------- config files


def test_trainee_config_never_runs_a_file_and_ignores_the_notebook_folder(tmp_path, monkeypatch):
    from jupyter_safetrain.nbgrader_files import trainee_config
    from records.instance import Instance

    marker = tmp_path / "EXECUTED"
    hostile = (f"open({str(marker)!r}, 'a').write('ran')\n"
               "c = get_config()\nc.CourseDirectory.course_id = 'evil'\n"
               "c.Exchange.root = '/'\nc.Exchange.cache = __import__('os').getcwd()\n")
    notebooks, user = tmp_path / "notebooks", tmp_path / "jupyter-config"
    notebooks.mkdir()
    user.mkdir()
    (notebooks / "nbgrader_config.py").write_text(hostile)
    (notebooks / "nbgrader_config.json").write_text('{"Exchange": {"root": "/etc"}}')
    (user / "nbgrader_config.py").write_text(hostile.replace("'evil'", "'../../x'")
                                             .replace("'/'", "'/srv/exchange'"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(user))
    config = trainee_config(Instance.from_env(tmp_path / "instance"), notebooks)
    assert not marker.exists()
    assert config.CourseDirectory.course_id == "safetrain"  # the course's; '../../x' refused
    assert config.Exchange.root == "/srv/exchange"  # a literal from the Jupyter config path
    assert "cache" not in config.Exchange  # an expression is never evaluated


def test_api_me_executes_no_config_file_a_trainee_can_write(tmp_path):
    from tests.test_jupyter_fixtures import jupyter_server, make_instance

    make_instance(tmp_path / "instance")
    marker = tmp_path / "EXECUTED"
    hostile = f"open({str(marker)!r}, 'a').write('ran')\nc = get_config()\n"
    for folder in (tmp_path / "notebooks", tmp_path / "jupyter-config"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "nbgrader_config.py").write_text(hostile)
    with jupyter_server(tmp_path, tmp_path / "instance") as server:
        me = server.json("/safetrain/api/me", login="zhangsan")
        status, _ = server.request("/safetrain/api/me/modules/rescue-fire/open",
                                   login="zhangsan", method="POST")
    assert me["name"] == "张三" and status == 200
    assert not marker.exists()


# --------------------------------------------------------------------------- end to end


def test_graded_batch_from_a_hostile_folder(tmp_path):
    """`grade --from DIR`: a notebook linked to the source and a linked secret are refused;
    the honest trainee's live outputs and markdown reach neither formgrader nor feedback."""
    from autograder import sandbox_host
    from autograder.batch import BatchOptions, grade_batch
    from autograder.cgroups import SandboxUnavailable
    from autograder.course import release
    from autograder.limits import Limits
    from autograder.samples import sample_notebooks
    from records import db
    from records.instance import Instance
    from records.models import Attempt

    limits = Limits(timeout_cell=10, timeout_notebook=60, memory_mb=256, output_kb=256, pids=48)
    try:
        sandbox_host.require(limits)
    except SandboxUnavailable as exc:
        require(False, f"the sandbox cannot run here: {exc}")
    module = "rescue-fire"
    inst = Instance.from_env(tmp_path / "inst")
    inst.create_dirs()
    engine = db.make_engine(inst.db_url)
    db.upgrade(engine)
    engine.dispose()
    release(inst, [module])
    secret = inst.home / "secret.key"
    secret_text = "5ec2e7" + "0123456789abcdef" * 3 + "0123456789"  # a valid 64-hex key
    secret.write_text(secret_text)

    right = sample_notebooks(module)["right"]
    honest = copy.deepcopy(right)
    first = next(i for i, c in enumerate(honest.cells)
                 if c.metadata.get("nbgrader", {}).get("solution"))
    honest.cells.insert(first, new_markdown_cell(f"学员的笔记 {PAYLOADS}"))
    honest.cells.insert(first, new_code_cell("\n".join([
        "from IPython.display import HTML, SVG, Javascript, Markdown, display",
        f"display(HTML({IMG + SCRIPT!r}))",
        "display(Javascript(\"document.title='PWNED-js'\"))",
        f"display(SVG({SVG!r}))",
        f"display(Markdown({PAYLOADS!r}))",
    ])))
    src = tmp_path / "from"
    for student in ("honest", "linked", "leaky"):
        (src / student / module).mkdir(parents=True)
    nbformat.write(honest, src / "honest" / module / f"{module}.ipynb")
    (src / "linked" / module / f"{module}.ipynb").symlink_to(
        inst.course_dir / "source" / module / f"{module}.ipynb")
    nbformat.write(right, src / "leaky" / module / f"{module}.ipynb")
    (src / "leaky" / module / "notes.txt").symlink_to(secret)

    batch = grade_batch(inst, BatchOptions(module=module, source=str(src), workers=1,
                                           limits=limits))
    results = {r.student: r for r in batch.results}
    for student in ("linked", "leaky"):
        assert results[student].status == "failed"
        assert "符号链接" in results[student].problems[0]
    assert results["honest"].status == "graded"
    assert results["honest"].score == results["honest"].max_score > 0
    with db.open_session(inst.db_url) as session:
        from sqlalchemy import select

        assert set(session.scalars(select(Attempt.trainee_id))) == {"honest"}
    stored = b"".join(p.read_bytes() for p in inst.course_dir.rglob("*")
                      if p.is_file() and not p.is_symlink())
    assert secret_text.encode() not in stored
    assert not (inst.course_dir / "autograded" / "linked").exists()

    autograded = inst.course_dir / "autograded" / "honest" / module / f"{module}.ipynb"
    nb = nbformat.read(autograded, as_version=4)
    mimes = {m for c in nb.cells if c.cell_type == "code" for o in c.outputs
             for m in o.get("data", {})}
    assert mimes <= {"text/plain", "image/png", "image/jpeg", "image/gif"}, mimes
    shown = next(c for c in nb.cells if "display(HTML(" in c.source)
    assert [set(o.data) for o in shown.outputs] == [{"text/plain"}] * 4  # it ran; text only
    notes = next(c for c in nb.cells if "学员的笔记" in c.source)
    assert notes.source.startswith("```")
    feedback = inst.course_dir / "feedback" / "honest" / module / f"{module}.html"
    html = feedback.read_text(encoding="utf-8")
    assert live(html) == [] and "PWNED" in html  # there, but only as text
    course_config = PyFileConfigLoader("nbgrader_config.py", path=str(inst.course_dir)).load_config()
    assert live(formgrader_html(autograded, course_config)) == []


def test_the_step_turns_on_the_html_exporters_sanitiser():
    exporter = HTMLExporter()
    assert exporter.sanitize_html is False  # nbconvert's default, as feedback had it
    exporter.register_preprocessor(InertOutputs, enabled=True)
    _, resources = exporter.from_notebook_node(new_notebook())
    assert resources["should_sanitize_html"] is True
