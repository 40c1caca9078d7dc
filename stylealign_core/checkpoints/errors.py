"""The one exception type of the checkpoint layer."""
from __future__ import annotations

from pathlib import Path

from ..errors import StylealignError


class CheckpointError(StylealignError, ValueError):
    """A checkpoint could not be read, verified, converted or written.

    The message names the file, the problem and (where there is one) the fix, in one line, so
    command-line tools can print it as is. Nothing is half-loaded when this is raised.
    """

    def __init__(self, source: str | Path | None, problem: str, fix: str | None = None):
        self.source = str(source) if source is not None else None
        self.problem = problem
        self.fix = fix
        text = f"{self.source}: {problem}" if self.source else problem
        if fix:
            text += f" ({fix})"
        super().__init__(text)
