# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make demo   - virtualenv, install, migrate a SQLite database in instance/, seed a demo province, serve
#   make test   - virtualenv, install the dev extra, ruff check and format --check, pytest (SQLite; PostgreSQL too with TEST_DATABASE_URL)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 5000
export FLASK_APP := survey_app

.PHONY: demo test lint serve bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/flask db upgrade
	$(BIN)/flask mscore seed-demo --if-empty
	$(BIN)/flask mscore update-rollup --days 400 >/dev/null
	@$(BIN)/flask mscore urls --port $(PORT)
	@$(BIN)/flask mscore demo-users --port $(PORT)
	$(BIN)/flask run --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
