"""The command line as a user meets it: exit codes, messages, idempotence."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from records import db
from records.curriculum import load_curriculum
from scripts.cli import app
from tests.helpers import HEADER, UNIT_A, UNIT_B, id_number, write_xlsx

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def roster(tmp_path, rows=None):
    rows = rows or [[1, "张三", id_number(), "13800138000", UNIT_A, "网格员", "2024-03-01"],
                    [2, "王五", id_number(seq="123"), "", UNIT_B, "主要领导", ""]]
    return write_xlsx(tmp_path / "花名册.xlsx", HEADER, rows)


def test_help_lists_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    # command rows of the help panel ("│ db  …"), not option names such as --db
    listed = set(re.findall(r"^│ ([a-z][a-z-]*) ", result.output, flags=re.M))
    assert {"init", "roster", "db", "demo", "demo-data", "report", "grade"} <= listed


def test_xlsx_without_out_is_a_usage_error_not_a_traceback(instance_env):
    assert invoke("init").exit_code == 0
    result = invoke("roster", "units", "--format", "xlsx")
    assert result.exit_code == 2 and "--out" in result.output  # invoke() raises on a traceback


def test_dask_executor_without_distributed_says_which_extra(monkeypatch):
    import sys

    from autograder.executors import DaskExecutor
    from records.errors import SafeTrainError

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(SafeTrainError, match=r"safetrain\[dask\]"):
        DaskExecutor("tcp://127.0.0.1:1")


def test_commands_before_init_say_what_to_do(instance_env, tmp_path):
    result = invoke("roster", "import", str(roster(tmp_path)))
    assert result.exit_code == 3
    assert "safetrain init" in result.output


def test_init_is_idempotent(instance_env):
    first = invoke("init")
    assert first.exit_code == 0, first.output
    assert (instance_env / "safetrain.db").exists()
    assert (instance_env / "secret.key").exists()
    second = invoke("init")
    assert "已是最新" in second.output
    status = invoke("db", "status")
    assert status.exit_code == 0 and db.head_revision() in status.output


def test_import_dry_run_then_real_then_again(instance_env, tmp_path):
    invoke("init")
    path = roster(tmp_path)
    dry = invoke("roster", "import", str(path), "--dry-run", "--as-of", "2026-11-01")
    assert dry.exit_code == 0 and "试运行" in dry.output
    summary = invoke("roster", "summary", "--format", "csv", "--as-of", "2026-11-01")
    assert summary.output.strip().splitlines()[1:] == []  # nothing written by the dry run
    real = invoke("roster", "import", str(path), "--as-of", "2026-11-01")
    assert real.exit_code == 0 and "新增人员 people created: 2" in real.output
    again = invoke("roster", "import", str(path), "--as-of", "2026-11-01")
    assert "没有变化" in again.output
    csv_out = invoke("roster", "summary", "--format", "csv", "--as-of", "2026-11-01")
    lines = csv_out.output.strip().splitlines()
    assert lines[0].startswith("单位代码,单位,主要领导,分管领导,专职安监员,网格员")
    assert lines[1].endswith(",1,0,0,1,0,0,2")


def test_invalid_roster_exits_2_with_row_errors_and_masked_ids(instance_env, tmp_path):
    invoke("init")
    bad_id = id_number()[:-1] + "0"
    path = roster(tmp_path, [[1, "张三", bad_id, "", UNIT_A, "网格员", ""]])
    result = invoke("roster", "import", str(path))
    assert result.exit_code == 2
    assert "花名册.xlsx 第4行「身份证号（C列）」" in result.output
    assert bad_id not in result.output
    assert "未导入任何数据" in result.output


def test_skip_invalid_writes_rejects(instance_env, tmp_path):
    invoke("init")
    path = roster(tmp_path, [[1, "张三", id_number(), "", UNIT_A, "网格员", ""],
                             [2, "李四", "123", "", UNIT_A, "网格员", ""]])
    out = tmp_path / "rejects.csv"
    result = invoke("roster", "import", str(path), "--skip-invalid", "--rejects", str(out))
    assert result.exit_code == 0
    assert "1 行无效" in result.output
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("原行号,序号,姓名") and lines[1].startswith("5,2,李四")


def test_rejects_without_skip_invalid_is_a_usage_error(instance_env, tmp_path):
    invoke("init")
    result = runner.invoke(app, ["roster", "import", str(roster(tmp_path)), "--rejects", "x.csv"])
    assert result.exit_code == 2


def test_missing_file_is_a_clear_error(instance_env, tmp_path):
    invoke("init")
    result = invoke("roster", "import", str(tmp_path / "nope.xlsx"))
    assert result.exit_code == 2 and "找不到文件" in result.output


def test_units_and_unknown_unit(instance_env, tmp_path):
    invoke("init")
    invoke("roster", "import", str(roster(tmp_path)))
    units = invoke("roster", "units", "--format", "json")
    assert '"代码":"0101001001"' in units.output.replace(" ", "")
    missing = invoke("roster", "summary", "--unit", "幸福")
    assert missing.exit_code == 1 and "相近的单位" in missing.output


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_demo_data_and_summary(instance_env, fmt):
    invoke("init")
    result = invoke("demo-data", "--people", "200", "--seed", "4")
    assert result.exit_code == 0 and "people created: " in result.output
    summary = invoke("roster", "summary", "--level", "district", "--format", fmt)
    assert summary.exit_code == 0 and "安和市/" in summary.output


def test_demo_twice(instance_env):
    first = invoke("demo", "--people", "300")
    assert first.exit_code == 0, first.output
    assert "已导入" in first.output and "被整体拒绝" in first.output
    assert "数据库行数未改变" in first.output
    modules = len(load_curriculum().modules)
    assert f"6. 发布 {modules} 个课程模块" in first.output and "7. 批量评分" in first.output
    second = invoke("demo", "--people", "300")
    assert second.exit_code == 0 and "没有变化" in second.output
    assert "不会重复评分" in second.output


def test_course_list_shows_every_module_with_items_and_points():
    result = invoke("course", "list", "--format", "csv")
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("模块,名称,版本,题数,总分") and lines[0].endswith(",必修自")
    curriculum = load_curriculum()
    assert len(lines) == 1 + len(curriculum.modules)
    for line, module in zip(lines[1:], curriculum.modules, strict=True):
        assert line.startswith(f"{module.id},") and int(line.split(",")[3]) >= 12
        assert line.endswith(f",{curriculum.module_from(module)}")  # go-live or a later start


def test_home_option_reaches_subcommands(tmp_path, monkeypatch):
    monkeypatch.delenv("SAFETRAIN_HOME", raising=False)
    home = tmp_path / "elsewhere"
    result = invoke("--home", str(home), "init")
    assert result.exit_code == 0 and (home / "safetrain.db").exists()


def test_grade_says_what_to_do_first(instance_env):
    before_init = invoke("grade", "rescue-fire")
    assert before_init.exit_code == 3 and "safetrain init" in before_init.output
    invoke("init")
    unknown = invoke("grade", "no-such-module")
    assert unknown.exit_code == 1 and "已有的模块" in unknown.output
    unreleased = invoke("grade", "rescue-fire")
    assert unreleased.exit_code == 1
    assert "safetrain course release rescue-fire" in unreleased.output.replace("\n", " ").replace("course  ", "course ")
