"""Batch grading of untrusted submissions: hostile cases, restored cells, records, resume.

Every hostile case is bounded by construction: small cell/notebook timeouts, a 256 MB
memory cgroup, a 48-task pids cgroup, a 64 KB output cap, all inside the bwrap sandbox.
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_output
from sqlalchemy import func, select

from autograder import sandbox
from autograder.batch import BatchOptions, grade_batch
from autograder.course import release
from autograder.limits import Limits
from autograder.samples import sample_notebooks
from records import db
from records.instance import Instance
from records.models import Attempt

MODULE = "rescue-fire"


def _full_marks(module: str) -> float:
    """The module's total points, from its source notebook (so course edits need no test edit)."""
    from records.curriculum import courses_dir

    nb = nbformat.read(courses_dir() / "source" / module / f"{module}.ipynb", as_version=4)
    return float(sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in nb.cells
                     if c.metadata.get("nbgrader", {}).get("grade")))


FULL = _full_marks(MODULE)
# What the module's known-wrong sample scores (courses/checks/<module>.yml).
WRONG = float(yaml.safe_load((Path(__file__).resolve().parents[1] / "courses" / "checks"
                              / f"{MODULE}.yml").read_text(encoding="utf-8"))["expected_score"])
LIMITS = Limits(timeout_cell=5, timeout_notebook=20, memory_mb=256, output_kb=64, pids=48)

needs_sandbox = pytest.mark.skipif(
    (sandbox.bwrap_path() is None or sandbox.cgroup_base("pids") is None)
    and os.environ.get("CI", "").lower() != "true",  # under CI a missing sandbox fails
    reason="needs bubblewrap and a writable pids cgroup (make installs bubblewrap)",
)
pytestmark = needs_sandbox


def make_instance(root: Path) -> Instance:
    inst = Instance.from_env(root)
    inst.create_dirs()
    engine = db.make_engine(inst.db_url)
    db.upgrade(engine)
    engine.dispose()
    release(inst, [MODULE])
    return inst


def submit(inst: Instance, student: str, nb: nbformat.NotebookNode | bytes) -> Path:
    folder = inst.course_dir / "submitted" / student / MODULE
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{MODULE}.ipynb"
    path.write_bytes(nb if isinstance(nb, bytes) else nbformat.writes(nb).encode())
    return path


