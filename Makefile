# Two commands do all the set-up on a fresh machine:
#   make run   - virtualenv, install, migrate, demo data, train, then serve web + worker + beat
#   make test  - virtualenv, install, lint, and the whole suite on PostgreSQL, Redis and a real worker

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# Tests run against the machine's PostgreSQL and Redis (override on the command line or in the environment).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/recsys
TEST_REDIS_URL ?= redis://127.0.0.1:6379/14
TEST_CACHE_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: install install-dev run dev serve test lint format bench-ncf bench-ingest bench-serve clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed-run $@

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

# Production-like local run: DEBUG off, a secret kept in var/, gunicorn + WhiteNoise, a real worker and beat.
run: install
	@mkdir -p var
	@test -s var/secret_key || $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key
	DEBUG=$${DEBUG:-0} SECRET_KEY=$${SECRET_KEY:-$$(cat var/secret_key)} $(BIN)/python manage.py migrate --no-input
	DEBUG=$${DEBUG:-0} SECRET_KEY=$${SECRET_KEY:-$$(cat var/secret_key)} $(BIN)/python manage.py collectstatic --no-input -v 0
	DEBUG=$${DEBUG:-0} SECRET_KEY=$${SECRET_KEY:-$$(cat var/secret_key)} WEB_HOST=$(HOST) WEB_PORT=$(PORT) \
		$(BIN)/python manage.py demo --url http://$(HOST):$(PORT)/
	DEBUG=$${DEBUG:-0} SECRET_KEY=$${SECRET_KEY:-$$(cat var/secret_key)} WEB_HOST=$(HOST) WEB_PORT=$(PORT) \
		ALLOWED_HOSTS=$${ALLOWED_HOSTS:-localhost,127.0.0.1,$(HOST)} PATH=$(CURDIR)/$(BIN):$$PATH \
		$(BIN)/honcho start -e /dev/null -f Procfile

# Autoreloading development server (DEBUG on) with the same worker and beat.
dev: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py demo --url http://$(HOST):$(PORT)/
	WEB_HOST=$(HOST) WEB_PORT=$(PORT) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho start -e /dev/null -f Procfile.dev

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Debian's chromium for the browser tests (skipped with SKIP_BROWSER_TESTS=1, e.g. without root or apt).
browser:
	@test "$${SKIP_BROWSER_TESTS:-0}" = 1 || command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests..."; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }

test: install-dev lint browser
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CACHE_URL=$(TEST_CACHE_URL) \
		DEBUG=0 SECRET_KEY=test-only-secret-key-that-is-long-enough-for-hs256 MAX_UPLOAD_BYTES=$${MAX_UPLOAD_BYTES:-52428800} \
		$(BIN)/pytest $(PYTEST_ARGS)

bench-ncf: install-dev
	$(BIN)/python bench/ncf_ml1m.py

bench-ingest: install-dev
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)_bench} $(BIN)/python bench/ingest.py

bench-serve: install-dev
	$(BIN)/python bench/serve.py

clean:
	rm -rf var .pytest_cache .ruff_cache
