# The two commands a newcomer needs: `make demo` and `make test`. Everything else is set up by them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
DASHBOARD_SRC := $(shell find dashboard/src dashboard/scripts dashboard/index.html dashboard/package.json dashboard/package-lock.json dashboard/vite.config.ts dashboard/tsconfig*.json -type f 2>/dev/null)

.PHONY: install demo test test-fast lint dashboard browser agents bench model clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The SDK first: the project pins iops-detector-sdk, which is in this repo (sdk/), not on a registry.
$(STAMP): pyproject.toml sdk/pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e sdk
	$(BIN)/pip install -q -e ".[test,train]"
	touch $@

install: $(STAMP)

dashboard/dist/index.html: $(DASHBOARD_SRC)
	@if [ -f dashboard/package.json ]; then cd dashboard && npm ci --no-audit --no-fund && npm run build; fi

dashboard: dashboard/dist/index.html

# Debian's Chromium for the browser tests (Playwright's own browser download does not work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; }

# Debian's Prometheus and node exporter: real remote write clients for tests/local/test_prometheus_real.py.
agents:
	@command -v prometheus >/dev/null 2>&1 && command -v prometheus-node-exporter >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus prometheus-node-exporter; }

demo: install dashboard
	$(BIN)/iops local --demo --port $(PORT)

lint: install
	$(BIN)/ruff check .

test: install dashboard browser agents lint
	$(BIN)/pytest
	@if [ -f dashboard/package.json ]; then cd dashboard && npm test; fi

test-fast: install
	$(BIN)/pytest -m "not slow and not e2e"

model: install
	$(MAKE) corpus && $(BIN)/iops train generate --out build/ml-data/generated && $(BIN)/iops train local --data build/ml-data/generated --data ../shared/nab --data build/gencorpus --model-dir build/ml-model --ship

# Measurements, not tests: detector throughput + evaluation wall time, one AI batch, InfiniBand aggregation.
bench: install
	$(BIN)/python benchmarks/detector_throughput.py
	$(BIN)/python benchmarks/ai_batch.py
	$(BIN)/python benchmarks/ib_aggregation.py
	$(BIN)/python benchmarks/threshold_transfer.py

# A generated, labelled NAB-layout corpus unlike ../shared/nab (fixed seed): iops evaluate --corpus build/gencorpus
.PHONY: corpus
corpus: install
	$(BIN)/python -m detectors.gencorpus --out build/gencorpus

clean:
	rm -rf .iops-build dashboard/dist .pytest_cache