def with_cell(nb: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    """The notebook with a hostile cell placed before the first answer cell."""
    out = copy.deepcopy(nb)
    first = next(i for i, c in enumerate(out.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    out.cells.insert(first, new_code_cell(code))
    return out


def grade_ids(nb: nbformat.NotebookNode, *, tests: bool = True) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade") is tests and tests]


@pytest.fixture(scope="module")
def samples():
    return sample_notebooks(MODULE)


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory, samples):
    """One batch holding every hostile and broken case, graded once for the module's tests."""
    inst = make_instance(tmp_path_factory.mktemp("hostile"))
    right, blank = samples["right"], samples["blank"]
    victims = {"gradebook": inst.course_dir / "gradebook.db", "records": inst.home / "safetrain.db"}
    submit(inst, "victim", right)
    victims["other"] = inst.course_dir / "submitted" / "victim" / MODULE / f"{MODULE}.ipynb"
    marker = inst.home / "ESCAPED"
    escape = "\n".join([
        "import socket",
        f"for target in {[str(p) for p in victims.values()] + [str(marker)]!r}:",
        "    try:",
        "        open(target, 'a').write('owned')",
        "        print('ESCAPE-WROTE', target)",
        "    except OSError as exc:",
        "        print('ESCAPE-BLOCKED', type(exc).__name__)",
        "try:",
        "    socket.create_connection(('127.0.0.1', 5432), timeout=2)",
        "    print('NETWORK-OPEN')",
        "except OSError as exc:",
        "    print('NETWORK-BLOCKED', type(exc).__name__)",
        "try:",
        "    import debugpy",
        "    print('DEBUGGER-LOADED')",
        "except ImportError:",
        "    print('DEBUGGER-ABSENT')",
    ])
    first_test = next(c for c in right.cells if c.metadata.get("nbgrader", {}).get("grade"))
    edited = copy.deepcopy(blank)
    for cell in edited.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == first_test.metadata.nbgrader.grade_id:
            cell.source = "pass  # trust me"
            cell.metadata.nbgrader.points = 100
    deleted_right = copy.deepcopy(right)
    deleted_right.cells = [c for c in right.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                           != first_test.metadata.nbgrader.grade_id]
    deleted_blank = copy.deepcopy(blank)
    deleted_blank.cells = [c for c in blank.cells if c.metadata.get("nbgrader", {}).get("grade")
                           is not True]
    other_kernel = copy.deepcopy(right)
    other_kernel.metadata.kernelspec = {"name": "ir", "language": "R", "display_name": "R"}
    large = copy.deepcopy(right)
    image = new_code_cell("1")
    image.outputs = [new_output("display_data", data={"image/png": "iVBORw0KGgo" + "A" * 30_000_000})]
    large.cells.insert(1, image)
    cases = {
        "loop": with_cell(right, "while True:\n    pass"),
        "stubborn": with_cell(right, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"),
        "memory": with_cell(right, "hog = 'x' * (1024 ** 3)"),
        "forkbomb": with_cell(right, "import os\nwhile True:\n    os.fork()"),
        "exit": with_cell(right, "import os\nos._exit(3)"),
        "suicide": with_cell(right, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
        "killer": with_cell(right, "import os, signal\nos.killpg(0, signal.SIGKILL)\nos.kill(os.getppid(), signal.SIGKILL)"),
        "printer": with_cell(right, "for _ in range(2000):\n    print('x' * 100_000)"),
        "escape": with_cell(right, escape),
        "edited": edited,
        "deleted": deleted_right,
        "deletedblank": deleted_blank,
        "notjson": b'{"cells": [ not json',
        "notnotebook": b'{"hello": "world"}',
        "otherkernel": other_kernel,
        "large": large,
    }
    for student, nb in cases.items():
        submit(inst, student, nb)
    before = {name: (p.stat().st_mtime_ns, p.stat().st_size) for name, p in victims.items()}
    started = time.monotonic()
    batch = grade_batch(inst, BatchOptions(module=MODULE, workers=2, limits=LIMITS))
    elapsed = time.monotonic() - started
    results = {r.student: r for r in batch.results}
    return inst, results, victims, before, marker, elapsed


def autograded(inst: Instance, student: str) -> str:
    return (inst.course_dir / "autograded" / student / MODULE / f"{MODULE}.ipynb").read_text()


def test_every_submission_ends_in_a_definite_state(hostile_batch):
    inst, results, *_ , elapsed = hostile_batch
    assert len(results) == 17
    assert {r.status for r in results.values()} <= {"graded", "timed_out", "failed"}
    with db.open_session(inst.db_url) as session:
        assert session.scalar(select(func.count()).select_from(Attempt)) == 17
    assert elapsed < 240  # bounded: no case may hold the batch beyond its own limits


def test_infinite_loop_is_interrupted_and_the_rest_still_scores(hostile_batch):
    _, results, *_ = hostile_batch
    loop = results["loop"]
    assert loop.status == "graded" and loop.score == FULL
    assert any("超过 5 秒" in p for p in loop.problems)


def test_loop_that_ignores_interrupts_hits_the_notebook_deadline(hostile_batch):
    _, results, *_ = hostile_batch
    stubborn = results["stubborn"]
    assert stubborn.status == "timed_out"
    assert any("无法中断" in p or "整本限时" in p for p in stubborn.problems)
    assert stubborn.score == 0 and stubborn.max_score == FULL  # cells not reached count 0


def test_memory_hog_is_killed_by_its_cgroup(hostile_batch):
    _, results, *_ = hostile_batch
    memory = results["memory"]
    assert memory.score == 0 and memory.max_score == FULL
    assert any("内存超过 256 MB" in p for p in memory.problems)


def test_fork_bomb_is_contained(hostile_batch):
    _, results, *_ = hostile_batch
    bomb = results["forkbomb"]
    assert bomb.status in {"graded", "timed_out"}
    assert bomb.max_score == FULL
    assert _stale_traces() == []  # the batch's workers are gone, and so are their cgroups


@pytest.mark.parametrize("student", ["exit", "suicide", "killer"])
def test_kernel_deaths_are_reported_not_silent_zeros(hostile_batch, student):
    _, results, *_ = hostile_batch
    died = results[student]
    assert died.score == 0 and died.max_score == FULL
    assert any("内核" in p for p in died.problems)


def test_huge_output_is_cut_while_printing(hostile_batch):
    inst, results, *_ = hostile_batch
    printer = results["printer"]
    # 200 MB printed: the grader keeps 64 KB and interrupts; a kernel that outruns the
    # interrupt fills its own 256 MB and is killed. Either way the outcome says why.
    assert printer.status == "graded" and printer.max_score == FULL
    assert any("输出超过 64 KB" in p or "内存超过 256 MB" in p for p in printer.problems)
    assert (inst.course_dir / "autograded" / "printer" / MODULE / f"{MODULE}.ipynb").stat().st_size < 2_000_000


def test_sandbox_blocks_writes_outside_and_the_network(hostile_batch):
    inst, results, victims, before, marker, _ = hostile_batch
    assert results["escape"].score == FULL
    nb = nbformat.reads(autograded(inst, "escape"), as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert text.count("ESCAPE-BLOCKED") == 4 and "ESCAPE-WROTE" not in text
    assert "NETWORK-BLOCKED" in text and "NETWORK-OPEN" not in text
    assert "DEBUGGER-ABSENT" in text and "DEBUGGER-LOADED" not in text  # no debugpy inside
    assert not marker.exists()
    # The grader itself writes the gradebook and records; the trainee's append never lands.
    for path in victims.values():
        assert not path.read_bytes().endswith(b"owned")
    other = victims["other"]
    assert (other.stat().st_mtime_ns, other.stat().st_size) == before["other"]


def test_edited_and_deleted_test_cells_are_restored(hostile_batch):
    _, results, *_ = hostile_batch
    assert (results["edited"].score, results["edited"].max_score) == (0, FULL)
    assert (results["deleted"].score, results["deleted"].max_score) == (FULL, FULL)
    assert any("删除了评分单元格" in p for p in results["deleted"].problems)
    assert (results["deletedblank"].score, results["deletedblank"].max_score) == (0, FULL)


def test_broken_files_fail_with_a_reason(hostile_batch):
    inst, results, *_ = hostile_batch
    for student in ("notjson", "notnotebook"):
        assert results[student].status == "failed"
        assert "不是有效的 Jupyter notebook" in results[student].problems[0]
        assert results[student].max_score == FULL
    with db.open_session(inst.db_url) as session:
        failed = session.scalars(select(Attempt).where(Attempt.trainee_id == "notjson")).one()
        assert not failed.passed and "NotJSONError" in failed.problems


def test_other_kernel_and_large_notebooks_are_graded(hostile_batch):
    _, results, *_ = hostile_batch
    assert results["otherkernel"].score == FULL
    assert results["large"].score == FULL


def test_second_run_grades_nothing_and_regrade_forces(hostile_batch):
    inst, *_ = hostile_batch
    again = grade_batch(inst, BatchOptions(module=MODULE, workers=2, limits=LIMITS,
                                           students=["victim", "loop"]))
    assert again.results == [] and again.skipped == 2
    forced = grade_batch(inst, BatchOptions(module=MODULE, workers=1, limits=LIMITS,
                                            students=["victim"], regrade=True, feedback=False))
    assert [r.score for r in forced.results] == [FULL]


def test_feedback_hides_hidden_tests(hostile_batch, samples):
    inst, *_ = hostile_batch
    html = (inst.course_dir / "feedback" / "edited" / MODULE / f"{MODULE}.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in html
    source = nbformat.read(inst.course_dir / "source" / MODULE / f"{MODULE}.ipynb", as_version=4)
    hidden = [line.strip() for c in source.cells if "BEGIN HIDDEN TESTS" in c.source
              for line in c.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].splitlines()
              if line.strip()]
    assert hidden and not any(line in html for line in hidden)



def _attempts(inst: Instance) -> list[tuple[str, str]]:
    with db.open_session(inst.db_url) as session:
        return [tuple(r) for r in session.execute(select(Attempt.trainee_id, Attempt.status))]


def _sandbox_pids() -> set[int]:
    """PIDs of sandbox processes (bwrap and the kernels it runs) on this machine."""
    pids = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(sandbox.RUN_ROOT).encode() in (proc / "cmdline").read_bytes():
                pids.add(int(proc.name))
        except OSError:
            continue
    return pids


def test_kill_9_then_rerun_grades_each_submission_exactly_once(tmp_path, samples):
    inst = make_instance(tmp_path / "inst")
    already_running = _sandbox_pids()
    students = [f"t{n:02d}" for n in range(10)]
    for n, student in enumerate(students):
        nb = samples["right"] if n % 3 else samples["wrong"]
        submit(inst, student, with_cell(nb, "import time\ntime.sleep(0.5)"))
    env = {**os.environ, "SAFETRAIN_HOME": str(inst.home)}
    env.pop("SAFETRAIN_DB", None)
    grader = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "grade", MODULE, "--workers", "2", "--no-feedback"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        cwd=Path(__file__).resolve().parents[1])
    deadline = time.monotonic() + 120
    while len(_attempts(inst)) < 3 and time.monotonic() < deadline and grader.poll() is None:
        time.sleep(0.2)
    os.killpg(grader.pid, signal.SIGKILL)
    grader.wait(timeout=30)
    done_before = {s for s, _ in _attempts(inst)}
    assert 3 <= len(done_before) < len(students), "kill landed before or after the batch"
    time.sleep(1)  # workers die with the grader (PDEATHSIG), kernels with their workers
    assert not _sandbox_pids() - already_running, "kernels outlived the killed grader"

    rerun = grade_batch(inst, BatchOptions(module=MODULE, workers=2, limits=LIMITS, feedback=False))
    assert {r.student for r in rerun.results} == set(students) - done_before
    assert rerun.skipped == len(done_before)
    rows = _attempts(inst)
    assert sorted(s for s, _ in rows) == students  # each exactly once, all complete
    assert all(status == "graded" for _, status in rows)
    again = grade_batch(inst, BatchOptions(module=MODULE, workers=2, limits=LIMITS, feedback=False))
    assert again.results == [] and again.skipped == len(students)


def test_changed_resubmission_is_a_new_attempt(tmp_path, samples):
    inst = make_instance(tmp_path / "inst")
    submit(inst, "amy", samples["wrong"])
    first = grade_batch(inst, BatchOptions(module=MODULE, workers=1, limits=LIMITS, feedback=False))
    assert [r.score for r in first.results] == [WRONG]
    submit(inst, "amy", samples["right"])
    second = grade_batch(inst, BatchOptions(module=MODULE, workers=1, limits=LIMITS, feedback=False))
    assert second.resubmitted == {"amy"} and [r.score for r in second.results] == [FULL]
    with db.open_session(inst.db_url) as session:
        scores = sorted(session.scalars(select(Attempt.score).where(Attempt.trainee_id == "amy")))
    assert scores == [WRONG, FULL]


def test_scores_match_stock_nbgrader_cell_by_cell(tmp_path, samples):
    """Where protected cells are intact, SafeTrain and stock `nbgrader autograde` agree."""
    from nbgrader.api import Gradebook
    from nbgrader.converters import Autograde

    from autograder.nbgrader_run import coursedir_for, nbgrader_config, run_converter
    from records.curriculum import courses_dir

    ours = make_instance(tmp_path / "ours")
    stock = make_instance(tmp_path / "stock")
    kinds = {"r1": "right", "w1": "wrong", "b1": "blank"}
    for student, kind in kinds.items():
        submit(ours, student, samples[kind])
        submit(stock, student, samples[kind])
    grade_batch(ours, BatchOptions(module=MODULE, workers=2, limits=LIMITS, feedback=False))
    config = nbgrader_config(stock.course_dir, courses_dir())
    run_converter(Autograde, coursedir_for(config, MODULE, "*"), config, demote=True)

    def cells(inst: Instance) -> dict[tuple[str, str], float]:
        cfg = nbgrader_config(inst.course_dir, courses_dir())
        with Gradebook(coursedir_for(cfg, MODULE).db_url, "safetrain") as gb:
            return {(s.student.id, g.name): float(g.score)
                    for s in gb.assignment_submissions(MODULE)
                    for nb in s.notebooks for g in nb.grades}

    assert cells(ours) == cells(stock)
    assert len(cells(ours)) == 3 * 20


def test_dask_executor_on_a_local_cluster(tmp_path, samples):
    from distributed import Client, LocalCluster

    from autograder.executors import DaskExecutor

    inst = make_instance(tmp_path / "inst")
    for student, kind in {"d1": "right", "d2": "wrong"}.items():
        submit(inst, student, samples[kind])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        executor = DaskExecutor(client)
        from autograder import batch as batch_module

        original = batch_module.make_executor
        batch_module.make_executor = lambda spec, workers, **_: executor
        try:
            result = grade_batch(inst, BatchOptions(module=MODULE, executor="dask://local",
                                                    limits=LIMITS, feedback=False))
        finally:
            batch_module.make_executor = original
    assert sorted((r.student, r.score) for r in result.results) == [("d1", FULL), ("d2", WRONG)]


def test_stock_grading_exports_to_records_with_the_plugin(tmp_path, samples):
    """`nbgrader export --exporter=autograder.export.RecordsExportPlugin` in the course folder."""
    from nbgrader.converters import Autograde

    from autograder.nbgrader_run import coursedir_for, nbgrader_config, run_converter
    from records.curriculum import courses_dir

    inst = make_instance(tmp_path / "inst")
    submit(inst, "p1", samples["right"])
    submit(inst, "p2", samples["wrong"])
    config = nbgrader_config(inst.course_dir, courses_dir())
    run_converter(Autograde, coursedir_for(config, MODULE, "*"), config, demote=True)
    nbgrader = Path(sys.executable).parent / "nbgrader"
    done = subprocess.run([str(nbgrader), "export", "--exporter=autograder.export.RecordsExportPlugin",
                           f"--to={inst.db_url}"], cwd=inst.course_dir, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with db.open_session(inst.db_url) as session:
        rows = sorted(session.execute(select(Attempt.trainee_id, Attempt.score, Attempt.passed)).all())
    assert [tuple(r) for r in rows] == [("p1", FULL, True), ("p2", WRONG, False)]
    # the same submissions graded later by `safetrain grade` are the same attempts, not new ones
    grade_batch(inst, BatchOptions(module=MODULE, workers=1, limits=LIMITS, feedback=False,
                                   regrade=True))
    with db.open_session(inst.db_url) as session:
        assert session.scalar(select(func.count()).select_from(Attempt)) == 2


def _stale_traces() -> list[str]:
    """Sandbox cgroups and run folders whose grader process has ended."""
    found = []
    for controller in ("memory", "pids"):
        base = sandbox.cgroup_base(controller)
        for path in base.glob("safetrain-*-*") if base else []:
            if sandbox._pid_gone(path.name.split("-")[1]):
                found.append(str(path))
    if sandbox.RUN_ROOT.is_dir():
        found += [str(d) for d in sandbox.RUN_ROOT.iterdir() if sandbox._owner_gone(d)]
    return found


def test_a_finished_batch_leaves_no_sandbox_behind(tmp_path, samples):
    # The batch starts by clearing what killed graders left; after it, the used, the
    # discarded and the still-warm kernels of its workers must all be gone too.
    inst = make_instance(tmp_path / "inst")
    for student in ("c1", "c2", "c3"):
        submit(inst, student, samples["right"])
    grade_batch(inst, BatchOptions(module=MODULE, workers=2, limits=LIMITS, feedback=False))
    assert _stale_traces() == []


def test_trusted_code_grades_without_the_sandbox(tmp_path, samples):
    # --no-sandbox (an instructor checking their own notebooks): same scores, no bwrap.
    inst = make_instance(tmp_path / "inst")
    for student, kind in {"t1": "right", "t2": "wrong"}.items():
        submit(inst, student, samples[kind])
    result = grade_batch(inst, BatchOptions(module=MODULE, workers=1, limits=LIMITS,
                                            sandboxed=False, feedback=False))
    assert sorted((r.student, r.status, r.score) for r in result.results) == \
        [("t1", "graded", FULL), ("t2", "graded", WRONG)]


def test_stale_cleanup_spares_a_live_graders_kernel_that_is_still_starting():
    # The batch cleans up after killed graders while its own workers boot their kernels.
    sandbox.RUN_ROOT.mkdir(parents=True, exist_ok=True)
    starting = Path(tempfile.mkdtemp(dir=sandbox.RUN_ROOT))  # no kernel.json yet
    (starting / "owner.pid").write_text(str(os.getpid()))
    unowned_new = Path(tempfile.mkdtemp(dir=sandbox.RUN_ROOT))  # owner.pid not written yet
    dead = Path(tempfile.mkdtemp(dir=sandbox.RUN_ROOT))
    (dead / "owner.pid").write_text("999999999")
    try:
        sandbox.cleanup_stale()
        assert starting.exists() and unowned_new.exists() and not dead.exists()
    finally:
        for folder in (starting, unowned_new, dead):
            shutil.rmtree(folder, ignore_errors=True)


def test_graded_attempts_are_logged_and_audit_clean(tmp_path, samples):
    import secrets as secrets_module

    from records.cert_audit import audit
    from records.cert_codes import load_secret
    from records.event_log import anchor_path

    inst = make_instance(tmp_path / "inst")
    inst.secret_file.write_text(secrets_module.token_hex(32))
    for student, kind in {"g1": "right", "g2": "wrong"}.items():
        submit(inst, student, samples[kind])
    grade_batch(inst, BatchOptions(module=MODULE, workers=1, limits=LIMITS, feedback=False))
    secret = load_secret(inst.secret_file)
    with db.open_session(inst.db_url) as session:
        report = audit(session, secret, anchor=anchor_path(inst.home))
        assert report.ok, report.problems
        assert report.grades_logged == 2 and report.grades_unlogged == 0
        session.execute(Attempt.__table__.update().values(score=FULL))  # a quiet "correction"
        session.flush()
        assert not audit(session, secret, anchor=anchor_path(inst.home)).ok


def test_graded_notebooks_and_feedback_are_private(hostile_batch):
    inst, *_ = hostile_batch
    for step in ("autograded", "feedback"):
        folder = inst.course_dir / step / "victim" / MODULE
        assert folder.is_dir()
        assert folder.stat().st_mode & 0o777 == 0o700
        assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.iterdir() if p.is_file())


def test_item_analysis_counts_each_item_over_the_graded_batch(hostile_batch):
    """The batch sheet's per-item table: every graded item of the source, in the gradebook."""
    from autograder.batch_report import item_analysis
    from autograder.nbgrader_run import coursedir_for, nbgrader_config
    from records.curriculum import courses_dir

    inst, results, *_ = hostile_batch
    coursedir = coursedir_for(nbgrader_config(inst.course_dir, courses_dir()), MODULE)
    items = item_analysis(coursedir.db_url, coursedir.course_id, MODULE,
                          inst.course_dir / "source" / MODULE / f"{MODULE}.ipynb")
    graded = [r for r in results.values() if r.status in {"graded", "timed_out"}]
    assert list(items.columns) == ["题目", "依据", "分值", "评分人数", "答对人数", "答对率"]
    assert items["分值"].sum() == FULL and items["依据"].str.len().min() > 0
    assert (items["评分人数"] >= len(graded) - 1).all() and (items["评分人数"] > 0).all()
    assert ((items["答对人数"] <= items["评分人数"]) & (items["答对人数"] >= 1)).all()  # 'right' wins each
    assert items["答对率"].is_monotonic_increasing  # hardest first
