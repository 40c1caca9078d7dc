"""Stage `parent`: turn ``parent.uri`` into our checkpoint format in ``parent.out``.

Thin Prefect tasks around :mod:`stylealign_core.training.parent`: ``fetch_parent`` downloads an https
checkpoint into the checkpoint library's cache (retried on network errors; the pinned sha256 is
checked there); ``resolve_parent`` writes ``OUT/network.json`` + ``OUT/network.safetensors`` and
``OUT/lineage.json`` (kept when they already match the request) and logs what it did.
"""
from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from stylealign_core.checkpoints import CheckpointError, fetch
from stylealign_core.training import parent as core
from stylealign_core.training.parent import LINEAGE_NAME, NETWORK_NAME, resolved_checkpoint

from ._common import FETCH_RETRIES, FETCH_RETRY_DELAYS, logger

__all__ = ["LINEAGE_NAME", "NETWORK_NAME", "fetch_parent", "resolve_parent", "resolved_checkpoint"]


def _retry_download(task, task_run, state) -> bool:
    """Retry downloads that failed on the way (network, server); not hash mismatches or bad URLs."""
    try:
        state.result()
    except CheckpointError as exc:
        return exc.problem.startswith("download failed")
    except OSError:
        return True
    except Exception:  # noqa: BLE001
        return False
    return False


@task(name="parent.fetch_parent", retries=FETCH_RETRIES, retry_delay_seconds=FETCH_RETRY_DELAYS,
      retry_condition_fn=_retry_download, cache_policy=NO_CACHE)
def fetch_parent(uri: str, sha256: str | None) -> str:
    """Local path of the https checkpoint ``uri`` (downloaded once into ``$STYLEALIGN_CACHE``)."""
    path = fetch(uri, sha256=sha256)
    logger().info("fetched %s -> %s", uri, path)
    return str(path)


@task(name="parent.resolve_parent", cache_policy=NO_CACHE)
def resolve_parent(uri: str, local: str | None, sha256: str | None, out: str, init: dict | None = None) -> dict:
    """Write the parent in our format to ``out``; returns the lineage record.

    ``uri``: what params.yaml says; ``local``: its local file (None for ``init``); ``init``: seed,
    resolution and network settings of a freshly initialised parent.
    """
    log = logger()
    result = core.resolve_parent(uri, local, sha256, out, init=init)
    resolved = result.lineage["resolved"]
    if not result.rebuilt:
        log.info("%s is up to date (sha256 %s), kept", out, resolved["sha256"])
        return result.lineage
    for note in result.notes:
        log.info("conversion note: %s", note)
    log.info("resolved parent %s (%s) -> %s, sha256 %s", uri, result.lineage["source"]["format"], out,
             resolved["sha256"])
    return result.lineage
