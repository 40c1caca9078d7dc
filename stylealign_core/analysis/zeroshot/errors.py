"""The error type of the zero-shot package: bad inputs to training or evaluation, named with the fix."""
from __future__ import annotations

from ..errors import AnalysisError


class ZeroShotError(AnalysisError):
    """A zero-shot input that does not fit (a task, a data set without labels, missing translated images)."""
