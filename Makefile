# The two commands a fresh machine needs (see README):  make demo   and   make test
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo test pictures
setup: .setup-done

.setup-done: pyproject.toml
	@command -v redis-server >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }
	$(PYTHON) -m pip install -q -e '.[test]'
	@touch $@

demo: setup
	$(PYTHON) -m service.cli demo --dir sample-atlas

test: setup
	$(PYTHON) -m pytest -q

# the README's pictures, from the sample data (needs Chromium for the viewer screenshot)
pictures: setup
	$(PYTHON) docs/pictures.py
