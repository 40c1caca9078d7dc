"""Reports: figures and tables drawn from runs and analyses (PNG plots written atomically)."""
from .comparison import parent_vs_child_grid
from .training_curves import plot_training_log

__all__ = ["parent_vs_child_grid", "plot_training_log"]
