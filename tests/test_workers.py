"""Several workers, one truth: two ``python -m bot run`` webhook workers behind Debian's nginx, their state
in one PostgreSQL database and their index in one ``chroma run`` server.

* residents are answered through nginx by both workers, and ``/stats`` and ``/unanswered`` from
  either count everyone;
* one chat's messages, delivered to different workers, are answered in order (the chat's turn is an
  advisory lock in the database);
* a worker killed mid-run: nginx passes its requests to the other, residents keep getting answers;
* the database going away mid-run: residents still get answers (the state writes are skipped, the
  turn is the worker's own), ``/stats`` gets the polite apology, and everything works again once the
  database is back.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot import messages
from bot.ingest.indexing import STATE_DB
from bot.testing import nginx
from bot.testing.bot_api import Call, FakeBotAPI
from bot.testing.chroma import CHROMA, ChromaServer
from bot.testing.postgres import PostgresCluster, seed_vector_cache
from bot.testing.workers import WebhookWorkers
from tests.helpers.knowledge import KnowledgeBase, run_cli

pytestmark = [
    pytest.mark.skipif(not CHROMA.exists(), reason="the chroma CLI is not installed in .venv"),
    pytest.mark.skipif(not nginx.installed(), reason="nginx is not installed (make test installs it)"),
]

ADMIN = 900900900
MARRIAGE = "结婚登记要带什么材料？"
DIBAO = "低保怎么申请？"
MARS = "火星移民补贴怎么领？"
_update_ids = iter(range(1, 10**9))


@dataclasses.dataclass
class Deployment:
    api: FakeBotAPI
    workers: WebhookWorkers
    cluster: PostgresCluster

    def say(self, text: str, user: int, worker: int | None = None) -> None:
        update = {"update_id": next(_update_ids), "message": self.api.message(text, user_id=user)}
        assert self.workers.deliver(update, worker) == 200

    def answers_to(self, user: int, count: int = 1, timeout: float = 60.0) -> list[Call]:
        self.api.wait_for("sendMessage", lambda c: c.chat_id == user, count=count, timeout=timeout)
        return self.api.sent(user)


@pytest.fixture
def deployment(
    ingested: KnowledgeBase, knowledge_copy: Path, make_data_dir: Callable[..., Path], tmp_path: Path
) -> Iterator[Deployment]:
    """Index in a chroma server, state in a private PostgreSQL cluster, two workers behind nginx."""
    with PostgresCluster() as cluster, FakeBotAPI() as api:
        chroma = ChromaServer(tmp_path / "chroma-db").start()
        try:
            url = cluster.new_database()
            seed_vector_cache(ingested.data / STATE_DB, url)
            env = {"CHROMA_URL": chroma.url, "DATABASE_URL": url}
            done = run_cli(
                "ingest.py", "--knowledge", knowledge_copy, "--data", make_data_dir(), "--quiet", env=env
            )
            assert done.returncode == 0, done.stderr
            with WebhookWorkers(
                knowledge=knowledge_copy,
                data_dirs=[make_data_dir(), make_data_dir()],
                api_base=api.base_url,
                token=api.token,
                env=env,
                telegram={"admins": [ADMIN], "questions_per_minute": 100},
            ) as workers:
                workers.wait_ready()
                api.wait_for("setWebhook", count=2, timeout=60)
                yield Deployment(api, workers, cluster)
        finally:
            chroma.stop()


def test_two_workers_answer_in_order_share_stats_and_survive_one_dying(deployment: Deployment) -> None:
    d = deployment
    hooks = d.api.calls_of("setWebhook")
    assert all(c["url"] == d.workers.url() for c in hooks)  # both registered the nginx address

    # Residents through nginx: round-robin over both workers, everyone answered once.
    residents = list(range(777000001, 777000007))
    for r in residents:
        d.say(MARRIAGE, r)
    for r in residents:
        reply = d.answers_to(r)
        assert len(reply) == 1 and "身份证" in reply[0].text
    logs = [log.read_text(errors="replace") for log in d.workers.logs]
    assert all("Traceback" not in log for log in logs), logs

    # /stats from either worker counts every question.
    d.say("/stats", ADMIN, worker=0)
    first = d.answers_to(ADMIN)[-1]
    d.say("/stats", ADMIN, worker=1)
    second = d.answers_to(ADMIN, count=2)[-1]
    assert f"提问：{len(residents)} 次" in first.text and first.text == second.text

    # /unanswered from one worker lists what residents asked on both.
    d.say(MARS, 777000050, worker=0)
    d.say(MARS, 777000051, worker=1)
    d.answers_to(777000050), d.answers_to(777000051)
    d.say("/unanswered", ADMIN, worker=0)
    report = d.answers_to(ADMIN, count=3)[-1]
    assert f"2 次｜{MARS}" in report.text, report.text

    # One chat, two messages on two workers; the first answer is slow to send. The second waits its turn.
    chat = 777000100
    d.api.delay_next("sendMessage", 2.0)
    d.say(MARRIAGE, chat, worker=0)
    time.sleep(0.5)
    d.say(DIBAO, chat, worker=1)
    both = d.answers_to(chat, count=2)
    assert "身份证" in both[0].text and "低保" in both[1].text, [c.text[:40] for c in both]

    # A worker dies: nginx sends its share to the other one; nobody goes unanswered.
    d.workers.kill(0)
    later = list(range(777000201, 777000205))
    for r in later:
        d.say(DIBAO, r)
    for r in later:
        assert "低保" in d.answers_to(r)[0].text


def test_the_database_going_away_mid_run(deployment: Deployment) -> None:
    d = deployment
    d.say(MARRIAGE, 777000301)
    assert "身份证" in d.answers_to(777000301)[0].text

    d.cluster.stop()
    d.say(DIBAO, 777000302)  # the resident is still answered (without rating buttons: no answer id)
    reply = d.answers_to(777000302)[0]
    assert "低保" in reply.text
    d.say("/stats", ADMIN)
    apology = messages.ERROR_APOLOGY.split("{")[0][:10]
    assert apology in d.answers_to(ADMIN)[-1].text  # staff: the polite apology, no traceback

    d.cluster.start()
    deadline = time.monotonic() + 30
    while True:  # the pool notices the restarted server (pre-ping) and reconnects
        asked = len(d.api.sent(ADMIN))
        d.say("/stats", ADMIN)
        stats = d.answers_to(ADMIN, count=asked + 1)[-1]
        if apology not in stats.text:
            break
        assert time.monotonic() < deadline, "the workers did not recover"
        time.sleep(1)
    # The question asked before the outage is there; the one answered during it could not be logged.
    assert "提问：1 次" in stats.text, stats.text
