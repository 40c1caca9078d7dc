"""The base of every error that is the user's to fix (a bad setting, file, data set or checkpoint).

Each package keeps its own exception type (``ConfigError``, ``ParamsError``, ``CheckpointError``,
``DataError``, ``SnapshotError``, ...) and derives it from :class:`StylealignError`. The message of
such an error names the thing at fault and the fix in one line, so the command line prints it as
``stylealign: error: <message>`` (exit status 2) without a traceback. Any other exception is a bug
and keeps its traceback.

A type that was a ``ValueError`` or ``RuntimeError`` before stays one (``class CheckpointError(
StylealignError, ValueError)``), so existing ``except`` clauses keep working.
"""
from __future__ import annotations


class StylealignError(Exception):
    """An error in what the user gave (settings, files, data, checkpoints); ``str(err)`` is one line
    naming the thing at fault and, where there is one, the fix. ``exit_code``: the command's exit
    status when it ends with this error (2: the input was refused; 1: a run that was started failed)."""

    exit_code = 2


class InputMismatch(StylealignError, ValueError):
    """Inputs that are each valid do not fit together (e.g. a 32 px parent with 64 px data).

    Also a ``ValueError``, so code that raised ``ValueError`` for such a case can raise this instead
    without breaking its callers."""


class UnalignedPair(InputMismatch):
    """Two generators that are not an aligned pair (different architecture): the message names the first
    mismatch, e.g. ``channel_base: parent 256, child 512`` (see :mod:`stylealign_core.aligned`)."""


class OutputExists(StylealignError, FileExistsError):
    """An output is already there and the command was not told to replace it (the message names the flag)."""
