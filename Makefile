# The two set-up commands of the README: `make repro` (the main job) and `make test` (the tests).
# Both create .venv on first use, installing torch from constraints.txt (the local CPU wheel).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup test repro smoke bench parent export-parent

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[all]'
	touch $@

# Two pytest-xdist workers, one test file each at a time (module fixtures such as a Prefect server or the S3
# store start once per file): the suite waits on servers, schedules and subprocesses a good part of the time,
# which the other worker fills. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 2
test: setup
	@# pytest exit code 5 = no tests collected: not a failure of the code under test.
	$(BIN)/python -m pytest -q $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile); \
	    rc=$$?; if [ $$rc -eq 5 ]; then exit 0; fi; exit $$rc

repro: setup
	DVC_NO_ANALYTICS=1 $(BIN)/stylealign repro

smoke: setup
	DVC_NO_ANALYTICS=1 $(BIN)/stylealign repro --smoke

bench: setup
	$(BIN)/python bench/networks.py

# The shipped default parent (README, "The default parent"): train or continue (resumable), then export
# the newest snapshot to models/parent/emoji-noto-64 (G_ema and D, float16 weights, samples, MODEL_CARD.md).
# The recipe is pinned so that every leg, on any machine and at any batch, is the same run: fp32, R1 gamma
# 0.0512 and an EMA half-life of 5 kimg (both would otherwise be derived from the batch).
PARENT_RUN ?= runs/parent-noto-64
PARENT_KIMG ?= 2000
PARENT_DEVICE ?= cpu
# PARENT_RESUME: latest (the run's newest snapshot) or a checkpoint to take the weights from (the committed
# export, or one brought from another machine; fresh optimizer states). PARENT_BATCH: 16 on CPU; 32-64 on a GPU.
PARENT_RESUME ?= latest
PARENT_BATCH ?= 16
parent: setup
	test -f data/emoji-google-64/dataset.json || $(BIN)/stylealign data emoji --style google --out data/emoji-google-64
	$(BIN)/stylealign train --data data/emoji-google-64 --out $(PARENT_RUN) --cbase 2048 --cmax 256 --map 2 \
	    --z-dim 256 --w-dim 256 --batch $(PARENT_BATCH) --kimg $(PARENT_KIMG) --precision fp32 --gamma 0.0512 \
	    --ema-kimg 5 --device $(PARENT_DEVICE) --ada-kimg 100 --snapshot-kimg 4 --keep 3 \
	    --resume $(PARENT_RESUME)

export-parent: setup
	$(BIN)/stylealign export --run $(PARENT_RUN) --out models/parent/emoji-noto-64 --networks G_ema,D --force
