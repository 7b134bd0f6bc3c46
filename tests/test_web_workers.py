"""The independent check, as a test: two ``python -m bot web`` workers on different ports and data folders
with the same ``CHROMA_URL`` + ``DATABASE_URL``; questions and 👍/👎 through both (a vote through the
other worker than the one that answered); ``python -m bot stats --json`` from a third data folder
counts all of them; one worker killed, the other keeps answering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.ingest.indexing import STATE_DB
from bot.testing.chroma import CHROMA, ChromaServer
from bot.testing.ports import free_port
from bot.testing.postgres import PostgresCluster, seed_vector_cache
from tests.helpers.knowledge import REPO, KnowledgeBase, run_cli

pytestmark = pytest.mark.skipif(not CHROMA.exists(), reason="the chroma CLI is not installed in .venv")

QUESTIONS = ["结婚登记要带什么材料？", "低保怎么申请？", "火星移民补贴怎么领？"]


def post(base: str, path: str, body: dict[str, Any], client: str) -> dict[str, Any]:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Test-Client": client},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        out: dict[str, Any] = json.loads(response.read())
        return out


def start_web(knowledge: Path, data: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (data / "web.log").open("ab")
    command = [
        sys.executable,
        "-m",
        "bot",
        "web",
        "--port",
        str(port),
        "--knowledge",
        str(knowledge),
        "--data",
        str(data),
    ]
    return subprocess.Popen(
        command, cwd=REPO, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "web worker did not start"
        time.sleep(0.2)


def test_two_web_workers_one_truth(
    ingested: KnowledgeBase, knowledge_copy: Path, make_data_dir: Callable[..., Path], tmp_path: Path
) -> None:
    with PostgresCluster() as cluster:
        chroma = ChromaServer(tmp_path / "chroma-db").start()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            url = cluster.new_database()
            seed_vector_cache(ingested.data / STATE_DB, url)
            env = {"CHROMA_URL": chroma.url, "DATABASE_URL": url}
            done = run_cli(
                "ingest.py", "--knowledge", knowledge_copy, "--data", make_data_dir(), "--quiet", env=env
            )
            assert done.returncode == 0, done.stderr
            ports = [free_port(), free_port()]
            procs = [start_web(knowledge_copy, make_data_dir(), p, env) for p in ports]
            bases = [f"http://127.0.0.1:{p}" for p in ports]
            for base, proc in zip(bases, procs, strict=True):
                wait_healthy(base, proc)

            ids = []
            for n, question in enumerate(QUESTIONS * 2):  # six questions, three through each worker
                reply = post(bases[n % 2], "/api/ask", {"question": question}, f"resident-{n}")
                assert reply["answer_id"]
                ids.append(reply["answer_id"])
            # Votes through the *other* worker than the one that answered: two 👍, one 👎.
            for n, vote in ((0, "up"), (1, "up"), (2, "down")):
                result = post(
                    bases[(n + 1) % 2], "/api/feedback", {"answer_id": ids[n], "vote": vote}, f"resident-{n}"
                )
                assert result["status"] == "recorded", result

            stats = run_cli(
                "-m", "bot", "stats", "--json", "--data", tmp_path / "third", env={"DATABASE_URL": url}
            )
            assert stats.returncode == 0, stats.stderr
            counted = json.loads(stats.stdout)
            assert counted["questions"] == 6 and counted["up"] == 2 and counted["down"] == 1
            assert counted["by_channel"] == {"web": 6} and 2 <= counted["answered"] <= 6

            procs[0].kill()
            procs[0].wait(timeout=30)
            assert "身份证" in post(bases[1], "/api/ask", {"question": QUESTIONS[0]}, "late")["answer"]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=30)
            chroma.stop()
