"""Headless Chromium for the browser tests (the web page, the staff console): Debian's browser driven by
Playwright, no browser download. A missing piece fails the test with what to install, not a skip."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000

# Not skipped when missing: this test belongs in CI, so a missing piece is a failure that says what to do.
try:
    from playwright import sync_api  # noqa: F401  (re-exported to the browser tests)
except ImportError:  # pragma: no cover
    pytest.fail(
        "Playwright is missing: pip install -r requirements.lock (no browser download needed)", pytrace=False
    )
if not CHROMIUM.exists():  # pragma: no cover - `make test` installs it
    pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does this)", pytrace=False)
if not CJK_FONT.exists():  # pragma: no cover - `make test` installs it
    pytest.fail(f"{CJK_FONT} is missing: apt-get install fonts-noto-cjk (make test does this)", pytrace=False)
