# The two commands a newcomer needs: `make demo` and `make test`. Everything installs into .venv/.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
KB    := $(VENV)/bin/kb
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=true SCARF_NO_ANALYTICS=true \
       UNSTRUCTURED_DISABLE_NOTICE=1 RAY_USAGE_STATS_ENABLED=0 TOKENIZERS_PARALLELISM=false
DEMO_HOME ?= .kb

.PHONY: install lock demo test test-unit test-fast eval-gate bench serve lint clean

install:
	@bash scripts/install.sh

# Rewrite constraints.txt from .venv/ (after changing pyproject.toml's dependencies).
lock: install
	bash scripts/lock.sh

# Install, ingest the bundled bilingual sample knowledge base, and ask it questions.
demo: install
	KB_HOME=$(DEMO_HOME) $(KB) ingest examples/acme --kb acme
	KB_HOME=$(DEMO_HOME) $(KB) status --kb acme
	KB_HOME=$(DEMO_HOME) $(KB) ask --kb acme "How long do I have to return an item?"
	KB_HOME=$(DEMO_HOME) $(KB) ask --kb acme "退货运费由谁承担？"
	KB_HOME=$(DEMO_HOME) $(KB) ask --kb acme "What is the capital of Mongolia?"
	@echo; echo "Next: 'KB_HOME=$(DEMO_HOME) $(KB) serve --kb acme' and open http://127.0.0.1:8000/"

# The whole suite (unit + integration with the real packaged models, real uvicorn, headless
# Chromium), then the quality gate on ../shared/data. This is what CI runs.
test: install
	$(VENV)/bin/pytest -q -p no:cacheprovider --timeout=900
	bash scripts/eval_gate.sh

test-fast: install
	$(VENV)/bin/pytest -q -m "not integration and not slow" --timeout=300

eval-gate: install
	bash scripts/eval_gate.sh

bench: install
	OPENBLAS_NUM_THREADS=1 $(PY) bench/ingest.py
	OPENBLAS_NUM_THREADS=1 $(PY) bench/query.py
	OPENBLAS_NUM_THREADS=1 $(PY) bench/serve.py
	OPENBLAS_NUM_THREADS=1 $(PY) bench/reindex.py

serve: install
	KB_HOME=$(DEMO_HOME) $(KB) serve --kb acme

lint:
	$(VENV)/bin/ruff check kb indexes ingest rag eval bench tests scripts
	$(VENV)/bin/mypy kb indexes ingest rag eval tests

clean:
	rm -rf $(VENV) .kb test-artifacts bench/results .pytest_cache
