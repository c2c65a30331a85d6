# The two commands: `make run` and `make test`. Both call `make setup`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SERVICES = eval "$$($(PY) bin/services.py)"

.PHONY: setup run test lint format services bench clean

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c requirements.lock -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

run: setup
	@$(SERVICES) && \
	$(PY) manage.py migrate --noinput -v0 && \
	$(PY) manage.py seed_demo && \
	$(PY) manage.py collectstatic --noinput -v0 && \
	echo "" && echo "  Open http://127.0.0.1:8000 and log in with a demo login above." && \
	echo "  Mail goes to .data/mail/ (one .eml file per message) unless EMAIL_HOST is set." && \
	echo "  Ctrl-C stops web, worker and beat." && echo "" && \
	exec $(VENV)/bin/honcho -f Procfile.dev start

test: setup
	@$(SERVICES) && \
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && \
	$(PY) manage.py makemigrations --check --dry-run && \
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) staticfiles .data
