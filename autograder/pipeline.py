"""The grading pipeline: nbgrader's Autograde lists with SafeTrain's steps, in one place.

Sanitize (stock order, plus one step):
    ClearOutput → DeduplicateIds → OverwriteKernelspec → **RestoreDeletedCells** →
    OverwriteCells → CheckCellMetadata
Autograde (stock order, Execute swapped for its sandbox + judge subclass, one step added):
    **LockstepExecute** → **InertOutputs** → IgnorePattern → ClearMetadataPreprocessor →
    LimitOutput → SaveAutoGrades → AssignLatePenalties → CheckCellMetadata
Feedback (stock GenerateFeedback, plus two steps first and one last):
    **InertOutputs** → **HideHiddenTests** → GetGrades → CSSHTMLHeaderPreprocessor →
    **ReleaseItemFeedback**
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbgrader
from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.preprocessors import Execute, OverwriteCells
from traitlets.config import Config

from autograder.limits import Limits
from autograder.preprocessors import HideHiddenTests, LockstepExecute, RestoreDeletedCells
from autograder.preprocessors.feedback_release import ReleaseItemFeedback
from autograder.preprocessors.inert_outputs import InertOutputs

# The feedback page with Chinese labels (trainees read it): it extends nbgrader's own.
FEEDBACK_TEMPLATE = "safetrain_feedback"  # its file is named apart: it extends index.html.j2
TEMPLATES = Path(__file__).resolve().parent / "templates"
NBGRADER_TEMPLATES = Path(nbgrader.__file__).resolve().parent / "server_extensions" / \
    "formgrader" / "templates"


def _stock(converter: type, trait: str) -> list:
    """nbgrader's own default list for a converter's preprocessor trait."""
    return list(converter.class_traits()[trait].default())


def _inserted_before(steps: list, anchor: type, step: type) -> list:
    steps = list(steps)
    steps.insert(steps.index(anchor), step)
    return steps


def _replaced(steps: list, old: type, new: type) -> list:
    return [new if s is old else s for s in steps]


def grading_config(base: Config, module: str, source_dir: Path, limits: Limits,
                   sandboxed: bool = True) -> Config:
    """nbgrader config for autograding `module` whose instructor copy is in `source_dir`."""
    config = copy.deepcopy(base)
    config.Autograde.sanitize_preprocessors = _inserted_before(
        _stock(Autograde, "sanitize_preprocessors"), OverwriteCells, RestoreDeletedCells)
    config.Autograde.autograde_preprocessors = _replaced(
        _stock(Autograde, "autograde_preprocessors"), Execute, LockstepExecute)
    config.Autograde.create_student = True
    # The batch's ledger decides what needs grading; nbgrader must not skip a resubmission
    # (or a half-finished run) because an autograded folder already exists.
    config.Autograde.force = True
    config.GenerateFeedback.force = True
    # nbconvert validates the whole notebook after each of the ~13 steps; once, after the
    # last, gives the same verdict (a step that breaks the notebook still fails it).
    config.Exporter.optimistic_validation = True
    config.RestoreDeletedCells.source_notebook = str(source_dir / f"{module}.ipynb")
    config.SandboxedExecute.timeout = limits.timeout_cell
    config.SandboxedExecute.notebook_timeout = limits.timeout_notebook
    config.SandboxedExecute.memory_mb = limits.memory_mb
    config.SandboxedExecute.pids = limits.pids
    config.SandboxedExecute.output_limit_kb = limits.output_kb
    config.SandboxedExecute.sandboxed = sandboxed
    config.SandboxedExecute.data_dir = str(source_dir)
    config.LockstepExecute.source_notebook = str(source_dir / f"{module}.ipynb")
    config.HTMLExporter.template_name = FEEDBACK_TEMPLATE
    config.HTMLExporter.template_file = f"{FEEDBACK_TEMPLATE}.html.j2"
    config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(NBGRADER_TEMPLATES)]
    config.GenerateFeedback.preprocessors = [HideHiddenTests,
                                             *_stock(GenerateFeedback, "preprocessors"),
                                             ReleaseItemFeedback]
    config.Autograde.autograde_preprocessors.insert(1, InertOutputs)  # right after execution
    config.GenerateFeedback.preprocessors.insert(0, InertOutputs)  # also for older autograded
    return config
