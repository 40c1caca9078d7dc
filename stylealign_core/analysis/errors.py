"""The error type of the analysis package: bad analysis settings, named with the fix."""
from __future__ import annotations

from ..errors import StylealignError


class AnalysisError(StylealignError, ValueError):
    """An analysis setting out of range (a sample count, a step, a direction); also a ValueError."""
