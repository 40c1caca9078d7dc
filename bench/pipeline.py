"""The main job's wall time, stage by stage: `stylealign repro` (or `--smoke`) on a fresh clone.

    .venv/bin/python bench/pipeline.py            # the default dvc.yaml (target: <= 30 min on 2 cores)
    .venv/bin/python bench/pipeline.py --smoke    # smoke/dvc.yaml (target: <= 5 min)

What "fresh" means here: a `git clone` of this checkout's HEAD (no dvc.lock, no outputs, no runs/) and an
empty `$STYLEALIGN_CACHE` in the scratch directory, so the npm download of the emoji packages, the real
Inception features and the inversion cache are all part of the figure. Set-up (`make setup`, the venv) is
not: this checkout's `.venv` runs the job. Prints the CPU, the load before the run, each stage's seconds
(from the moment DVC announces it to the next announcement), the total against the budget as a ratio, and
checks that every output the report needs exists. `--json PATH` keeps the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGE_LINE = re.compile(r"Running stage '(?:[^']*:)?([\w-]+)'")
BUDGET_S = {"default": 30 * 60, "smoke": 5 * 60}


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def fresh_clone(scratch: Path) -> Path:
    clone = scratch / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    return clone


def run_timed(cmd: list[str], cwd: Path, env: dict, log_path: Path) -> tuple[int, float, dict[str, float]]:
    """Run ``cmd``, echo and log its output, and time each DVC stage from its 'Running stage' line."""
    stages: dict[str, float] = {}
    current, current_start = None, None
    start = time.monotonic()
    with open(log_path, "w") as log, subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
            match = STAGE_LINE.search(line)
            if match:
                now = time.monotonic()
                if current is not None:
                    stages[current] = now - current_start
                current, current_start = match.group(1), now
        rc = proc.wait()
    total = time.monotonic() - start
    if current is not None:
        stages[current] = time.monotonic() - current_start
    return rc, total, stages


def report_outputs(clone: Path, smoke: bool) -> dict:
    """What the report stage left behind: metrics.json's top-level keys and the HTML page."""
    params_dir = clone / "smoke" if smoke else clone
    metrics = sorted(params_dir.glob("reports/metrics.json")) or sorted(clone.rglob("reports/metrics.json"))
    html = sorted(clone.rglob("reports/**/index.html"))
    found = {"metrics_json": str(metrics[0]) if metrics else None, "html": str(html[0]) if html else None}
    if metrics:
        found["metrics_keys"] = sorted(json.loads(metrics[0].read_text()))
    return found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="time smoke/dvc.yaml instead of dvc.yaml")
    ap.add_argument("--scratch", type=Path, default=None, help="where the clone and cache go (default: a temp dir)")
    ap.add_argument("--warm-cache", action="store_true",
                    help="use the normal $STYLEALIGN_CACHE instead of an empty one (npm, features, latents cached)")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args(argv)

    kind = "smoke" if args.smoke else "default"
    scratch = (args.scratch or Path(tempfile.mkdtemp(prefix=f"bench-pipeline-{kind}-"))).resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    clone = fresh_clone(scratch)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True,
                            text=True, check=True).stdout.strip()
    env = dict(os.environ, DVC_NO_ANALYTICS="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PATH=f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    if not args.warm_cache:
        env["STYLEALIGN_CACHE"] = str(scratch / "cache")
    cmd = [str(REPO / ".venv" / "bin" / "stylealign"), "repro"] + (["--smoke"] if args.smoke else [])
    load_before = os.getloadavg()
    print(f"# {kind} pipeline at {commit} on {cpu_model()}, {os.cpu_count()} CPUs, load before "
          f"{load_before[0]:.2f}; clone {clone}", flush=True)
    rc, total, stages = run_timed(cmd, clone, env, scratch / "repro.log")
    outputs = report_outputs(clone, args.smoke)
    budget = BUDGET_S[kind]
    print(f"\n# {kind} pipeline, {'exit ' + str(rc) if rc else 'finished'}; per stage (s):")
    for name, seconds in stages.items():
        print(f"  {name:<10} {seconds:8.1f}")
    print(f"  {'total':<10} {total:8.1f}  = {total / 60:.1f} min; budget {budget // 60} min; "
          f"total/budget {total / budget:.2f}x")
    print(f"  report: {outputs}")
    if args.json:
        args.json.write_text(json.dumps({
            "kind": kind, "commit": commit, "cpu": cpu_model(), "cpus": os.cpu_count(),
            "load_before": load_before, "rc": rc, "total_s": total, "stages_s": stages,
            "budget_s": budget, "outputs": outputs, "warm_cache": args.warm_cache}, indent=2))
    return rc


if __name__ == "__main__":
    sys.exit(main())
