# facevoice: `make demo` and `make test` each do the whole set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.facevoice-installed
TORCH  ?= torch==2.13.0
DEMO_OUT ?= demo_out
EXAMPLE ?= example
APP_ARGS ?=
PYTEST_ARGS ?=
# apt-get needs root: sudo when not already root
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install demo test lint format bench clean app browser screenshots

# torch goes in first and pinned: any other torch requirement would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/facevoice demo --out $(DEMO_OUT)

# The web app on the ready example (a run + face and voice indexes built once from ../shared/data;
# later calls reuse them): http://127.0.0.1:7860. APP_ARGS="--port 8000" etc. go to `facevoice app`.
app: $(STAMP)
	$(BIN)/facevoice example --data ../shared/data --out $(EXAMPLE)
	$(BIN)/facevoice app $(EXAMPLE)/faces $(EXAMPLE)/voices $(APP_ARGS)

# The browser test drives Debian's Chromium through chromedriver (selenium): install both when missing.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver; }

# docs/app_*.png: the browser test run against the full example, saving its result pages.
screenshots: $(STAMP) browser
	$(BIN)/facevoice example --data ../shared/data --out $(EXAMPLE) --no-progress
	FACEVOICE_EXAMPLE=$(EXAMPLE) FACEVOICE_SCREENSHOTS=docs $(BIN)/python -m pytest -q tests/app/test_app_browser.py

# One BLAS/OpenMP thread per pytest worker: two workers on two cores, no oversubscription.
test: $(STAMP) browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --durations=15 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP)
	for b in benchmarks/*_bench.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) $(EXAMPLE) .pytest_cache .ruff_cache
