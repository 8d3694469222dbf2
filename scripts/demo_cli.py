"""`safetrain demo` and `safetrain demo-data`: the demo narrated step by step (a synthetic
city, its roster imported, courses released, a batch graded, a year of activity, the monthly
bundle) on the generators in the `demo` package. Safe to rerun."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.panel import Panel
from rich.rule import Rule

from demo import city as demo_city
from records import db
from records.errors import ImportRowsError
from records.importers.roster import import_roster
from records.instance import Instance
from records.models import UnitLevel
from records.summary import counts, roster_summary
from scripts.options import friendly, instance
from scripts.output import (
    import_panel,
    progress_bar,
    show_bundle,
    stderr,
    stdout,
    to_rich,
    write_monthly_bundle,
)

DEMO_SEED = 20261101
DEMO_MODULE = "rescue-fire"
DEMO_REPORT_PERIOD = "2026-11"
DEMO_REPORT_AS_OF = dt.date(2026, 11, 30)  # the demo activity's last day
DEMO_ADMIN = "fangbotian"  # 方博天, 主要领导 of a street in the demo city (stable per seed)
DEMO_ADMIN_UNIT = "0101"
# The roster is dated so that reruns on later days still find nothing to change.
DEMO_AS_OF = dt.date(2026, 11, 1)

MESSY_CSV = """某街道应急管理人员花名册（样例：含错误）
,,,,,,
序号,姓名,身份证号码,联系电话,所属单位,职务,入职日期
1,张  三,110101199003074514,138 0013 8000,安和市/示例区/示例街道/示例社区,网格员,2024/3/1
2,李四,１１０１０１１９９００３０７１２３３,13800138001,安和市/示例区/示例街道,安监员,2024年3月1日

