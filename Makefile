# LeadSync: `make run` serves the dashboard, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PO_FILES := $(wildcard dashboard/translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)
TEST_PACKAGES := dovecot-imapd chromium
PG_PACKAGES := postgresql postgresql-contrib
PG_BIN := /usr/lib/postgresql/15/bin

.PHONY: run test test-postgres postgres-server check lint typecheck format install install-test translations extract test-servers bench clean

run: install translations
	$(BIN)/python run.py

test: install-test translations test-servers
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The same suite on a real PostgreSQL (started by tests/support/servers/postgres.py).
test-postgres: install-test translations test-servers postgres-server
	LEADSYNC_TEST_DATABASE=postgres $(BIN)/python -m pytest $(PYTEST_ARGS)

check: lint typecheck test

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check dashboard

typecheck: install-test
	$(BIN)/mypy

format: install-test
	$(BIN)/ruff format dashboard tests bench run.py

# A fresh Debian has python3 without venv; as root we add it, otherwise we say what is missing.
$(VENV)/bin/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); \
	  else echo "Cannot create a virtualenv: install the Debian package python3-venv (sudo apt-get install python3-venv)"; exit 1; fi; }
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

translations: $(MO_FILES)

%.mo: %.po | $(VENV)/.installed
	$(BIN)/pybabel compile -i $< -o $@

# Refresh the catalogs after changing UI text: extract, then merge into every language.
extract: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o dashboard/translations/messages.pot .
	$(BIN)/pybabel update -N -i dashboard/translations/messages.pot -d dashboard/translations

# The tests use a real Dovecot and a real Chromium from Debian.
test-servers:
	@missing=""; \
	[ -x /usr/sbin/dovecot ] || missing="$$missing dovecot-imapd"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_PACKAGES); \
	  else echo "The tests need the Debian packages:$$missing (run: sudo apt-get install -y $(TEST_PACKAGES))"; exit 1; fi; \
	fi

# PostgreSQL from Debian (server, and contrib for unaccent and pg_trgm) for test-postgres.
postgres-server:
	@if [ ! -x $(PG_BIN)/postgres ] || [ ! -f /usr/share/postgresql/15/extension/pg_trgm.control ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PG_PACKAGES); \
	  else echo "make test-postgres needs the Debian packages $(PG_PACKAGES) (run: sudo apt-get install -y $(PG_PACKAGES))"; exit 1; fi; \
	fi

bench: install-test translations test-servers
	$(BIN)/python bench/sync_bench.py

clean:
	rm -rf $(VENV) $(MO_FILES)
