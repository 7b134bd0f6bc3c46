# Quick start: `make run` (chat with the bot) and `make test` (the whole test suite).
# Both create .venv in the repository and install the pinned dependencies first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
# Fonts the browser test draws the page with (Chinese text, the 👍/🔊 buttons), as a phone would.
WEB_FONTS := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
# A CJK font, for the OCR tests that render notices as scans (any of these will do).
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
# Debian's PostgreSQL server binaries (the tests start a throwaway cluster with initdb/pg_ctl) and nginx
# (the tests put it in front of two webhook workers); neither runs as a service for the tests.
POSTGRES := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb) /usr/lib/postgresql/15/bin/initdb)
NGINX := /usr/sbin/nginx
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint bench eval lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $(STAMP)

run: $(STAMP)  ## ingest if needed, then Telegram (TELEGRAM_BOT_TOKEN set) or a console chat
	$(PY) -m bot run

test: $(STAMP) $(CHROMIUM) $(WEB_FONTS) $(CJK_FONT) $(POSTGRES) $(NGINX)  ## lint, type-check and run every test (the web page and the staff console in headless Chromium, PostgreSQL and nginx too)
	$(PY) -m ruff check bot tests ingest.py bench
	$(PY) -m mypy bot
	$(PY) -m pytest -q

# Debian's Chromium for the browser test of the web page (Playwright drives it; no browser download).
$(CHROMIUM):
	test -x $@ || ( $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium )

# Debian's CJK and emoji fonts, so the browser test's screenshots show what a phone shows (no tofu).
$(WEB_FONTS):
	test -e $@ || ( $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk fonts-noto-color-emoji )
# Debian's WenQuanYi Micro Hei: the OCR tests draw Chinese notices with it, then read them back.
$(CJK_FONT):
	test -f $@ || ( $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei )

# Debian's PostgreSQL (the shared-state tests) and nginx (two workers behind a reverse proxy).
$(POSTGRES):
	test -x $@ || ( $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql )
$(NGINX):
	test -x $@ || ( $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx )

eval: $(STAMP)  ## answer quality on the shared evaluation sets, three retrieval variants side by side
	$(PY) -m bot eval ../shared/corpus/eval/dev.jsonl ../shared/corpus/eval/dev-hard.jsonl --compare

lock:  ## refresh requirements.lock from the current .venv
	{ head -3 requirements.lock; $(PY) -m pip freeze | sed "s/^torch==2.13.0+cpu$$/torch==2.13.0/"; } > requirements.lock.new && mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) data
