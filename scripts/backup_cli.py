"""`safetrain backup` / `safetrain restore`: one archive with the database, secret, anchor and
course folder; restore checks it all before it touches anything.

Thin: parse, call `records.backup` / `records.restore`, then audit the restored register.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel

from scripts.options import friendly, instance
from scripts.output import stdout


@friendly
def backup(
    dest: Annotated[Path, typer.Argument(
        help="备份文件，或放备份的目录（请放到另一块磁盘或U盘）。 Archive file or folder.")],
) -> None:
    """备份实例：数据库快照、密钥、日志锚、课程目录，一个带清单和校验值的文件。 Back up.

    SQLite is copied with its backup API, PostgreSQL with pg_dump, so the snapshot is
    consistent while others work. Example: safetrain backup /media/usb/
    """
    from records.backup import backup as run_backup

    report = run_backup(instance(), dest)
    lines = [f"文件 archive: {report.path}", f"数据库 database: {report.kind}（版本 {report.revision}）",
             f"文件数 files: {report.files}", f"大小 size: {report.size / 1e6:.1f} MB",
             "请把它复制到另一块磁盘；其中有实例密钥，务必妥善保管。"]
    stdout.print(Panel(escape("\n".join(lines)), title="已备份 (backed up)", border_style="green",
                       expand=False))


@friendly
def restore(
    archive: Annotated[Path, typer.Argument(help="safetrain backup 生成的备份文件。 Archive.")],
    force: Annotated[bool, typer.Option(
        "--force", help="覆盖非空实例（原有文件移到 before-restore-时间 目录）。")] = False,
) -> None:
    """从备份恢复实例；先校验整个备份（清单、校验值、密钥），不符则拒绝。 Restore a backup.

    Refuses an altered or mismatched archive, and a non-empty instance unless --force.
    Then audits the restored certificate register. Exit code 1 if the audit finds problems.
    """
    from records import db
    from records.cert_audit import audit
    from records.cert_codes import load_secret
    from records.event_log import anchor_path
    from records.restore import restore as run_restore

    inst = instance()
    report = run_restore(inst, archive, force=force)
    lines = [f"备份 archive: {report.archive}（{report.created_at} 生成）",
             f"数据库 database: {report.kind}（版本 {report.revision}）",
             f"文件数 files: {report.files}", *report.notes]
    if report.moved_aside:
        lines.append(f"原有文件已移到 {report.moved_aside}")
    ok = True
    if not report.notes:
        with db.open_session(inst.db_url) as session:
            result = audit(session, load_secret(inst.secret_file), anchor=anchor_path(inst.home))
        ok = result.ok
        lines.append(f"证书登记簿 audit: {result.certificates} 张证书，日志 {result.entries} 条，"
                     + ("完整" if ok else f"发现 {len(result.problems)} 处问题：{result.first_broken}"))
    stdout.print(Panel(escape("\n".join(lines)), title="已恢复 (restored)",
                       border_style="green" if ok else "red", expand=False))
    if not ok:
        raise typer.Exit(1)
