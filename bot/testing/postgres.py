"""A throwaway PostgreSQL cluster for tests and benchmarks: Debian's binaries, ``initdb`` + ``pg_ctl``.

:class:`PostgresCluster` makes a cluster in a fresh temporary folder, starts it on a free port of
127.0.0.1 (trust authentication, nothing listening elsewhere), hands out empty databases
(:meth:`PostgresCluster.new_database`), can be stopped and started again mid-test (the "database
went away" case), and removes everything at :meth:`close`.

``initdb`` refuses to run as root: as root every server command runs as the ``postgres`` system
user (``runuser``) in a folder that user owns; as anyone else, as that user.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bot.testing.ports import free_port

PG_BIN_DIRS = tuple(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))


def pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that holds ``initdb``, if any."""
    for folder in PG_BIN_DIRS:
        if (folder / "initdb").exists():
            return folder
    return None


class PostgresCluster:
    """A private PostgreSQL server on 127.0.0.1; ``url`` is its ``postgres`` database."""

    def __init__(self) -> None:
        binaries = pg_bin()
        if binaries is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = binaries
        self.root = Path(tempfile.mkdtemp(prefix="bot-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "cluster"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")
        self._names = itertools.count(1)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()

    @property
    def user(self) -> str:
        return "postgres" if self._as else pwd.getpwuid(os.geteuid()).pw_name

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bin / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.root,
            timeout=120,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        self._wait()

    def stop(self) -> None:
        """Stop the server now (``-m fast``: open connections are cut, as when a database server goes away)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
                return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start")

    def new_database(self, prefix: str = "t") -> str:
        """A new, empty database; returns its URL."""
        import psycopg

        name = f"{prefix}{next(self._names)}_{os.getpid()}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def seed_vector_cache(index_db: Path, url: str) -> int:
    """Copy a local ingest's embedding cache (``<data>/index.sqlite``) into the database at ``url``,
    so an ingest into it needs no model call. Returns the number of vectors copied."""
    import sqlite3

    from sqlalchemy import insert

    from bot.state import schema

    with contextlib.closing(sqlite3.connect(index_db)) as local:
        rows = local.execute("SELECT key, value FROM embedding_cache").fetchall()
    with schema.engine(url, wal=False).begin() as conn:
        schema.create_ingest_tables(conn)
        conn.execute(insert(schema.embedding_cache), [{"key": k, "value": v} for k, v in rows])
    return len(rows)
