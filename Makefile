# The two commands a newcomer needs: `make demo` and `make test`. Both bootstrap .venv.
PY := $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
PG_DEFAULT := postgresql+psycopg://postgres@127.0.0.1:5432/test
# Sandboxed kernels run as an unprivileged uid, which cannot read a Python under /root (mode
# 0700): their environment is built from an interpreter every user can run.
KERNEL_PY := $(firstword $(wildcard /usr/bin/python3.11 /usr/bin/python3) $(PY))
KERNEL_VENV := .venv-kernel
KERNEL_STAMP := $(KERNEL_VENV)/.installed

.PHONY: demo test lint bench clean-instance sandbox kernel-env docs chromium labextension hub-env screenshots

# The grader runs trainee code under bubblewrap; install it from Debian when missing (as root).
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null; }; \
	  else echo "warning: bubblewrap (bwrap) is missing: install it to grade untrusted code"; fi; }

# The JupyterLab browser test drives Debian's Chromium (never a browser download of its own);
# a CJK font makes its screenshots readable. Without them that test skips, saying why.
chromium:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; } || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium fonts-wqy-microhei >/dev/null; } || \
	    echo "warning: could not install chromium: the browser test will be skipped"; \
	  else echo "warning: chromium is missing: the browser test will be skipped"; fi; }

# The prebuilt JupyterLab extension is copied into the venv at install: reinstall when rebuilt.
$(STAMP): pyproject.toml setup.py jupyter_safetrain/labextension/package.json
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

# The kernel environment: same versions as .venv (its freeze is the constraint), readable by all.
$(KERNEL_STAMP): requirements-kernel.txt $(STAMP)
	@test -x $(KERNEL_VENV)/bin/python || $(KERNEL_PY) -m venv $(KERNEL_VENV) || { \
	  echo "error: cannot create $(KERNEL_VENV) with $(KERNEL_PY) (apt-get install python3-venv)"; exit 1; }
	@echo '*' > $(KERNEL_VENV)/.gitignore
	$(VENV)/bin/python -m pip freeze --exclude-editable | grep '==' > $(KERNEL_VENV)/constraints.txt
	$(KERNEL_VENV)/bin/python -m pip install --quiet -r requirements-kernel.txt -c $(KERNEL_VENV)/constraints.txt
	@chmod -R a+rX $(KERNEL_VENV)
	@touch $(KERNEL_STAMP)

kernel-env: $(KERNEL_STAMP)

demo: $(STAMP) $(KERNEL_STAMP) sandbox chromium
	$(VENV)/bin/safetrain demo

# PostgreSQL tests use $$SAFETRAIN_TEST_PG_URL; when unset and a local server answers, the
# default URL is used, so on these machines `make test` covers both databases.
test: $(STAMP) $(KERNEL_STAMP) sandbox chromium hub-env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	@if [ -z "$$SAFETRAIN_TEST_PG_URL" ] && command -v pg_isready >/dev/null \
	    && pg_isready -q -h 127.0.0.1 -p 5432; then \
	  export SAFETRAIN_TEST_PG_URL=$(PG_DEFAULT); fi; \
	$(VENV)/bin/python -m pytest

# ruff, then the import contracts in pyproject.toml ([tool.importlinter]: the layers).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: $(STAMP) $(KERNEL_STAMP) sandbox
	$(VENV)/bin/python bench/roster_import.py
	$(VENV)/bin/python bench/grade_batch.py
	$(VENV)/bin/python bench/reports.py

docs: $(STAMP)
	$(VENV)/bin/python -m scripts.cli_docs

clean-instance:
	rm -rf instance

# Rebuild the prebuilt JupyterLab extension from labextension/ (needs Node.js and npm; users
# and CI use the committed build in jupyter_safetrain/labextension/), then reinstall it.
labextension: $(STAMP)
	cd labextension && npm ci --no-audit --no-fund && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npm run build
	$(VENV)/bin/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# JupyterHub deployment (`safetrain hub`, docs/hub.md): its own environment under HUB_PREFIX,
