"""Attempt limits and withheld feedback (issue 13, item 8).

Limits: `max_attempts` and `cooldown_hours` per module in curriculum.yml, counted in records
(SQLite and PostgreSQL), enforced by `safetrain grade` before anything runs (a stand-in
executor here: no kernels), raised by logged grants. Feedback: per-item right/wrong only
once the trainee passed or has no attempts left — on a hand-built notebook rendered with
nbgrader's feedback template, and once end to end with real grading.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_markdown_cell, new_notebook
from sqlalchemy import func, select
from typer.testing import CliRunner

from autograder import batch as batch_module
from autograder.batch import BatchOptions, grade_batch
from autograder.course import release
from autograder.tasks import GradeResult
from records import db
from records.attempts import (
    AttemptFacts,
    allowances,
    grant_attempts,
    grant_log,
    record_attempt,
    trainee_allowances,
    usage_table,
)
from records.curriculum import CurriculumError, Module, load_curriculum
from records.errors import NotFound, SafeTrainError
from records.instance import Instance
from records.models import Attempt, AttemptGrant, AttemptStatus, Person
from tests.helpers import UNIT_A, add_people, id_number

MODULE = "rescue-fire"
T0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
LIMITED = Module(id=MODULE, title="火灾自救", version="1.0", estimated_minutes=45, pass_mark=80)


def facts(trainee: str, sha: str, *, at: dt.datetime = T0, score: float = 10,
          status: AttemptStatus = AttemptStatus.graded) -> AttemptFacts:
    return AttemptFacts(trainee_id=trainee, module=MODULE, module_version="1.0",
                        submission_sha256=sha, score=score, max_score=34, pass_mark=80,
                        status=status, problems=[], submitted_at=at, graded_at=at + HOUR)


# --------------------------------------------------------------------------- curriculum


def _curriculum_file(tmp_path: Path, **fields: object) -> Path:
    module = {"id": MODULE, "title": "火灾自救", "version": "1.0", "estimated_minutes": 45,
              "pass_mark": 80, **fields}
    path = tmp_path / "curriculum.yml"
    path.write_text(yaml.safe_dump({"modules": [module]}, allow_unicode=True), encoding="utf-8")
    return path


def test_modules_default_to_three_attempts_a_day_apart(tmp_path):
    module = load_curriculum(_curriculum_file(tmp_path)).module(MODULE)
    assert (module.max_attempts, module.cooldown_hours) == (3, 24)
    module = load_curriculum(_curriculum_file(tmp_path, max_attempts=5, cooldown_hours=0.5)).module(MODULE)
    assert (module.max_attempts, module.cooldown_hours) == (5, 0.5)


@pytest.mark.parametrize(("fields", "message"), [
    ({"max_attempts": 0}, "modules[0].max_attempts: 应不小于 1"),
    ({"max_attempts": 2.5}, "modules[0].max_attempts: 应为整数"),
    ({"max_attempts": "3"}, "modules[0].max_attempts: 应为整数"),
    ({"cooldown_hours": -1}, "modules[0].cooldown_hours: 应不小于 0"),
    ({"cooldown_hours": True}, "modules[0].cooldown_hours: 应为数字"),
    ({"max_attemps": 3}, "modules[0].max_attemps: 不认识的字段"),
])
def test_bad_limits_are_named_in_chinese(tmp_path, fields, message):
    with pytest.raises(CurriculumError) as caught:
        load_curriculum(_curriculum_file(tmp_path, **fields))
    assert message in str(caught.value)


def test_every_module_of_the_course_states_its_limits():
    raw = yaml.safe_load((Path(__file__).parents[1] / "courses" / "curriculum.yml").read_text("utf-8"))
    assert all({"max_attempts", "cooldown_hours"} <= set(m) for m in raw["modules"])


# --------------------------------------------------------------------------- records


def test_every_recorded_submission_counts_and_a_regrade_does_not(session):
    record_attempt(session, facts("amy", "a" * 64))
    record_attempt(session, facts("amy", "a" * 64, score=30))  # regrade: same row
    record_attempt(session, facts("amy", "b" * 64, at=T0 + 30 * HOUR, status=AttemptStatus.failed))
    record_attempt(session, facts("bob", "c" * 64, status=AttemptStatus.timed_out))
    found = allowances(session, LIMITED, ["amy", "bob", "carl"])
    assert (found["amy"].used, found["amy"].left) == (2, 1)
    assert found["amy"].last_submitted == T0 + 30 * HOUR
    assert (found["bob"].used, found["carl"].used, found["carl"].left) == (1, 0, 3)


def test_limit_and_cooldown_refusals(session):
    for n, sha in enumerate("abc"):
        record_attempt(session, facts("amy", sha * 64, at=T0 + 30 * n * HOUR))
    record_attempt(session, facts("bob", "d" * 64))
    amy, bob = (allowances(session, LIMITED, ["amy", "bob"])[t] for t in ("amy", "bob"))
    assert "已用完 3 次评分机会" in amy.refusal(T0 + 1000 * HOUR)
    assert "safetrain attempts grant amy rescue-fire" in amy.refusal(T0 + 1000 * HOUR)
    waiting = bob.refusal(T0 + 23 * HOUR)
    assert "距上次提交不足 24 小时" in waiting and "2026-11-21 16:00" in waiting  # UTC+8
    assert bob.refusal(T0 + 24 * HOUR) is None
    assert bob.refusal(T0 + HOUR, cooldown=False) is None


def test_a_grant_raises_the_limit_and_is_logged(session):
    for n, sha in enumerate("abc"):
        record_attempt(session, facts("amy", sha * 64, at=T0 + 30 * n * HOUR))
    grant_attempts(session, "amy", LIMITED, 2, "网络故障，补考", by="admin1", at=T0 + 100 * HOUR)
    amy = allowances(session, LIMITED, ["amy"])["amy"]
    assert (amy.allowed, amy.used, amy.left, amy.granted) == (5, 3, 2, 2)
    assert amy.refusal(T0 + 200 * HOUR) is None
    log = grant_log(session)
    assert log.to_dict("records") == [{
        "时间": "2026-11-24 20:00", "账号": "amy", "姓名": "（不在花名册）", "模块": MODULE,
        "追加次数": 2, "原因": "网络故障，补考", "授权人": "admin1"}]
    usage = usage_table(session, LIMITED, now=T0 + 100 * HOUR)
    assert usage.to_dict("records") == [{"账号": "amy", "姓名": "（不在花名册）", "已用次数": 3,
                                         "追加次数": 2, "剩余次数": 2, "下次可评分": ""}]


def test_grants_are_checked(session):
    record_attempt(session, facts("amy", "a" * 64))
    with pytest.raises(SafeTrainError, match="追加次数应为 1 到 20"):
        grant_attempts(session, "amy", LIMITED, 0, "补考", by="admin1")
    with pytest.raises(SafeTrainError, match="--reason"):
        grant_attempts(session, "amy", LIMITED, 1, "  ", by="admin1")
    with pytest.raises(NotFound, match="账号 amu 不在花名册中"):
        grant_attempts(session, "amu", LIMITED, 1, "补考", by="admin1")
    assert session.scalar(select(func.count()).select_from(AttemptGrant)) == 0
    ids = add_people(session, [("王芳", id_number(seq="452"), UNIT_A, "网格员", "2026-01-05")])
    login = session.scalar(select(Person.trainee_id).where(Person.id == ids["王芳"]))
    grant_attempts(session, login, LIMITED, 1, "新入职，先试一次", by="admin1")  # no attempts yet
    assert grant_log(session, trainee_id=login)["姓名"].tolist() == ["王芳"]


def test_trainee_allowances_cover_every_module(session):
    curriculum = load_curriculum()
    record_attempt(session, facts("amy", "a" * 64))
    grant_attempts(session, "amy", curriculum.module(MODULE), 1, "补考", by="admin1")
    found = trainee_allowances(session, curriculum, "amy")
    assert set(found) == set(curriculum.module_ids)
    assert (found[MODULE].used, found[MODULE].left, found["rescue-disasters"].left) == (1, 3, 3)


# --------------------------------------------------------------------------- the batch


class StandInExecutor:
    """Grades nothing: answers each task with a fixed score, and keeps the tasks it saw."""

    def __init__(self, score: float = 10.0) -> None:
        self.score, self.seen = score, []

    def start(self) -> None: ...

    def close(self) -> None: ...

    def run(self, fn, tasks):  # noqa: ANN001, ANN201 (the executors' interface)
        for task in tasks:
            self.seen.append(task)
            yield task, GradeResult(task.student, task.module, "graded", self.score, 34.0)


STAND_IN = StandInExecutor()


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A released rescue-fire course folder, copied into each test's instance."""
    home = tmp_path_factory.mktemp("released")
    release(Instance.from_env(home, f"sqlite:///{home / 'unused.db'}"), [MODULE])
    return home / "course"


