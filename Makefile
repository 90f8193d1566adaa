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
# the main job runs its cells in one worker process per core (EXECUTOR=local: one after another)
EXECUTOR ?= processes
# The local data mirror (gold UD treebank, molecule ground truth) when it sits beside the checkout.
MIRROR := $(abspath ../shared/data)
export SUITE_DATA_MIRROR ?= $(if $(wildcard $(MIRROR)),$(MIRROR),)

.PHONY: venv run smoke leaderboard test test-slow bench bench-kernels check check-reference reference tune plugin-board clean

$(STAMP): pyproject.toml studies/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch pinned: a CPU wheel of 2.13.0 is available offline; an unpinned torch pulls a CUDA build
	$(PY) -m pip install --quiet torch==2.13.0
	# the ray and parquet extras too: the fast tier runs the smoke matrix under Ray and
	# round-trips Parquet exports (their tests skip, with the reason, when they are absent)
	$(PY) -m pip install --quiet -e ".[test,molecules,nlp,pyg,ray,parquet]"
	# the research studies: their own distribution, outside the wheel (`suite report NAME`)
	$(PY) -m pip install --quiet --no-deps -e studies
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(SUITE) run --matrix $(MATRIX) --device $(DEVICE) --executor $(EXECUTOR)

smoke: venv
	$(SUITE) run --matrix smoke --device $(DEVICE)

leaderboard: venv
	$(SUITE) leaderboard

test: venv
	$(PY) -m pytest -q

test-slow: venv
	$(PY) -m pytest -q -m slow -s

bench: venv
	$(SUITE) bench

# pytest-benchmark timings of the hot kernels (opt-in; not part of `make test`)
bench-kernels: venv
	$(PY) -m pytest benchmarks/kernels -p pytest_benchmark -o addopts="" -q $(BENCH_ARGS)

# the quality gate: rerun the smoke matrix against the committed reference
check: venv
	$(SUITE) check --device $(DEVICE)

# explainer defaults: every grid of suite/presets/tuning.yaml on the default matrix's own
# seeds (the same for every explainer), tables into results/reference/ (hours: make -j2 tune)
TUNINGS := gnnexplainer-node gnnexplainer-graph pgexplainer-node pgexplainer-graph graphmask-node
tune: $(addprefix tune-,$(TUNINGS))

tune-%: venv
	$(SUITE) tune --explainer $(word 1,$(subst -, ,$*)) --task $(word 2,$(subst -, ,$*)) --quiet \
	    --out results/reference/tuning-$*-removal.md

check-reference: venv
	$(SUITE) check --write-reference suite/presets/checks/smoke.json --overwrite --matrix smoke --seeds 0 1 2

reference: venv
	$(SUITE) run --matrix default --store results/reference/store.sqlite --no-leaderboard --executor $(EXECUTOR) \
	    --model-cache results/reference/models
	$(SUITE) leaderboard --store results/reference/store.sqlite --out results/reference --readme README.md

# The toy plug-in through validate-plugin, compare (smoke under Ray) and a submission onto the
# board, then the headless-Chromium screenshot results/reference/plugin-board.png (Debian's chromium).
TOY := tests/plugin_pkg/suite_toy_plugin/__init__.py:InverseDegreeExplainer
PB  := results/plugin-board
plugin-board: venv
	$(SUITE) validate-plugin $(TOY)
	$(SUITE) run --matrix smoke --root $(PB) --executor ray --no-progress --no-leaderboard
	$(SUITE) compare --explainer toy-inverse-degree --plugin $(TOY) --matrix smoke --root $(PB) \
	    --no-progress --quiet --out results/reference/compare-toy-inverse-degree.md
	$(SUITE) export --root $(PB) --format parquet --explainer toy-inverse-degree \
	    --plugin-ref "suite-toy-plugin==0.1.0 suite_toy_plugin:InverseDegreeExplainer" \
	    --out $(PB)/submission.parquet
	$(SUITE) leaderboard --root $(PB) --include $(PB)/submission.parquet --out $(PB)/board
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	    --disable-background-networking --disable-component-update --disable-sync \
	    --user-data-dir=$$(mktemp -d) --virtual-time-budget=5000 --window-size=1400,1000 \
	    --screenshot=$(abspath $(PB))/board.png file://$(abspath $(PB))/board/leaderboard.html
	$(PY) -c "from PIL import Image; Image.open('$(PB)/board.png').convert('RGB').quantize(colors=64).save('results/reference/plugin-board.png', optimize=True)"

clean:
	rm -rf $(VENV) datasets/cache results/cache results/store.sqlite results/leaderboard
