#!/usr/bin/env bash
# Default-child timing (issue: <= 10 min on 2 cores): the main job `stylealign repro` on a fresh clone of
# this repository, with params.yaml's parent.uri set to an export of a parent run's newest snapshot.
#   bench/default_child.sh PARENT_RUN [SCRATCH]     e.g. bench/default_child.sh runs/parent-noto-64
# Prints the wall time of the whole job and metrics/finetune.json (the fine-tune's own seconds, kimg, img/s).
# Uses this checkout's .venv; the emoji data come from the npm cache after the first build.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUN=$(realpath "${1:?usage: bench/default_child.sh PARENT_RUN [SCRATCH]}")
SCRATCH=${2:-$(mktemp -d)}
rm -rf "$SCRATCH/clone" "$SCRATCH/parent"
git clone -q "$REPO" "$SCRATCH/clone"
"$REPO/.venv/bin/stylealign" export --run "$RUN" --out "$SCRATCH/parent" --samples 8
cd "$SCRATCH/clone"
sed -i "s|^  uri: init|  uri: $SCRATCH/parent/network.json|" params.yaml
grep -q "uri: $SCRATCH/parent/network.json" params.yaml
export PATH="$REPO/.venv/bin:$PATH" DVC_NO_ANALYTICS=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
stylealign repro
echo "stylealign repro (data, parent, finetune): $(( $(date +%s) - start )) s wall"
cat metrics/finetune.json
echo "grid: $SCRATCH/clone/runs/child/parent_vs_child.png"
