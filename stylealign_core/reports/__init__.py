"""Reports: figures and tables drawn from runs and analyses (PNG plots written atomically)."""
from .training_curves import plot_training_log

__all__ = ["plot_training_log"]
