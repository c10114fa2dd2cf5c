# Two commands do all set-up: `make demo` and `make test` (both install first).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install browser demo test test-fast bench lint clean

install: $(STAMP) browser

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

# The web catalog's tests drive Debian's headless Chromium (never a browser download): as
# root, install it when it is missing; otherwise those tests skip (and fail under CI=true).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
		else \
			echo "note: /usr/bin/chromium is missing; the browser tests will skip (apt-get install chromium)"; \
		fi; \
	fi

# Bytecode: these machines set PYTHONDONTWRITEBYTECODE, so every process compiled the lake's
# own modules again (0.3 CPU-s of each command's start, in every test's child process and Ray
# worker). Python's default is back: __pycache__ beside the sources (ignored by git). A
# PYTHONPYCACHEPREFIX instead would compile the venv's packages again once (4 CPU-s).
BYTECODE = PYTHONDONTWRITEBYTECODE=

demo: install
	$(BYTECODE) PATH="$(CURDIR)/$(BIN):$$PATH" ./examples/demo.sh

# A crashed xdist worker ends the run: under --dist loadgroup its replacement was never
# given the dead worker's tests, and the run waited for them until CI stopped it.
test: install lint
	$(BYTECODE) $(BIN)/python -m pytest -n 2 --dist loadgroup --max-worker-restart=0

# Style and the direction of imports (pyproject.toml: [tool.ruff], [tool.importlinter]).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .lake build *.egg-info .pytest_cache
