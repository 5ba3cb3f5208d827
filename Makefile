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

.PHONY: venv tools browser docker lambda-image sam-build local-invoke demo test unit integration e2e bench bench-scale lint images clean

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
# The two modules print each install still owed (target folder, requirements, stamp); pip runs here, into a fresh folder.
$(VENV)/.offline: $(VENV)/.installed $(wildcard layers/*/requirements.txt services/*/requirements.txt src/mlpipe/offline/images/*.txt) template.yaml
	{ $(PYTHON) -m mlpipe.offline.packages && $(PYTHON) -m mlpipe.offline.containers; } > $(VENV)/.offline-pending
	while IFS=$$'\t' read -r target requirements stamp; do \
	  [ -n "$$target" ] || continue; \
	  rm -rf "$$target" && \
	  $(PYTHON) -m pip install --quiet --no-warn-conflicts --target "$$target" -r "$$requirements" && \
	  printf '%s' "$$stamp" > "$$target/.requirements-sha256" || exit 1; \
	done < $(VENV)/.offline-pending
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

# Docker for `sam local invoke`: Debian's docker.io when the client or dockerd is missing; dockerd started in the
# background when no daemon answers (there is no systemd to start it). Log: /tmp/dockerd.log.
docker:
	scripts/docker-up.sh

# The image SAM runs python3.12 functions in, public.ecr.aws/lambda/python:3.12-x86_64: nothing to do when present;
# else pulled; where no registry answers, a look-alike built once (Debian's mirror, this Python 3.12, awslambdaric;
# cached in .cache/lambda-image) and reused. scripts/lambda-image/README.md says how it differs from the real one.
lambda-image: docker
	$(if $(PY312),PY312="$(PY312)") scripts/lambda-image/build.sh

# The functions' packages and layers as Lambda gets them, which `sam local invoke` runs.
SAM_SOURCES := $(shell find services layers datasets -type f -not -path '*/__pycache__/*' 2>/dev/null)
.aws-sam/build/template.yaml: template.yaml $(SAM_SOURCES) $(VENV)/.installed
	$(VENV)/bin/sam build --cached
	touch $@

sam-build: .aws-sam/build/template.yaml

# Every event in events/ through `sam local invoke` against an offline cloud (src/mlpipe/local_invoke.py).
local-invoke: venv lambda-image sam-build
	$(PYTHON) -m mlpipe.local_invoke

demo: venv
	$(VENV)/bin/mlpipe run data/titanic.csv --out out/demo

# The e2e tests include `sam local invoke` (tests/e2e/test_local_invoke.py): Docker, the image and sam build first.
test: venv tools lambda-image sam-build
	$(PYTHON) -m pytest

unit: venv
	$(PYTHON) -m pytest tests/unit

integration: venv
	$(PYTHON) -m pytest tests/integration

e2e: venv tools lambda-image sam-build
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
