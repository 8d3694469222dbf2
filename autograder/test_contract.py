"""The course contract for tests that run on the grader side (courses/AUTHORING.md, "测试读取").

A module's source notebook declares, in `metadata.safetrain.test_reads`, the trainee names its
tests read; the grader fetches exactly those from the sandbox. `course validate` fails a module
whose tests use a free name that is neither declared nor defined by the instructor (locked cells
and earlier tests), whose tests assign a declared trainee name, or that has a cell that is both
an answer and a test.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

from nbformat.notebooknode import NotebookNode

from autograder.cell_roles import bound_names, cell_names, trainee_bound_names


@dataclass
class ContractProblem:
    grade_id: str
    message: str


def _loaded_names(source: str) -> tuple[set[str], set[str]]:
    """(names read, identifier-like string constants) of a cell; SyntaxError if it does not parse."""
    ast.parse(source)
    names = cell_names(source)
    return set(names.loaded), set(names.strings)


def declared_reads(nb: NotebookNode) -> list[str] | None:
    declared = nb.metadata.get("safetrain", {}).get("test_reads")
    if isinstance(declared, list) and all(isinstance(n, str) for n in declared):
        return declared
    return None


def infer_reads(nb: NotebookNode) -> list[str]:
    """What the tests read of the names answer cells define (to write the declaration once)."""
    trainee = trainee_bound_names(nb)
    reads: set[str] = set()
    for cell in nb.cells:
        flags = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and flags.get("grade") and not flags.get("solution"):
            loaded, strings = _loaded_names(cell.source)
            reads |= (loaded | strings) & trainee
    return sorted(reads)


def check_contract(nb: NotebookNode) -> list[ContractProblem]:
    declared = declared_reads(nb)
    if declared is None:
        return [ContractProblem("(notebook)", "缺少 metadata.safetrain.test_reads：请声明测试读取的学员变量")]
    reads = set(declared)
    problems: list[ContractProblem] = []
    instructor: set[str] = set(dir(builtins)) | {"get_ipython", "display", "In", "Out"}
    for cell in nb.cells:
        flags = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        grade_id = flags.get("grade_id", "?")
        if flags.get("grade") and flags.get("solution"):
            problems.append(ContractProblem(grade_id, "单元格既是作答格又是测试格：测试必须与作答分开"))
            continue
        if flags.get("solution") or not flags.get("locked") and not flags.get("grade"):
            continue
        try:
            loaded, strings = _loaded_names(cell.source)
        except SyntaxError as exc:
            problems.append(ContractProblem(grade_id, f"语法错误：{exc.msg}"))
            continue
        bound = bound_names(cell.source)
        if flags.get("grade"):
            free = loaded - bound - instructor - reads
            if free:
                problems.append(ContractProblem(
                    grade_id, f"测试用到未声明的名字：{'、'.join(sorted(free))}（既不是教员定义，也不在 test_reads 中）"))
            written = bound & reads
            if written:
                problems.append(ContractProblem(
                    grade_id, f"测试给学员变量赋值：{'、'.join(sorted(written))}"))
            unlisted = strings & (trainee_bound_names(nb) - reads - instructor)
            if unlisted:
                problems.append(ContractProblem(
                    grade_id, f"测试按名字查找未声明的学员变量：{'、'.join(sorted(unlisted))}"))
        instructor |= bound
    return problems