@pytest.fixture
def inst(tmp_path, db_url, released, monkeypatch):
    import shutil

    shutil.copytree(released, tmp_path / "home" / "course")
    inst = Instance.from_env(tmp_path / "home", db_url)
    inst.create_dirs()
    monkeypatch.setattr(batch_module, "make_executor", lambda *a, **k: STAND_IN)
    return inst


def hand_in(inst: Instance, student: str, marker: str, at: dt.datetime | None) -> None:
    folder = inst.course_dir / "submitted" / student / MODULE
    folder.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=[new_markdown_cell(marker)])
    (folder / f"{MODULE}.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
    stamp = folder / "timestamp.txt"
    if at is None:
        stamp.unlink(missing_ok=True)
    else:
        stamp.write_text(at.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))


def run(inst: Instance, now: dt.datetime, **options: object):
    """One `safetrain grade` at `now`: (its result, {student: the task sent to grading})."""
    STAND_IN.seen.clear()
    result = grade_batch(inst, BatchOptions(module=MODULE, workers=1, sandboxed=False,
                                            now=now, **options))
    return result, {t.student: t for t in STAND_IN.seen}


def rows(inst: Instance, student: str) -> int:
    with db.open_session(inst.db_url) as session:
        return session.scalar(select(func.count()).select_from(Attempt)
                              .where(Attempt.trainee_id == student))


