# Quick start: `make run` (chat with the bot) and `make test` (the whole test suite).
# Both create .venv in the repository and install the pinned dependencies first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench eval lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $(STAMP)

run: $(STAMP)  ## ingest if needed, then Telegram (TELEGRAM_BOT_TOKEN set) or a console chat
	$(PY) -m bot run

test: $(STAMP)  ## lint, type-check and run every test
	$(PY) -m ruff check bot tests ingest.py
	$(PY) -m mypy bot
	$(PY) -m pytest -q

eval: $(STAMP)  ## answer quality on the shared evaluation sets, three retrieval variants side by side
	$(PY) -m bot eval ../shared/corpus/eval/dev.jsonl ../shared/corpus/eval/dev-hard.jsonl --compare

lock:  ## refresh requirements.lock from the current .venv
	$(PY) -m pip freeze | sed 's/^torch==2.13.0+cpu$$/torch==2.13.0/' > requirements.lock

clean:
	rm -rf $(VENV) data
