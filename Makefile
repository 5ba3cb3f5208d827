# Everything a fresh machine needs is installed from here: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
# sam build needs a real python3.12 matching the Lambda runtime; pyenv's shim alone is not enough.
PY312 ?= $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.12*/bin/python3.12) $(shell command -v python3.12))
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
# The venv's bin holds python3.12, which sam build looks for on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv demo test unit integration e2e bench lint clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PY312)" || { echo "Python 3.12 not found: install it (pyenv install 3.12) or set PY312=/path/to/python3.12"; exit 1; }
	test -x $(PYTHON) || $(PY312) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/mlpipe run data/titanic.csv --out out/demo

test: venv
	$(PYTHON) -m pytest

unit: venv
	$(PYTHON) -m pytest tests/unit

integration: venv
	$(PYTHON) -m pytest tests/integration

e2e: venv
	$(PYTHON) -m pytest tests/e2e

lint: venv
	sam validate --lint
	$(VENV)/bin/cfn-lint template.yaml

bench: venv
	$(PYTHON) bench/bench_chain.py

clean:
	rm -rf $(VENV) .aws-sam out