def test_batch_enforces_cooldown_and_limit_and_a_grant_lifts_it(inst):
    hand_in(inst, "amy", "first", T0 - HOUR)
    result, tasks = run(inst, T0)
    assert (tasks["amy"].attempts_left, tasks["amy"].pass_mark) == (2, 80)

    hand_in(inst, "amy", "second", T0 + HOUR)  # within 24 h of the first
    result, tasks = run(inst, T0 + 2 * HOUR)
    assert tasks == {} and rows(inst, "amy") == 1
    assert "距上次提交不足 24 小时" in result.cooling_down["amy"]
    assert "2026-11-21 15:00" in result.cooling_down["amy"]  # first submission + 24 h, UTC+8

    result, tasks = run(inst, T0 + 23 * HOUR + 1 * dt.timedelta(minutes=1))  # a later run: due now
    assert tasks["amy"].attempts_left == 1 and result.cooling_down == {}
    hand_in(inst, "amy", "third", T0 + 30 * HOUR)
    _, tasks = run(inst, T0 + 50 * HOUR)
    assert tasks["amy"].attempts_left == 0 and rows(inst, "amy") == 3

    hand_in(inst, "amy", "fourth", T0 + 80 * HOUR)
    result, tasks = run(inst, T0 + 80 * HOUR)
    assert tasks == {} and rows(inst, "amy") == 3  # refused, and not an attempt
    assert "已用完 3 次评分机会" in result.over_limit["amy"]
    again, _ = run(inst, T0 + 200 * HOUR)
    assert "amy" in again.over_limit  # still refused on every run, still not recorded

    with db.open_session(inst.db_url) as session:
        grant_attempts(session, "amy", load_curriculum().module(MODULE), 1, "补考", by="admin1")
    result, tasks = run(inst, T0 + 201 * HOUR)
    assert tasks["amy"].attempts_left == 0 and result.over_limit == {} and rows(inst, "amy") == 4

    _, tasks = run(inst, T0 + 202 * HOUR, regrade=True)  # the same submission: no new attempt
    assert tasks["amy"].attempts_left == 0 and rows(inst, "amy") == 4


