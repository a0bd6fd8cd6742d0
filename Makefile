# The two commands of the README: `make demo` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
export OMP_NUM_THREADS ?= 2
export OPENBLAS_NUM_THREADS ?= 1
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install chromium demo test test-lib test-demo test-oscar lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

demo: install
	$(BIN)/python manage.py demo

test: install chromium
	$(MAKE) test-lib test-demo test-oscar

test-lib:
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

test-demo:
	$(BIN)/python -m pytest demo_shop/tests --ds=demo_shop.settings $(PYTEST_ARGS)

# The integration in a real django-oscar shop (tests/oscar/: Oscar's settings + the six steps).
test-oscar:
	$(BIN)/python -m pytest tests/oscar --ds=tests.oscar.settings -W ignore::DeprecationWarning $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check cart_recommender demo_shop tests benchmarks

clean:
	rm -rf var build dist *.egg-info
