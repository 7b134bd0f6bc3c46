"""Ingests started from the console: ``python -m bot ingest --json`` in a child process, one at a time.

The child is the same ingest ``ingest.py`` runs (same lock, same report), so the console never
holds the index open for writing and a crash of the ingest cannot take the console down. Its JSON
lines (progress per file read and per batch embedded, then the report or the error) update the
job that ``GET /admin/api/ingest/{id}`` shows. The served index flips when it is done; the
console's assistant follows within ``[store] reload_check_seconds``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.channels.admin import strings
from bot.config import Settings

logger = logging.getLogger(__name__)

KEEP_JOBS = 20  # finished jobs remembered
STDERR_TAIL = 2000  # characters of a failed child's stderr kept for the message


@dataclass
class Job:
    id: str
    user: str
    reason: str  # what started it ("ingest", "faq", …)
    state: str = "running"  # "running" | "done" | "failed"
    stage: str = "start"  # "start" | "read" | "embed" | "finish"
    done: int = 0
    total: int = 0
    path: str = ""  # the file being read
    report: dict[str, Any] = field(default_factory=dict)
    message: str = ""  # why it failed
    started: float = field(default_factory=time.time)
    finished: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "job": self.id,
            "state": self.state,
            "progress": {"stage": self.stage, "done": self.done, "total": self.total, "path": self.path},
            "report": self.report,
            "message": self.message,
            "user": self.user,
            "reason": self.reason,
            "started": self.started,
            "finished": self.finished or None,
        }


class Jobs:
    def __init__(
        self,
        settings: Settings,
        config: Path | None,
        on_done: Callable[[Job], None] | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.on_done = on_done
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "bot", "ingest", "--json"]
        cmd += ["--knowledge", str(self.settings.knowledge_dir), "--data", str(self.settings.data_dir)]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        return cmd

    def start(self, user: str, reason: str = "ingest") -> tuple[Job, bool]:
        """(the job, True) when a new ingest started; (the running one, False) when one already runs."""
        with self._lock:
            running = next((j for j in self._jobs.values() if j.state == "running"), None)
            if running is not None:
                return running, False
            job = Job(secrets.token_urlsafe(9), user, reason)
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.state != "running"]
            for old in sorted(finished, key=lambda j: j.started)[:-KEEP_JOBS]:
                del self._jobs[old.id]
        threading.Thread(target=self._run, args=(job,), name=f"ingest-{job.id}", daemon=True).start()
        return job, True

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def running(self) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs.values() if j.state == "running"), None)

    def wait(self, job_id: str, timeout: float) -> Job | None:
        """Block until the job is finished (for ``add an FAQ entry`` callers and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job is None or job.state != "running":
                return job
            time.sleep(0.1)
        return self.get(job_id)

    def _run(self, job: Job) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        repo = Path(__file__).resolve().parents[3]
        try:
            child = subprocess.Popen(
                self.command(),
                cwd=repo,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
        except OSError as exc:
            self._finish(job, "failed", strings.INGEST_START_FAILED.format(error=exc))
            return
        errors: list[str] = []
        drain = threading.Thread(target=lambda: errors.append(child.stderr.read() if child.stderr else ""))
        drain.start()
        assert child.stdout is not None
        for line in child.stdout:
            self._event(job, line)
        code = child.wait()
        drain.join()
        if job.state != "running":
            return
        if job.report and code in (0, 1):
            self._finish(job, "done")
        else:
            tail = "".join(errors)[-STDERR_TAIL:].strip()
            self._finish(job, "failed", job.message or strings.INGEST_CRASHED.format(code=code, detail=tail))

    def _event(self, job: Job, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            logger.warning("ingest child printed a line that is not JSON: %r", line[:200])
            return
        kind = event.get("event")
        with self._lock:
            if kind == "progress":
                job.stage = str(event.get("stage", ""))
                job.done = int(event.get("done", 0))
                job.total = int(event.get("total", 0))
                job.path = str(event.get("path", ""))
            elif kind == "report":
                job.report = dict(event.get("report") or {})
            elif kind == "error":
                job.message = str(event.get("message", ""))

    def _finish(self, job: Job, state: str, message: str = "") -> None:
        with self._lock:
            job.state = state
            job.stage = "finish"
            job.message = message or job.message
            job.finished = time.time()
        logger.info("ingest job %s %s %s", job.id, state, job.message)
        if self.on_done is not None:
            try:
                self.on_done(job)
            except Exception:
                logger.exception("after ingest job %s", job.id)
