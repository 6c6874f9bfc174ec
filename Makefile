# The front door: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# The host, the HTTP API host and every built-in plugin, each its own distribution.
DISTS   = . $(patsubst %/pyproject.toml,%,$(wildcard http/pyproject.toml plugins/*/pyproject.toml))
STAMP   = $(VENV)/.installed
# Commands the tests drive (real senders and engines), and the Debian packages that bring them.
SYSTEM_TOOLS = logger:bsdutils dockerd:docker.io busybox:busybox-static
# Azurite (the Azure Blob engine of the azure plugin's tests), from npm, inside the venv.
AZURITE = $(VENV)/azurite/node_modules/.bin/azurite-blob

.PHONY: install run test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml $(wildcard http/pyproject.toml plugins/*/pyproject.toml)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "wazuhd needs Python >= 3.11")'
	@missing=""; for pair in $(SYSTEM_TOOLS); do command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq $$missing; \
	  else echo "note: tests that need$$missing will be skipped (install them to run those tests)"; fi; fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools
	$(BIN)/python -m pip install --quiet $(foreach d,$(DISTS),-e '$(d)[test]')
	@if command -v npm >/dev/null; then npm install --silent --no-audit --no-fund --prefix $(VENV)/azurite azurite@3 >/dev/null \
	  || echo "note: npm could not install azurite: the Azure Blob tests will be skipped"; \
	else echo "note: no npm: the Azure Blob tests (Azurite) will be skipped"; fi
	touch $(STAMP)

run: install
	$(BIN)/wazuhd start

# Most tests wait on real processes (daemons, engines), so a few more workers than cores
# pay off; each test file stays on one worker (its module-scoped engines start once).
TEST_WORKERS ?= 3

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var
