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

# Tools that cannot share the main venv: the sagemaker SDK (image registry lookups, ~400 MB)
# and checkov (pins an old boto3). Each gets a venv of its own.
SAGEMAKER_VENV := .venv-sagemaker
CHECKOV_VENV := .venv-checkov

.PHONY: venv tools browser demo test unit integration e2e bench bench-scale lint images clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PY312)" || { echo "Python 3.12 not found: install it (pyenv install 3.12) or set PY312=/path/to/python3.12"; exit 1; }
	test -x $(PYTHON) || $(PY312) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	@# venvs made before xgboost left the main dependencies hold xgboost 1.7.4, whose files xgboost-cpu would overwrite
	$(PYTHON) -m pip uninstall --quiet --yes xgboost 2>/dev/null || true
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $@

# What the offline cloud runs, installed here and never at run time: each Lambda layer's requirements, as
# `sam build` installs them (src/mlpipe/offline/packages.py), and the packages of each SageMaker image the
# offline SageMaker offers (src/mlpipe/offline/images/*.txt: the container's own xgboost release).
$(VENV)/.offline: $(VENV)/.installed $(wildcard layers/*/requirements.txt services/*/requirements.txt src/mlpipe/offline/images/*.txt) template.yaml
	$(PYTHON) -m mlpipe.offline.packages
	$(PYTHON) -m mlpipe.offline.containers
	touch $@

$(SAGEMAKER_VENV)/.installed: requirements-sagemaker.txt
	test -x $(SAGEMAKER_VENV)/bin/python || $(PY312) -m venv $(SAGEMAKER_VENV)
	$(SAGEMAKER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAGEMAKER_VENV)/bin/python -m pip install --quiet -r requirements-sagemaker.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PY312) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

venv: $(VENV)/.installed $(VENV)/.offline

tools: $(SAGEMAKER_VENV)/.installed $(CHECKOV_VENV)/.installed browser

browser:
	scripts/install-chromium.sh

demo: venv
	$(VENV)/bin/mlpipe run data/titanic.csv --out out/demo

test: venv tools
	$(PYTHON) -m pytest

unit: venv
	$(PYTHON) -m pytest tests/unit

integration: venv
	$(PYTHON) -m pytest tests/integration

e2e: venv tools
	$(PYTHON) -m pytest tests/e2e

lint: venv tools
	sam validate --lint
	$(VENV)/bin/cfn-lint template.yaml
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --framework cloudformation -f template.yaml

# Regenerate the template's XGBoost image registry table from the sagemaker SDK.
images: tools
	$(SAGEMAKER_VENV)/bin/python scripts/xgboost_images.py --write template.yaml

# The floor of the benchmarks: pandas and xgboost alone (bench/floor-requirements.txt), outside the dev venv.
$(VENV)/bench-floor/.installed: bench/floor-requirements.txt $(VENV)/.installed
	rm -rf $(VENV)/bench-floor
	$(PYTHON) -m pip install --quiet --no-warn-conflicts --target $(VENV)/bench-floor -r bench/floor-requirements.txt
	touch $@

# BENCH_ARGS, e.g. BENCH_ARGS="--sizes 891 --repeat 5" or BENCH_ARGS="--before ../old-checkout"
bench: venv $(VENV)/bench-floor/.installed
	$(PYTHON) bench/bench_chain.py $(BENCH_ARGS)
	$(PYTHON) bench/bench_scale.py
	$(PYTHON) bench/titanic_features.py

# The large-file path alone: 1, 3 and 10 million rows through Processing and two instances (many minutes).
bench-scale: venv $(VENV)/bench-floor/.installed
	$(PYTHON) bench/bench_scale.py $(SCALE_ARGS)

clean:
	rm -rf $(VENV) $(SAGEMAKER_VENV) $(CHECKOV_VENV) .aws-sam out .mlpipe
