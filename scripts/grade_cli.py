"""`safetrain grade MODULE`: batch autograding with limits, progress, summary and batch sheet."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from autograder.limits import Limits
from records.instance import Instance
from scripts.options import instance
from scripts.output import stderr, stdout, to_rich


def grade(
    ctx: typer.Context,
    module: Annotated[str, typer.Argument(help="模块 id，如 rescue-fire")],
    source: Annotated[str | None, typer.Option(
        "--from", help="提交来源：exchange（本机的交换目录；在 JupyterHub 部署里是学员经「提交」交来的作业）、文件夹或 zip；不给则评 submitted/ 里已有的")] = None,
    workers: Annotated[int, typer.Option(min=0, help="并行评分进程数；0 = CPU 核数")] = 0,
    executor: Annotated[str, typer.Option(help="local，或 dask://主机:端口（Dask 集群）")] = "local",
    timeout_cell: Annotated[int, typer.Option(min=1, help="单个单元格限时（秒）")] = Limits.timeout_cell,
    timeout_notebook: Annotated[int, typer.Option(min=1, help="整本限时（秒）")] = Limits.timeout_notebook,
    memory: Annotated[int, typer.Option(min=64, help="每份提交的内存上限（MB）")] = Limits.memory_mb,
    output_kb: Annotated[int, typer.Option(min=1, help="每份提交保留的输出上限（KB）")] = Limits.output_kb,
    pids: Annotated[int, typer.Option(min=16, help="每份提交的进程/线程数上限")] = Limits.pids,
    regrade: Annotated[bool, typer.Option("--regrade", help="已评过的也重新评分")] = False,
    student: Annotated[list[str] | None, typer.Option(help="只评这些学员（可重复）")] = None,
    no_sandbox: Annotated[bool, typer.Option(
        "--no-sandbox", help="不用沙箱（只用于完全可信的代码，例如教师自测）")] = False,
    no_feedback: Annotated[bool, typer.Option("--no-feedback", help="不生成反馈页")] = False,
) -> None:
    """批量自动评分：并行、限时限内存、可中断续评，成绩写入记录库。 Batch autograde a module.

    Untrusted trainee code runs in a sandbox (bubblewrap + cgroups) with time, memory, output
    and process limits; one bad notebook never stops the batch. Interrupt it at any time and
    run the same command again: only unfinished submissions are graded. Example:
    `safetrain grade rescue-fire --from 下载的提交.zip`.
    """
    from autograder.batch import BatchOptions, grade_batch  # nbgrader loads after workers start

    inst = instance()
    limits = Limits(timeout_cell=timeout_cell, timeout_notebook=timeout_notebook,
                    memory_mb=memory, output_kb=output_kb, pids=pids)
    options = BatchOptions(module=module, source=source, workers=workers or os.cpu_count() or 2,
                           executor=executor,
                           limits=limits, regrade=regrade, students=student or None,
                           sandboxed=not no_sandbox, feedback=not no_feedback)
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("剩余"), TimeRemainingColumn())
    with Progress(*columns, console=stderr) as bar:
        task = bar.add_task(f"评分 {module}", total=None)

        def progress(done: int, total: int, result: object) -> None:
            bar.update(task, completed=done, total=total)
            if result is not None and result.status != "graded":  # type: ignore[attr-defined]
                bar.console.print(f"[yellow]{result.student}[/]：{result.status} "  # type: ignore[attr-defined]
                                  f"{'；'.join(result.problems)}", highlight=False)  # type: ignore[attr-defined]

        batch = grade_batch(inst, options, progress)

    _show_summary(module, batch)
    feedback = _write_sheet(inst, module)
    if not no_feedback:
        stdout.print(f"反馈页：{feedback}/<账号>/{module}/")
    if batch.retry_later:
        raise typer.Exit(1)


def _show_summary(module: str, batch: Any) -> None:
    """How many submissions ended how, and which were refused and why."""
    summary = pd.DataFrame([
        ("已评分 graded", batch.count("graded")),
        ("超时（部分得分）timed out", batch.count("timed_out")),
        ("无法评分 failed", batch.count("failed") - len(batch.retry_later)),
        ("评分程序出错、下次重试 retry later", len(batch.retry_later)),
        ("花名册中没有的账号 unknown student", len(batch.unknown)),
        ("重新提交 resubmitted", len(batch.resubmitted)),
        ("未变、跳过 unchanged, skipped", batch.skipped),
        ("次数已用完、不评分 no attempts left", len(batch.over_limit)),
        ("间隔未到、以后再评 cooldown", len(batch.cooling_down)),
    ], columns=["结果", "份数"])
    stdout.print(to_rich(summary, title=f"{module} 评分结果"))
    refused = {**batch.over_limit, **batch.cooling_down}
    if refused:
        stdout.print(to_rich(pd.DataFrame(sorted(refused.items()), columns=["账号", "未评分原因"]),
                             title="未评分的提交 not graded"))
    if not batch.found:
        stderr.print(f"[yellow]没有找到 {module} 的提交：用 --from 指定 zip、文件夹或 exchange。[/]")


def _write_sheet(inst: Instance, module: str) -> Path:
    """The batch sheet (every trainee of the module, item analysis); the feedback folder."""
    from autograder.batch_report import item_analysis, trainee_rows
    from autograder.nbgrader_run import coursedir_for, nbgrader_config
    from records import db
    from records.curriculum import courses_dir, load_curriculum
    from writers.batch_sheet import write_batch_sheet

    courses = courses_dir()
    coursedir = coursedir_for(nbgrader_config(inst.course_dir, courses), module)
    entry = load_curriculum(courses / "curriculum.yml").module(module)
    with db.open_session(inst.db_url) as session:
        trainees = trainee_rows(session, entry)
    items = item_analysis(coursedir.db_url, coursedir.course_id, module,
                          inst.course_dir / "source" / module / f"{module}.ipynb")
    sheet = write_batch_sheet(inst.reports_dir / f"grades-{module}-{dt.date.today():%Y%m%d}.xlsx",
                              trainees, items, f"{module} 评分")
    stdout.print(f"成绩表（含题目分析）：{sheet}")
    return Path(coursedir.root) / coursedir.feedback_directory
