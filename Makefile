# Two commands do all the set-up: `make run` (the app on its built-in demo) and `make test`.
# Both create or refresh the local virtual environment .venv first, when its inputs changed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

run: $(STAMP)
	$(PY) -m streamlit run streamlit_app.py

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

# Interleaved timings with their spread, written to benchmarks/RESULTS.md with the date and machine.
lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) -m benchmarks --output benchmarks/RESULTS.md

$(STAMP): requirements.txt requirements-dev.txt tools/install_detectron2.py tools/detectron2-source.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) tools/install_detectron2.py
	touch $(STAMP)

clean:
	rm -rf $(VENV)
