"""The exception types of the editing package (translation, layer swapping, morphing, scoring)."""
from __future__ import annotations

from ..errors import InputMismatch, StylealignError


class EditError(StylealignError, ValueError):
    """A translation, morph or scoring request that cannot be carried out as given (the message names
    the setting at fault and the fix)."""


class UnalignedPair(InputMismatch):
    """Two generators that are not an aligned pair (different architecture): the message names the first
    mismatch, e.g. ``channel_base: parent 256, child 512``."""
