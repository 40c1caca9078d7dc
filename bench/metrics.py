"""FID/KID of a generator: ours vs the official stylegan2-ada-pytorch metric code, same detector, same run.

Both sides measure the same things: the same generator (G_ema of ``--network``), the same generated images
(seeds 0..N-1 through the project's seed -> z convention, constant noise), the same real images (the first
``--max-real`` of the train split) and the same detector file (the 2015 Inception, ``default_1.pt``; the
official loop reaches it through an adapter with the NVlabs interface: uint8 in, the official resize, pool
features out). What differs is only the metric code around them:

* official: ``metrics.frechet_inception_distance.compute_fid`` then ``kernel_inception_distance.compute_kid``
  of a checkout given with ``--official`` (nothing of it is copied here), as ``calc_metrics.py --metrics
  fid...,kid...`` runs them: its own data loader over PNG files, its own generator loop (batches of 4), its
  feature cache on (the default; an empty temporary cache directory, so the first metric fills it);
* ours: ``stylealign_core.metrics.evaluate_metrics(G, data, ["fid", "kid"])``: features of each image set
  extracted once for both metrics, with the reals' cache off.

Prints the wall time of each, the ratio (official / ours), feature-extraction images/s of both, and the
figures with their relative differences (KID: numpy's global generator is seeded with our subset seed before
the official call, so both draw the same subsets). Two patches are needed to run the official code on a
CPU-only torch, and both are printed: ``Tensor.pin_memory`` is the identity (it raises without an
accelerator), and ``get_feature_detector`` returns the adapter (its URL is not reachable offline).

    python bench/metrics.py --official /tmp/stylegan2-ada-pytorch --network models/parent/emoji-noto-64/network.json \\
        --data data/emoji-google-64 --num-gen 1000 --max-real 1000 --json bench-metrics.json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.invert import cpu_name  # noqa: E402
from stylealign_core.checkpoints import load_checkpoint  # noqa: E402
from stylealign_core.latents import z_from_seeds  # noqa: E402
from stylealign_core.metrics import evaluate  # noqa: E402
from stylealign_core.metrics.detector import load_detector  # noqa: E402


class NVlabsInterface(torch.nn.Module):
    """The detector with the NVlabs call signature: ``module(uint8 images, return_features=True)``."""

    def __init__(self, detector):
        super().__init__()
        self.detector = detector

    def forward(self, images, return_features=True):
        assert return_features, "FID/KID use the pool features"
        return self.detector.features(images)


class SeededGenerator(torch.nn.Module):
    """Our G behind the official call ``G(z=z, c=c, noise_mode=...)``: the official loop draws z from torch's
    global generator; this wrapper replaces each batch's z by the next seeds' z (our convention), so both
    sides see the same images. A fresh copy (the official loop deep-copies G per metric) starts at seed 0."""

    def __init__(self, G):
        super().__init__()
        self.G, self.z_dim, self.c_dim, self.img_channels = G, G.z_dim, 0, G.img_channels
        self.next_seed = 0

    def forward(self, z, c=None, noise_mode="const", **_kwargs):
        seeds = list(range(self.next_seed, self.next_seed + len(z)))
        self.next_seed += len(z)
        return self.G(z_from_seeds(seeds, self.z_dim), None, noise_mode=noise_mode)


def write_pngs(images: np.ndarray, folder: Path) -> None:
    """uint8 ``[N, 3, R, R]`` -> ``folder/00000000.png`` ... (sorted names keep the order)."""
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image.transpose(1, 2, 0)).save(folder / f"{i:08d}.png")


def run_official(checkout: Path, G, detector, real_dir: Path, args) -> dict:
    sys.path.insert(0, str(checkout))
    import dnnlib
    from metrics import frechet_inception_distance, kernel_inception_distance, metric_utils
    metric_utils.get_feature_detector = lambda url, **_kw: NVlabsInterface(detector)
    torch.Tensor.pin_memory = lambda self, *a, **k: self
    dnnlib.util.set_cache_dir(tempfile.mkdtemp(prefix="official-cache-"))
    opts = metric_utils.MetricOptions(
        G=SeededGenerator(G), G_kwargs=dict(noise_mode="const"), device=torch.device("cpu"), cache=True,
        dataset_kwargs=dnnlib.EasyDict(class_name="training.dataset.ImageFolderDataset", path=str(real_dir),
                                       resolution=G.img_resolution, use_labels=False, xflip=False))
    t0 = time.perf_counter()
    fid = frechet_inception_distance.compute_fid(opts, max_real=args.max_real, num_gen=args.num_gen)
    t_fid = time.perf_counter() - t0
    np.random.seed(args.kid_seed)
    kid = kernel_inception_distance.compute_kid(opts, max_real=args.max_real, num_gen=args.num_gen,
                                                num_subsets=args.kid_subsets, max_subset_size=args.kid_subset_size)
    seconds = time.perf_counter() - t0
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    return {"fid": fid, "kid": kid, "seconds": seconds, "seconds_fid": t_fid, "seconds_kid": seconds - t_fid,
            "commit": commit.stdout.strip() or "unknown (not a git checkout)",
            "images_through_detector": 2 * args.max_real + 2 * _generated_count(args.num_gen)}


def _generated_count(num_gen: int, batch: int = 64) -> int:
    """The official generator loop fills whole batches of 64."""
    return -(-num_gen // batch) * batch


def run_ours(G, data: str, args) -> dict:
    options = evaluate.MetricOptions(max_real=args.max_real, use_cache=False, kid_subsets=args.kid_subsets,
                                     kid_subset_size=args.kid_subset_size, kid_seed=args.kid_seed, progress=False)
    t0 = time.perf_counter()
    records = evaluate.evaluate_metrics(G, data, ["fid", "kid"], num_gen=args.num_gen, options=options)
    seconds = time.perf_counter() - t0
    by_name = {r["metric"].rstrip("0123456789k"): r for r in records}
    return {"fid": by_name["fid"]["value"], "kid": by_name["kid"]["value"], "kid_std": by_name["kid"]["std"],
            "seconds": seconds, "images_through_detector": args.max_real + args.num_gen}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--official", required=True, type=Path, help="a stylegan2-ada-pytorch checkout")
    p.add_argument("--network", default="models/parent/emoji-noto-64/network.json")
    p.add_argument("--data", default="data/emoji-google-64", help="real images (the train split is used)")
    p.add_argument("--num-gen", type=int, default=1000, help="generated images (seeds 0..N-1)")
    p.add_argument("--max-real", type=int, default=1000, help="real images (the first N of the train split)")
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--kid-subset-size", type=int, default=1000)
    p.add_argument("--kid-seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    G = load_checkpoint(args.network).generator.eval().requires_grad_(False)
    detector = load_detector()
    reals, _, _ = evaluate.load_images(args.data, "train")
    args.max_real = min(args.max_real, len(reals))
    ours = run_ours(G, args.data, args)
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        real_dir = Path(tmp) / "reals"
        write_pngs(reals[:args.max_real], real_dir)
        official = run_official(args.official, G, detector, real_dir, args)
    result = {"cpu": cpu_name(), "threads": torch.get_num_threads(), "torch": torch.__version__,
              "network": args.network, "data": args.data, "num_gen": args.num_gen, "max_real": args.max_real,
              "kid_subsets": args.kid_subsets, "kid_subset_size": args.kid_subset_size, "detector": detector.name,
              "detector_sha256": detector.sha256, "ours": ours, "official": official,
              "speedup": official["seconds"] / ours["seconds"],
              "fid_rel_diff": abs(ours["fid"] - official["fid"]) / abs(official["fid"]),
              "kid_rel_diff": abs(ours["kid"] - official["kid"]) / abs(official["kid"]),
              "patches_to_official": ["Tensor.pin_memory = identity (CPU-only torch)",
                                      "get_feature_detector -> the same detector file behind the NVlabs interface"]}
    for side in ("ours", "official"):
        result[side]["detector_images_per_s"] = result[side]["images_through_detector"] / result[side]["seconds"]
    print(f"{result['cpu']}, {result['threads']} threads, torch {result['torch']}; {args.num_gen} generated vs "
          f"{args.max_real} real images, KID {args.kid_subsets} subsets of <= {args.kid_subset_size}")
    for side in ("official", "ours"):
        r = result[side]
        print(f"{side:9s} FID {r['fid']:.4f}  KID {r['kid']:.6f}  {r['seconds']:7.1f} s  "
              f"({r['images_through_detector']} images through the detector, "
              f"{r['detector_images_per_s']:.2f} images/s)")
    print(f"speed-up (official s / ours s): {result['speedup']:.2f}x; relative difference FID "
          f"{result['fid_rel_diff']:.2e}, KID {result['kid_rel_diff']:.2e}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