3,王五,110101198506123327,13900001111,安和市/示例区/示例街道,安全员,2024-03-01
4,赵六,110101199002304511,1380013800,安和市/示例区/示例街道,分管领导,2024-13-01
"""


def run_demo(inst: Instance, people: int = 2000) -> None:
    started = time.monotonic()
    for name in ("autograder", "records"):  # the demo narrates each step itself
        logging.getLogger(name).setLevel(logging.WARNING)
    stdout.print(Rule("SafeTrain 演示 demo"))
    _, after = inst.initialise()
    stdout.print(f"1. 实例 {inst.home}，数据库 {db.shown_url(inst.db_url)}（版本 {after}）")

    roster = inst.imports_dir / "demo-roster.xlsx"
    with stderr.status("生成虚构城市 安和市 ……"):
        city = demo_city.generate(people, DEMO_SEED)
        demo_city.write_roster_xlsx(city, roster)
    stdout.print(f"2. 生成 {len(city)} 人的虚构城市，写成 Excel 花名册 {roster}")

    with progress_bar() as bar, db.open_session(inst.db_url) as session:
        task = bar.add_task("导入花名册", total=None)
        report = import_roster(session, roster, as_of=DEMO_AS_OF,
                               progress=lambda d, t: bar.update(task, completed=d, total=t))
    stdout.print("3. 导入花名册（再次运行演示时应显示“没有变化”）")
    stdout.print(import_panel(report))

    messy = inst.imports_dir / "demo-messy.csv"
    messy.write_bytes(MESSY_CSV.encode("gbk"))
    with db.open_session(inst.db_url) as session:
        before_counts = counts(session)
    try:
        with db.open_session(inst.db_url) as session:
            import_roster(session, messy, as_of=DEMO_AS_OF)
    except ImportRowsError as exc:
        stdout.print(f"4. 一份 GBK 编码、有标题行和错误的 CSV 花名册 {messy.name} 被整体拒绝：")
        for error in exc.errors:
            stdout.print(f"   ✗ {error}", highlight=False)
    with db.open_session(inst.db_url) as session:
        after_counts = counts(session)
    unchanged = "未改变" if before_counts == after_counts else "有变化（不应发生）"
    stdout.print(f"   数据库行数{unchanged}：{after_counts}")

    with db.open_session(inst.db_url) as session:
        summary = roster_summary(session, level=UnitLevel.street, as_of=DEMO_AS_OF)
    stdout.print("5. 在岗人员，按街道/乡镇和角色：")
    stdout.print(to_rich(summary, title=f"{demo_city.CITY} 在岗人员（{DEMO_AS_OF}）"))

    release_courses(inst)
    grade_samples(inst)
    year_of_activity(inst)
    monthly_report(inst)
    jupyter_hint(inst)
    stdout.print(f"完成，用时 {time.monotonic() - started:.1f} 秒。")


def release_courses(inst: Instance) -> None:
    from autograder.course import catalogue, release

    with stderr.status("发布课程模块（nbgrader generate_assignment）……"):
        results = release(inst)
    points = {i.module.id: (i.items, i.points) for i in catalogue()}
    rows = [(r.module, r.status.label, points[r.module][0], f"{points[r.module][1]:g}")
            for r in results]
    stdout.print(f"6. 发布 {len(results)} 个课程模块到 {inst.course_dir / 'release'}：")
    stdout.print(to_rich(pd.DataFrame(rows, columns=["模块", "状态", "计分题数", "总分"])))


def grade_samples(inst: Instance, module: str = DEMO_MODULE, count: int = 24) -> None:
    """A trainer's batch: sample submissions (right, wrong, blank, one broken, one stranger)."""
    from autograder.batch import BatchOptions, grade_batch
    from autograder.samples import write_sample_zip
    from records.people import first_trainees

    with db.open_session(inst.db_url) as session:
        # the roster's first people (insertion order): later steps add people, not before them
        trainees = first_trainees(session, count - 1)
    archive = inst.imports_dir / f"demo-submissions-{module}.zip"
    write_sample_zip(archive, module, [*trainees, "stranger01"], seed=DEMO_SEED)
    with stderr.status(f"批量评分 {module}（沙箱中运行学员代码）……"):
        batch = grade_batch(inst, BatchOptions(module=module, source=str(archive)))
    graded = [r for r in batch.results if r.status != "failed"]
    if not batch.results:
        stdout.print(f"7. 批量评分 {archive.name}：没有新的或改动过的提交（{batch.skipped} 份已评过，"
                     "不会重复评分）。")
        return
    stdout.print(
        f"7. 批量评分 {archive.name}：本次评分 {len(batch.results)} 份（其中无法评分 "
        f"{batch.count('failed')} 份，花名册外账号 {len(batch.unknown)} 个），"
        f"已评过而跳过 {batch.skipped} 份；平均分 "
        f"{(sum(r.score for r in graded) / len(graded)) if graded else 0:.1f}。"
        f" 成绩写入记录库；详情：safetrain grade {module}")



def year_of_activity(inst: Instance) -> None:
    """Trainings with sign-ins, drills, module results, certificates and post changes."""
    stdout.print("8. 生成一年的培训、签到、演练、模块成绩、证书和人员调动（已有则不重复）：")
    demo_activity(inst, DEMO_SEED)
    from records.cert_codes import first_certificate, load_secret, verify

    with db.open_session(inst.db_url) as session:
        cert = first_certificate(session)
        if cert is not None:
            verdict = verify(session, load_secret(inst.secret_file), cert.code, today=DEMO_REPORT_AS_OF)
            stdout.print(f"   核验证书 safetrain cert verify {cert.code}：{verdict.verdict.label}",
                         highlight=False)


def monthly_report(inst: Instance) -> None:
    """The bundle for leadership: Excel, offline HTML with charts, printable PDF, a chart PNG."""
    import shutil

    stdout.print(f"9. 月度报表（{DEMO_REPORT_PERIOD}，全市）：")
    chart = inst.reports_dir / "monthly-chart.png" if shutil.which("chromium") else None
    show_bundle(write_monthly_bundle(inst.db_url, inst.reports_dir, period=DEMO_REPORT_PERIOD,
                                     as_of=DEMO_REPORT_AS_OF, seed=DEMO_SEED, chart_png=chart))