def test_batch_sheet_shows_attempts_used_and_left(inst, tmp_path):
    from openpyxl import load_workbook

    from autograder.batch_report import trainee_rows
    from writers.batch_sheet import write_batch_sheet

    hand_in(inst, "amy", "first", T0 - HOUR)
    run(inst, T0)
    hand_in(inst, "amy", "second", T0 + 30 * HOUR)
    run(inst, T0 + 30 * HOUR)
    with db.open_session(inst.db_url) as session:
        df = trainee_rows(session, load_curriculum().module(MODULE))
    assert df[["账号", "已用次数", "剩余次数"]].values.tolist() == [["amy", 2, 1]]
    sheet = write_batch_sheet(tmp_path / "sheet.xlsx", df, df.iloc[0:0], "评分")
    headers = [c.value for c in load_workbook(sheet)["成绩"][2]]
    assert headers[6:9] == ["通过", "已用次数", "剩余次数"]


def test_submission_times_from_the_trainee_side_are_clamped(inst):
    """timestamp.txt is written on the trainee's side: a future time would stretch nothing
    but is nonsense, a backdated one would start the next cooldown early."""
    hand_in(inst, "amy", "first", T0 + 1000 * HOUR)
    run(inst, T0)
    hand_in(inst, "amy", "second", T0 - 1000 * HOUR)
    run(inst, T0 + 30 * HOUR)
    with db.open_session(inst.db_url) as session:
        times = [t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t in session.scalars(
            select(Attempt.submitted_at).where(Attempt.trainee_id == "amy")
            .order_by(Attempt.graded_at))]
    assert times == [T0, T0]  # now, then no earlier than the first attempt's grading


def test_untimed_submissions_placed_by_hand_have_no_cooldown(inst):
    hand_in(inst, "bob", "first", None)
    run(inst, T0)
    hand_in(inst, "bob", "second", None)
    _, tasks = run(inst, T0 + HOUR)
    assert tasks["bob"].attempts_left == 1  # graded at once: only the limit applies


# --------------------------------------------------------------------------- the CLI


