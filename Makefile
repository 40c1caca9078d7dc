# The two set-up commands of the README: `make repro` (the main job) and `make test` (the tests).
# Both create .venv on first use, installing torch from constraints.txt (the local CPU wheel).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup test repro smoke bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[all]'
	touch $@

test: setup
	@# pytest exit code 5 = no tests collected: not a failure of the code under test.
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then exit 0; fi; exit $$rc

repro: setup
	DVC_NO_ANALYTICS=1 $(BIN)/stylealign repro

smoke: setup
	DVC_NO_ANALYTICS=1 $(BIN)/stylealign repro --smoke

bench: setup
	$(BIN)/python bench/networks.py
