"""Course content: documents cited by title, never by internal file name, and the issue-14
fixes (law wording, first aid, the inspection data) kept from regressing.

The notebook text is the source of the released notebook, the feedback page and the batch
sheet's 依据 column (from each test cell's `safetrain.cites`), so grepping the source
notebooks covers all three.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import validation
from records.curriculum import load_curriculum

COURSES = Path(__file__).resolve().parents[1] / "courses"
NOTEBOOKS = sorted((COURSES / "source").glob("*/*.ipynb"))
# The internal names of the reference documents (../shared/seeds/): never shown to a trainee.
SEED_FILES = [
    "000_a1b67ece0c887c49.txt", "001_98b98e12812bb8c1.txt", "002_fccf99575c99eaf9.txt",
    "003_f8b71f71409f26e6.txt", "004_a4da0efdc67a864c.txt",
]  # fmt: skip
# Independent of validation.INTERNAL_NAME on purpose: this test still fails if that one breaks.
FILE_NAME = re.compile(r"\d{3}_[0-9a-f]{16}|(?<![a-z])seed[\s_-]*\d{3}", re.IGNORECASE)
ARTICLE_184 = "因自愿实施紧急救助行为造成受助人损害的，救助人不承担民事责任。"


def _nb(module: str) -> NotebookNode:
    return nbformat.read(COURSES / "source" / module / f"{module}.ipynb", as_version=4)


def _cell(nb: NotebookNode, grade_id: str) -> NotebookNode:
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return cell


def _text(nb: NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells)


def _options(question: str) -> dict[str, str]:
    return dict(re.findall(r"^- ([A-E])\. (.+)$", question, re.MULTILINE))


def _hidden_letter(test_source: str) -> str:
    [letter] = re.findall(r'== "([A-E])"', test_source.split("BEGIN HIDDEN TESTS")[1])
    return letter


# --------------------------------------------------------------------------- file names


def _dirty_notebook() -> NotebookNode:
    meta = {"nbgrader": {"grade": True, "grade_id": "q01", "locked": True, "points": 1,
                         "schema_version": 3, "solution": False, "task": False},
            "safetrain": {"cites": "seed 003_f8b71f71409f26e6.txt 九有"}}  # fmt: skip
    return new_notebook(
        cells=[
            new_markdown_cell("九有（见 seed 003）", metadata={"nbgrader": {"grade_id": "l1"}}),
            new_markdown_cell("讲话全文：000_a1b67ece0c887c49.txt"),
            new_code_cell('assert q01 == "B"', metadata=meta),
        ]
    )


@pytest.mark.parametrize(
    "text",
    [*SEED_FILES, "seed 003", "Seed003", "seed_002", "（seed 000）", "见seed 004的报道"],
)
def test_internal_names_are_recognised(text: str) -> None:
    assert FILE_NAME.search(text)
    assert validation.INTERNAL_NAME.search(text)


@pytest.mark.parametrize(
    "text", ["np.random.seed(0)", "seeds", "JC2024-028", "YH2024-0016", "2024-06-30", "第184条"]
)
def test_ordinary_text_is_not_taken_for_a_file_name(text: str) -> None:
    assert not FILE_NAME.search(text)
    assert not validation.INTERNAL_NAME.search(text)


def test_validation_flags_file_names_in_text_and_in_cites() -> None:
    check = validation.check_internal_names(_dirty_notebook())
    assert not check.passed
    assert "seed 003" in check.reason and "000_a1b67ece0c887c49" in check.reason
    names = {c.name: c for c in validation.check_notebook(_dirty_notebook())}
    assert not names["names"].passed

    clean = _dirty_notebook()
    clean.cells[0].source = "九有（四川省安全生产委员会办公室《四川省2020年安全社区建设工作意见》）"
    clean.cells[1].source = "讲话全文见课程资料"
    clean.cells[2].metadata["safetrain"]["cites"] = "四川省2020年安全社区建设工作意见 九有"
    assert validation.check_internal_names(clean).passed


def test_every_listed_module_has_a_notebook_to_check() -> None:
    listed = load_curriculum(COURSES / "curriculum.yml").module_ids
    # A glob that finds nothing would make the grep vacuous.
    assert len(listed) >= 7 and sorted(p.parent.name for p in NOTEBOOKS) == sorted(listed)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_no_notebook_names_an_internal_file(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")  # cell text, outputs and every metadata field
    assert not FILE_NAME.findall(raw), f"{path.name}: {FILE_NAME.findall(raw)[:5]}"
    nb = nbformat.read(path, as_version=4)
    assert validation.check_internal_names(nb).passed
    for cell in nb.cells:
        cites = cell.metadata.get("safetrain", {}).get("cites")
        if cell.metadata.get("nbgrader", {}).get("grade") and cites is not None:
            assert cites.strip() and not FILE_NAME.search(cites), cites


def test_no_course_file_names_an_internal_file() -> None:
    for path in COURSES.rglob("*"):
        if path.is_file() and path.suffix in {".ipynb", ".csv", ".yml", ".md", ".py"}:
            text = path.read_text(encoding="utf-8")
            assert not FILE_NAME.search(text), path


def test_speeches_and_local_documents_are_labelled_as_context() -> None:
    nb = _nb("law-training-rules")
    for cell in nb.cells:
        cites = cell.metadata.get("safetrain", {}).get("cites", "")
        if "讲话" in cites:
            assert "背景材料" in cites, cites
        if "四川省2020年安全社区建设工作意见" in cites or "天津" in cites:
            assert "地方" in cites, cites
    # Any question that brings a speech up says it is context, never the basis of the item.
    questions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "")
                 .endswith("_question")]
    mentioning = [c for c in questions if "讲话" in c.source]
    assert questions and all("讲话是背景材料，不是法律规定" in c.source for c in mentioning)


# --------------------------------------------------------------------------- law wording


def test_emergency_regulation_article_10_says_may_sign() -> None:
    text = _text(_nb("law-emergency-response"))
    assert "但应当指定兼职的应急救援人员，并且可以与邻近的应急救援队伍签订应急救援协议" in text
    assert "并与邻近的救援队伍签订救援协议" not in text
    assert "应当与邻近" not in text


def test_work_safety_article_94_ban_follows_an_accident() -> None:
    nb = _nb("law-work-safety")
    lesson = _cell(nb, "lesson_07").source
    assert "导致发生生产安全事故" in lesson
    assert "自刑罚执行完毕或者受处分之日起" in lesson
    q21 = _cell(nb, "q21_question").source
    assert "导致发生生产安全事故" in q21 and "自受处分之日起" in q21
    assert _options(q21)[_hidden_letter(_cell(nb, "q21").source)] == "5年"


def test_accident_grades_explain_or_and_the_highest_grade() -> None:
    lesson = _cell(_nb("law-work-safety"), "lesson_06").source
    assert "“或者”" in lesson and "就高" in lesson and "较大事故" in lesson
    assert "应急管理部门" in lesson  # 安全生产监督管理部门's duties today


def test_reporting_order_item_gives_no_time_limit_away() -> None:
    nb = _nb("law-work-safety")
    q25 = "".join(_options(_cell(nb, "q25_question").source).values())
    assert not re.search(r"\d\s*小时|立即", q25), q25  # the answers of q17, q18 and q16
    q16 = _options(_cell(nb, "q16_question").source)
    assert sum("本单位负责人" in option for option in q16.values()) >= 3


# --------------------------------------------------------------------------- fire


MPS_EBIKE_NOTICE = "《公安部关于规范电动车停放充电加强火灾防范的通告》"


def test_fire_day_and_e_bike_names() -> None:
    assert "全国消防日" in _text(_nb("rescue-fire"))
    for path in NOTEBOOKS:
        text = _text(nbformat.read(path, as_version=4))
        assert "消防安全宣传日" not in text, path.name
        # 电动自行车 is the legal term; the Ministry's notice keeps its own title when cited.
        assert "电动车" not in text.replace(MPS_EBIKE_NOTICE, ""), path.name


def test_extinguisher_order_item_gives_no_aim_or_wind_away() -> None:
    nb = _nb("rescue-fire")
    q14 = _cell(nb, "q14_question").source
    q15_answer = _options(_cell(nb, "q15_question").source)[_hidden_letter(_cell(nb, "q15").source)]
    assert "根部" in q15_answer and "上风" in q15_answer
    assert "根部" not in q14 and "风" not in q14


# --------------------------------------------------------------------------- first aid


def test_civil_code_184_is_quoted_from_its_first_word() -> None:
    text = _text(_nb("rescue-first-aid"))
    assert ARTICLE_184 in text
    starts = [m.start() for m in re.finditer("自愿实施紧急救助行为", text)]
    assert starts and all(text[i - 1] == "因" for i in starts)
    assert _cell(_nb("rescue-first-aid"), "q23").metadata.safetrain.cites == "民法典 第一百八十四条"


def test_first_aid_choking_agonal_breathing_and_recovery_position() -> None:
    nb = _nb("rescue-first-aid")
    choking = _cell(nb, "lesson_06").source
    assert "背部叩击" in choking and "腹部冲击" in choking and "交替" in choking
    q12 = _cell(nb, "q12_question").source
    assert "交替" in _options(q12)[_hidden_letter(_cell(nb, "q12").source)]
    q14 = _cell(nb, "q14_question").source
    assert "哭不出声" in q14 and "不能咳嗽" in q14
    cpr = _cell(nb, "lesson_04").source
    assert "叹息样呼吸" in cpr and "复苏体位" in cpr
    assert _hidden_letter(_cell(nb, "q21").source) == "B"  # agonal breathing: start CPR
    q22 = _options(_cell(nb, "q22_question").source)
    assert "复苏体位" in q22[_hidden_letter(_cell(nb, "q22").source)]


def test_earthquake_lesson_and_item_agree() -> None:
    nb = _nb("rescue-disasters")
    lesson = _cell(nb, "lesson_02").source
    q08 = _cell(nb, "q08_question").source
    right = _options(q08)["D"]
    for text in (lesson, right):
        assert "坚固家具旁" in text
        assert all(word in text for word in ("伏地", "遮挡", "手抓牢"))
    assert not re.search(r"桌下|桌子下|家具下", lesson + q08)


# --------------------------------------------------------------------------- inspection data


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return pd.read_csv(COURSES / "source" / "inspector-practice" / "inspection_log.csv")


def test_unlicensed_welding_is_a_major_hazard(log: pd.DataFrame) -> None:
    welding = log[log["隐患描述"].fillna("").str.contains("电焊")]
    assert set(welding["检查编号"]) == {"JC2024-028", "JC2024-037"}
    assert set(welding["隐患等级"]) == {"重大"}


def test_each_inspection_has_one_row_per_non_compliant_item(log: pd.DataFrame) -> None:
    per = log.groupby("检查编号").agg(
        n=("检查项数", "nunique"), c=("符合项数", "nunique"),
        items=("检查项数", "first"), ok=("符合项数", "first"), hazards=("隐患编号", "count"),
    )  # fmt: skip
    assert (per["n"] == 1).all() and (per["c"] == 1).all()
    assert ((per["items"] - per["ok"]) == per["hazards"]).all()


def _lowest(frame: pd.DataFrame) -> str:
    sums = frame.groupby("社区")[["符合项数", "检查项数"]].sum()
    rate = sums["符合项数"] / sums["检查项数"]
    ordered = rate.sort_values()
    assert ordered.iloc[1] - ordered.iloc[0] > 0.005  # no near tie: one clear answer
    return str(ordered.index[0])


def test_q9_discriminates_the_wrong_method(log: pd.DataFrame) -> None:
    nb = _nb("inspector-practice")
    options = {name: letter for letter, name in _options(_cell(nb, "q09_question").source).items()}
    right = _lowest(log.drop_duplicates("检查编号"))
    wrong = _lowest(log)  # every row summed: inspections with several hazards count repeatedly
    assert right != wrong
    assert options[right] == _hidden_letter(_cell(nb, "q09").source)
    assert wrong in options  # the mistake lands on a listed distractor
    checks = yaml.safe_load((COURSES / "checks" / "inspector-practice.yml").read_text("utf-8"))
    assert checks["wrong_answers"]["q09_answer"] == f'q09 = "{options[wrong]}"'


def test_q8_hidden_value_matches_the_data(log: pd.DataFrame) -> None:
    once = log.drop_duplicates("检查编号")
    rate = once["符合项数"].sum() / once["检查项数"].sum() * 100
    hidden = _cell(_nb("inspector-practice"), "q08").source
    [expected] = re.findall(r"abs\(q08 - ([\d.]+)\)", hidden)
    assert abs(rate - float(expected)) < 1e-3
    every_row = log["符合项数"].sum() / log["检查项数"].sum() * 100
    checks = yaml.safe_load((COURSES / "checks" / "inspector-practice.yml").read_text("utf-8"))
    assert checks["wrong_answers"]["q08_answer"] == f"q08 = {every_row:.2f}"


# --------------------------------------------------------------------------- curriculum


def test_modules_changed_for_issue_14_are_bumped_and_hours_are_local_policy() -> None:
    curriculum = load_curriculum(COURSES / "curriculum.yml")
    issue_14 = {"law-work-safety", "law-emergency-response", "law-training-rules", "inspector-practice",
                "rescue-fire", "rescue-first-aid", "rescue-disasters"}  # fmt: skip
    assert all(m.version != "1.0" for m in curriculum.modules if m.id in issue_14)
    text = (COURSES / "curriculum.yml").read_text(encoding="utf-8")
    roles = text[text.index("# 持证规则") :]
    assert "本地政策" in roles and "未核实" in roles and "local policy" in roles.lower()
