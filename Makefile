# Every target creates .venv on first use, so a fresh machine needs only Python >= 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck format catalogs prebuilt lint-catalogs bench wheel-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/difficult-customers advise examples/states/mid_rant_phone.json --locale en
	$(BIN)/python examples/advise_examples.py --locale fr --only repeated_insults_after_warning
	$(BIN)/difficult-customers converse examples/conversations/escalation_phone.jsonl --locale pl --last

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests tools examples benchmarks
	$(BIN)/ruff format --check src tests tools examples benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src

format: $(STAMP)
	$(BIN)/ruff check --fix src tests tools examples benchmarks
	$(BIN)/ruff format src tests tools examples benchmarks

catalogs: $(STAMP)
	$(BIN)/python tools/catalogs.py update
	$(BIN)/python -m difficult_customers._prebuilt >/dev/null

# The built-in rules, catalogs and evaluators as the first advise() reads them, as generated
# modules (src/difficult_customers/_prebuilt.py); the wheel build makes its own. Stale ones
# are ignored, never used, and removed here, as are those of the old JSON layout.
prebuilt: $(STAMP)
	$(BIN)/python -m difficult_customers._prebuilt

lint-catalogs: $(STAMP)
	$(BIN)/python ../shared/tools/lint-catalogs --allow tools/lint-catalogs.allow locales/

bench: prebuilt
	$(BIN)/python benchmarks/bench_advise.py

wheel-check: $(STAMP)
	bash tools/wheel_check.sh

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -rf src/difficult_customers/_prebuilt
