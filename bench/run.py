"""Benchmarks: ``python -m bench.run [--quick] [--profile]`` (or ``.venv/bin/python bench/run.py``).

Every figure is a ratio or a count measured within one run on this machine, so a busy or slow
machine moves both sides of a ratio together. Prints a table and writes ``bench/results.json``;
``--profile`` also writes pyinstrument profiles of ``ask`` and of an ingest to ``bench/``, and a
py-spy profile of the bot process under load (``bench/profile_bot.txt``; needs ``py-spy`` in
``.venv``). The bot is measured with 50 simulated residents through the fake Bot API in two load
models: residents who read each reply before the next message (the goal), and residents who never
pause (saturation: the most the bot can answer per second).

Set ``BOT_BENCH_MODEL_DIR`` (or ``BOT_TEST_MODEL_DIR``) to a folder holding a converted
``multilingual-e5-small/`` to skip the model conversion.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import queue
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.config import Settings, load_settings  # noqa: E402

PYTHON = (
    str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
)
MODEL = "multilingual-e5-small"
QUESTIONS = [
    "办理结婚登记需要带哪些材料？",
    "离婚冷静期是多少天？",
    "低保怎么申请？",
    "特困人员供养包括哪些内容？",
    "临时救助找谁申请？",
    "老年助餐补贴一天能用几次？",
    "高龄津贴多少岁可以领？",
    "结婚登记要预约吗？",
    "长者饭堂在哪里？",
    "低保边缘家庭是什么意思？",
    "补领结婚证要带什么？",
    "支出型困难家庭怎么认定？",
    "汕尾的低保标准是多少？",
    "火星移民补贴怎么申请？",
    "残疾人两项补贴有哪些？",
    "养老机构入住需要什么条件？",
]


# --- helpers ---------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@contextmanager
def profiled(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.002)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        path.write_text(profiler.output_text(unicode=True, color=False, show_all=False), encoding="utf-8")
        log(f"profile written to {path}")


class Bench:
    def __init__(self, root: Path, quick: bool, profile: bool) -> None:
        self.root = root
        self.quick = quick
        self.profile = profile
        self.results: dict[str, Any] = {}
        self.models = self._models()

    def _models(self) -> Path:
        from bot import model_convert

        given = os.environ.get("BOT_BENCH_MODEL_DIR") or os.environ.get("BOT_TEST_MODEL_DIR")
        models = Path(given) if given else self.root / "models"
        target = models / MODEL
        if not target.exists() or model_convert.verify(target) is not None:
            log(f"converting the model into {target}")
            model_convert.convert(target)
        return models

    def data_dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        (path / "models").symlink_to(self.models.resolve(), target_is_directory=True)
        return path

    def settings(self, knowledge: Path, data: Path) -> Settings:
        settings = load_settings(None, knowledge=knowledge, data=data)
        return dataclasses.replace(settings, store=dataclasses.replace(settings.store, url=""))

    # --- ingest throughput vs raw encode -----------------------------------------------------------

    def ingest_throughput(self, measure: bool = True) -> Settings:
        """Ingest of the sample knowledge (empty embedding cache) vs ``encode`` of the same chunk texts.

        Measured encode → ingest → encode, so a change in the machine's load shows as a spread
        between the two encodes instead of silently moving the ratio. With ``--profile`` a second,
        profiled ingest into another empty data folder follows (not used for the ratio).
        """
        import langchain_chroma  # noqa: F401  (one-time imports outside the timings)
        import langchain_classic.indexes  # noqa: F401

        from bot.embeddings import load_embedder
        from bot.knowledge.indexing import ingest, read_folder
        from bot.retrieval import KnowledgeIndex  # noqa: F401

        knowledge = shutil.copytree(REPO / "knowledge", self.root / "knowledge")
        data = self.data_dir("data-sample")
        settings = self.settings(knowledge, data)
        embedder = load_embedder(settings.embedding, data)  # the model is loaded before every timing
        if not measure:
            ingest(settings, progress=False)
            return settings
        texts = list(
            dict.fromkeys(
                c.page_content for r in read_folder(settings, False) if not r.skipped for c in r.chunks
            )
        )
        embedder.embed_documents(texts[:32])  # warm the allocator with a full batch
        log(f"raw encode of the {len(texts)} chunk texts")
        encodes = [timed(lambda: embedder.embed_documents(texts))]
        log("ingest of the sample knowledge, empty embedding cache")
        holder: dict[str, Any] = {}
        t_ingest = timed(lambda: holder.setdefault("r", ingest(settings, progress=False)))
        log("raw encode again")
        encodes.append(timed(lambda: embedder.embed_documents(texts)))
        profiled_s = None
        if self.profile:
            other = self.settings(knowledge, self.data_dir("data-sample-profiled"))
            with profiled(REPO / "bench" / "profile_ingest.txt"):
                profiled_s = timed(lambda: ingest(other, progress=False))
        n = holder["r"].embedded
        t_encode = statistics.median(encodes)
        self.results["ingest"] = {
            "chunks": holder["r"].chunks,
            "embedded": n,
            "ingest_s": t_ingest,
            "encode_s": encodes,
            "ingest_chunks_per_s": n / t_ingest,
            "encode_chunks_per_s": len(texts) / t_encode,
            "ratio": (n / t_ingest) / (len(texts) / t_encode),
            "profiled_ingest_s": profiled_s,
            "goal": ">= 0.8",
            "met": (n / t_ingest) / (len(texts) / t_encode) >= 0.8,
        }
        return settings

    # --- answer latency vs one query embedding ------------------------------------------------------

    def answer_latency(self, settings: Settings) -> None:
        from bot.core import Assistant

        assistant = Assistant(settings)
        assistant.warm_up()
        rounds = 2 if self.quick else 4
        embed: list[float] = []
        ask: list[float] = []
        kinds: dict[str, int] = {}
        log(f"answer latency: {rounds} rounds of {len(QUESTIONS)} questions, interleaved with the floor")
        for _ in range(rounds):
            for q in QUESTIONS:
                embed.append(timed(lambda q=q: assistant.embedder.embed_query(q)))
                t = time.perf_counter()
                answer = assistant.ask(q)
                ask.append(time.perf_counter() - t)
                kinds[answer.kind] = kinds.get(answer.kind, 0) + 1
        if self.profile:
            with profiled(REPO / "bench" / "profile_ask.txt"):
                for q in QUESTIONS * 2:
                    assistant.ask(q)
        p50_ask, p50_embed = statistics.median(ask), statistics.median(embed)
        self.results["answer_latency"] = {
            "questions": len(ask),
            "ask_p50_ms": p50_ask * 1000,
            "ask_p95_ms": pct(ask, 95) * 1000,
            "embed_p50_ms": p50_embed * 1000,
            "ratio": p50_ask / p50_embed,
            "kinds": kinds,
            "goal": "<= 2.0",
            "met": p50_ask / p50_embed <= 2.0,
        }

    # --- re-ingest 1 of 1000 ------------------------------------------------------------------------

    def reingest(self) -> None:
        from bot.knowledge.indexing import ingest

        n = 1000
        knowledge = self.root / "knowledge-1000"
        knowledge.mkdir()
        rng = random.Random(7)
        topics = ["低保", "特困供养", "临时救助", "结婚登记", "离婚登记", "老年助餐", "高龄津贴", "养老服务"]
        for i in range(n):
            topic = topics[i % len(topics)]
            body = (
                f"---\ntitle: {topic}办事指南第{i}号\ncategory: affairs\nissued: 2025-01-01\n---\n\n"
                f"# {topic}办事指南第{i}号\n\n"
                f"{topic}申请人应当向户籍所在地镇人民政府（街道办事处）提出申请，"
                f"材料齐全的当场受理，编号{i}，窗口{rng.randint(1, 40)}号。\n"
            )
            (knowledge / f"doc-{i:04d}.md").write_text(body, encoding="utf-8")
        data = self.data_dir("data-1000")
        settings = self.settings(knowledge, data)
        log(f"first ingest of {n} files (setup, not timed for the goal)")
        t_first = timed(lambda: ingest(settings, progress=False))
        target = knowledge / "doc-0500.md"
        target.write_text(
            target.read_text(encoding="utf-8") + "\n另：自2025年起可在网上预约办理。\n", "utf-8"
        )
        log("re-ingest after changing 1 file")
        holder: dict[str, Any] = {}
        with profiled(REPO / "bench" / "profile_reingest.txt" if self.profile else None):
            t = timed(lambda: holder.setdefault("r", ingest(settings, progress=False)))
        report = holder["r"]
        self.results["reingest"] = {
            "files": n,
            "chunks": report.chunks,
            "first_ingest_s": t_first,
            "reingest_s": t,
            "updated": len(report.updated),
            "embedded": report.embedded,
            "goal": "<= 10 s",
            "met": t <= 10,
        }

    # --- retrieval at 1k vs 100k chunks ----------------------------------------------------------------

    def retrieval_scale(self) -> None:
        import chromadb
        import numpy as np
        from chromadb.config import Settings as ChromaSettings

        from bot import store
        from bot.retrieval import BM25

        sizes = [1_000, 100_000]
        dim = 384
        client = chromadb.PersistentClient(
            path=str(self.root / "chroma-synthetic"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        rng = np.random.default_rng(1)
        queries = rng.standard_normal((200, dim)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        # Synthetic Chinese token lists: Zipf-distributed words and bigrams over a 30k vocabulary.
        vocab = [chr(0x4E00 + i) + chr(0x4E00 + (i * 7919) % 20000) for i in range(30_000)]
        out: dict[str, Any] = {}
        for size in sizes:
            coll = client.get_or_create_collection(
                f"synthetic_{size}", embedding_function=None, configuration=store.HNSW
            )  # type: ignore[arg-type]
            log(f"adding {size} random unit vectors to Chroma")
            t_add = time.perf_counter()
            for start in range(0, size, 5000):
                m = min(5000, size - start)
                vecs = rng.standard_normal((m, dim)).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                coll.add(
                    ids=[f"c{start + j}" for j in range(m)],
                    embeddings=vecs,  # type: ignore[arg-type]
                    documents=["…"] * m,
                    metadatas=[{"path": f"doc-{(start + j) // 10}.md", "chunk": j} for j in range(m)],
                )
            t_add = time.perf_counter() - t_add
            for q in queries[:10]:  # warm the HNSW index into memory
                coll.query(query_embeddings=[q.tolist()], n_results=30, include=["distances"])  # type: ignore[list-item]
            dense = []
            for q in queries:
                t = time.perf_counter()
                coll.query(query_embeddings=[q.tolist()], n_results=30, include=["distances"])  # type: ignore[list-item]
                dense.append(time.perf_counter() - t)
            zipf = np.minimum(rng.zipf(1.3, size=size * 60), len(vocab)) - 1
            lengths = rng.integers(40, 80, size=size)
            docs, pos = [], 0
            for n_tok in lengths:
                docs.append([vocab[k] for k in zipf[pos : pos + n_tok]])
                pos += int(n_tok)
            t0 = time.perf_counter()
            bm25 = BM25(docs)
            t_build = time.perf_counter() - t0
            sparse = []
            for _ in range(200):
                terms = [vocab[int(k)] for k in (np.minimum(rng.zipf(1.3, size=8), len(vocab)) - 1)]
                t = time.perf_counter()
                scores = bm25.scores(terms)
                np.argsort(-scores)[:30]
                sparse.append(time.perf_counter() - t)
            out[str(size)] = {
                "chroma_add_s": t_add,
                "dense_p50_ms": statistics.median(dense) * 1000,
                "dense_p95_ms": pct(dense, 95) * 1000,
                "bm25_build_s": t_build,
                "bm25_p50_ms": statistics.median(sparse) * 1000,
                "bm25_p95_ms": pct(sparse, 95) * 1000,
            }
            del docs, bm25
        small, big = out["1000"], out["100000"]
        out["dense_ratio"] = big["dense_p95_ms"] / small["dense_p95_ms"]
        out["bm25_ratio"] = big["bm25_p95_ms"] / small["bm25_p95_ms"]
        out["goal"] = "<= 3 (dense p95)"
        out["met"] = out["dense_ratio"] <= 3
        self.results["retrieval"] = out

    # --- micro-batching of query embeddings, in this process -------------------------------------------

    def embed_batching(self, settings: Settings) -> None:
        """Query embeddings/s over the question pool with 1, 4 and 8 concurrent callers (closed loop), with
        the encode threads of ``[embedding] threads`` and with the runtime's default (0: one per core)."""
        from bot.embeddings import SentenceEmbedder, load_embedder

        pool = question_pool()
        seconds = 4.0 if self.quick else 8.0
        serving = settings.embedding.threads
        out: dict[str, Any] = {"serving_threads": serving, "default_threads": 0, "pool": len(pool)}
        log(f"query embedding: 1/4/8 concurrent callers, {seconds:.0f} s each")
        for threads in dict.fromkeys((serving, 0)):
            options = dataclasses.replace(settings.embedding, threads=threads)
            shared = load_embedder(options, settings.data_dir)
            for callers in (1, 4, 8):
                embedder = SentenceEmbedder(shared.model, shared.model_id, options)
                figures = _closed_loop(embedder.embed_query, pool, callers, seconds)
                figures["mean_batch"] = embedder.queries.texts / max(1, embedder.queries.batches)
                out[f"threads{threads}_callers{callers}"] = figures
        self.results["embed_batching"] = out

    # --- the bot under 50 residents ---------------------------------------------------------------------

    def bot_throughput(self, settings: Settings) -> None:
        """``python -m bot run`` against the fake Bot API: residents who read between messages, then
        residents who never pause (saturation); with ``--profile`` a third, py-spy-profiled saturation run."""
        from tests.fake_bot_api import FakeBotAPI

        pool = question_pool()
        config = self.root / "bot-config.toml"
        text = (REPO / "config.toml").read_text(encoding="utf-8")
        text = re.sub(r"(?m)^questions_per_minute = \d+", "questions_per_minute = 100000", text)
        text = re.sub(r"(?m)^\[telegram\]", "[telegram]\npoll_timeout_seconds = 2", text)
        config.write_text(text, encoding="utf-8")
        runs: dict[str, Any] = {}
        with FakeBotAPI() as api:
            env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE_URL": api.base_url}
            env.pop("CHROMA_URL", None)
            command = [PYTHON, "-m", "bot", "run", "--no-ingest", "--config", str(config)]
            command += ["--knowledge", str(settings.knowledge_dir), "--data", str(settings.data_dir)]
            proc = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
            try:
                api.wait_for("getUpdates", timeout=120)
                # Wait for the warm-up (model + index) before the clock starts: one question and its answer.
                api.push_update(api.text_update(QUESTIONS[0], user_id=1))
                api.wait_for("sendMessage", lambda c: c.chat_id == 1, timeout=120)
                api.clear()
                load = Residents(api, proc.pid, pool, RESIDENTS)
                seconds = 20.0 if self.quick else 45.0
                log(
                    f"bot: {RESIDENTS} residents reading ~{THINK_MEAN_S:.1f} s between messages, {seconds:.0f} s"
                )
                runs["paced"] = load.run(seconds, think_mean=THINK_MEAN_S, seed=1)
                seconds = 15.0 if self.quick else 30.0
                log(f"bot: {RESIDENTS} residents who never pause (saturation), {seconds:.0f} s")
                runs["saturation"] = load.run(seconds, think_mean=0.0, seed=2)
                if self.profile:
                    runs["profiled_saturation"] = self._profiled_run(load, 15.0 if self.quick else 25.0)
                rejected = [c for c in api.calls if c.method == "sendMessage" and c.status != 200]
                peak_kb = _vm_hwm_kb(proc.pid)  # this process's own peak RSS since exec
            finally:
                proc.send_signal(signal.SIGTERM)
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                stderr = proc.stderr.read() if proc.stderr else ""
        paced = runs["paced"]
        self.results["bot"] = {
            **runs,
            "residents": RESIDENTS,
            "question_pool": len(pool),
            "think_mean_s": THINK_MEAN_S,
            "rejected_by_telegram": len(rejected),
            "peak_rss_mb": peak_kb / 1024,
            "wait4_ru_maxrss_mb": usage.ru_maxrss / 1024,  # includes the forking parent's RSS on Linux
            "exit_code": proc.returncode,
            "token_in_log": api.token in stderr,
            "goal": ">= 20/s sustained, p95 <= 1000 ms, lost 0 (residents reading between messages); peak < 1536 MB",
            "met": paced["per_s"] >= 20 and paced["p95_ms"] <= 1000 and paced["lost"] == 0,
            "memory_met": peak_kb / 1024 < 1536,
        }

    def _profiled_run(self, load: Residents, seconds: float) -> dict[str, Any]:
        """A saturation run with py-spy sampling the bot process (figures not used for any goal)."""
        spy = shutil.which("py-spy", path=str(Path(PYTHON).parent)) or shutil.which("py-spy")
        if spy is None:
            log("py-spy not found (pip install py-spy into .venv): bot profile skipped")
            return {}
        raw = self.root / "profile_bot.collapsed"  # py-spy's raw stacks (flamegraph.pl input)
        command = [spy, "record", "--pid", str(load.pid), "--duration", str(int(seconds)), "--rate", "100"]
        command += ["--format", "raw", "--output", str(raw), "--nonblocking"]
        log(f"bot: profiled saturation run, {seconds:.0f} s (py-spy)")
        spy_proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        figures = load.run(seconds, think_mean=0.0, seed=3)
        _, spy_err = spy_proc.communicate(timeout=120)
        if spy_proc.returncode != 0 or not raw.exists():
            log(f"py-spy failed: {spy_err.strip()[-300:]}")
            return figures
        summary = summarise_profile(raw.read_text(encoding="utf-8"))
        (REPO / "bench" / "profile_bot.txt").write_text(summary, encoding="utf-8")
        log(f"profile written to {REPO / 'bench' / 'profile_bot.txt'}")
        return figures


