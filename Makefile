# Self-Supervised Learning, Executed: `make book`, `make test`, `make lab`.
# Each target creates .venv when missing and installs the project with the exact versions
# pinned in .ci/constraints.txt; a second run finds everything in place and stays quiet.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB     := $(BIN)/jb build . --builder html
# Progress bars are for people at a terminal; builds and tests keep their output clean.
export SSLIB_PROGRESS ?= 0
# Chapters run two at a time (each kernel uses one thread: sslib.config.set_threads).
JOBS   ?= 2
# Kernels that run chapters for tests and builds are offline: IPython's startup file in
# .ci/ipython calls sslib.offline.forbid_network, so a quick-budget download fails loudly.
OFFLINE := IPYTHONDIR=$(CURDIR)/.ci/ipython SSLIB_OFFLINE=1

.PHONY: install test unit notebooks lint book book-ci check-html check-lab check-fresh lab clean

install: $(STAMP)

$(STAMP): pyproject.toml .ci/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "the book needs Python 3.11 or later: make PYTHON=python3.11 ..."; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing sslib and its tools into $(VENV) (first run: a few minutes)"
	@$(BIN)/python -m pip uninstall -q -y sslib 2>/dev/null || true  # the name before ssl-executed
	@$(BIN)/python -m pip install -q --disable-pip-version-check -c .ci/constraints.txt -e ".[all]"
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check sslib tests
	$(BIN)/ruff format --check sslib tests

unit: $(STAMP)
	$(BIN)/pytest tests

notebooks: $(STAMP)
	$(OFFLINE) $(BIN)/pytest -n $(JOBS) --dist loadfile --nbval-lax --nbval-current-env book/

# The test command of the README: lint, unit tests, then every chapter under nbval.
test: lint unit notebooks

# Chapters execute $(JOBS) at a time into the build's jupyter-cache (jb itself runs them one
# after another); jb then renders them from the cache. A failing chapter stops the build there.
EXECUTE := $(BIN)/python .ci/execute_book.py --jobs $(JOBS) book/*.ipynb

# Everyday build: notebooks execute once and are cached until they change.
book: $(STAMP)
	$(EXECUTE)
	$(JB)

# CI's build: every notebook executed afresh (the cache lives in _build), warnings are errors.
book-ci: $(STAMP)
	rm -rf _build
	$(OFFLINE) $(EXECUTE)  # an empty cache: every notebook runs afresh
	$(OFFLINE) $(JB) -W -n --keep-going

# The built pages in headless Chromium: math drawn, images load, no tracebacks.
check-html: $(STAMP)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	$(BIN)/python .ci/check_html.py --build-dir _build/html

# Each chapter through a JupyterLab server's contents API and kernels, offline; its glued
# numbers must equal the book build's (run after book-ci).
check-lab: $(STAMP)
	$(BIN)/python .ci/check_lab.py --build-dir _build --jobs $(JOBS)

# A reader's first cell in a fresh runtime, as Colab has it: the sdist and the wheel built from
# it; an empty venv with what Colab preinstalls (pinned) and the test harness; the chapters'
# install cell run exactly, installing the wheel instead of the release tag (.ci/fresh_runtime.py);
# then every chapter top to bottom at the quick budget, offline, importing only what it installed.
FRESH := _build/fresh
COLAB_PREINSTALLED := torch torchvision numpy scipy matplotlib scikit-learn pandas
# every chapter (about 9 minutes on two cores); FRESH_NOTEBOOKS="book/04_x.ipynb ..." narrows it
FRESH_NOTEBOOKS ?= book/
check-fresh: $(STAMP)
	rm -rf $(FRESH) && mkdir -p $(FRESH)
	$(BIN)/python -m build --outdir $(FRESH)/dist . >$(FRESH)/build.log 2>&1 \
	  || { cat $(FRESH)/build.log; exit 1; }
	$(BIN)/python -m venv $(FRESH)/venv
	# Colab's packages at the pinned versions: .venv's files, hard-linked (pip would write
	# about 6 GB of torch and CUDA libraries a second time; once that filled CI's disk)
	$(BIN)/python .ci/link_packages.py $(FRESH)/venv/bin/python $(COLAB_PREINSTALLED)
	$(FRESH)/venv/bin/python -m pip install -q -c .ci/constraints.txt \
	  ipykernel pytest pytest-xdist nbval
	PIP_CONSTRAINT=$(CURDIR)/.ci/constraints.txt \
	  SSLIB_INSTALL_FROM=file://$(CURDIR)/$$(ls $(FRESH)/dist/*.whl) \
	  $(FRESH)/venv/bin/python .ci/fresh_runtime.py book/*.ipynb
	$(OFFLINE) $(FRESH)/venv/bin/python -m pytest -p no:cacheprovider -n $(JOBS) --dist loadfile \
	  --nbval-lax --nbval-current-env $(FRESH_NOTEBOOKS)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=book $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf _build .pytest_cache
