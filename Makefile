# Two commands on a fresh machine: `make demo` (search the digits CNN space) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPEC ?= search_spaces/digits_cnn.yaml

.PHONY: install demo test test-fast lint ui clean bench bench-strategies bench-pruning

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/autodl search $(SPEC)

# Two test processes: most of a trial's time is single-threaded (Keras tracing), so two at once
# use both cores of a CI machine. Tests sharing one module-level search carry an xdist_group mark.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=25

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check autodl tests bench
	$(BIN)/mypy

ui: $(STAMP)
	$(BIN)/autodl ui

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

# autodl's strategies against each other (README's "which strategy wins where"); about 20 minutes.
bench-strategies: $(STAMP)
	$(BIN)/python -m bench.search_efficiency --tools autodl,autodl_random,autodl_tpe,autodl_c2f

# The pruners compared at a new spec's default 20 trials (docs/pruning.md); about 14 minutes.
bench-pruning: $(STAMP)
	$(BIN)/python -m bench.pruning --trials 20

clean:
	rm -rf mlruns best_model .pytest_cache
