# The README's two commands: `make demo` and `make test`. Both set up everything they need on a fresh
# Debian machine (system packages through apt when missing, the virtual environment, the database).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 8000
SANDBOX_PORT ?= 8765
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint bench audit lock mutation system-deps-test system-deps-gettext venv clean messages catalogues-check catalogues-compile

# Every package at the version of the lock file (requirements-dev.lock: the product's and the dev tools';
# the Dockerfile installs requirements.lock, the product's only). `make lock` refreshes both from pyproject.toml.
$(STAMP): pyproject.toml requirements-dev.lock
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint requirements-dev.lock -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# GNU gettext compiles the translation catalogues (both commands) and regenerates them (make messages).
system-deps-gettext:
	@command -v msgfmt >/dev/null 2>&1 || { echo "Installing system packages: gettext"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext; }

# PostgreSQL, Redis, Chromium and gettext for the suite, from apt when any is missing.
system-deps-test:
	@missing=""; \
	  command -v msgfmt >/dev/null 2>&1 || missing="$$missing gettext"; \
	  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	  command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	  test -x /usr/bin/chromium || missing="$$missing chromium"; \
	  if [ -n "$$missing" ]; then \
	    echo "Installing system packages:$$missing"; \
	    $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  fi

# Lint includes the catalogue check: a user-facing string without its Dutch and French fails here, first.
lint: system-deps-gettext $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py catalogues --check

# The Dutch and French catalogues: `make test` fails when one is stale or incomplete (catalogues-check says
# what to do: `make messages`, translate, commit the .po), and both commands compile them (.mo files are
# never committed).
catalogues-check: $(STAMP)
	$(BIN)/python manage.py catalogues --check

catalogues-compile: $(STAMP)
	$(BIN)/python manage.py catalogues --compile

# For developers: after marking or changing a user-facing string, regenerate the catalogues, translate.
messages: system-deps-gettext $(STAMP)
	$(BIN)/python manage.py catalogues --update
	$(BIN)/python manage.py catalogues --compile

test: system-deps-test $(STAMP) lint catalogues-compile
	$(BIN)/python -m tests.services -- $(BIN)/python -m pytest $(PYTEST_ARGS)

demo: system-deps-gettext $(STAMP) catalogues-compile
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py setup_periodic_tasks
	$(BIN)/python manage.py rundemo --host $(DEMO_HOST) --port $(DEMO_PORT) --sandbox-port $(SANDBOX_PORT)

bench: system-deps-test $(STAMP)
	$(BIN)/python -m tests.services -- $(BIN)/python -m bench

# Known vulnerabilities (PyPI's advisory database, through pip-audit) in every pinned package of both lock
# files. Needs the network, so it is not part of `make test`.
audit: $(STAMP)
	$(BIN)/pip-audit --requirement requirements.lock --requirement requirements-dev.lock --no-deps --disable-pip --strict --progress-spinner off

LOCK_OPTIONS := --quiet --strip-extras --no-emit-index-url --no-emit-find-links
lock: $(STAMP)
	$(BIN)/pip-compile $(LOCK_OPTIONS) --output-file requirements.lock pyproject.toml
	$(BIN)/pip-compile $(LOCK_OPTIONS) --extra dev --output-file requirements-dev.lock pyproject.toml

# Mutation testing of access, the log-in throttle, the engine's fingerprints and proof, the run claim and the
# export writers (bench/mutation.py; about half an hour on 2 quiet cores: not part of make test). Writes
# bench/results/mutation.md. Under nice: it is CPU-bound for long, and not a measurement.
mutation: system-deps-test $(STAMP)
	nice -n 19 $(BIN)/python -m tests.services -- $(BIN)/python -m bench.mutation

clean:
	rm -rf $(VENV) var
