# Two commands do all set-up: `make demo` and `make test` (both install first).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" ./examples/demo.sh

test: install lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# Style and the direction of imports (pyproject.toml: [tool.ruff], [tool.importlinter]).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .lake build *.egg-info .pytest_cache
