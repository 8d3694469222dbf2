"""SafeTrain's grading steps, each an nbconvert preprocessor that plugs into nbgrader's lists.

The full order lives in one place: `autograder.pipeline`.
"""

from autograder.preprocessors.execute import SandboxedExecute
from autograder.preprocessors.feedback import HideHiddenTests
from autograder.preprocessors.inert_outputs import InertOutputs
from autograder.preprocessors.lockstep import LockstepExecute
from autograder.preprocessors.restore import RestoreDeletedCells

__all__ = ["HideHiddenTests", "InertOutputs", "LockstepExecute", "RestoreDeletedCells", "SandboxedExecute"]
