# The two commands a fresh machine needs (see README):  make demo   and   make test
# Everything runs from a project virtual environment (.venv), created with the system's python3;
# nothing is ever installed into the system interpreter.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: setup demo test pictures
setup: $(VENV)/.setup-done

# Debian/Ubuntu ship venv and ensurepip in python3-venv; install it when `python3 -m venv` can't work
$(PY):
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { $(APT) update -qq && $(APT) install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.setup-done: pyproject.toml | $(PY)
	@command -v redis-server >/dev/null 2>&1 || { $(APT) update -qq && $(APT) install -y -qq redis-server; }
	@command -v chromium >/dev/null 2>&1 || { $(APT) update -qq && $(APT) install -y -qq chromium; }
	@command -v npm >/dev/null 2>&1 || { $(APT) update -qq && $(APT) install -y -qq npm; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	cd tools && npm install --silent --no-audit --no-fund  # buf, pinned exactly in tools/package.json
	@touch $@

demo: setup
	$(VENV)/bin/vidatlas demo --dir sample-atlas

test: setup
	$(PY) -m pytest -q

# the README's pictures, from the sample data (needs Chromium for the viewer screenshot)
pictures: setup
	$(PY) docs/pictures.py