# built from an interpreter every user can run (the machine's Python under /root is not),
# with SafeTrain installed as a copy (not editable: user servers must not need this checkout)
# and configurable-http-proxy from npm, pinned by jupyter_safetrain/hub/proxy/package-lock.json.
HUB_PREFIX ?= /opt/safetrain
HUB_ENV := $(HUB_PREFIX)/env
HUB_PROXY := $(HUB_PREFIX)/proxy
HUB_SOURCES := $(shell find records jupyter_safetrain autograder scripts writers demo -name '*.py' -o -name '*.json' -o -name '*.yml' -o -name '*.html' 2>/dev/null)

$(HUB_ENV)/.installed: $(STAMP) pyproject.toml Makefile $(HUB_SOURCES)
	@mkdir -p $(HUB_PREFIX) && chmod 755 $(HUB_PREFIX)
	@test -x $(HUB_ENV)/bin/python || $(KERNEL_PY) -m venv $(HUB_ENV) || { \
	  echo "error: cannot create $(HUB_ENV) with $(KERNEL_PY) (apt-get install python3-venv)"; exit 1; }
	@# The versions .venv is tested with, for the packages that matter here (a full freeze can
	@# name versions that need a newer 3.11 than Debian's).
	$(VENV)/bin/python -m pip freeze --exclude-editable | grep -iE \
	  '^(jupyterhub|jupyterlab|jupyterlab[-_]language[-_]pack[-_]zh[-_]cn|jupyter[-_]server|nbgrader|nbconvert|nbformat|ipykernel|jupyter[-_]client|sqlalchemy|alembic|pandas|numpy|tornado|traitlets|psycopg|psycopg[-_]binary|pydantic|pamela)==' \
	  > $(HUB_ENV)/constraints.txt
	$(HUB_ENV)/bin/python -m pip install --quiet --upgrade pip
	@# Installed from a copy of the work tree (tracked and new files), so nothing stale in an
	@# in-tree build/ folder ends up in the deployment.
	@rm -rf $(HUB_PREFIX)/.src && mkdir -p $(HUB_PREFIX)/.src
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  git ls-files -co --exclude-standard -z | xargs -0 tar cf - --ignore-failed-read 2>/dev/null | tar xf - -C $(HUB_PREFIX)/.src; \
	else cp -a . $(HUB_PREFIX)/.src; fi
	$(HUB_ENV)/bin/python -m pip install --quiet -c $(HUB_ENV)/constraints.txt $(HUB_PREFIX)/.src
	@rm -rf $(HUB_PREFIX)/.src
	@# Closed government networks: JupyterLab must not try to fetch Jupyter news. Trainees read
	@# Chinese: the zh-CN language pack (a dependency) is the default locale.
	@mkdir -p $(HUB_ENV)/share/jupyter/lab/settings
	@echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}, "@jupyterlab/translation-extension:plugin": {"locale": "zh_CN"}}' \
	  > $(HUB_ENV)/share/jupyter/lab/settings/overrides.json
	@chmod -R a+rX,go-w $(HUB_ENV)
	@touch $@

$(HUB_PROXY)/.installed: jupyter_safetrain/hub/proxy/package.json jupyter_safetrain/hub/proxy/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "error: npm is needed for configurable-http-proxy (apt-get install npm)"; exit 1; }
	@mkdir -p $(HUB_PROXY)
	cp jupyter_safetrain/hub/proxy/package.json jupyter_safetrain/hub/proxy/package-lock.json $(HUB_PROXY)/
	cd $(HUB_PROXY) && npm ci --omit=dev --no-audit --no-fund --loglevel=error
	@chmod -R a+rX,go-w $(HUB_PROXY)
	@touch $@

hub-env: $(HUB_ENV)/.installed $(HUB_PROXY)/.installed

# Pictures of the hub for docs/ (the end-to-end test takes them into a temporary folder).
screenshots: $(STAMP) $(KERNEL_STAMP) chromium hub-env
	SAFETRAIN_SCREENSHOTS=$(CURDIR)/docs $(VENV)/bin/python -m pytest -q tests/test_hub_e2e.py
