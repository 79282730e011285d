# Two entry points for a fresh machine: `make book` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JB := $(BIN)/jupyter-book
# Notebooks executed by make are quiet (no progress bars) so their stored outputs stay clean.
export BOOK_PROGRESS := 0
export PYTHONWARNINGS := ignore::DeprecationWarning:jupyter_client
# Matplotlib caches its font list (with absolute paths into the venv) in its config folder. One per
# venv, built at install: a shared cache left by a deleted venv, or one built on the fly, makes the
# first figure of a notebook print font warnings to stderr, which fails nbval.
export MPLCONFIGDIR := $(CURDIR)/$(VENV)/mplconfig

CJK_FONT_FILE := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc

.PHONY: help install browser-deps book pdf test serial-checks lint unit notebooks notebooks-perturbed build-check browser execute stats mutants clean

help:
	@echo "make book     install into .venv and build the HTML book in _build/html, with its PDF"
	@echo "make pdf      the whole book as one PDF in _build/pdf/book.pdf"
	@echo "make test     install into .venv and run every test (lint, unit, notebooks under native and"
	@echo "              perturbed numerics, build, PDF, browser)"
	@echo "make execute  re-run every chapter in place, refreshing its stored outputs"
	@echo "              (NOTEBOOKS=chapters/02_weight_decay_scratch.ipynb for just one; the same"
	@echo "              works for make notebooks and make notebooks-perturbed)"
	@echo "make stats    print each chapter's reading load (visible words, code lines on the page)"
	@echo "make mutants  mutation testing (not in make test): each bug of tools/mutants.py against the unit tests"
	@echo "make clean    remove _build and caches (keeps .venv)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when requirements.txt changes; a second `make` installs nothing.
$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	# d2l 1.0.3 pins numpy 1.23.5 and matplotlib 3.7.2, which would downgrade (and break) our stack;
	# its d2l.torch module works with the versions above, so install it without dependencies.
	$(BIN)/python -m pip install --quiet --no-deps d2l==1.0.3
	$(BIN)/python -c "import matplotlib.font_manager"  # builds the font cache in $(MPLCONFIGDIR)
	touch $(STAMP)

# The browser test drives Debian's chromium through Playwright (Playwright's own browser download
# does not work offline). Install it from the distribution when missing and we are root, with a CJK
# font so that the glossary's Chinese terms render in screenshots.
browser-deps:
	@if ! command -v chromium >/dev/null || [ ! -f $(CJK_FONT_FILE) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; \
		elif ! command -v chromium >/dev/null; then \
			echo "Please install Chromium (Debian/Ubuntu: sudo apt-get install chromium fonts-wqy-zenhei)."; exit 1; \
		fi; \
	fi

install: $(STAMP)

# Every page's download menu links the whole-book PDF, so the HTML book comes with it.
book: install
	$(JB) build . --warningiserror --nitpick --keep-going
	$(MAKE) --no-print-directory pdf
	@echo "The book is in _build/html/index.html, its PDF in _build/pdf/book.pdf"

# The whole book as one PDF, offline, from the stored outputs (nothing runs): the single-page HTML
# build printed by Debian's chromium (tools/book_pdf.py says why not Jupyter Book's pdfhtml builder).
# A copy sits at the root of the HTML site, where every page's download menu links it.
pdf: install browser-deps
	$(JB) build . --builder singlehtml --warningiserror --nitpick --keep-going --quiet
	$(BIN)/python tools/book_pdf.py --site _build/singlehtml --out _build/pdf/book.pdf
	mkdir -p _build/html && cp _build/pdf/book.pdf _build/html/book.pdf

lint: install
	$(BIN)/ruff check .

unit: install
	$(BIN)/python -m pytest tests -q --ignore=tests/browser

# Long experiments run at the `smoke` preset here (seconds); `make execute` uses the automatic preset.
NBVAL := BOOK_PRESET=$(or $(BOOK_PRESET),smoke) $(BIN)/python -m pytest --nbval --nbval-current-env \
	--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider -q
notebooks: install
	$(NBVAL) $(or $(NOTEBOOKS),chapters)

# The numerics of another CPU, reproduced on this one: PyTorch's generic kernels instead of its
# AVX2/AVX-512 ones, one thread instead of several (another reduction order), and MKL and oneDNN held
# to older instruction sets. A stored output that changes under these is decided by rounding, not by
# the code, and would fail on a reader's machine: nbval must pass here too.
PERTURBED_NUMERICS := ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	MKL_ENABLE_INSTRUCTIONS=SSE4_2 ONEDNN_MAX_CPU_ISA=SSE41
# It runs copies of the chapters in their own folder, so that nothing a chapter writes (checkpoints,
# logs) is shared with the native run: both really compute, and `make test` runs them side by side.
PERTURBED_DIR := .nbval-perturbed
notebooks-perturbed: install
	rm -rf $(PERTURBED_DIR) && mkdir -p $(PERTURBED_DIR) && cp $(or $(NOTEBOOKS),chapters/*.ipynb) $(PERTURBED_DIR)/
	env $(PERTURBED_NUMERICS) $(NBVAL) $(PERTURBED_DIR)

build-check: install
	$(JB) build . --warningiserror --nitpick --keep-going --quiet

# Serves _build/html on 127.0.0.1 and checks every page in headless Chromium; screenshots land in
# _build/screenshots/. Also checks the PDF (tests/browser/test_pdf.py): needs `make pdf` first.
browser: install browser-deps
	$(BIN)/python -m pytest tests/browser -q

# The perturbed notebooks use one thread: they run beside the mostly single-threaded checks (each
# block of output printed in one piece), then the native notebooks run alone, with both cores.
test: install
	$(MAKE) --no-print-directory -j2 --output-sync=target notebooks-perturbed serial-checks
	$(MAKE) --no-print-directory notebooks

# In this order: the browser test needs the book that build-check builds and the PDF it links.
serial-checks: install
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory build-check
	$(MAKE) --no-print-directory pdf
	$(MAKE) --no-print-directory browser

execute: install
	$(BIN)/python tools/execute_notebooks.py $(or $(NOTEBOOKS),chapters/*.ipynb)

# Each chapter's reading load: visible prose words, code lines on the page, lines over 79 characters.
stats:
	python3 tools/chapter_stats.py $(NOTEBOOKS)
# Mutation testing, not part of `make test` (minutes): every realistic bug listed in tools/mutants.py is
# put into a temporary copy of the repository and its unit tests are run; prints the score and the
# survivors, and fails below 95 %. MUTANTS_ARGS passes options, e.g. "--jobs 1" or "--only NAME".
mutants: install
	$(BIN)/python tools/run_mutants.py $(MUTANTS_ARGS)

clean:
	rm -rf _build .nbval-perturbed .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
