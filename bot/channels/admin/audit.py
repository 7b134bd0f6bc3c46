"""Who changed what in the console: one JSON line per action in ``<data>/admin/audit.jsonl``.

Logins (and failed ones), uploads, replacements, deletions and restores, edits of a file's
details, ingests, FAQ entries and standards. Staff names only: never a resident's data.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from bot.channels.admin.accounts import admin_dir

logger = logging.getLogger(__name__)

AUDIT_FILE = "audit.jsonl"
_lock = threading.Lock()


@dataclass(frozen=True)
class Entry:
    at: str  # local time, ISO
    user: str
    action: str  # "login" | "login_failed" | "logout" | "upload" | "replace" | "delete" | "restore" | ...
    target: str = ""  # the file, job or account it was about
    detail: str = ""


def record(data_dir: Path, user: str, action: str, target: str = "", detail: str = "") -> None:
    entry = Entry(datetime.now().astimezone().isoformat(timespec="seconds"), user, action, target, detail)
    line = json.dumps(asdict(entry), ensure_ascii=False) + "\n"
    path = admin_dir(data_dir) / AUDIT_FILE
    with _lock, path.open("a", encoding="utf-8") as f:
        f.write(line)
    logger.info("audit: %s %s %s", user, action, target)


def recent(data_dir: Path, limit: int = 200) -> list[Entry]:
    """The last ``limit`` entries, newest first."""
    path = admin_dir(data_dir) / AUDIT_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out: list[Entry] = []
    for line in reversed(lines[-limit:]):
        try:
            out.append(Entry(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return out
