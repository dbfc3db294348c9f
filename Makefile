# The README's two commands: `make demo` runs the whole system, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo up test lint audit lock bench schemas clean chaos

# requirements.lock pins every package (`make lock` writes it): a fresh machine installs what was audited and tested.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint requirements.lock -e '.[dev]'
	touch $(STAMP)

## demo: start embedded PostgreSQL + Kafka-protocol broker and all three services, post sample contacts
demo: $(STAMP)
	$(BIN)/crimerec up --demo

## up: start everything without sample contacts
up: $(STAMP)
	$(BIN)/crimerec up

## lint: ruff (with its security rules), import rules, mypy --strict over services/, crimerec/ and schemas/, and the
## dependency audit
lint: $(STAMP) audit
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## audit: known vulnerabilities in the locked dependencies (requirements.lock), from PyPI's advisory data. It reads
## each pinned release's advisories where PyPI serves them, else the project's latest release's (exact when the pin
## is the latest). Here (no per-release JSON, no OSV) a pin behind a newer release cannot be checked: it fails once a
## release it could take is 7 days old, so a vulnerability announced with its fix release can pass for up to a week;
## `crimerec audit-dependencies --strict` fails on every unchecked pin. A pin it cannot look up fails.
audit: $(STAMP)
	$(BIN)/crimerec audit-dependencies requirements.lock

## lock: write requirements.lock from the installed environment (after changing or upgrading a dependency:
## `.venv/bin/pip install --upgrade <name>`, then `make lock`)
lock: $(STAMP)
	$(BIN)/pip freeze --exclude-editable | LC_ALL=C sort --ignore-case > requirements.lock

## test: lint, then the whole suite on real PostgreSQL and a real Kafka-protocol broker
test: lint
	@# The console's browser tests drive Debian's Chromium through Playwright (its own download is not reachable).
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium) || \
	  { echo "make test: the console's browser tests need Chromium at /usr/bin/chromium and it could not be installed; run 'apt-get install -y chromium' as root, then make test again." >&2; exit 1; }
	$(BIN)/pytest --basetemp=$(CURDIR)/.pytest-tmp

## bench: performance figures (printed, never asserted)
bench: $(STAMP)
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/alerts.py
	$(BIN)/python bench/recorder.py
	$(BIN)/python bench/auditor.py
	$(BIN)/python bench/simulate.py
	$(BIN)/python bench/screening.py
	$(BIN)/python bench/console.py

## chaos: the whole stack under load while every process is SIGKILLed; exits 1 on any loss or duplicate
chaos: $(STAMP)
	$(BIN)/crimerec chaos --contacts 10000 --rate 40

## schemas: regenerate the committed JSON Schema and AsyncAPI files from the models
schemas: $(STAMP)
	$(BIN)/python -m schemas.generate

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
