# The two commands a newcomer needs: `make demo` and `make test`. Both bootstrap .venv.
PY := $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
PG_DEFAULT := postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: demo test lint bench clean-instance sandbox

# The grader runs trainee code under bubblewrap; install it from Debian when missing (as root).
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null; }; \
	  else echo "warning: bubblewrap (bwrap) is missing: install it to grade untrusted code"; fi; }

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP) sandbox
	$(VENV)/bin/safetrain demo

# PostgreSQL tests use $$SAFETRAIN_TEST_PG_URL; when unset and a local server answers, the
# default URL is used, so on these machines `make test` covers both databases.
test: $(STAMP) sandbox
	$(VENV)/bin/ruff check .
	@if [ -z "$$SAFETRAIN_TEST_PG_URL" ] && command -v pg_isready >/dev/null \
	    && pg_isready -q -h 127.0.0.1 -p 5432; then \
	  export SAFETRAIN_TEST_PG_URL=$(PG_DEFAULT); fi; \
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP) sandbox
	$(VENV)/bin/python bench/roster_import.py
	$(VENV)/bin/python bench/grade_batch.py

clean-instance:
	rm -rf instance
