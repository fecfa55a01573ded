# qabot — the two commands a new user needs are `make serve` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install serve ask test test-fast lint format bench browser clean

install: $(STAMP)

# torch is pinned to the CPU wheel in pyproject.toml; installed first so that nothing
# else can pull a multi-GB CUDA build as a dependency.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[all,ray,dev]"
	touch $(STAMP)

## Main job: build the index if needed and serve the chat on the shipped corpus.
serve: install
	$(BIN)/qabot serve

ask: install
	$(BIN)/qabot ask "$(Q)"

## Debian's Chromium for the real-browser tests (never a downloaded browser build).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## The whole test suite, with the real model and a real browser.
test: install browser
	$(BIN)/ruff check src tests bench training
	$(BIN)/pytest

## The unit tests alone, in under a minute: no real model, server, process or browser
## (tests marked slow or browser; tests/conftest.py marks and checks them).
test-fast: install
	$(BIN)/pytest -m "not slow and not browser"

lint:
	$(BIN)/ruff check src tests bench training
	$(BIN)/ruff format --check src tests bench training

format:
	$(BIN)/ruff format src tests bench training
	$(BIN)/ruff check --fix src tests bench training

bench: install
	$(BIN)/python -m bench.speed

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
