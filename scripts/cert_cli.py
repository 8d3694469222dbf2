"""`safetrain cert ...`: evaluate people against the rules, issue, revoke, verify, print.

Thin: parse, open one session, call `records.cert_register` / `records.cert_codes`, render.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel

from records import db
from scripts.options import (
    AsOfOpt,
    DryRunOpt,
    FormatOpt,
    OutOpt,
    UnitOpt,
    curriculum,
    day,
    friendly,
    instance,
    unit_or_none,
)
from scripts.output import Format, render, stderr, stdout

cert_app = typer.Typer(
    help="持证：按规则评估、发证、续证、撤销、核验、打印。 Certification on rules.",
    no_args_is_help=True,
)
PersonOpt = Annotated[str | None, typer.Option(
    "--person", help="只看此人：身份证号、账号或姓名。 One person.")]
NumberArg = Annotated[str, typer.Argument(help="证书编号，如 2026-000001。 Certificate number.")]


def _person(session, ref: str | None):  # noqa: ANN001, ANN202
    from records.importers.matching import find_person_ref

    return find_person_ref(session, ref) if ref else None


@cert_app.command("evaluate")
@friendly
def evaluate(
    unit: UnitOpt = None,
    person: PersonOpt = None,
    as_of: AsOfOpt = None,
    status: Annotated[list[str] | None, typer.Option(
        "--status", help="只列这些状态（可重复）：eligible issued expiring lapsed revoked "
                         "onboarding overdue missing，或中文。")] = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """按持证规则评估在岗人员：可发证、持证、即将到期、过期、未达标……及原因。 Evaluate.

    Rules per role are in courses/curriculum.yml. Example:
    safetrain cert evaluate --unit 0101001 --as-of 2026-12-31 --status missing
    """
    from records.cert_register import evaluate_people, evaluation_frame
    from records.cert_rules import CertStatus

    wanted = set()
    for text in status or []:
        match = [s for s in CertStatus if text in (s.value, s.label)]
        if not match:
            options = "、".join(f"{s.value}（{s.label}）" for s in CertStatus)
            raise typer.BadParameter(f"未知状态「{text}」，应为：{options}", param_hint="--status")
        wanted.add(match[0])
    rules = curriculum()
    when = day(as_of)
    with db.open_session(instance().db_url) as session:
        results = evaluate_people(session, rules, as_of=when, unit=unit_or_none(session, unit),
                                  person=_person(session, person))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.decision.status.label] = counts.get(r.decision.status.label, 0) + 1
    if wanted:
        results = [r for r in results if r.decision.status in wanted]
    if person and fmt is Format.table and out is None:
        for r in results:  # one person: reasons as a list, not squeezed into a column
            stdout.print(_person_panel(r, when))
    else:
        render(evaluation_frame(results), fmt, title=f"持证评估（{when}）", out=out)
    summary = "，".join(f"{k} {v}" for k, v in counts.items()) or "范围内没有在岗人员"
    stderr.print(f"共 {sum(counts.values())} 人次：{summary}", highlight=False)


def _person_panel(result, when: dt.date) -> Panel:  # noqa: ANN001
    from records.idcard import mask

    h, f, d = result.held, result.facts, result.decision
    lines = [f"{h.name}（{mask(h.id_number)}，{h.trainee_id}） {h.role.label} · {h.unit_path}",
             f"本岗位自 {f.role_since} 起；近12个月培训 {f.hours:g} 学时，参加演练 {f.drills} 次",
             *(f"· {reason}" for reason in d.reasons)]
    if d.action.value != "none":
        lines.append(f"→ `safetrain cert issue --person {h.trainee_id}` 将签发 "
                     f"{d.valid_from} 至 {d.valid_until} 的证书")
    style = {"issued": "green", "eligible": "cyan", "expiring": "yellow"}.get(d.status.value, "red")
    return Panel(escape("\n".join(lines)), title=f"{d.status.label}（{when}）",
                 border_style=style, expand=False)


@cert_app.command("issue")
@friendly
def issue(
    unit: UnitOpt = None,
    person: PersonOpt = None,
    as_of: AsOfOpt = None,
    dry_run: DryRunOpt = False,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="同时生成 PDF 证书。")] = True,
    pdf_dir: Annotated[Path | None, typer.Option(
        help="PDF 目录（默认 实例/certificates）。 Where PDFs go.")] = None,
) -> None:
    """给满足规则的人员发证、为到期前的持证人续证；重复运行不会重复发证。 Issue on the rules.

    Example: safetrain cert issue --unit 0101001 --as-of 2026-11-01
    """
    from records.cert_codes import load_secret
    from records.cert_register import issue as run_issue
    from records.event_log import anchor_path

    inst = instance()
    rules = curriculum()
    secret = load_secret(inst.secret_file)
    target = pdf_dir or inst.home / "certificates"
    written: list[Path] = []
    try:
        with db.open_session(inst.db_url) as session:
            report = run_issue(session, rules, secret, as_of=day(as_of),
                               unit=unit_or_none(session, unit), person=_person(session, person),
                               anchor=anchor_path(inst.home))
            report.dry_run = dry_run
            if dry_run:
                raise db.Rollback
            if pdf:
                written = [_write_pdf(session, rules, n, target) for n in report.numbers]
    except BaseException:
        for path in written:  # no PDF for a certificate that was not committed
            path.unlink(missing_ok=True)
        raise
    lines = [f"评估人次 evaluated: {report.evaluated}",
             "状态 status: " + ("，".join(f"{k} {v}" for k, v in report.by_status.items()) or "—"),
             f"新发证书 issued: {len(report.issued)}", f"续证 renewed: {len(report.renewed)}"]
    if report.numbers:
        shown = "、".join(report.numbers[:10]) + ("……" if len(report.numbers) > 10 else "")
        lines.append(f"证书编号 numbers: {shown}")
    if written:
        lines.append(f"PDF: {target}")
    if dry_run:
        title, style = "试运行，未发证 (dry run)", "yellow"
    elif report.numbers:
        title, style = "已发证 (issued)", "green"
    else:
        title, style = "没有需要发放的证书 (nothing to issue)", "blue"
    stdout.print(Panel(escape("\n".join(lines)), title=title, border_style=style, expand=False))


def _write_pdf(session, rules, number: str, folder: Path) -> Path:  # noqa: ANN001
    from records.cert_register import find_certificate, pdf_context
    from writers.certificate import render_pdf

    cert = find_certificate(session, number)
    return render_pdf(cert, folder / _pdf_name(cert.number, cert.holder_name),
                      **pdf_context(rules, cert))


@cert_app.command("revoke")
@friendly
def revoke(
    number: NumberArg,
    reason: Annotated[str, typer.Option(help="撤销原因（必填）。 Reason.")],
    date: Annotated[dt.datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="撤销日期（默认今天）。 Date.")] = None,
) -> None:
    """撤销证书（连同已签发的续证）；此后须重新通过必修模块才能再发证。 Revoke a certificate."""
    from records.cert_codes import load_secret
    from records.cert_register import revoke as run_revoke
    from records.event_log import anchor_path

    inst = instance()
    secret = load_secret(inst.secret_file)
    with db.open_session(inst.db_url) as session:
        revoked = [c.number for c in run_revoke(session, number, reason=reason, on=day(date),
                                                secret=secret, anchor=anchor_path(inst.home))]
    if revoked:
        stdout.print(f"已撤销 revoked: {'、'.join(revoked)}")
    else:
        stdout.print(f"证书 {number} 已是撤销状态，没有变化 (already revoked)")


@cert_app.command("reinstate")
@friendly
def reinstate(
    number: NumberArg,
    reason: Annotated[str, typer.Option(help="恢复原因（必填，如：撤销有误）。 Reason.")],
) -> None:
    """恢复被误撤销的证书（连同一并撤销的续证），记入事件日志。 Undo a revocation made in error."""
    from records.cert_codes import load_secret
    from records.cert_register import reinstate as run_reinstate
    from records.event_log import anchor_path

    inst = instance()
    secret = load_secret(inst.secret_file)
    with db.open_session(inst.db_url) as session:
        restored = [c.number for c in run_reinstate(session, number, reason=reason,
                                                    secret=secret, anchor=anchor_path(inst.home))]
    if restored:
        stdout.print(f"已恢复 reinstated: {'、'.join(restored)}")
    else:
        stdout.print(f"证书 {number} 未被撤销，没有变化 (not revoked)")


@cert_app.command("verify")
@friendly
def verify(
    code: Annotated[str, typer.Argument(help="证书上的验证码。 The code printed on it.")],
    as_of: AsOfOpt = None,
) -> None:
    """核验证书：是否存在、是否被篡改（对照事件日志）、是否有效或已撤销。 Verify a code.

    Exit code 0 only for a certificate in force; 1 for forged, altered, revoked, expired.
    The certificate is checked against the event log too: a cleared revocation, an edited
    row or a cut-off log shows as altered.
    """
    from records.cert_audit import verify as run_verify
    from records.cert_codes import load_secret
    from records.event_log import anchor_path
    from records.idcard import mask

    inst = instance()
    secret = load_secret(inst.secret_file)
    with db.open_session(inst.db_url) as session:
        result = run_verify(session, secret, code, today=day(as_of),
                            anchor=anchor_path(inst.home))
        cert = result.certificate
        lines = [f"验证码 code: {result.code}", f"结论 verdict: {result.verdict.label}"]
        if result.detail:
            lines.append(f"说明: {result.detail}")
        if cert is not None:
            lines += [f"证书编号: {cert.number}", f"持证人: {cert.holder_name}"
                      f"（{mask(cert.person.id_number)}）", f"岗位: {cert.role.label}",
                      f"单位: {cert.unit_path}", f"有效期: {cert.valid_from} 至 {cert.valid_until}"]
    style = "green" if result.ok else "red"
    stdout.print(Panel(escape("\n".join(lines)), title=f"证书核验：{result.verdict.label}",
                       border_style=style, expand=False))
    if not result.ok:
        raise typer.Exit(1)


@cert_app.command("audit")
@friendly
def audit() -> None:
    """检查整个证书登记簿：事件日志的每一环、日志锚、每张证书与日志是否一致。 Audit the log.

    Names the first broken link. Exit code 0 when everything matches, 1 otherwise.
    """
    from records.cert_audit import audit as run_audit
    from records.cert_codes import load_secret
    from records.event_log import anchor_path

    inst = instance()
    secret = load_secret(inst.secret_file)
    with db.open_session(inst.db_url) as session:
        report = run_audit(session, secret, anchor=anchor_path(inst.home))
    lines = [f"日志条数 entries: {report.entries}（最后一条：第 {report.head.seq} 条）",
             f"证书 certificates: {report.certificates}",
             f"成绩 grades: {report.grades_logged} 条对照日志核验"
             + (f"，{report.grades_unlogged} 条早于日志（未核验）" if report.grades_unlogged else "")]
    if report.ok:
        stdout.print(Panel(escape("\n".join(lines)), title="登记簿完整 (intact)",
                           border_style="green", expand=False))
        return
    first = report.first_broken
    lines.append(f"第一处断裂 first broken link: {first}")
    lines += [f"· {p}" for p in report.problems[:50]]
    if len(report.problems) > 50:
        lines.append(f"……另有 {len(report.problems) - 50} 处未列出")
    stdout.print(Panel(escape("\n".join(lines)), title=f"发现 {len(report.problems)} 处问题 (tampered)",
                       border_style="red", expand=False))
    raise typer.Exit(1)


@cert_app.command("pdf")
@friendly
def pdf(
    number: NumberArg,
    out: Annotated[Path | None, typer.Option(help="输出文件（默认 实例/certificates/编号_姓名.pdf）。")] = None,
) -> None:
    """（重新）生成一张证书的 PDF；已撤销的加印“已撤销”。 Print one certificate."""
    from records.cert_register import find_certificate, pdf_context
    from writers.certificate import render_pdf

    inst = instance()
    rules = curriculum()
    with db.open_session(inst.db_url) as session:
        cert = find_certificate(session, number)
        path = out or inst.home / "certificates" / _pdf_name(cert.number, cert.holder_name)
        render_pdf(cert, path, **pdf_context(rules, cert))
    stdout.print(f"已写入 {path}")


@cert_app.command("list")
@friendly
def list_command(
    unit: UnitOpt = None,
    person: PersonOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
) -> None:
    """证书台账（含过期、撤销、续证的历史）。 The certificate register, with history."""
    from records.cert_register import list_certificates

    with db.open_session(instance().db_url) as session:
        df = list_certificates(session, unit=unit_or_none(session, unit),
                               person=_person(session, person), as_of=day(as_of))
    render(df, fmt, title="证书台账 Certificates", out=out)


def _pdf_name(number: str, holder: str) -> str:
    """A file name from record text: no path separators, dots or control characters."""
    safe = "".join(ch for ch in holder if ch.isalnum() or ch in "·_-")[:40] or "持证人"
    return f"{number}_{safe}.pdf"
