"""The default child's curve: KID to the child domain and to the parent domain against fine-tuning kimg.

Fine-tunes the parent with params.yaml's `finetune.train` settings (only the length and the snapshot interval
are changed) and, at each requested kimg, computes KID of the child's G_ema to both domains' train images
(the same seeds for every point, the parent at kimg 0) and writes a parent-vs-child grid. A point "moved
toward the child domain" when its KID to the child domain is below the parent's by more than 2 std (the
larger of the two KID stds over subsets) and below its own KID to the parent domain: the issue's rule for
choosing the default length.

    .venv/bin/python bench/child_curve.py --points 2,5,10 --out /tmp/curve       # the pipeline's data paths
    .venv/bin/python bench/child_curve.py --parent models/parent/emoji-noto-64/network.json \\
        --parent-data data/emoji-google-64 --child-data data/emoji-twitter-64 --points 2,5,10,20,40

Writes OUT/curve.csv, curve.json, curve.png and grid-kimg<K>.png; the run directory OUT/run keeps the
snapshots' records (metrics.jsonl) and the training log.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stylealign_core.analysis.domain_metrics import domain_metrics  # noqa: E402
from stylealign_core.checkpoints import load_generator  # noqa: E402
from stylealign_core.latents import grid_seeds  # noqa: E402
from stylealign_core.metrics import MetricOptions, load_detector  # noqa: E402
from stylealign_core.metrics.kid import compute_kid  # noqa: E402
from stylealign_core.params import load_params  # noqa: E402
from stylealign_core.reports.comparison import parent_vs_child_grid  # noqa: E402
from stylealign_core.training.api import finetune_child  # noqa: E402
from stylealign_core.training.config import TrainConfig  # noqa: E402

DOMAINS = ("child", "parent")


def kid_point(G, kimg: float, domains: dict, num_gen: int, options: MetricOptions, detector, reals: dict) -> dict:
    """KID of ``G`` to each domain (the same generated images for both): one row of the curve."""
    t0 = time.perf_counter()
    records = domain_metrics({"model": G}, domains, num_gen=num_gen, options=options, detector=detector,
                             metrics="kid", reals=reals, fid="none")
    row = {"kimg": round(kimg, 3)}
    for r in records:
        row[f"kid_{r['domain']}"], row[f"kid_{r['domain']}_std"] = r["value"], r["std"]
    row.update(num_gen=num_gen, num_real={d: reals[d]["num_real"] for d in domains},
               metric_seconds=round(time.perf_counter() - t0, 1))
    return row


def verdict(row: dict, parent_row: dict) -> bool:
    """Moved toward the child domain: below the parent's KID to it by > 2 std, and below its own KID to the
    parent domain."""
    two_std = 2 * max(row["kid_child_std"], parent_row["kid_child_std"])
    return row["kid_child"] < parent_row["kid_child"] - two_std and row["kid_child"] < row["kid_parent"]


def plot_curve(rows: list[dict], path: Path, labels: dict, gap: dict | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    kimg = [r["kimg"] for r in rows]
    for domain in DOMAINS:
        ax.errorbar(kimg, [r[f"kid_{domain}"] for r in rows], yerr=[r[f"kid_{domain}_std"] for r in rows],
                    marker="o", capsize=3, label=f"KID to {labels[domain]}")
    parent = rows[0]  # the rule's first half: below the parent's KID to the child domain by 2 std
    ax.axhline(parent["kid_child"] - 2 * parent["kid_child_std"], color="C0", linestyle="--", alpha=0.6,
               label=f"parent's KID to {labels['child']} - 2 std")
    ax.set_xlabel("child kimg (0 = the parent)")
    ax.set_ylabel(f"KID ({rows[0]['num_gen']} generated)")
    ax.set_title("fine-tuning the parent on the child domain" + (
        f"\n(real {labels['child']} vs real {labels['parent']}: KID {gap['kid']:.4f})" if gap else ""), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", default="params.yaml", help="finetune.train and the data paths come from here")
    p.add_argument("--parent", help="parent checkpoint (default: params.yaml parent.uri)")
    p.add_argument("--parent-data", help="parent-domain data set (default: params.yaml data.parent.out)")
    p.add_argument("--child-data", help="child-domain data set (default: params.yaml data.child.out)")
    p.add_argument("--points", default="2,5,10", help="child kimg at which to measure (comma list)")
    p.add_argument("--num-gen", type=int, default=500, help="generated images per point (seeds 0..N-1)")
    p.add_argument("--num-real", type=int, default=500, help="first N train images per domain")
    p.add_argument("--kid-subset-size", type=int, default=100)
    p.add_argument("--grid", type=int, default=8, help="columns of each parent-vs-child grid")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", required=True, type=Path)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    params = load_params(args.params)
    points = sorted(float(x) for x in args.points.split(","))
    parent_path = args.parent or str(params.resolve(params.parent.uri))
    domains = {"child": Path(args.child_data or params.resolve(params.data.child.out)),
               "parent": Path(args.parent_data or params.resolve(params.data.parent.out))}
    for name, data in domains.items():
        if not (data / "dataset.json").is_file():
            sys.exit(f"child_curve: {data} is not a data set; build it first (`stylealign repro data` or "
                     f"`stylealign data emoji --style ...`), or pass --{name}-data")
    labels = {d: (json.loads((p / "dataset.json").read_text()).get("name") or p.name) for d, p in domains.items()}
    cfg = params.finetune.train.replace(
        total_kimg=max(points), snapshot_kimg=min(1.0, min(points)), keep_snapshots=2)
    options = MetricOptions(max_real=args.num_real, kid_subset_size=args.kid_subset_size, kid_seed=0)
    detector, reals = load_detector(), {}
    args.out.mkdir(parents=True, exist_ok=True)
    parent_G = load_generator(parent_path)
    seeds = grid_seeds(args.grid)
    rows = [dict(kid_point(parent_G, 0.0, domains, args.num_gen, options, detector, reals), train_seconds=0.0)]
    print(f"kimg 0 (parent): {rows[0]}", flush=True)
    gap = real_gap(reals, options)
    print(f"the domains' own gap (KID of the {labels['child']} reals to the {labels['parent']} reals): "
          f"{gap['kid']:.4f} +- {gap['kid_std']:.4f}", flush=True)
    t_start, tolerance = time.perf_counter(), cfg.batch / 1000

    def measure(ctx):
        if not any(abs(ctx.kimg - p) < tolerance for p in points):
            return None
        row = kid_point(ctx.G_ema, ctx.kimg, domains, args.num_gen, options, detector, reals)
        row["train_seconds"] = round(time.perf_counter() - t_start - sum(r["metric_seconds"] for r in rows[1:]), 1)
        parent_vs_child_grid(parent_G, ctx.G_ema, args.out / f"grid-kimg{ctx.kimg:g}.png", seeds)
        rows.append(row)
        print(f"kimg {ctx.kimg:g}: {row}", flush=True)
        return {k: v for k, v in row.items() if isinstance(v, (int, float))}

    finetune_child(cfg, parent_path, domains["child"], args.out / "run", resume=None, progress=True,
                   on_snapshot=measure)
    for row in rows:
        row["moved_toward_child"] = verdict(row, rows[0]) if row["kimg"] else None
    report(rows, args, labels, parent_path, cfg, gap)
    return 0


def real_gap(reals: dict, options: MetricOptions) -> dict:
    """KID between the two domains' real images at the curve's counts and subsets: how far apart the domains
    are as this measure sees them, the most a child can move (the scale of the rule's 2 std)."""
    result = compute_kid(reals["parent"]["features"], reals["child"]["features"], num_subsets=options.kid_subsets,
                         max_subset_size=options.kid_subset_size, seed=options.kid_seed)
    return {"kid": result.value, "kid_std": result.std, "subsets": result.num_subsets,
            "subset_size": result.subset_size}


def report(rows: list[dict], args, labels: dict, parent_path: str, cfg: TrainConfig, gap: dict) -> None:
    keys = ["kimg", "kid_child", "kid_child_std", "kid_parent", "kid_parent_std", "train_seconds",
            "metric_seconds", "moved_toward_child"]
    with open(args.out / "curve.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "curve.json").write_text(json.dumps({"parent": parent_path, "labels": labels, "rows": rows,
                                                     "real_gap": gap, "train": cfg.to_dict()}, indent=2,
                                                    default=str))
    plot_curve(rows, args.out / "curve.png", labels, gap)
    print(f"\nKID ({args.num_gen} generated vs {args.num_real} real per domain, subsets of {args.kid_subset_size}):")
    print(f"| child kimg | KID to {labels['child']} | KID to {labels['parent']} | train s | moved toward "
          f"{labels['child']} |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['kimg']:g} | {r['kid_child']:.4f} +- {r['kid_child_std']:.4f} | {r['kid_parent']:.4f} +- "
              f"{r['kid_parent_std']:.4f} | {r['train_seconds']:.0f} | {r['moved_toward_child']} |")
    print(f"real {labels['child']} vs real {labels['parent']}: KID {gap['kid']:.4f} +- {gap['kid_std']:.4f}")
    print(f"wrote {args.out}/curve.csv, curve.json, curve.png, grid-kimg*.png")


if __name__ == "__main__":
    sys.exit(main())
