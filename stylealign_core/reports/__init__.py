"""Reports: figures and tables drawn from runs and analyses (PNG plots written atomically).

``metrics_json`` (reports/metrics.json: every required key, null + reason when missing), ``html`` (the static
page), ``site`` (the pipeline's ``report`` stage: metrics, plot CSVs, assets and the page in one call).
"""
from .comparison import parent_vs_child_grid
from .training_curves import plot_training_log

__all__ = ["parent_vs_child_grid", "plot_training_log"]
