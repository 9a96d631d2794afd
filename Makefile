# KetaTrial — `make run` (demo on a fresh machine) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint migrate venv worker beat messages clean

$(STAMP): requirements.txt requirements-dev.txt requirements-validation.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-validation.txt
	touch $(STAMP)

venv: $(STAMP)

# Demo: SQLite under var/, tasks in-process; serves http://127.0.0.1:8000
run: export DEBUG = 1
run: export UNBLINDED_USERNAMES ?= pharmacist,pharmacist2
run: $(STAMP)
	mkdir -p var
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py check --database default --fail-level ERROR
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

# Tests use DATABASE_URL / CELERY_BROKER_URL when set (CI: PostgreSQL and Redis), else SQLite.
# In parallel (pytest-xdist): one process per core, at most 4, each with its own test database;
# tests that share a module's fixture, the real Celery workers and the browser journeys each stay
# in one process (tests/conftest.py). `make test PYTEST_XDIST=` runs in one process.
PYTEST_XDIST ?= -n auto --maxprocesses=4 --dist loadgroup
test: $(STAMP)
	DEBUG=1 $(BIN)/python -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

migrate: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py migrate

worker: $(STAMP)
	$(BIN)/celery -A ketatrial worker --loglevel=INFO

beat: $(STAMP)
	$(BIN)/celery -A ketatrial beat --loglevel=INFO

messages: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py makemessages -l es -l en --ignore=.venv --ignore=var
	DEBUG=1 $(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var/ketatrial.sqlite3 staticfiles
