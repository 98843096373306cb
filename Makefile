# The two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTEST_WORKERS ?= 2

.PHONY: demo test install install-dev bench check-deploy clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PIP) install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make demo: migrate, load demo data and run web + worker + beat + NCM simulators (Ctrl-C stops all).
demo: install
	$(PY) scripts/demo.py

## make test: the import layers (lint-imports), then the whole suite against real PostgreSQL and Redis.
test: install-dev
	@$(PY) scripts/check_services.py
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

## make bench: the sync and jobs benchmarks (prints figures; not part of the test suite).
bench: install-dev
	@$(PY) scripts/check_services.py
	$(PY) bench/sync_bench.py
	$(PY) bench/jobs_bench.py

check-deploy: install
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets;print(secrets.token_urlsafe(64))') \
	DJANGO_ALLOWED_HOSTS=portal.example.com \
	PORTAL_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet;print(Fernet.generate_key().decode())') \
	$(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf var staticfiles test-artifacts
