"""`stylealign` console command: one argparse front end, one module per command group.

Each command module exposes ``add_parser(subparsers)`` which registers its subcommand(s) and sets
``func`` (parsed args -> exit code). Modules are imported here, so `stylealign --help` lists them all.

Errors are handled here, once, for every subcommand (:func:`run_command`): an error that is the user's
to fix (:class:`stylealign_core.errors.StylealignError`) prints ``stylealign: error: <message>`` and
exits with its ``exit_code`` (2, or 1 for a failed pipeline stage); a closed stdout (``... | head``)
ends quietly; Ctrl-C exits with 130. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from stylealign_core.errors import StylealignError

PROG = "stylealign"

# Command groups, in the order `--help` lists them. Each module owns its subcommand(s).
COMMAND_MODULES = [
    "stylealign.data_cli",
    "stylealign.checkpoint_cli",
    "stylealign.train_cli",
    "stylealign.pipeline_cli",
    "stylealign.metrics_cli",  # FID/KID (optional extra: stylealign[metrics])
    "stylealign.invert_cli",  # invert a data set into Z/W/W+/S (a Parquet table)
    "stylealign.encoder_cli",  # train an inversion encoder for a generator
    "stylealign.edit_cli",  # translate parent -> child (and back), morph
    "stylealign.batch_cli",  # translate-batch: a folder / s3:// prefix, idempotent (the batch-translate flow)
    "stylealign.analyze_cli",  # alignment statistics, controls, zero-shot transfer
    "stylealign.zeroshot_cli",  # zero-shot label transfer (parent labels -> child images)
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Aligned StyleGAN2 models: datasets, parent training, child fine-tuning, checkpoints "
                    "and the reproducible pipeline. Run `stylealign COMMAND --help` for details.",
    )
    parser.add_argument("--version", action="version", version="stylealign 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command group not present in this build
                continue
            raise
        adder = getattr(module, "add_parser", None) or getattr(module, "add_data_parser")
        adder(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0 if args.command is None else 2
    return run_command(func, args)


def run_command(func, args) -> int:
    """Run a subcommand's handler; the one place where errors become messages and exit codes."""
    try:
        code = int(func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not as an "Exception ignored" at exit
        return code
    except StylealignError as exc:
        print_error(str(exc))
        return exc.exit_code
    except BrokenPipeError:
        _stdout_to_devnull()
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def print_error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _stdout_to_devnull() -> None:
    """The reader of stdout has gone (``| head``): point stdout at /dev/null so the interpreter's
    final flush cannot fail again (the recipe of the Python docs, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a file (e.g. captured in tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
