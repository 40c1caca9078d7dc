"""FID and KID, offline and exact (stylegan2-ada-pytorch conventions); no Prefect/DVC here.

    from stylealign_core.metrics import evaluate_metrics, snapshot_metrics, compute_fid, compute_kid
    records = evaluate_metrics(G, "data/emoji-google-64", "fid,kid", num_gen=2000)

Modules: ``detector`` (the 2015 Inception, sha256-checked), ``resize`` (the official detector's input
stage), ``features`` (batched extraction), ``cache`` (features per data set sha256), ``fid``/``kid``
(the formulas), ``registry`` (names like ``fid2k``), ``sampler`` (seeded generator images),
``results`` (JSON lines), ``evaluate`` (the whole evaluation and the training-snapshot entry point).
"""
from .cache import dataset_features, images_sha256
from .detector import DEFAULT_DETECTOR_SHA256, Detector, load_detector
from .errors import MetricsError
from .evaluate import METRICS_FILE, MetricOptions, evaluate_metrics, snapshot_metrics, weights_sha256
from .features import extract_features
from .fid import compute_fid, frechet_distance, mean_cov
from .kid import KIDResult, compute_kid, draw_kid_subsets
from .registry import METRICS, parse_metric, parse_metric_list
from .results import append_records, format_record, read_records

__all__ = ["DEFAULT_DETECTOR_SHA256", "Detector", "KIDResult", "METRICS", "METRICS_FILE", "MetricOptions",
           "MetricsError", "append_records", "compute_fid", "compute_kid", "dataset_features",
           "draw_kid_subsets", "evaluate_metrics", "extract_features", "format_record", "frechet_distance",
           "images_sha256", "load_detector", "mean_cov", "parse_metric", "parse_metric_list", "read_records",
           "snapshot_metrics", "weights_sha256"]
