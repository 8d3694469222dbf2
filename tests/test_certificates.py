"""Verification codes (HMAC) catch forged and altered certificates; the PDF prints."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hmac
import re
import zlib
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from typer.testing import CliRunner

from records import db
from records.cert_codes import (
    CertFields,
    Verdict,
    load_secret,
    normalise_code,
    sign,
    verify,
)
from records.cert_register import issue, pdf_context, revoke
from records.curriculum import load_curriculum
from records.errors import NotInitialised
from records.models import Certificate, Person
from records.roles import Role
from scripts.cli import app
from tests.helpers import UNIT_A, UNIT_B, id_number, pass_modules, write_xlsx
from tests.test_certification import GRID_MODULES, SECRET, ZHANG, ready_grid_worker
from writers.certificate import chinese_date, issuer_for, render_pdf

D = dt.date
FIELDS = CertFields("2026-000001", ZHANG, "张三", Role.grid_worker, UNIT_A, D(2026, 11, 1),
                    D(2026, 11, 1), D(2028, 10, 31))


def test_code_is_stable_and_changes_with_every_field():
    code = sign(SECRET, FIELDS)
    assert code == sign(SECRET, FIELDS)
    assert len(code) == 23 and code.count("-") == 3
    changes = {"number": "2026-000002", "id_number": id_number(seq="123"), "holder_name": "张三丰",
               "role": Role.inspector, "unit_path": UNIT_B, "issued_on": D(2026, 11, 2),
               "valid_from": D(2026, 11, 2), "valid_until": D(2030, 10, 31)}
    for name, value in changes.items():
        assert sign(SECRET, dataclasses.replace(FIELDS, **{name: value})) != code, name
    assert sign(b"1" * 64, FIELDS) != code  # another instance's secret


def test_fields_cannot_be_shifted_between_each_other():
    a = dataclasses.replace(FIELDS, holder_name="张三", unit_path="安和市/东城区")
    b = dataclasses.replace(FIELDS, holder_name="张三安和市", unit_path="/东城区")
    assert a.payload() != b.payload()


def test_typed_codes_are_normalised():
    code = sign(SECRET, FIELDS)
    assert normalise_code(code.lower().replace("-", " ")) == code
    assert normalise_code(code.replace("0", "O").replace("1", "I")) == code
    with pytest.raises(ValueError, match="20 位"):
        normalise_code("ABC")


def test_secret_missing_says_run_init(tmp_path: Path):
    with pytest.raises(NotInitialised, match="safetrain init"):
        load_secret(tmp_path / "secret.key")


def test_chinese_dates_and_issuers():
    assert chinese_date(D(2026, 11, 1)) == "二〇二六年十一月一日"
    assert chinese_date(D(2030, 10, 31)) == "二〇三〇年十月三十一日"
    assert chinese_date(D(2027, 2, 20)) == "二〇二七年二月二十日"
    assert issuer_for(UNIT_A) == "东城区朝阳街道办事处"
    assert issuer_for("安和市/泰城区/桥康镇/中兴村") == "泰城区桥康镇人民政府"
    assert issuer_for("安和市/泰城区") == "安和市泰城区应急管理局"


# --------------------------------------------------------------------------- verify (DB)


@pytest.fixture
def issued(session) -> Certificate:
    ready_grid_worker(session)
    issue(session, load_curriculum(), SECRET, as_of=D(2026, 11, 1))
    return session.scalars(select(Certificate)).one()


def test_valid_certificate_verifies_on_the_days_it_is_in_force(session, issued):
    assert verify(session, SECRET, issued.code, today=D(2026, 11, 1)).verdict is Verdict.valid
    assert verify(session, SECRET, issued.code.lower(), today=D(2028, 10, 31)).ok
    assert verify(session, SECRET, issued.code, today=D(2028, 11, 1)).verdict is Verdict.expired
    assert verify(session, SECRET, issued.code,
                  today=D(2026, 10, 31)).verdict is Verdict.not_yet_valid


def test_made_up_and_mistyped_codes_are_unknown(session, issued):
    last = issued.code[-1]
    wrong = issued.code[:-1] + ("A" if last != "A" else "B")
    result = verify(session, SECRET, wrong, today=D(2026, 11, 2))
    assert result.verdict is Verdict.unknown and "伪造" in result.detail
    assert verify(session, SECRET, "not a code", today=D(2026, 11, 2)).verdict is Verdict.unknown


@pytest.mark.parametrize(("column", "value"), [
    ("valid_until", "2031-10-31"), ("holder_name", "李四"), ("role", "inspector"),
    ("unit_path", UNIT_B), ("number", "2026-000099"),
])
def test_a_changed_row_no_longer_matches_its_code(session, issued, column, value):
    session.execute(text(f"UPDATE certificate SET {column} = :v"), {"v": value})
    session.expire_all()
    result = verify(session, SECRET, issued.code, today=D(2026, 11, 2))
    assert result.verdict is Verdict.altered and "篡改" in result.verdict.label


def test_a_certificate_forged_into_the_database_without_the_secret_fails(session, issued):
    person = session.get(Person, issued.person_id)
    forged = CertFields("2026-000777", person.id_number, person.name, Role.inspector, UNIT_B,
                        D(2026, 11, 1), D(2026, 11, 1), D(2029, 10, 31))
    guess = sign(b"guessed-secret-" * 4, forged)
    session.execute(insert(Certificate).values(
        number=forged.number, code=guess, person_id=person.id, role=forged.role,
        unit_id=issued.unit_id, holder_name=forged.holder_name, unit_path=forged.unit_path,
        issued_on=forged.issued_on, valid_from=forged.valid_from, valid_until=forged.valid_until))
    assert verify(session, SECRET, guess, today=D(2026, 11, 2)).verdict is Verdict.altered


def test_revoked_certificate_says_so_with_the_reason(session, issued):
    revoke(session, issued.number, reason="冒名顶替参加考核", on=D(2027, 1, 5), secret=SECRET)
    result = verify(session, SECRET, issued.code, today=D(2027, 1, 5))
    assert result.verdict is Verdict.revoked and "冒名顶替参加考核" in result.detail
    assert verify(session, SECRET, issued.code, today=D(2027, 1, 4)).ok  # valid until then


def test_stored_code_compares_in_constant_time(session, issued):
    assert hmac.compare_digest(sign(SECRET, CertFields.of(issued)), issued.code)


def pdf_text(data: bytes) -> str:
    """The strings a PDF shows, decoded: CID text is UTF-16-BE, Latin text is one byte."""
    pages = b"".join(zlib.decompress(base64.a85decode(m.strip(), adobe=True))
                     for m in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S))
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}

    def unescape(match: re.Match[bytes]) -> bytes:
        token = match.group(1)
        if token[:1].isdigit():
            return bytes([int(token, 8)])
        return escapes.get(token, token)

    shown = []
    for raw in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", pages, re.S):
        value = re.sub(rb"\\([0-7]{1,3}|.)", unescape, raw, flags=re.S)
        try:
            text = value.decode("utf-16-be") if len(value) % 2 == 0 else value.decode("latin-1")
        except UnicodeDecodeError:
            text = value.decode("latin-1")
        shown.append(text if text.isprintable() else value.decode("latin-1"))
    return " ".join(shown)


def test_pdf_is_a_chinese_certificate_with_masked_id(session, issued, tmp_path: Path):
    out = render_pdf(issued, tmp_path / "c.pdf", **pdf_context(load_curriculum(), issued))
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and b"STSong-Light" in data
    shown = pdf_text(data)
    assert issued.code in shown and issued.number in shown
    assert "1101********4514" in shown.replace(" ", "")
    assert issued.person.id_number not in shown.replace(" ", "")
    for words in ("培 训 合 格 证 书", "张三 同志", "东城区朝阳街道办事处", "二〇二六年十一月一日"):
        assert words in shown, words
    again = render_pdf(issued, tmp_path / "d.pdf", **pdf_context(load_curriculum(), issued))
    assert again.read_bytes() == data  # same certificate, same bytes


# --------------------------------------------------------------------------- CLI


runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_cli_issue_verify_revoke_pdf(instance_env, tmp_path: Path):
    assert invoke("init").exit_code == 0
    roster = write_xlsx(tmp_path / "花名册.xlsx", ["姓名", "身份证号", "所属单位", "岗位", "任职日期"],
                        [["张三", ZHANG, UNIT_A, "网格员", "2024-03-01"]])
    assert invoke("roster", "import", str(roster), "--as-of", "2026-11-01").exit_code == 0
    url = f"sqlite:///{instance_env / 'safetrain.db'}"
    with db.open_session(url) as session:
        person_id = session.scalars(select(Person.id)).one()
        pass_modules(session, person_id, GRID_MODULES)
    invoke("training", "add", "--title", "集中培训", "--kind", "集中培训", "--organizer", UNIT_B,
           "--date", "2026-10-20", "--hours", "8")
    invoke("training", "attend", "T20261020-1", "张三")
    invoke("drill", "add", "--title", "消防演练", "--type", "消防疏散", "--organizer", UNIT_A,
           "--date", "2026-10-15", "--minutes", "60")
    invoke("drill", "attend", "D20261015-1", ZHANG, "--role", "疏散引导")

    evaluated = invoke("cert", "evaluate", "--as-of", "2026-11-01", "--format", "csv")
    assert "张三" in evaluated.output and "可发证" in evaluated.output
    assert ZHANG not in evaluated.output and "1101********" in evaluated.output
    dry = invoke("cert", "issue", "--as-of", "2026-11-01", "--dry-run")
    assert "试运行" in dry.output and not (instance_env / "certificates").exists()
    issued = invoke("cert", "issue", "--as-of", "2026-11-01")
    assert issued.exit_code == 0 and "2026-000001" in issued.output
    pdfs = list((instance_env / "certificates").glob("*.pdf"))
    assert [p.name for p in pdfs] == ["2026-000001_张三.pdf"]
    assert "没有需要发放" in invoke("cert", "issue", "--as-of", "2026-11-01").output

    with db.open_session(url) as session:
        code = session.scalars(select(Certificate.code)).one()
    ok = invoke("cert", "verify", code, "--as-of", "2026-11-02")
    assert ok.exit_code == 0 and "有效" in ok.output and ZHANG not in ok.output
    forged = invoke("cert", "verify", "ABCDE-12345-FGHJK-67890")
    assert forged.exit_code == 1 and "伪造" in forged.output
    assert invoke("cert", "revoke", "2026-000001", "--reason", "证件冒用",
                  "--date", "2026-11-03").exit_code == 0
    revoked = invoke("cert", "verify", code, "--as-of", "2026-11-04")
    assert revoked.exit_code == 1 and "已撤销" in revoked.output and "证件冒用" in revoked.output
    listing = invoke("cert", "list", "--format", "csv", "--as-of", "2026-11-04")
    assert "已撤销" in listing.output and ZHANG not in listing.output
    person_view = invoke("cert", "evaluate", "--person", "张三", "--as-of", "2026-11-04")
    assert "撤销后须重新通过" in person_view.output
