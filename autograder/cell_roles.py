"""What each cell of a module is, decided by the instructor's source notebook, never a submission.

- test: a graded code cell; runs only on the grader side, with its source from the source notebook;
- instructor: a locked, ungraded code cell (setup, helpers, worked examples); runs in the sandbox
  (the trainee's code may need it) and on the grader side (tests see the grader's copy);
- trainee: answer cells and anything a trainee added; runs only in the sandbox.
The module declares which trainee names its tests read (`metadata.safetrain.test_reads` of the
source notebook, see courses/AUTHORING.md); only those are fetched from the sandbox.
"""

from __future__ import annotations

import ast
import copy
import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.utils import compute_checksum

log = logging.getLogger(__name__)

TEST, INSTRUCTOR, TRAINEE = "test", "instructor", "trainee"


def _flags(cell: NotebookNode) -> dict:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


@dataclass
class ModuleRoles:
    cells: dict[str, NotebookNode] = field(default_factory=dict)  # grade_id → source cell
    test_reads: list[str] = field(default_factory=list)
    declared: bool = False  # test_reads came from the module, not derived
    judge_needs: set[str] = field(default_factory=set)  # instructor cells the tests depend on

    @classmethod
    def from_notebook(cls, nb: NotebookNode) -> ModuleRoles:
        roles = cls()
        for cell in nb.cells:
            grade_id = _flags(cell).get("grade_id")
            if grade_id:
                roles.cells[grade_id] = cell
        declared = nb.metadata.get("safetrain", {}).get("test_reads")
        if isinstance(declared, list) and all(isinstance(n, str) for n in declared):
            roles.test_reads, roles.declared = list(declared), True
        else:
            roles.test_reads = sorted(trainee_bound_names(nb))
        roles.judge_needs = _instructor_cells_tests_need(nb)
        return roles

    def role_of(self, cell: NotebookNode) -> str:
        source = self.cells.get(_flags(cell).get("grade_id", ""))
        if source is None or source.cell_type != "code" or cell.cell_type != "code":
            return TRAINEE
        flags = _flags(source)
        if flags.get("solution"):
            return TRAINEE
        if flags.get("grade"):
            return TEST
        if flags.get("locked"):
            return INSTRUCTOR
        return TRAINEE

    def source_of(self, cell: NotebookNode) -> str:
        return self.cells[_flags(cell)["grade_id"]].source

    def normalize(self, nb: NotebookNode) -> int:
        """Cell metadata from the source notebook: a submission cannot claim or drop a role.
        Returns how many cells claimed a grade id the module does not have."""
        claimed = 0
        for cell in nb.cells:
            meta = cell.get("metadata", {})
            grade_id = meta.get("nbgrader", {}).get("grade_id")
            if grade_id is None:
                if "nbgrader" in meta:
                    del meta["nbgrader"]
                continue
            source = self.cells.get(grade_id)
            if source is None or source.cell_type != cell.cell_type:
                del meta["nbgrader"]
                claimed += 1
            else:
                meta["nbgrader"] = copy.deepcopy(source.metadata["nbgrader"])
                meta["nbgrader"].pop("checksum", None)
                if cell.source == source.source:
                    # Marks the cell as the instructor's for later steps (InertOutputs renders
                    # only such markdown); set here from the source notebook, never kept from
                    # the submission, whose checksums anyone can recompute.
                    meta["nbgrader"]["checksum"] = compute_checksum(cell)
        return claimed

    @functools.lru_cache(maxsize=512)  # noqa: B019 (one roles object per module and process)
    def reads_of(self, source: str) -> tuple[str, ...]:
        """The declared trainee names a test's source mentions (as a name or a string, since
        tests may look a function up with `globals().get("name")`)."""
        return tuple(n for n in self.test_reads if n in mentioned_names(source))

    def __hash__(self) -> int:
        return id(self)


def _instructor_cells_tests_need(nb: NotebookNode) -> set[str]:
    """Grade ids of the locked instructor cells that a later test depends on, directly or
    through another such cell. A cell is kept if it mentions (reads, assigns or may mutate) a
    name a later kept cell or test needs; cells about other names (a worked example printing
    its own result) are not re-run by the judge."""
    needed: set[str] = set()
    keep: set[str] = set()
    for cell in reversed(nb.cells):
        flags = _flags(cell)
        if cell.cell_type != "code" or flags.get("solution"):
            continue
        mentioned = mentioned_names(cell.source)
        if flags.get("grade"):
            needed |= mentioned - bound_names(cell.source)
        elif flags.get("locked") and flags.get("grade_id") and mentioned & needed:
            keep.add(flags["grade_id"])
            needed |= mentioned
    return keep


@dataclass(frozen=True)
class CellNames:
    loaded: frozenset[str]  # names read
    bound: frozenset[str]  # names assigned, defined, imported or taken as arguments
    strings: frozenset[str]  # identifier-like string constants (`globals().get("name")`)

    @property
    def mentioned(self) -> frozenset[str]:
        return self.loaded | self.bound | self.strings


@functools.lru_cache(maxsize=4096)
def cell_names(source: str) -> CellNames:
    """The names a cell's code reads, binds and spells out as strings (empty if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return CellNames(frozenset(), frozenset(), frozenset())
    loaded, bound, strings = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else loaded).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            strings.add(node.value)
    return CellNames(frozenset(loaded), frozenset(bound), frozenset(strings))


def mentioned_names(source: str) -> frozenset[str]:
    return cell_names(source).mentioned


def bound_names(source: str) -> frozenset[str]:
    return cell_names(source).bound


def trainee_bound_names(nb: NotebookNode) -> set[str]:
    """Names the answer cells of a source notebook define (the default for test_reads)."""
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and _flags(cell).get("solution"):
            names |= bound_names(cell.source)
    return names


@functools.lru_cache(maxsize=32)
def _load(path: str, mtime: float) -> ModuleRoles:
    return ModuleRoles.from_notebook(nbformat.read(path, as_version=4))


def roles_for(source_notebook: str) -> ModuleRoles:
    path = Path(source_notebook)
    return _load(str(path), path.stat().st_mtime)
