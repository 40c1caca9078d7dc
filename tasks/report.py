"""Stage `report`: reports/metrics.json (DVC metrics), plot data for `dvc plots`, and the static HTML page.

``build`` wraps :func:`stylealign_core.reports.site.build_report`. It reads whatever the other stages left
on disk; a missing input gives nulls with a reason in metrics.json and "not run" on the page.
"""
from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from stylealign_core.reports.metrics_json import ReportInputs, null_keys
from stylealign_core.reports.site import build_report

from ._common import logger


@task(name="report.build", cache_policy=NO_CACHE)
def build(inputs: dict, out: str, title: str, source: str) -> dict:
    """Write the report directory; returns the metrics document."""
    metrics = build_report(ReportInputs(**inputs), out, title, source=source)
    missing = null_keys(metrics)
    for key, reason in missing.items():
        logger().info("metrics.json %s: null (%s)", key, reason)
    logger().info("wrote %s/index.html and %s/metrics.json (%d of the required keys null)", out, out, len(missing))
    return metrics
