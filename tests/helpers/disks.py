"""A data disk that fills up, for tests of what the bot does then.

* ``tmpfs(folder, size)``: mounts a tmpfs of ``size`` on ``folder`` when this machine lets us (root
  and ``mount``); yields whether it did, and unmounts it afterwards;
* ``room_for(folder)``: a tmpfs size that holds ``folder`` and a new index version beside it;
* ``fill(path)``: writes zeros to ``path`` until its file system is full;
* ``state_on_small_disk(folder)``: a channel :class:`~bot.state.database.State` opened while there is
  room (as a running bot's was), and ``make_full()``, which makes its database unwritable and says
  how — "tmpfs" (a 1 MB tmpfs filled up) or, where nothing can be mounted, "max_page_count" (SQLite
  then fails writes with the same SQLITE_FULL, "database or disk is full").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.state.database import State


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[bool]:
    folder.mkdir(parents=True, exist_ok=True)
    mounted = (
        os.geteuid() == 0
        and shutil.which("mount") is not None
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def room_for(folder: Path, versions: int = 3) -> str:
    """A tmpfs size for a copy of the data folder ``folder`` (its own files; the linked model stays
    outside) with room for ``versions`` index versions in all, so a re-ingest fits once the disk is
    no longer full, however large the index of the day has grown."""
    size = sum(
        (Path(root) / name).lstat().st_size for root, _dirs, files in os.walk(folder) for name in files
    )
    return f"{versions * size // (1 << 20) + 8}m"


def fill(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 512):  # big blocks, then the last few small ones
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


@contextlib.contextmanager
def state_on_small_disk(folder: Path, history_size: int = 5) -> Iterator[tuple[State, Callable[[], str]]]:
    with tmpfs(folder, "1m") as mounted:
        state = State(folder, history_size=history_size)

        def make_full() -> str:
            if mounted:
                fill(folder / "filler")
                return "tmpfs"
            pages = state._db.execute("PRAGMA page_count").fetchone()[0]
            state._db.execute(f"PRAGMA max_page_count = {pages}")
            for size in (200, 20, 1):  # use up the free room of the last pages, down to the smallest row
                with contextlib.suppress(sqlite3.OperationalError):
                    for _ in range(10_000):
                        state.record_answer(
                            user="f", chat_type="web", question="满" * size, answered=True, kind="x"
                        )
            return "max_page_count"

        try:
            yield state, make_full
        finally:
            state.close()
