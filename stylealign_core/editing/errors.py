"""The exception types of the editing package (translation, layer swapping, morphing, scoring)."""
from __future__ import annotations

from ..errors import StylealignError, UnalignedPair  # noqa: F401 (re-exported)


class EditError(StylealignError, ValueError):
    """A translation, morph or scoring request that cannot be carried out as given (the message names
    the setting at fault and the fix)."""
