# Two commands do everything on a fresh machine with Python 3.11 and make:
#   make demo   - virtualenv, install, migrate a SQLite database in instance/, seed a demo province, serve
#   make test   - virtualenv, install the dev extra, ruff check and format --check, pytest (SQLite; PostgreSQL too with TEST_DATABASE_URL)
# Both install the exact versions of requirements-dev.lock (hashes checked); `make lock` refreshes
# the lock files after a change to pyproject.toml, `make lock UPGRADE=1` moves every pin to the newest.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000
LOCK     := requirements.lock
DEV_LOCK := requirements-dev.lock
# One resolution for every platform, for Python 3.11 and later (requires-python), with hashes
COMPILE  := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
            --generate-hashes --quiet $(if $(UPGRADE),--upgrade)
# The address in the posters' QR codes: HOST, or this machine's first network address when the
# demo listens on every interface (HOST=0.0.0.0), so that a phone on the same network can open it
PUBLIC_HOST = $(if $(filter 0.0.0.0,$(HOST)),$(shell hostname -I 2>/dev/null | cut -d' ' -f1),$(HOST))
PUBLIC_BASE_URL ?= http://$(PUBLIC_HOST):$(PORT)
export FLASK_APP := survey_app

.PHONY: demo test lint serve bench clean lock

$(STAMP): pyproject.toml $(DEV_LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The dev lock first (runtime and dev extra), then the runtime lock within its pins, so that
# production runs the versions the tests passed with. Existing pins are kept unless UPGRADE=1.
lock: $(STAMP)
	$(COMPILE) --extra dev -o $(DEV_LOCK)
	$(COMPILE) --constraint $(DEV_LOCK) -o $(LOCK)

demo: export PUBLIC_BASE_URL := $(PUBLIC_BASE_URL)
demo: $(STAMP)
	$(BIN)/flask db upgrade
	$(BIN)/flask mscore seed-demo --if-empty
	$(BIN)/flask mscore update-rollup --days 400 >/dev/null
	@$(BIN)/flask mscore urls
	@$(BIN)/flask mscore demo-users
	$(BIN)/flask run --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
