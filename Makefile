# Two commands do all the set-up on a fresh machine (Python 3.11+, Node/npm and Java are on it):
#   make dev    the whole stack on this machine (ticketflow dev on the embedded AWS emulator)
#   make test   lint (ruff, mypy, dependency audit), then every test suite (unit, integration, e2e, infra; integration again on DynamoDB Local)
# Both create .venv and install the pinned dependencies on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
ARGS ?=
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION = 20
export CDK_DISABLE_VERSION_CHECK = 1

.PHONY: setup browser dev test lint unit synth bench load load-peer events clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

# The e2e survey test drives Debian's chromium (and needs a CJK font to render Chinese).
# Installed once, as root or through sudo; about 15 s on a fresh machine.
browser:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends chromium fonts-wqy-microhei >/dev/null; }

dev: $(STAMP)
	$(BIN)/ticketflow dev $(ARGS)

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check --quiet .
	$(BIN)/mypy
	$(BIN)/python -m infra.dependency_audit  # known vulnerabilities in what we pin (PyPI's advisory data)
	$(BIN)/pytest -n 2  # two workers: the CI machine has 2 cores
	$(BIN)/pytest -n 2 tests/integration --dynamodb=local -q  # again, every table in AWS's DynamoDB Local

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

synth: $(STAMP)
	CDK_OUTDIR=cdk.out $(BIN)/python -m infra.app

bench: $(STAMP)
	$(BIN)/python bench/startup.py
	$(BIN)/python -W ignore bench/aws_requests.py
	$(BIN)/python bench/survey_page.py
	$(BIN)/python -W ignore bench/reports.py

# The load test's long form: 5,000 tickets from 20 channels against `ticketflow dev` (~20 min on
# 2 cores; e.g. ARGS="--tickets 1000 --sweep-every 3600"). make test runs its short form.
load: $(STAMP)
	$(BIN)/python bench/load.py $(ARGS)

# The same tickets through django-helpdesk 2.6.1, in its own venv under .cache/peers/.
load-peer: $(STAMP)
	bash bench/peers/django_helpdesk/install.sh
	$(BIN)/python bench/load.py --peer django-helpdesk $(ARGS)

events: $(STAMP)
	$(BIN)/python events/generate.py

clean:
	rm -rf $(VENV) cdk.out .cache .pytest_cache .ruff_cache .mypy_cache
