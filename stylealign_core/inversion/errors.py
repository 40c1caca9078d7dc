"""The one error type of the inversion package: a message naming the thing at fault and the fix."""
from __future__ import annotations

from ..errors import StylealignError


class InversionError(StylealignError, ValueError):
    """Bad inversion input (no images, a missing perceptual-metric file, an incomplete shard set, ...)."""

    def __init__(self, message: str, hint: str | None = None):
        self.hint = hint
        super().__init__(f"{message} (fix: {hint})" if hint else message)
