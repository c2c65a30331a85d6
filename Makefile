# The two commands: `make run` and `make test`. Both call `make setup`.
#   make run                 PORT=8001 make run   (web port, default 8000)
#   make test                make test PYTEST_ARGS="tests/core -k healthz"
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
PYTEST_ARGS ?=
export SITE_URL ?= http://127.0.0.1:$(PORT)

# Find PostgreSQL and Redis (see bin/services.py: DATABASE_URL/REDIS_URL, else the
# local servers, else embedded ones under .data/), export their URLs, and stop on
# exit only the embedded servers that this command itself started.
SERVICES = env_lines=$$($(PY) bin/services.py) && eval "$$env_lines" && \
	trap '[ -z "$$IOP_EMBEDDED_STARTED" ] || $(PY) bin/services.py stop $$IOP_EMBEDDED_STARTED' EXIT

.PHONY: setup run test lint format services services-stop demo-code clean

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c requirements.lock -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

run: setup
	@if (exec 3<>/dev/tcp/127.0.0.1/$(PORT)) 2>/dev/null; then \
	  echo "Port $(PORT) is already in use: try 'make run PORT=8001'." >&2; exit 1; fi
	@$(SERVICES) && \
	$(PY) manage.py migrate --noinput -v0 && \
	$(PY) manage.py seed_demo && \
	$(PY) manage.py collectstatic --noinput -v0 && \
	echo "" && echo "  Open http://127.0.0.1:$(PORT) and log in with a demo login above." && \
	echo "  Two-factor code for the clinic logins: make demo-code (in another terminal)." && \
	echo "  Mail goes to .data/mail/ (one .eml file per message) unless EMAIL_HOST is set." && \
	echo "  Ctrl-C stops web, worker and beat." && echo "" && \
	$(VENV)/bin/honcho -f Procfile.dev start -p $(PORT) || [ $$? -eq 130 ]

CHECKS = $(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && \
	$(PY) manage.py makemigrations --check --dry-run

# The whole suite also checks lint, format and migrations; with PYTEST_ARGS (one
# file, one -k expression) only pytest runs.
test: setup
	@$(SERVICES) && \
	$(if $(PYTEST_ARGS),true,$(CHECKS)) && \
	{ $(VENV)/bin/pytest $(PYTEST_ARGS); rc=$$?; \
	  [ $$rc -ne 5 ] || echo "pytest collected no test: check PYTEST_ARGS" >&2; \
	  exit $$rc; }

# Start the databases (embedded ones stay running until `make services-stop`).
services: setup
	@$(PY) bin/services.py && $(PY) bin/services.py status

services-stop: setup
	@$(PY) bin/services.py stop

# The demo accounts' current two-factor code (their shared secret is printed by
# seed_demo).
demo-code: setup
	@$(PY) manage.py demo_totp_code

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean:
	-test -x $(PY) && $(PY) bin/services.py stop
	rm -rf $(VENV) staticfiles .data