# --- simulated residents ------------------------------------------------------------------------------

RESIDENTS = 50
THINK_MEAN_S = 1.8  # mean pause between a reply and the resident's next message (exponential)
EVAL_SETS = [REPO.parent / "shared" / "corpus" / "eval" / f"{name}.jsonl" for name in ("dev", "dev-hard")]


def question_pool() -> list[str]:
    """QUESTIONS plus every question of the shared evaluation sets that are present, without duplicates."""
    pool = list(QUESTIONS)
    for path in EVAL_SETS:
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    pool.append(str(json.loads(line)["question"]))
    return list(dict.fromkeys(q for q in pool if q.strip()))


class Residents:
    """Simulated residents talking to the bot through the fake Bot API, one thread and one chat each.

    Every resident sends a question, waits for the bot's reply (``sendMessage`` to its chat), pauses
    for an exponentially distributed think time (mean ``think_mean``; 0 = never pauses), and repeats
    until the run's time is up. Replies are routed to residents by a listener on the fake API, so
    waiting costs nothing per call.
    """

    def __init__(self, api: Any, pid: int, pool: list[str], residents: int) -> None:
        self.api = api
        self.pid = pid
        self.pool = pool
        self.residents = residents
        self.inbox: dict[int, queue.Queue[Any]] = {self.chat_id(i): queue.Queue() for i in range(residents)}
        self.chat_actions = [0]
        api.on_call(self._route)

    @staticmethod
    def chat_id(i: int) -> int:
        return 1000 + i

    def _route(self, call: Any) -> None:
        box = self.inbox.get(call.chat_id or 0)
        if box is None or call.status != 200:
            return
        if call.method == "sendMessage":
            box.put(call)
        elif call.method == "sendChatAction":
            self.chat_actions[0] += 1

    def run(self, seconds: float, *, think_mean: float, seed: int) -> dict[str, Any]:
        """One run: answers/s, latency percentiles, lost questions, CPU per answer (bot and this process)."""
        lock = threading.Lock()
        latencies: list[float] = []
        answered_at: list[float] = []
        sent = [0]
        lost = [0]
        stop = time.monotonic() + seconds

        def resident(i: int) -> None:
            rng = random.Random(seed * 100_003 + i)
            uid = self.chat_id(i)
            if think_mean:
                time.sleep(rng.uniform(0, 2 * think_mean))  # residents do not all start at once
            while time.monotonic() < stop:
                t = time.monotonic()
                with lock:
                    sent[0] += 1
                self.api.push_update(self.api.text_update(rng.choice(self.pool), user_id=uid))
                try:
                    self.inbox[uid].get(timeout=60)
                except queue.Empty:
                    with lock:
                        lost[0] += 1
                    return
                done = time.monotonic()
                with lock:
                    latencies.append(done - t)
                    answered_at.append(done)
                if think_mean:
                    time.sleep(min(rng.expovariate(1 / think_mean), max(0.0, stop - time.monotonic())))

        for box in self.inbox.values():  # a reply that came after an earlier run's timeout
            while not box.empty():
                box.get_nowait()
        actions_before = self.chat_actions[0]
        cpu_before = _bot_cpu(self.pid), time.process_time(), _machine_busy()
        started = time.monotonic()
        threads = [threading.Thread(target=resident, args=(i,)) for i in range(self.residents)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.monotonic() - started
        bot_cpu, own_cpu, busy = _bot_cpu(self.pid), time.process_time(), _machine_busy()
        ours = sum(bot_cpu) - sum(cpu_before[0]) + own_cpu - cpu_before[1]
        n = max(1, len(latencies))
        return {
            "seconds": elapsed,
            "think_mean_s": think_mean,
            "messages": sent[0],
            "answered": len(latencies),
            "offered_per_s": sent[0] / elapsed,
            "per_s": len(latencies) / elapsed,
            "window_per_s": _window_rates(answered_at, started, elapsed),
            "p50_ms": pct(latencies, 50) * 1000,
            "p95_ms": pct(latencies, 95) * 1000,
            "p99_ms": pct(latencies, 99) * 1000,
            "max_ms": max(latencies, default=float("nan")) * 1000,
            "lost": sent[0] - len(latencies),
            "timed_out": lost[0],
            "chat_actions": self.chat_actions[0] - actions_before,
            "cpu_ms_per_answer": {
                "bot_event_loop": (bot_cpu[0] - cpu_before[0][0]) * 1000 / n,
                "bot_other_threads": (bot_cpu[1] - cpu_before[0][1]) * 1000 / n,
                "bench_fake_api_and_residents": (own_cpu - cpu_before[1]) * 1000 / n,
            },
            # CPU the rest of the machine took meanwhile (other people's jobs): what was left for the bot
            "other_processes_cores": max(0.0, busy - cpu_before[2] - ours) / elapsed,
        }


def _closed_loop(
    embed: Callable[[str], Any], pool: list[str], callers: int, seconds: float
) -> dict[str, Any]:
    """``callers`` threads calling ``embed`` back to back for ``seconds``: calls/s and CPU ms per call."""
    done = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def caller(i: int) -> None:
        rng = random.Random(i)
        while time.monotonic() < stop:
            embed(rng.choice(pool))
            with lock:
                done[0] += 1

    cpu, started = time.process_time(), time.monotonic()
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    return {"calls": done[0], "per_s": done[0] / elapsed, "cpu_ms_per_call": cpu * 1000 / max(1, done[0])}


def _window_rates(times: list[float], started: float, elapsed: float, width: float = 5.0) -> list[float]:
    """Answers per second in consecutive ``width``-second windows of the run."""
    counts = [0] * max(1, int(elapsed // width))
    for t in times:
        k = int((t - started) // width)
        if k < len(counts):
            counts[k] += 1
    return [c / width for c in counts]


def _machine_busy() -> float:
    """CPU seconds all cores have spent busy since boot (``/proc/stat``: everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _bot_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of a process so far: (its main thread — the bot's event loop, all other threads)."""
    tick = os.sysconf("SC_CLK_TCK")

    def cpu(stat: Path) -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime, stime

    total = cpu(Path(f"/proc/{pid}/stat"))  # includes threads that have ended
    main = cpu(Path(f"/proc/{pid}/task/{pid}/stat"))
    return main, total - main


PROFILE_BUCKETS = [  # (bucket, any of these in a stack's frames); the first that matches wins
    ("query embedding (SentenceTransformer.encode)", ("SentenceTransformer.encode", "QueryBatcher")),
    ("ask outside the model (normalise, BM25, Chroma, answer)", ("Assistant.ask",)),
    ("SQLite state (history, answer log)", ("bot/state.py",)),
    ("sendChatAction", ("send_chat_action",)),
    ("sendMessage (PTB request, rate limiter, httpx)", ("send_message",)),
    ("getUpdates (polling, update parsing)", ("get_updates", "_update_fetcher")),
    ("answer formatting (telegram_format)", ("telegram_format",)),
    ("PTB update dispatch and handlers", ("process_update", "telegram/ext/")),
    ("asyncio and httpx I/O", ("asyncio/", "httpx/", "httpcore/", "h11/")),
]
IDLE_LEAVES = ("select (selectors.py", "wait (threading.py", "_wait_for_tstate_lock", "sleep", "acquire")


def summarise_profile(collapsed: str) -> str:
    """py-spy's raw (collapsed) stacks of the bot process: shares of the busy samples per bucket, top leaves."""
    busy: dict[str, int] = {}
    leaves: dict[str, int] = {}
    idle = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if any(leaf in frames[-1] for leaf in IDLE_LEAVES):
            idle += int(count)
            continue
        bucket = next(
            (b for b, keys in PROFILE_BUCKETS if any(k in f for f in frames for k in keys)), "other"
        )
        busy[bucket] = busy.get(bucket, 0) + int(count)
        leaf = re.sub(r":\d+\)$", ")", frames[-1])
        leaves[leaf] = leaves.get(leaf, 0) + int(count)
    total = sum(busy.values()) or 1
    lines = [
        "py-spy samples of the bot process's Python threads during a saturation run (50 residents,",
        "no pause), by what the stack was doing; shares of the busy samples. Threads without Python",
        "frames (torch's own pool, if it has more than one thread) are not sampled: see",
        "cpu_ms_per_answer in results.json for the CPU split by thread.",
        f"Busy samples: {total}; idle (waiting) samples left out: {idle}.",
        "",
    ]
    lines += [f"{100 * n / total:5.1f} %  {b}" for b, n in sorted(busy.items(), key=lambda kv: -kv[1])]
    lines += ["", "Functions the busy samples were in (self time), top 15:"]
    top = sorted(leaves.items(), key=lambda kv: -kv[1])[:15]
    lines += [f"{100 * n / total:5.1f} %  {leaf}" for leaf, n in top]
    return "\n".join(lines) + "\n"


def _vm_hwm_kb(pid: int) -> int:
    """Peak resident set (VmHWM) of a live process. ``wait4``'s ru_maxrss is not used: on Linux a
    child forked from this (large) process starts with the parent's high-water mark."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def table(r: dict[str, Any]) -> str:
    rows = ["| figure | measured | goal | met |", "| --- | --- | --- | --- |"]
    if "answer_latency" in r:
        a = r["answer_latency"]
        rows.append(
            f"| answer latency p50 / one query embedding | {a['ask_p50_ms']:.0f} ms / {a['embed_p50_ms']:.0f} ms"
            f" = **{a['ratio']:.2f}×** (ask p95 {a['ask_p95_ms']:.0f} ms, n={a['questions']}) | ≤ 2.0× | {_yes(a['met'])} |"
        )
    if "ingest" in r:
        i = r["ingest"]
        rows.append(
            f"| ingest throughput / raw encode ({i['embedded']} chunks) | {i['ingest_chunks_per_s']:.1f} / "
            f"{i['encode_chunks_per_s']:.1f} chunks/s = **{i['ratio']:.2f}×** (encodes "
            f"{' / '.join(f'{e:.0f}' for e in i['encode_s'])} s, ingest {i['ingest_s']:.0f} s) | ≥ 0.8× | {_yes(i['met'])} |"
        )
    if "reingest" in r:
        g = r["reingest"]
        rows.append(
            f"| re-ingest after changing 1 of {g['files']} files | **{g['reingest_s']:.1f} s** "
            f"({g['embedded']} chunk embedded; first ingest {g['first_ingest_s']:.0f} s) | ≤ 10 s | {_yes(g['met'])} |"
        )
    if "retrieval" in r:
        s = r["retrieval"]
        a, b = s["1000"], s["100000"]
        rows.append(
            f"| dense retrieval p95, 100k vs 1k chunks (Chroma HNSW, k=30) | {b['dense_p95_ms']:.1f} / "
            f"{a['dense_p95_ms']:.1f} ms = **{s['dense_ratio']:.2f}×** | ≤ 3× | {_yes(s['met'])} |"
        )
        rows.append(
            f"| BM25 query p95, 100k vs 1k chunks (in-memory, for reference) | {b['bm25_p95_ms']:.1f} / "
            f"{a['bm25_p95_ms']:.2f} ms = {s['bm25_ratio']:.0f}× (build {b['bm25_build_s']:.0f} s) | — | — |"
        )
    if "embed_batching" in r:
        e = r["embed_batching"]
        parts = []
        for threads in dict.fromkeys((e["serving_threads"], e["default_threads"])):
            runs = [(c, e[f"threads{threads}_callers{c}"]) for c in (1, 4, 8)]
            cells = ", ".join(f"{c}: {x['per_s']:.0f}/s (batch {x['mean_batch']:.1f})" for c, x in runs)
            parts.append(f"{threads} thread{'s' if threads > 1 else ''} — {cells}")
        rows.append(
            f"| query embeddings/s by concurrent callers, micro-batched ({e['pool']} questions) | "
            f"{'; '.join(parts)} | — | — |"
        )
    if "bot" in r:
        t = r["bot"]
        p, sat = t["paced"], t["saturation"]
        rows.append(
            f"| bot, {t['residents']} residents reading ~{t['think_mean_s']:.1f} s between messages, fake Bot API "
            f"(offered {p['offered_per_s']:.1f} msg/s) | **{p['per_s']:.1f} answers/s** (lowest 5-s window "
            f"{min(p['window_per_s'][1:-1] or p['window_per_s']):.1f}), p50 {p['p50_ms']:.0f} ms, p95 **{p['p95_ms']:.0f} ms**, "
            f"lost **{p['lost']}** ({p['answered']} in {p['seconds']:.0f} s) | ≥ 20/s, p95 ≤ 1 s, 0 lost | {_yes(t['met'])} |"
        )
        rows.append(
            f"| bot, {t['residents']} residents who never pause (saturation: maximum throughput) | "
            f"**{sat['per_s']:.1f} answers/s**, p50 {sat['p50_ms']:.0f} ms, p95 {sat['p95_ms']:.0f} ms, lost "
            f"{sat['lost']} ({sat['answered']} in {sat['seconds']:.0f} s) | — | — |"
        )
        cpu = p["cpu_ms_per_answer"]
        rows.append(
            f"| CPU per answered message, paced run: bot event loop / bot answering threads / fake API + residents "
            f"| {cpu['bot_event_loop']:.1f} / {cpu['bot_other_threads']:.1f} / "
            f"{cpu['bench_fake_api_and_residents']:.1f} ms (other processes meanwhile: "
            f"{p['other_processes_cores']:.1f} of {os.cpu_count()} cores) | — | — |"
        )
        rows.append(
            f"| peak memory (VmHWM = the process's own ru_maxrss) of the bot process | **{t['peak_rss_mb']:.0f} MB** | < 1.5 GB | {_yes(t['memory_met'])} |"
        )
    return "\n".join(rows)


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter bot run")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="write pyinstrument (and, for the bot, py-spy) profiles to bench/",
    )
    parser.add_argument(
        "--only", nargs="*", default=[], help="ingest latency reingest retrieval bot (default: all)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "bench" / "results.json",
        help="results file; with --only, the figures of the other sections already in it are kept",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import logging

    logging.basicConfig(level=logging.WARNING)
    for noisy in ("chromadb", "httpx", "jieba", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    only = set(args.only) or {"ingest", "latency", "reingest", "retrieval", "bot"}
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        bench = Bench(Path(tmp), args.quick, args.profile)
        settings = bench.ingest_throughput("ingest" in only)  # the sample index every later step uses
        if "latency" in only:
            bench.answer_latency(settings)
        if "reingest" in only:
            bench.reingest()
        if "retrieval" in only:
            bench.retrieval_scale()
        if "bot" in only:
            bench.embed_batching(settings)
            bench.bot_throughput(settings)
    results = bench.results
    results["meta"] = {
        "command": "python -m bench.run"
        + (" --quick" if args.quick else "")
        + (" --profile" if args.profile else "")
        + (f" --only {' '.join(args.only)}" if args.only else ""),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "seconds": time.time() - started,
        "python": sys.version.split()[0],
        "bench_process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
    if args.only and args.out.exists():  # keep the other sections' figures, and say when they were taken
        earlier = json.loads(args.out.read_text(encoding="utf-8"))
        results["meta"]["other_sections_from"] = earlier.get("meta", {})
        results = {**{k: v for k, v in earlier.items() if k != "meta"}, **results}
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(table(results))
    print(
        f"\nresults: {args.out}  ({results['meta']['seconds']:.0f} s, load average {results['meta']['load_average_at_end']})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
