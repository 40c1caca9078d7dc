"""`stylealign` console command: one argparse front end, one module per command group.

Each command module exposes ``add_parser(subparsers)`` which registers its subcommand(s) and sets
``func`` (parsed args -> exit code). Modules are imported here, so `stylealign --help` lists them all.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Command groups, in the order `--help` lists them. Each module owns its subcommand(s).
COMMAND_MODULES = [
    "stylealign.data_cli",
    "stylealign.checkpoint_cli",
    "stylealign.train_cli",
    "stylealign.pipeline_cli",
    "stylealign.metrics_cli",  # FID/KID (optional extra: stylealign[metrics])
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stylealign",
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
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
