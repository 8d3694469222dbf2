"""The event log catches tampering with certificates: edits, a deleted tail, a cleared
revocation, reordered entries; on SQLite and PostgreSQL, library and CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import threading
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text
from typer.testing import CliRunner

from records import db, event_log
from records.attempts import AttemptFacts, record_attempt
from records.cert_audit import audit, subject, verify
from records.cert_codes import Verdict
from records.cert_register import issue, reinstate, revoke
from records.curriculum import load_curriculum
from records.models import AttemptStatus, Certificate, Event, Person
from scripts.cli import app
from tests.helpers import pass_modules, write_xlsx
from tests.test_certification import GRID_MODULES, SECRET, ZHANG, ready_grid_worker

D = dt.date
ISSUED = D(2026, 11, 1)


@pytest.fixture
def anchor(tmp_path: Path) -> Path:
    return tmp_path / "inst" / event_log.ANCHOR_FILENAME


@pytest.fixture
def certified(db_url: str, anchor: Path) -> str:
    """张三 certified on 2026-11-01 (one entry), committed; returns the certificate number."""
    with db.open_session(db_url) as session:
        ready_grid_worker(session)
        report = issue(session, load_curriculum(), SECRET, as_of=ISSUED, anchor=anchor)
    return report.issued[0]


def run_audit(db_url: str, anchor: Path):  # noqa: ANN201
    with db.open_session(db_url) as session:
        return audit(session, SECRET, anchor=anchor)


def verdict(db_url: str, anchor: Path, number: str, today: dt.date = D(2026, 12, 1)):  # noqa: ANN201
    with db.open_session(db_url) as session:
        code = session.scalars(select(Certificate.code).where(Certificate.number == number)).one()
        return verify(session, SECRET, code, today=today, anchor=anchor)


def execute(db_url: str, sql: str, **params: object) -> None:
    with db.open_session(db_url) as session:
        session.execute(text(sql), params)


def revoked_and_more(db_url: str, anchor: Path, number: str) -> None:
    with db.open_session(db_url) as session:
        revoke(session, number, reason="冒名顶替参加考核", on=D(2027, 1, 5), secret=SECRET,
               anchor=anchor)


# --------------------------------------------------------------------------- honest use


def test_issue_revoke_reinstate_are_logged_and_verify(db_url, anchor, certified):
    report = run_audit(db_url, anchor)
    assert report.ok and report.entries == 1 and report.certificates == 1
    assert verdict(db_url, anchor, certified).verdict is Verdict.valid
    revoked_and_more(db_url, anchor, certified)
    assert verdict(db_url, anchor, certified, D(2027, 1, 5)).verdict is Verdict.revoked
    with db.open_session(db_url) as session:
        assert [c.number for c in reinstate(session, certified, reason="撤销有误",
                                            secret=SECRET, anchor=anchor)] == [certified]
        kinds = session.scalars(select(Event.kind).order_by(Event.seq)).all()
        last = json.loads(session.scalars(select(Event.payload).order_by(Event.seq.desc())).first())
    assert kinds == ["cert.issued", "cert.revoked", "cert.reinstated"]
    assert last["reason"] == "撤销有误" and last["revoked_on"] == "2027-01-05"
    assert last["state"]["revoked_on"] is None
    assert verdict(db_url, anchor, certified, D(2027, 1, 5)).verdict is Verdict.valid
    report = run_audit(db_url, anchor)
    assert report.ok and report.entries == 3
    assert event_log.read_anchor(anchor) == report.head


def test_anchor_is_private_and_only_moves_forward(db_url, anchor, certified):
    assert stat.S_IMODE(os.stat(anchor).st_mode) == 0o600
    saved = event_log.read_anchor(anchor)
    assert saved is not None and saved.seq == 1
    event_log.write_anchor(anchor, event_log.Anchor(0, event_log.GENESIS_MAC))
    assert event_log.read_anchor(anchor) == saved  # a late writer cannot move it back


def test_a_rolled_back_append_leaves_log_and_anchor_alone(db_url, anchor, certified):
    with pytest.raises(RuntimeError), db.open_session(db_url) as session:
        revoke(session, certified, reason="试", on=D(2027, 1, 5), secret=SECRET, anchor=anchor)
        raise RuntimeError
    assert event_log.read_anchor(anchor).seq == 1
    assert run_audit(db_url, anchor).ok


def test_concurrent_appends_get_consecutive_numbers(db_url, anchor, certified):
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            for i in range(8):
                with db.open_session(db_url) as session:
                    event_log.append(session, SECRET, [event_log.NewEvent(
                        event_log.Kind.grade_graded, f"test:{name}:{i}", {"i": i})],
                        anchor=anchor)
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = run_audit(db_url, anchor)
    assert report.ok, report.problems
    assert report.entries == 17 and event_log.read_anchor(anchor).seq == 17


# --------------------------------------------------------------------------- tampering


def test_an_edited_certificate_row_is_caught(db_url, anchor, certified):
    execute(db_url, "UPDATE certificate SET valid_until = :d", d=D(2031, 10, 31))
    result = verdict(db_url, anchor, certified)
    assert result.verdict is Verdict.altered and "有效期至" in result.detail
    report = run_audit(db_url, anchor)
    assert not report.ok
    assert any("验证码不符" in str(p) for p in report.problems)
    assert any("日志为「2028-10-31」，现为「2031-10-31」" in str(p) for p in report.problems)


def test_an_edited_log_entry_is_named(db_url, anchor, certified):
    revoked_and_more(db_url, anchor, certified)
    execute(db_url, "UPDATE event_log SET actor = 'someone else' WHERE seq = 2")
    report = run_audit(db_url, anchor)
    assert report.first_broken.seq == 2
    assert "第 2 条（撤销 cert:" in str(report.first_broken) and "被改动" in str(report.first_broken)


def test_a_cleared_revocation_is_caught(db_url, anchor, certified):
    revoked_and_more(db_url, anchor, certified)
    execute(db_url, "UPDATE certificate SET revoked_on = NULL, revoked_reason = NULL")
    result = verdict(db_url, anchor, certified, D(2027, 2, 1))
    assert result.verdict is Verdict.altered
    assert "撤销记录被清除" in result.detail and "2027-01-05" in result.detail
    assert "冒名顶替参加考核" in result.detail
    assert any("撤销记录被清除" in str(p) for p in run_audit(db_url, anchor).problems)


def test_a_deleted_tail_is_caught_by_the_anchor(db_url, anchor, certified):
    revoked_and_more(db_url, anchor, certified)
    # Whoever can write the database deletes the revocation and its entry, and fixes the head.
    execute(db_url, "DELETE FROM event_log WHERE seq = 2")
    with db.open_session(db_url) as session:
        mac = session.scalars(select(Event.mac).where(Event.seq == 1)).one()
        session.execute(text("UPDATE event_head SET seq = 1, mac = :m"), {"m": mac})
        session.execute(text("UPDATE certificate SET revoked_on = NULL, revoked_reason = NULL"))
    result = verdict(db_url, anchor, certified, D(2027, 2, 1))
    assert result.verdict is Verdict.altered and "末尾的 1 条记录被删除" in result.detail
    report = run_audit(db_url, anchor)
    assert [str(p) for p in report.problems] == [
        "日志锚记载日志共 2 条，数据库中只到第 1 条：日志末尾的 1 条记录被删除。"]
    assert report.first_broken.seq == 2


def test_reordered_entries_are_caught(db_url, anchor, certified):
    revoked_and_more(db_url, anchor, certified)
    with db.open_session(db_url) as session:
        reinstate(session, certified, reason="撤销有误", secret=SECRET, anchor=anchor)
    # Swap entries 2 and 3 (revoked, reinstated): the register would read "revoked" again.
    execute(db_url, "UPDATE event_log SET seq = 99 WHERE seq = 2")
    execute(db_url, "UPDATE event_log SET seq = 2 WHERE seq = 3")
    execute(db_url, "UPDATE event_log SET seq = 3 WHERE seq = 99")
    report = run_audit(db_url, anchor)
    assert report.first_broken.seq == 2
    assert "第 2 条（恢复" in str(report.first_broken)
    assert verdict(db_url, anchor, certified).verdict is Verdict.altered


def test_a_certificate_written_past_the_log_is_caught(db_url, anchor, certified):
    execute(db_url, "DELETE FROM event_log")
    execute(db_url, "UPDATE event_head SET seq = 0, mac = :m", m=event_log.GENESIS_MAC)
    result = verdict(db_url, anchor, certified)
    assert result.verdict is Verdict.altered and "没有签发记录" in result.detail
    messages = [str(p) for p in run_audit(db_url, anchor).problems]
    assert any("末尾的 1 条记录被删除" in m for m in messages)


def test_a_deleted_certificate_is_caught(db_url, anchor, certified):
    execute(db_url, "DELETE FROM certificate")
    messages = [str(p) for p in run_audit(db_url, anchor).problems]
    assert messages == [f"证书 {certified} 在日志中有记录（第 1 条），但数据库里已没有这张证书："
                        "证书记录被删除。"]


def test_appending_to_a_log_without_its_head_is_refused(db_url, anchor, certified):
    execute(db_url, "DELETE FROM event_head")
    with pytest.raises(event_log.LogBroken, match="cert audit"), \
            db.open_session(db_url) as session:
        revoke(session, certified, reason="试", on=D(2027, 1, 5), secret=SECRET)


# --------------------------------------------------------------------------- genesis


def test_migration_writes_genesis_entries_for_existing_certificates(db_url, anchor, certified):
    revoked_and_more(db_url, anchor, certified)
    engine = db.make_engine(db_url)
    try:
        command.downgrade(db.alembic_config(engine), "0005")
        with pytest.raises(Exception, match="实例密钥"):  # certificates and no secret: refused
            db.upgrade(engine)
        db.upgrade(engine, secret=SECRET)
        with db.session_factory(engine).begin() as session:
            rows = session.execute(select(Event.kind, Event.subject, Event.actor)).all()
    finally:
        engine.dispose()
    assert rows == [("cert.genesis", subject(certified), "migration 0007")]
    anchor.unlink()
    with db.open_session(db_url) as session:
        assert event_log.anchor_if_missing(session, anchor)
    assert run_audit(db_url, anchor).ok
    assert verdict(db_url, anchor, certified, D(2027, 2, 1)).verdict is Verdict.revoked


def test_db_upgrade_of_an_instance_with_certificates_logs_and_anchors_them(instance_env):
    assert invoke("init").exit_code == 0
    url = f"sqlite:///{instance_env / 'safetrain.db'}"
    secret = (instance_env / "secret.key").read_text().strip().encode()
    with db.open_session(url) as session:
        ready_grid_worker(session)
        issue(session, load_curriculum(), secret, as_of=ISSUED)  # no anchor kept
    engine = db.make_engine(url)
    command.downgrade(db.alembic_config(engine), "0005")  # as before the log existed
    engine.dispose()
    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert event_log.read_anchor(instance_env / event_log.ANCHOR_FILENAME).seq == 1
    audited = invoke("cert", "audit")
    assert audited.exit_code == 0 and "登记簿完整" in audited.output


# --------------------------------------------------------------------------- grades


def graded(db_url: str, anchor: Path, score: float, sha: str = "a" * 64) -> None:
    facts = AttemptFacts("zhangsan", "rescue-fire", "1", sha, score, 10.0, 60.0,
                         AttemptStatus.graded, [], None,
                         dt.datetime(2026, 11, 2, 8, 0, 0, 123456, tzinfo=dt.UTC))
    with db.open_session(db_url) as session:
        record_attempt(session, facts, secret=SECRET, anchor=anchor)


def test_grades_are_logged_with_old_and_new_and_checked(db_url, anchor):
    graded(db_url, anchor, 5.0)
    graded(db_url, anchor, 5.0)  # the same result again: nothing to log
    graded(db_url, anchor, 8.0)  # regraded
    with db.open_session(db_url) as session:
        entries = session.execute(select(Event.kind, Event.payload).order_by(Event.seq)).all()
    assert [k for k, _ in entries] == ["grade.graded", "grade.regraded"]
    regrade = json.loads(entries[1].payload)
    assert (regrade["old"]["score"], regrade["state"]["score"]) == (5.0, 8.0)
    assert not regrade["old"]["passed"] and regrade["state"]["passed"]
    report = run_audit(db_url, anchor)
    assert report.ok and report.grades_logged == 1 and report.grades_unlogged == 0

    execute(db_url, "UPDATE attempt SET score = 10, passed = :t", t=True)
    [problem] = run_audit(db_url, anchor).problems
    assert "zhangsan 的模块 rescue-fire 成绩与日志不符" in str(problem)
    assert "得分：日志为「8.0」，现为「10.0」" in str(problem)
    execute(db_url, "DELETE FROM attempt")
    [problem] = run_audit(db_url, anchor).problems
    assert "成绩记录被删除" in str(problem)


# --------------------------------------------------------------------------- demo


def test_every_demo_certificate_verifies_against_the_log(db_url, anchor):
    from demo import activity as demo_activity
    from demo import city as demo_city

    with db.open_session(db_url) as session:
        demo_city.load(session, demo_city.generate(600, seed=5), seed=5)
        demo_activity.generate(session, seed=5, secret=SECRET, anchor=anchor)
    report = run_audit(db_url, anchor)
    assert report.ok, report.problems[:3]
    assert report.certificates > 50 and report.entries > report.certificates  # some revoked
    with db.open_session(db_url) as session:
        codes = session.scalars(select(Certificate.code)).all()
        verdicts = {verify(session, SECRET, c, today=demo_activity.DEFAULT_END,
                           anchor=anchor).verdict for c in codes}
    assert Verdict.altered not in verdicts and Verdict.valid in verdicts


# --------------------------------------------------------------------------- CLI

runner = CliRunner()


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(app, list(args), catch_exceptions=False)


def flat(output: str) -> str:
    """Panel text without its frame and line wrapping."""
    return "".join(ch for ch in output if ch not in "│╭╮╰╯─ \n")


def test_cli_audit_and_verify_report_tampering_in_chinese(instance_env, tmp_path: Path):
    assert invoke("init").exit_code == 0
    roster = write_xlsx(tmp_path / "花名册.xlsx", ["姓名", "身份证号", "所属单位", "岗位", "任职日期"],
                        [["张三", ZHANG, "安和市/东城区/朝阳街道/幸福社区", "网格员", "2024-03-01"]])
    assert invoke("roster", "import", str(roster), "--as-of", "2026-11-01").exit_code == 0
    url = f"sqlite:///{instance_env / 'safetrain.db'}"
    with db.open_session(url) as session:
        pass_modules(session, session.scalars(select(Person.id)).one(), GRID_MODULES)
    invoke("training", "add", "--title", "集中培训", "--kind", "集中培训", "--organizer",
           "安和市/东城区/朝阳街道", "--date", "2026-10-20", "--hours", "8")
    invoke("training", "attend", "T20261020-1", "张三")
    invoke("drill", "add", "--title", "消防演练", "--type", "消防疏散", "--organizer",
           "安和市/东城区/朝阳街道/幸福社区", "--date", "2026-10-15", "--minutes", "60")
    invoke("drill", "attend", "D20261015-1", ZHANG, "--role", "疏散引导")
    issued = invoke("cert", "issue", "--as-of", "2026-11-01", "--no-pdf")
    assert issued.exit_code == 0, issued.output
    ok = invoke("cert", "audit")
    assert ok.exit_code == 0 and "登记簿完整" in ok.output
    assert stat.S_IMODE(os.stat(instance_env / event_log.ANCHOR_FILENAME).st_mode) == 0o600
    assert invoke("cert", "revoke", "2026-000001", "--reason", "冒名顶替",
                  "--date", "2026-12-01").exit_code == 0
    with db.open_session(url) as session:
        code = session.scalars(select(Certificate.code)).one()
        session.execute(text("UPDATE certificate SET revoked_on = NULL, revoked_reason = NULL"))
    checked = invoke("cert", "verify", code, "--as-of", "2026-12-02")
    assert checked.exit_code == 1
    assert "记录与验证码不符" in flat(checked.output) and "撤销记录被清除" in flat(checked.output)
    audited = invoke("cert", "audit")
    assert audited.exit_code == 1 and "发现1处问题" in flat(audited.output)
    assert "第一处断裂" in flat(audited.output) and "撤销记录被清除" in flat(audited.output)
    assert ZHANG not in checked.output + audited.output  # ID numbers never shown
