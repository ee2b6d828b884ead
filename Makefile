# The two commands: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
INSTANCE ?= instance

.PHONY: run test check bench lint browser clean demo

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "qzbg needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

$(INSTANCE)/secret_key:
	mkdir -p $(INSTANCE)
	chmod 700 $(INSTANCE)
	umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(48))' > $@

# The keyring's own directory, apart from the database and attachments (app/config.py default_keyring_path).
$(INSTANCE)/keys: | $(INSTANCE)/secret_key
	mkdir -p $@
	chmod 700 $@

# The web server and the notify worker (Procfile, through honcho); on a database with no administrator, one line
# `first administrator: <setup link>` once the server answers. Ctrl-C stops everything.
run: $(VENV)/.run-deps $(INSTANCE)/secret_key | $(INSTANCE)/keys
	$(FLASK) keys init
	$(FLASK) db upgrade
	exec $(BIN)/honcho start --no-prefix --no-colour -f Procfile

# A training deployment with synthetic data in instance-demo/ (never instance/): scripts/demo.py.
DEMO_INSTANCE ?= instance-demo

demo: $(VENV)/.run-deps
	$(BIN)/python scripts/demo.py --instance $(DEMO_INSTANCE)

browser:
	@sh scripts/ensure-browser.sh

# The mini-program's packages (jest, miniprogram-simulate: miniprogram/package-lock.json), installed with the
# machine's Node.js and npm when node_modules is missing or the lock changed; its tests run inside pytest.
MINIPROGRAM_DEPS := miniprogram/node_modules/.installed

$(MINIPROGRAM_DEPS): miniprogram/package-lock.json
	@command -v npm >/dev/null || { echo "qzbg's mini-program tests need Node.js 18+ and npm"; exit 1; }
	cd miniprogram && npm ci --no-audit --no-fund
	touch $@

# The whole suite, on both cores (pytest-xdist: each worker has its own SQLite and PostgreSQL databases and its
# own Redis database); the 25 slowest tests are printed at the end of every run.
TEST_WORKERS ?= auto
test: $(VENV)/.dev-deps browser $(MINIPROGRAM_DEPS)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal --durations=25

# The inner loop, before every commit: lint, types, import contracts, and the SQLite tests without the browser and
# without the slow ones (whole processes: make run, make demo, the bench, worker kills); make test runs them all.
check: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/mypy app
	$(BIN)/lint-imports
	QZBG_TEST_DATABASE_URL= $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal -m "not browser and not slow" -q --durations=10

bench: $(VENV)/.dev-deps
	$(BIN)/python -m bench.run

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/mypy app
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts miniprogram/node_modules
