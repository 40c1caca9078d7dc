"""The one exception type of the data package.

Every message names the file (or package, or directory) at fault and says how to fix it, so a
command-line handler can print ``str(err)`` as a single line and exit with status 2.
"""
from __future__ import annotations

from ..errors import StylealignError


class DataError(StylealignError):
    """A data set could not be fetched, built, read or written.

    ``path`` is the file or directory at fault (when there is one); ``hint`` is the suggested fix.
    ``str(err)`` is one line: ``<what went wrong>: <path> (fix: <hint>)``.
    """

    def __init__(self, message: str, path: object = None, hint: str | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.hint = hint
        text = message
        if self.path is not None and self.path not in message:
            text = f"{text}: {self.path}"
        if hint:
            text = f"{text} (fix: {hint})"
        super().__init__(text)
