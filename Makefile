# Two commands do all set-up on a fresh machine:
#   make demo   -> the main job: `switchvae demo` on the embedded synthetic shape set
#   make test   -> lint, format check and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= demo_run

.PHONY: install demo test lint bench clean

$(BIN)/switchvae: pyproject.toml requirements/cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/cpu.txt -e ".[dev]"
	touch $@

install: $(BIN)/switchvae

demo: install
	$(BIN)/switchvae demo --out $(DEMO_OUT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bench_prepare.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
