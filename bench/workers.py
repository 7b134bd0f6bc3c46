"""Several workers: ``python -m bench.run --only workers``.

* the same simulated residents (:data:`bench.load.RESIDENTS`, reading between messages, then never
  pausing) against one and against two Telegram webhook workers behind nginx, the index in a
  ``chroma run`` server and the state in PostgreSQL (:class:`bot.testing.workers.WebhookWorkers`);
* one worker on PostgreSQL against one worker on its SQLite files (same load: what the shared
  database costs end to end);
* the state calls one answer makes (rate limit, the chat's turn, open wizard, history, log, remember),
  timed on SQLite and on PostgreSQL: medians per answer and their ratio.

The fake Bot API, nginx, PostgreSQL, Chroma and the residents share the machine with the workers;
the figures are ratios within one run so a busy machine moves both sides together.
"""

from __future__ import annotations

import os
import queue
import random
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, QUESTIONS, REPO, log, pct
from bench.load import RESIDENTS, THINK_MEAN_S, question_pool
from bot.config import Settings

_ids = iter(range(1, 10**9))


def residents_run(
    api: Any, deliver: Any, pool: list[str], seconds: float, think: float, seed: int
) -> dict[str, Any]:
    """Every resident: a question by webhook, wait for the reply, think, repeat until time is up."""
    inbox: dict[int, queue.Queue[Any]] = {5000 + i: queue.Queue() for i in range(RESIDENTS)}
    latencies: list[float] = []
    lock = threading.Lock()
    sent, lost = [0], [0]
    stop = time.monotonic() + seconds

    def route(call: Any) -> None:
        box = inbox.get(call.chat_id or 0)
        if box is not None and call.method == "sendMessage" and call.status == 200:
            box.put(call)

    api.on_call(route)

    def resident(i: int) -> None:
        rng = random.Random(seed * 100_003 + i)
        uid = 5000 + i
        if think:
            time.sleep(rng.uniform(0, 2 * think))
        while time.monotonic() < stop:
            t = time.monotonic()
            with lock:
                sent[0] += 1
            try:
                deliver({"update_id": next(_ids), "message": api.message(rng.choice(pool), user_id=uid)})
                inbox[uid].get(timeout=60)
            except (queue.Empty, OSError):
                with lock:
                    lost[0] += 1
                return
            with lock:
                latencies.append(time.monotonic() - t)
            if think:
                time.sleep(min(rng.expovariate(1 / think), max(0.0, stop - time.monotonic())))

    started = time.monotonic()
    threads = [threading.Thread(target=resident, args=(i,)) for i in range(RESIDENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - started
    api._listeners.remove(route)
    return {
        "messages": sent[0],
        "answered": len(latencies),
        "per_s": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 50) * 1000,
        "p95_ms": pct(latencies, 95) * 1000,
        "lost": sent[0] - len(latencies),
    }


def deployment_runs(
    settings: Settings,
    root: Path,
    workers: int,
    env: dict[str, str],
    seconds: tuple[float, float],
    pool: list[str],
) -> dict[str, Any]:
    from bot.testing.bot_api import FakeBotAPI
    from bot.testing.workers import WebhookWorkers

    data_dirs = []
    for i in range(workers):
        data = root / f"worker-{workers}-{i}-{len(list(root.iterdir()))}"
        data.mkdir()
        (data / "models").symlink_to((settings.data_dir / "models").resolve(), target_is_directory=True)
        data_dirs.append(data)
    if "DATABASE_URL" not in env:  # one worker on its own SQLite files: the index too, as today
        data_dirs = [settings.data_dir]
    with FakeBotAPI() as api:
        telegram = {"questions_per_minute": 100000, "max_concurrent_answers": 8}
        with WebhookWorkers(
            knowledge=settings.knowledge_dir,
            data_dirs=data_dirs,
            api_base=api.base_url,
            token=api.token,
            env=env,
            telegram=telegram,
            python=PYTHON,
        ) as fleet:
            fleet.wait_ready()
            for i in range(workers):  # warm every worker (model and index) before the clock starts
                fleet.deliver(
                    {"update_id": next(_ids), "message": api.message(QUESTIONS[0], user_id=1)}, worker=i
                )
                api.wait_for("sendMessage", lambda c: c.chat_id == 1, count=i + 1, timeout=180)
            paced = residents_run(api, fleet.deliver, pool, seconds[0], THINK_MEAN_S, seed=1)
            saturation = residents_run(api, fleet.deliver, pool, seconds[1], 0.0, seed=2)
    return {"workers": workers, "paced": paced, "saturation": saturation}


def state_cost(root: Path, url: str, answers: int) -> dict[str, Any]:
    """Median ms of the state calls of one Telegram answer, SQLite vs PostgreSQL."""
    from bot.state.database import State

    out: dict[str, Any] = {}
    for name, state in (
        ("sqlite", State(root / "state-sqlite")),
        ("postgresql", State(root / "state-pg", url=url)),
    ):
        limiter = state.rate_limiter("telegram", 100000)
        times = []
        for n in range(answers):
            t = time.perf_counter()
            who, key = state.user_hash(n % 50), state.chat_key(n % 50)
            limiter.check(who)
            turn = state.chat_turn(key)
            if turn is not None:
                turn.try_take()
            state.wizard(key)
            state.history(key, max_age=3600)
            state.record_answer(
                user=who, chat_type="private", question=QUESTIONS[n % 16], answered=True, kind="answer"
            )
            state.remember(key, QUESTIONS[n % 16])
            if turn is not None:
                turn.release()
            times.append(time.perf_counter() - t)
        out[name] = {"median_ms": statistics.median(times) * 1000, "p95_ms": pct(times, 95) * 1000}
    out["ratio"] = out["postgresql"]["median_ms"] / out["sqlite"]["median_ms"]
    out["answers"] = answers
    return out


def workers_bench(settings: Settings, root: Path, quick: bool) -> dict[str, Any]:
    from bot.testing.chroma import ChromaServer
    from bot.testing.postgres import PostgresCluster, seed_vector_cache

    pool = question_pool()
    seconds = (20.0, 15.0) if quick else (40.0, 30.0)
    results: dict[str, Any] = {"residents": RESIDENTS, "think_mean_s": THINK_MEAN_S, "seconds": seconds}
    with PostgresCluster() as cluster:
        chroma = ChromaServer(root / "chroma-server").start()
        try:
            url = cluster.new_database()
            seed_vector_cache(settings.data_dir / "index.sqlite", url)
            env = {"CHROMA_URL": chroma.url, "DATABASE_URL": url}
            ingest_data = root / "ingest-data"
            ingest_data.mkdir()
            (ingest_data / "models").symlink_to(
                (settings.data_dir / "models").resolve(), target_is_directory=True
            )
            command = [
                PYTHON,
                "ingest.py",
                "--knowledge",
                str(settings.knowledge_dir),
                "--data",
                str(ingest_data),
            ]
            subprocess.run([*command, "--quiet"], cwd=REPO, env={**os.environ, **env}, check=True)
            log("workers: the state calls of one answer, SQLite vs PostgreSQL")
            results["state_calls"] = state_cost(root, cluster.new_database(), 200 if quick else 1000)
            for n in (1, 2):
                log(f"workers: {n} webhook worker(s) behind nginx, state in PostgreSQL")
                results[f"pg_{n}"] = deployment_runs(settings, root, n, env, seconds, pool)
            log("workers: 1 webhook worker behind nginx, state and index on its own SQLite files")
            results["sqlite_1"] = deployment_runs(settings, root, 1, {}, seconds, pool)
        finally:
            chroma.stop()
    one, two, lite = results["pg_1"], results["pg_2"], results["sqlite_1"]
    results["two_over_one_saturation"] = two["saturation"]["per_s"] / max(1e-9, one["saturation"]["per_s"])
    results["pg_over_sqlite_saturation"] = one["saturation"]["per_s"] / max(1e-9, lite["saturation"]["per_s"])
    return results
