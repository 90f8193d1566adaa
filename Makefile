# Set-up and the suite's main commands. Every target installs what it needs into .venv.
#   make run        the default matrix on CPU, then the leaderboard (results/leaderboard/)
#   make test       the fast test tier (CI runs exactly this)
#   make test-slow  the slow tier: quality numbers on the real-size datasets
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SUITE  := $(VENV)/bin/suite
STAMP  := $(VENV)/.installed
MATRIX ?= default
DEVICE ?= cpu
# The local data mirror (gold UD treebank, molecule ground truth) when it sits beside the checkout.
MIRROR := $(abspath ../shared/data)
export SUITE_DATA_MIRROR ?= $(if $(wildcard $(MIRROR)),$(MIRROR),)

.PHONY: venv run smoke leaderboard test test-slow bench bench-kernels check check-reference reference clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch pinned: a CPU wheel of 2.13.0 is available offline; an unpinned torch pulls a CUDA build
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(SUITE) run --matrix $(MATRIX) --device $(DEVICE)

smoke: venv
	$(SUITE) run --matrix smoke --device $(DEVICE)

leaderboard: venv
	$(SUITE) leaderboard

test: venv
	$(PY) -m pytest -q

test-slow: venv
	$(PY) -m pytest -q -m slow -s

bench: venv
	$(PY) benchmarks/compare_pyg.py

# pytest-benchmark timings of the hot kernels (opt-in; not part of `make test`)
bench-kernels: venv
	$(PY) -m pytest benchmarks/kernels -p pytest_benchmark -o addopts="" -q $(BENCH_ARGS)

# the quality gate: rerun the smoke matrix against the committed reference
check: venv
	$(SUITE) check --reference results/reference/check-smoke.json --device $(DEVICE)

check-reference: venv
	$(SUITE) check --write-reference results/reference/check-smoke.json --matrix smoke --seeds 0 1 2

reference: venv
	$(SUITE) run --matrix default --store results/reference/store.sqlite --no-leaderboard
	$(SUITE) leaderboard --store results/reference/store.sqlite --out results/reference

clean:
	rm -rf $(VENV) datasets/cache results/cache results/store.sqlite results/leaderboard
