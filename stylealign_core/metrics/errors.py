"""The one error type of the metrics package: a message that names the problem and its fix."""
from __future__ import annotations

from ..errors import StylealignError


class MetricsError(StylealignError, RuntimeError):
    """Bad metric input or a missing/corrupt detector. ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str | None = None):
        self.hint = hint
        super().__init__(f"{message} ({hint})" if hint else message)
