"""Helpers shared by the stage task modules: logging, reading JSON, artifacts, retry settings.

Caching policy of the pipeline tasks: their outputs are files that DVC versions (a `dvc repro`
stage deletes its outputs before running, and restores unchanged ones from its cache). Prefect's
result cache would only duplicate that, and a cached *path* goes stale when the file behind it is
deleted, so side-effecting tasks use ``NO_CACHE``. Instead each task checks the output on disk: a
data set or a resolved parent that already matches the request is kept ("up to date"), and
fine-tuning resumes from the newest snapshot of a run with the same settings.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

# Network fetches (npm tarballs, https checkpoints): 3 retries, 5 s / 30 s / 2 min apart.
FETCH_RETRIES = 3
FETCH_RETRY_DELAYS = [5, 30, 120]


def logger():
    """The Prefect run logger inside a flow/task run, else a plain module logger."""
    try:
        from prefect import get_run_logger
        return get_run_logger()
    except Exception:  # noqa: BLE001 - MissingContextError outside a run
        return logging.getLogger("stylealign.pipeline")


def read_json(path: str | os.PathLike):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def markdown_table(rows: list[dict]) -> str:
    """A GitHub-style markdown table of ``rows`` (columns of the first row)."""
    if not rows:
        return ""
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "\\|")


def artifact(kind: str, key: str, description: str, **kwargs) -> None:
    """Create a Prefect artifact (markdown/table/link) when running inside a flow; no-op outside.

    Artifacts are a convenience for the UI: failing to create one never fails a stage."""
    try:
        from prefect import artifacts
        from prefect.context import FlowRunContext, TaskRunContext
        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return
        create = {"markdown": artifacts.create_markdown_artifact, "table": artifacts.create_table_artifact,
                  "link": artifacts.create_link_artifact}[kind]
        create(key=key, description=description, **kwargs)
    except Exception as exc:  # noqa: BLE001
        logger().warning("could not create the %s artifact %r: %s", kind, key, exc)
