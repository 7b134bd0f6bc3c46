"""The state engines a test can run on: each data folder's SQLite file, or a database of its own on
the session's PostgreSQL server (the same folder always gets the same database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.state.database import State
from bot.testing.postgres import PostgresCluster


class Backend:
    def __init__(self, cluster: PostgresCluster | None) -> None:
        self.cluster = cluster
        self._urls: dict[Path, str] = {}

    @property
    def name(self) -> str:
        return "sqlite" if self.cluster is None else "postgresql"

    def url(self, folder: Path) -> str:
        """ "" on SQLite (the folder's own file), else the folder's database on the cluster."""
        if self.cluster is None:
            return ""
        if folder not in self._urls:
            self._urls[folder] = self.cluster.new_database()
        return self._urls[folder]

    def open(self, folder: Path, **options: Any) -> State:
        return State(folder, url=self.url(folder), **options)
