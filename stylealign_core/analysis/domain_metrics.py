"""FID/KID of several generators against several domains, each feature set extracted once.

    records = domain_metrics({"parent": P, "child": C}, {"parent": "data/noto", "child": "data/tw"},
                             num_gen=250, options=MetricOptions(max_real=250))
    resets = reset_kid(P, C, "data/tw", num_gen=200, options=..., reuse=records)

The 2015 Inception costs ~0.15 s an image on 2 CPU cores, so every generated and real feature set is
computed once and shared by the figures that need it (the real ones are cached by data set sha256 as
in :func:`stylealign_core.metrics.evaluate_metrics`, whose record format every record here has, plus
``model`` and ``domain``). The counts used are in each record.
"""
from __future__ import annotations

from ..metrics import MetricOptions, dataset_features, load_detector
from ..metrics.evaluate import generator_features, load_images, metric_records
from ..metrics.registry import parse_metric_list
from .components import RESET_GROUPS
from .reset import reset_models


def real_set(data, split: str, options: MetricOptions, detector) -> dict:
    """The real side of a metric: the first ``options.max_real`` images of ``split`` of ``data``, featurised."""
    images, _, name = load_images(data, split)
    count = len(images) if options.max_real is None else min(len(images), int(options.max_real))
    feats, info = dataset_features(detector, images[:count], batch_size=options.batch_size,
                                   use_cache=options.use_cache, cache_dir=options.cache_dir,
                                   progress=options.progress)
    return {"features": feats, "num_real": count, "data": name, "data_sha256": info["data_sha256"], "split": split}


def cached_features(G, name: str, count: int, options: MetricOptions, detector, cache: dict | None):
    """``generator_features`` of ``G``, reusing the first ``count`` rows of ``cache[name]`` when it holds at
    least that many (same seeds and options: the caller keeps one cache per options)."""
    if cache is not None and name in cache and len(cache[name][0]) >= count:
        feats, desc = cache[name]
        first = int(desc["gen_seeds"].split("-")[0])
        return feats[:count], {**desc, "gen_seeds": f"{first}-{first + count - 1}"}
    feats, desc = generator_features(G, count, options, detector)
    if cache is not None:
        cache[name] = (feats, desc)
    return feats, desc


def domain_metrics(models: dict, domains: dict, *, num_gen: int, split: str = "train",
                   options: MetricOptions | None = None, detector=None, metrics: str = "fid,kid",
                   reals: dict | None = None, features: dict | None = None, fid: str = "both") -> list[dict]:
    """``metrics`` of every model against every domain: one record per (model, domain, metric). ``fid``:
    "both" (FID for every pair), "own" (only where the model's name is the domain's) or "none".
    ``reals`` (``{domain: real_set(...)}``) and ``features`` (``{model: (features, description)}``) are
    filled in place so callers can reuse the features."""
    options = options or MetricOptions()
    detector = detector or load_detector()
    reals = {} if reals is None else reals
    specs = parse_metric_list(metrics, num_gen)
    kid_only = [s for s in specs if s.base != "fid"]
    for domain, data in domains.items():
        if domain not in reals:
            reals[domain] = real_set(data, split, options, detector)
    records = []
    for model, G in models.items():
        feats, desc = cached_features(G, model, num_gen, options, detector, features)
        for domain in domains:
            with_fid = fid == "both" or (fid == "own" and model == domain)
            for record in metric_records(specs if with_fid else kid_only, reals[domain], feats, desc, options,
                                         detector, network=model):
                records.append({"model": model, "domain": domain, **record})
    return records


def reset_kid(parent, child, real: dict, *, num_gen: int, options: MetricOptions | None = None, detector=None,
              groups=tuple(RESET_GROUPS), features: dict | None = None) -> list[dict]:
    """KID to the child domain (``real``: a :func:`real_set`) of the child, the parent and the child with each
    component of ``groups`` reset to the parent's, all at the same seeds; ``model`` = child, parent or
    ``reset_<group>`` (the records :func:`.plots.plot_reset_kid` draws). ``features``: as in
    :func:`domain_metrics` (the child's and the parent's are reused from there)."""
    options = options or MetricOptions()
    detector = detector or load_detector()
    specs = parse_metric_list("kid", num_gen)
    records = []
    for name, G in reset_models(parent, child, groups).items():
        feats, desc = cached_features(G, name, num_gen, options, detector, features)
        (record,) = metric_records(specs, real, feats, desc, options, detector, network=name)
        records.append({"model": name, **record})
    return records


def metrics_table(records: list[dict]) -> list[dict]:
    """``records`` as rows ``{model, domain, fid, kid, kid_std, num_gen, num_real, kid_subsets, ...}``."""
    rows: dict[tuple, dict] = {}
    for r in records:
        row = rows.setdefault((r["model"], r.get("domain")), {
            "model": r["model"], "domain": r.get("domain"), "fid": None, "num_gen": r["num_gen"],
            "num_real": r["num_real"]})
        base = "fid" if r["metric"].startswith("fid") else "kid"
        row[base] = r["value"]
        if base == "kid":
            row.update(kid_std=r["std"], kid_subsets=r["subsets"], kid_subset_size=r["subset_size"],
                       kid_seed=r["seed"])
    return list(rows.values())