def test_cli_grant_list_and_status(tmp_path, monkeypatch):
    from scripts.cli import app

    home = tmp_path / "inst"
    monkeypatch.setenv("SAFETRAIN_HOME", str(home))
    monkeypatch.delenv("SAFETRAIN_DB", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    with db.open_session(Instance.from_env(home).db_url) as session:
        for n, sha in enumerate("abc"):
            record_attempt(session, facts("amy", sha * 64, at=T0 + 30 * n * HOUR))
    done = runner.invoke(app, ["attempts", "grant", "amy", MODULE, "--count", "2",
                               "--reason", "系统故障补考"])
    assert done.exit_code == 0, done.output
    assert "追加 2 次" in done.output and "剩余 2 次" in done.output
    listed = runner.invoke(app, ["attempts", "list", "--format", "json"])
    assert [(r["账号"], r["追加次数"], r["原因"]) for r in json.loads(listed.stdout)] == \
        [("amy", 2, "系统故障补考")]
    status = runner.invoke(app, ["attempts", "status", MODULE, "--format", "csv"])
    assert "amy,（不在花名册）,3,2,2," in status.stdout
    bad = runner.invoke(app, ["attempts", "grant", "amy", "no-such", "--reason", "x"])
    assert bad.exit_code != 0 and "没有模块「no-such」" in bad.output
    unknown = runner.invoke(app, ["attempts", "grant", "nobody", MODULE, "--reason", "x"])
    assert unknown.exit_code != 0 and "不在花名册中" in unknown.output


def test_status_json_for_my_training():
    from jupyter_safetrain.handlers import with_attempts
    from records.attempts import Allowance

    cooling = Allowance("amy", MODULE, 3, dt.timedelta(hours=24), used=1,
                        last_submitted=T0, last_graded=T0 + HOUR)
    spent = Allowance("amy", "rescue-disasters", 3, dt.timedelta(hours=24), used=3,
                      last_submitted=T0, last_graded=T0)
    status = {"modules": [{"id": MODULE}, {"id": "rescue-disasters"}]}
    out = with_attempts(status, {MODULE: cooling, "rescue-disasters": spent}, T0 + 2 * HOUR)
    assert out["modules"] == [
        {"id": MODULE, "attempts_used": 1, "attempts_allowed": 3, "attempts_left": 2,
         "next_attempt_at": T0 + 24 * HOUR},
        {"id": "rescue-disasters", "attempts_used": 3, "attempts_allowed": 3,
         "attempts_left": 0, "next_attempt_at": None}]


def test_my_training_api_shows_attempts_used_and_left(tmp_path):
    from tests.test_jupyter_fixtures import jupyter_server, make_instance

    url, _ = make_instance(tmp_path / "instance")
    recent = dt.datetime.now(dt.UTC) - HOUR
    with db.open_session(url) as session:
        before = session.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.trainee_id == "zhangsan", Attempt.module == MODULE))
        record_attempt(session, facts("zhangsan", "a" * 64, at=recent))
        grant_attempts(session, "zhangsan", load_curriculum().module(MODULE), 1, "补考",
                       by="admin1")
    with jupyter_server(tmp_path, tmp_path / "instance") as server:
        me = server.json("/safetrain/api/me", login="zhangsan")
    fire = next(m for m in me["modules"] if m["id"] == MODULE)
    used = before + 1  # the fixture city has graded attempts too
    assert (fire["attempts_used"], fire["attempts_allowed"], fire["attempts_left"]) == \
        (used, 4, 4 - used)
    due = dt.datetime.fromisoformat(fire["next_attempt_at"])
    assert abs(due - (recent + 24 * HOUR)) < dt.timedelta(seconds=1)
    assert all(m["attempts_left"] == m["attempts_allowed"] - m["attempts_used"]
               for m in me["modules"])


def test_grade_command_names_each_refused_trainee(tmp_path, released, monkeypatch):
    import shutil

    from scripts.cli import app

    home = tmp_path / "inst"
    monkeypatch.setenv("SAFETRAIN_HOME", str(home))
    monkeypatch.delenv("SAFETRAIN_DB", raising=False)
    monkeypatch.setattr(batch_module, "make_executor", lambda *a, **k: STAND_IN)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    shutil.copytree(released, home / "course", dirs_exist_ok=True)
    inst = Instance.from_env(home)
    now = dt.datetime.now(dt.UTC)
    hand_in(inst, "amy", "first", now - HOUR)
    first = runner.invoke(app, ["grade", MODULE, "--no-sandbox", "--no-feedback"])
    assert first.exit_code == 0, first.output
    hand_in(inst, "amy", "second", now)
    second = runner.invoke(app, ["grade", MODULE, "--no-sandbox", "--no-feedback"])
    assert second.exit_code == 0, second.output
    assert "未评分的提交" in second.stdout and "距上次提交不足 24" in second.stdout
    assert rows(inst, "amy") == 1
