"""The curriculum: which course modules exist, who must take them, pass marks and attempt limits.

`courses/curriculum.yml` is the single source of truth. `load_curriculum()` reads it and, when
given the source folder, checks that every listed module has a notebook and every notebook is
listed. Problems are reported in Chinese and English with the place in the file
(e.g. `modules[3].pass_mark`), never as a pydantic traceback.

Role keys and their Chinese labels come from `records.roles.Role`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from records.errors import InputFileError, NotFound
from records.roles import Role

COURSES_ENV = "SAFETRAIN_COURSES"
CURRICULUM_FILE = "curriculum.yml"
SOURCE_DIR = "source"
MODULE_ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


def courses_dir() -> Path:
    """The repository's `courses/` folder, or the folder named by SAFETRAIN_COURSES."""
    override = os.environ.get(COURSES_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parents[1] / "courses"


# --------------------------------------------------------------------------- schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Module(_Strict):
    """One course module: an nbgrader notebook in `courses/source/<id>/<id>.ipynb`."""

    id: str = Field(pattern=MODULE_ID_PATTERN, description="folder name under courses/source/")
    title: str = Field(min_length=1, description="Chinese title shown to trainees")
    version: str = Field(pattern=r"^\d+(\.\d+)*$", description='quoted, e.g. "1.0"')
    estimated_minutes: int = Field(gt=0, le=24 * 60)
    pass_mark: float = Field(ge=0, le=100, description="percent of the module's points")
    required_for: list[Role] = Field(default_factory=list)
    # Unlimited retries with per-item feedback let a trainee enumerate any choice key.
    max_attempts: int = Field(
        default=3, ge=1, le=100, strict=True,
        description="graded submissions allowed (administrators can grant more)",
    )
    cooldown_hours: float = Field(
        default=24, ge=0, le=24 * 90, strict=True,
        description="hours after a submission before the next one is graded; 0 = none",
    )
    effective_from: dt.date | None = Field(
        default=None,
        description="day from which required_for applies; default the curriculum's go_live",
    )

    @field_validator("required_for")
    @classmethod
    def _no_repeated_roles(cls, roles: list[Role]) -> list[Role]:
        repeated = sorted({r.value for r in roles if roles.count(r) > 1})
        if repeated:
            raise ValueError(f"角色重复 / role listed twice: {', '.join(repeated)}")
        return roles


class RoleRule(_Strict):
    """Certification rule for one role (see `records.certification`).

    The modules a role must pass are not repeated here: they are the modules whose
    `required_for` names the role (see `Curriculum.required_modules`), each at its own
    `pass_mark`. "Per year" means the 12 months up to the day of evaluation.
    """

    hours_per_year: float = Field(
        default=0, ge=0, le=1000, description="training hours per year; 0 = no hours rule"
    )
    drills_per_year: int = Field(
        default=0, ge=0, le=52, description="drills attended per year; 0 = no drill rule"
    )
    validity_years: int = Field(default=3, ge=1, le=10, description="years a certificate lasts")
    renewal_window_days: int = Field(
        default=90, ge=0, le=366,
        description="days before expiry from which a certificate can be renewed",
    )
    onboarding_days: int = Field(
        default=0, ge=0, le=730,
        description="days after taking the post to pass the required modules; 0 = no deadline",
    )
    hours_effective_from: dt.date | None = Field(
        default=None, description="day the hours rule starts; default the curriculum's go_live")
    onboarding_effective_from: dt.date | None = Field(
        default=None,
        description="posts begun before this day have no pre-job deadline; default go_live")
    # Every required module added to a role costs its people study time: the cap makes the
    # total a stated, checked figure instead of one that grows unnoticed.
    study_minutes_max: int | None = Field(
        default=None, gt=0, le=100 * 60,
        description="most minutes of required modules (their estimated_minutes) for the role",
    )

    @model_validator(mode="after")
    def _window_inside_validity(self) -> RoleRule:
        if self.renewal_window_days >= self.validity_years * 365:
            raise ValueError(
                "续证窗口不能长于证书有效期 / renewal_window_days must be shorter than the validity"
            )
        return self


class UnknownModule(NotFound, KeyError):
    """A module id that the curriculum does not list (KeyError for mapping-style callers)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Curriculum(_Strict):
    modules: list[Module] = Field(min_length=1)
    roles: dict[Role, RoleRule] = Field(default_factory=dict)
    # The day the rules took effect here: the default `effective_from` of every required
    # module, hours rule and pre-job rule. None: every rule has always been in force.
    go_live: dt.date | None = None
    # Days a person already in the role when a module became required has to pass it.
    new_module_grace_days: int = Field(default=180, ge=0, le=730)

    @model_validator(mode="after")
    def _unique_ids(self) -> Curriculum:
        ids = [m.id for m in self.modules]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"模块 id 重复 / module id listed twice: {', '.join(repeated)}")
        return self

    @model_validator(mode="after")
    def _study_time_within_caps(self) -> Curriculum:
        over = []
        for role, rule in self.roles.items():
            minutes = self.study_minutes(role)
            if rule.study_minutes_max is not None and minutes > rule.study_minutes_max:
                modules = "、".join(f"{m.id}（{m.estimated_minutes}分钟）"
                                   for m in self.modules if role in m.required_for)
                over.append(f"{role.label}必修模块共 {minutes} 分钟，超过上限 "
                            f"study_minutes_max={rule.study_minutes_max}：{modules}")
        if over:
            raise ValueError("；".join(over) + " / required study time over the role's cap")
        return self

    @property
    def module_ids(self) -> list[str]:
        return [m.id for m in self.modules]

    def module(self, module_id: str) -> Module:
        for module in self.modules:
            if module.id == module_id:
                return module
        raise UnknownModule(
            f"没有模块「{module_id}」；已有的模块：{'、'.join(self.module_ids)}。 Unknown module."
        )

    def required_modules(self, role: Role, on: dt.date | None = None) -> list[str]:
        """Ids of the modules a person in `role` must pass, in curriculum order; with `on`,
        only those required by that day (`effective_from`, default `go_live`)."""
        return [m.id for m in self.modules if role in m.required_for
                and (on is None or (self.module_from(m) or on) <= on)]

    def study_minutes(self, role: Role) -> int:
        """Estimated minutes of every module the role must pass (future requirements too)."""
        return sum(m.estimated_minutes for m in self.modules if role in m.required_for)

    def module_from(self, module: Module) -> dt.date | None:
        """The day `module` became required (None: always)."""
        return module.effective_from or self.go_live

    def hours_from(self, role: Role) -> dt.date | None:
        return self.rule(role).hours_effective_from or self.go_live

    def onboarding_from(self, role: Role) -> dt.date | None:
        return self.rule(role).onboarding_effective_from or self.go_live

    def rule(self, role: Role) -> RoleRule:
        """The role's certification rule; defaults when `roles:` does not mention it."""
        return self.roles.get(role, RoleRule())


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file: where (`modules[3].pass_mark`) and why, in both languages."""

    where: str
    zh: str
    en: str

    def __str__(self) -> str:
        place = f"{self.where}: " if self.where else ""
        return f"{place}{self.zh} / {self.en}"


class FileFormatError(InputFileError):
    """A YAML file SafeTrain reads is missing or malformed; names the file and every problem."""

    title_zh = "文件有误"
    title_en = "invalid file"

    def __init__(self, path: Path, problems: Sequence[Problem]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__(self._message())

    def _message(self) -> str:
        lines = [f"{self.title_zh} / {self.title_en}: {self.path}"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("请按上面的提示修改该文件后重试。/ Fix the file as described above and retry.")
        return "\n".join(lines)


class CurriculumError(FileFormatError):
    title_zh = "课程目录文件有误"
    title_en = "invalid curriculum file"


_ZH_REASONS: dict[str, str] = {
    "missing": "缺少这一项",
    "extra_forbidden": "不认识的字段（是否拼错？）",
    "enum": "不是可用的取值，可用：{expected}",
    "greater_than_equal": "应不小于 {ge}",
    "greater_than": "应大于 {gt}",
    "less_than_equal": "应不大于 {le}",
    "less_than": "应小于 {lt}",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "date_type": "应为日期，如 2026-01-01",
    "date_parsing": "应为日期，如 2026-01-01",
    "date_from_datetime_inexact": "应为日期（不带时间），如 2026-01-01",
    "date_from_datetime_parsing": "应为日期，如 2026-01-01",
    "string_type": '应为文字；数字样的文字请加引号，如 "1.0"',
    "string_pattern_mismatch": "格式不对",
    "string_too_short": "不能为空",
    "list_type": "应为列表（每行以 - 开头）",
    "dict_type": "应为“键: 值”形式的表",
    "model_type": "应为“键: 值”形式的表",
    "too_short": "至少需要 {min_length} 项",
}


def _where(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            out += "（键 / key）"
        elif isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _problem(error: dict[str, Any]) -> Problem:
    kind = error["type"]
    ctx = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
    en = error["msg"]
    if kind in ("value_error", "assertion_error"):
        # our own validators already write "中文 / English"
        text = str(ctx.get("error", en)).removeprefix("Value error, ")
        zh, _, en = text.partition(" / ")
        return Problem(_where(error["loc"]), zh, en or zh)
    if kind == "enum" and all(role.value in ctx.get("expected", "") for role in Role):
        ctx["expected"] = "、".join(f"{role.value}（{role.label}）" for role in Role)
    try:
        zh = _ZH_REASONS.get(kind, "取值无效").format(**ctx)
    except KeyError:
        zh = "取值无效"
    if kind not in ("missing", "extra_forbidden"):
        shown = error.get("input")
        zh += f"（当前值：{shown!r}）"
        en += f" (got {shown!r})"
    return Problem(_where(error["loc"]), zh, en)


M = TypeVar("M", bound=BaseModel)


def load_yaml_model(
    path: Path, model: type[M], error_class: type[FileFormatError] = FileFormatError
) -> M:
    """Read `path` as YAML and validate it with `model`; raise `error_class` on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error_class(path, [Problem("", "找不到该文件", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        problem = Problem("", "无法读取（需为 UTF-8 文本）", f"cannot read as UTF-8 text: {exc}")
        raise error_class(path, [problem]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (
            f"第 {mark.line + 1} 行第 {mark.column + 1} 列 / line {mark.line + 1}" if mark else ""
        )
        reason = getattr(exc, "problem", None) or str(exc)
        problem = Problem(where, "YAML 格式错误（检查缩进、冒号和引号）", f"YAML syntax: {reason}")
        raise error_class(path, [problem]) from None
    if not isinstance(data, dict):
        problem = Problem("", "文件内容应为“键: 值”形式的表", "top level must be a mapping")
        raise error_class(path, [problem])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error_class(path, [_problem(e) for e in exc.errors()]) from None


# --------------------------------------------------------------------------- loading


def source_module_ids(source_dir: Path) -> list[str]:
    """Folder names under `source_dir` (hidden and cache folders skipped), sorted."""
    if not source_dir.is_dir():
        return []
    return sorted(
        p.name for p in source_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    )


def source_problems(curriculum: Curriculum, source_dir: Path) -> list[Problem]:
    """Modules listed but without a notebook, and notebooks not listed."""
    problems = []
    for index, module in enumerate(curriculum.modules):
        notebook = source_dir / module.id / f"{module.id}.ipynb"
        if not notebook.is_file():
            problems.append(
                Problem(
                    f"modules[{index}].id",
                    f"找不到课程 notebook {notebook}；请添加它，或从 modules 中删去此模块",
                    f"module {module.id!r} has no notebook at {notebook}; add it or unlist it",
                )
            )
    listed = set(curriculum.module_ids)
    for folder in source_module_ids(source_dir):
        if folder not in listed:
            problems.append(
                Problem(
                    "modules",
                    f"{source_dir / folder} 未列入课程目录，请在 modules 中添加",
                    f"{folder!r} is in {source_dir} but not listed in modules",
                )
            )
    return problems


def load_curriculum(path: Path | None = None, source_dir: Path | None = None) -> Curriculum:
    """Load and check the curriculum.

    `path` defaults to `courses_dir()/curriculum.yml`. When `source_dir` is given, a module
    listed without a notebook there, or a folder there not listed, is an error too.
    Raises `CurriculumError` naming the file, the place in it and the reason.
    """
    path = Path(path) if path is not None else courses_dir() / CURRICULUM_FILE
    curriculum = load_yaml_model(path, Curriculum, CurriculumError)
    if source_dir is not None:
        problems = source_problems(curriculum, Path(source_dir))
        if problems:
            raise CurriculumError(path, problems)
    return curriculum