def jupyter_hint(inst: Instance, login: str = DEMO_ADMIN) -> None:
    """Give the demo's street leader a district scope, and say how to open the panels."""
    from records.access import grant
    from records.org import find_unit
    from records.people import person_by_login

    with db.open_session(inst.db_url) as session:
        person = person_by_login(session, login)
        if person is None:
            return
        grant(session, login, find_unit(session, DEMO_ADMIN_UNIT), by="safetrain demo")
    (inst.home / "notebooks").mkdir(exist_ok=True)
    stdout.print(
        f"10. 在 JupyterLab 里查看「我的培训」和「培训覆盖」（{person.name}，账号 {login}，"
        f"可看 {DEMO_ADMIN_UNIT} 区）：\n"
        f"    SAFETRAIN_LOGIN={login} .venv/bin/jupyter lab --notebook-dir={inst.home / 'notebooks'}",
        highlight=False)


def demo_activity(inst: Instance, seed: int) -> None:
    """`safetrain demo-data --activity` and the demo: a year of activity for the demo city
    (once)."""
    from demo import activity as generator
    from records.cert_codes import load_secret
    from records.event_log import anchor_path

    secret = load_secret(inst.secret_file) if inst.secret_file.exists() else None
    with db.open_session(inst.db_url) as session, stderr.status("生成一年的活动记录 ……") as status:
        result = generator.generate(session, seed=seed, secret=secret,
                                    progress=lambda msg: status.update(f"生成 {msg} ……"),
                                    anchor=anchor_path(inst.home))
    if result.skipped:
        stdout.print("活动记录已存在，没有变化 (demo activity already present)")
        return
    lines = [f"培训场次 sessions: {result.sessions:,}", f"签到记录 attendance: {result.attendance:,}",
             f"演练 drills: {result.drills:,}", f"参演记录 participation: {result.participation:,}",
             f"评估 evaluations: {result.evaluations:,}", f"整改措施 actions: {result.actions:,}",
             f"模块成绩 attempts: {result.attempts:,}", f"证书 certificates: {result.certificates:,}",
             f"人员调动 moves: {result.moves:,}"]
    stdout.print(Panel("\n".join(lines), title="演示活动记录 (demo activity)", expand=False,
                       border_style="green"))


# --------------------------------------------------------------------------- commands


@friendly
def demo_command(
    people: Annotated[int, typer.Option(min=50, help="演示城市的人数")] = 2000,
) -> None:
    """演示：生成城市 → 写出 xlsx 花名册 → 导入 → 按单位和角色汇总。 Run the demo."""
    run_demo(instance(), people=people)


@friendly
def demo_data(
    people: Annotated[int, typer.Option(min=10, max=2_000_000, help="人数")] = 2000,
    seed: Annotated[int, typer.Option(help="随机种子：同一种子生成同一座城市")] = 1,
    xlsx: Annotated[Path | None, typer.Option(help="同时写成 xlsx 花名册")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="同时写成 CSV 花名册（UTF-8 带 BOM）")] = None,
    no_db: Annotated[bool, typer.Option("--no-db", help="只写文件，不写入数据库")] = False,
    activity: Annotated[bool, typer.Option(
        "--activity", help="再生成一年的培训、签到、演练、成绩、证书和人员调动（同一种子结果相同）")] = False,
) -> None:
    """生成一座虚构城市（安和市）的人员，写入数据库和/或花名册文件。 Synthetic city."""
    with progress_bar() as bar:
        task = bar.add_task("生成人员", total=people)
        city = demo_city.generate(people, seed, progress=lambda d, t: bar.update(task, completed=d))
        if xlsx:
            bar.update(task, description=f"写入 {xlsx.name}")
            demo_city.write_roster_xlsx(city, xlsx)
        if csv_path:
            demo_city.write_roster_csv(city, csv_path)
    if not no_db:
        with db.open_session(instance().db_url) as session:
            report = demo_city.load(session, city, seed)
        stdout.print(import_panel(report))
        if activity:
            demo_activity(instance(), seed)
    for path in (xlsx, csv_path):
        if path:
            stdout.print(f"花名册已写入 {path}")
