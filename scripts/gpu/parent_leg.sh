#!/usr/bin/env bash
# One GPU leg of the default parent (README, "The default parent: a leg on a GPU").
#
# Runs ON the GPU machine, in the repository root, with the Noto data set at data/emoji-google-64 and the
# export to resume from at RESUME (default: the committed models/parent/emoji-noto-64). Steps:
#   1. tests/test_cuda_parity.py: one G and D forward+backward on the GPU equals the CPU's (fp32, TF32 off);
#      the leg stops here if it does not.
#   2. `stylealign train --device cuda` with the pinned recipe (fp32, R1 gamma 0.0512, EMA half-life 5 kimg,
#      ADA at 100 kimg) at batch $BATCH for at most $SECONDS seconds (snapshots are atomic, so the time limit
#      cutting a step short loses only that step);
#   3. `stylealign export --networks G_ema,D` of the newest snapshot (float16, ~13 MB); its weights, card,
#      samples and curves go to $OUT with one log (the device tool returns at most 8 files), each file
#      split into <= 15 MiB parts when larger (the device tool returns files of at most 16 MiB).
# Back on the CPU machine: `scripts/gpu/join_parts.sh DIR` reassembles any parts, then
#   make parent PARENT_RESUME=DIR       (continues on the CPU), or commit DIR as models/parent/emoji-noto-64.
set -euo pipefail
OUT=${OUT:?set OUT to the folder whose files come back}
RESUME=${RESUME:-models/parent/emoji-noto-64}
SECONDS_BUDGET=${SECONDS_BUDGET:-420}
BATCH=${BATCH:-64}
RUN=${RUN:-/tmp/parent-gpu}
DATA=${DATA:-data/emoji-google-64}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}

LOG="$OUT/leg.log"   # one log: the device tool returns at most 8 files
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$LOG"
$PY -m pytest -q -s tests/test_cuda_parity.py 2>&1 | tee -a "$LOG"
set +e
timeout "$SECONDS_BUDGET" $PY -m stylealign.cli train --data "$DATA" --out "$RUN" --device cuda \
    --cbase 2048 --cmax 256 --map 2 --z-dim 256 --w-dim 256 --batch "$BATCH" --kimg 2000 --precision fp32 \
    --gamma 0.0512 --ema-kimg 5 --ada-kimg 100 --snapshot-kimg 20 --keep 1 --seed 0 --no-progress \
    --resume "$RESUME" >> "$LOG" 2>&1
rc=$?
set -e
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then tail -40 "$LOG"; exit "$rc"; fi
$PY -m stylealign.cli export --run "$RUN" --out /tmp/parent-export --networks G_ema,D --force
for f in /tmp/parent-export/{network.json,network.safetensors,MODEL_CARD.md,samples.png,training-curves.png}; do
    [ -e "$f" ] || continue
    if [ "$(stat -c %s "$f")" -gt $((15 * 1024 * 1024)) ]; then
        split -b 15M -d "$f" "$OUT/$(basename "$f").part-"
    else
        cp "$f" "$OUT/"
    fi
done
ls -la "$OUT"
