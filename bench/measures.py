"""The benchmarks themselves, one method each: ingest throughput, answer latency (torch and ONNX embeds vs
the whole answer), ``ask --jsonl`` from a cold start, re-ingest, retrieval at scale, the bot under 50 residents."""

from __future__ import annotations

import dataclasses
import functools
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import MODEL, PYTHON, QUESTIONS, REPO, log, pct, timed
from bench.load import RESIDENTS, THINK_MEAN_S, Residents, question_pool, vm_hwm_kb
from bench.machine import Window
from bench.profiles import profiled, summarise_profile
from bot.config import Settings, load_settings

# ``python -m bot`` with PTB's AIORateLimiter built without its overall limit (0 = off; Telegram's is 30
# messages/s): only for the diagnostic run that shows what the bot's CPU could answer without it.
LIFT_LIMITER = """
import runpy, sys
import telegram.ext
_init = telegram.ext.AIORateLimiter.__init__
def _lifted(self, *args, **kwargs):
    kwargs["overall_max_rate"] = 0
    _init(self, *args, **kwargs)
telegram.ext.AIORateLimiter.__init__ = _lifted
sys.argv = ["bot", *sys.argv[1:]]
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""


class Bench:
    def __init__(self, root: Path, quick: bool, profile: bool) -> None:
        self.root = root
        self.quick = quick
        self.profile = profile
        self.results: dict[str, Any] = {}
        self.models = self._models()

    def _models(self) -> Path:
        """A private converted model for this run: a copy of ``BOT_BENCH_MODEL_DIR`` (or
        ``BOT_TEST_MODEL_DIR``) when that one is intact, else a fresh conversion. The given folder is
        never written: other sessions share it, and one running older code converts it again to its
        own format, which made a bot process of this run convert at start-up (torch imported, peak
        1.26 GB) when it was linked directly."""
        from bot import model_convert

        models = self.root / "models"
        target = models / MODEL
        given = os.environ.get("BOT_BENCH_MODEL_DIR") or os.environ.get("BOT_TEST_MODEL_DIR")
        source = Path(given) / MODEL if given else None
        if source is not None and source.exists() and model_convert.verify(source) is None:
            shutil.copytree(source, target)
        if (
            not target.exists() or model_convert.verify(target) is not None
        ):  # none given, or it changed meanwhile
            shutil.rmtree(target, ignore_errors=True)
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

        from bot.answering.index import KnowledgeIndex  # noqa: F401
        from bot.embeddings import load_embedder
        from bot.ingest import units
        from bot.ingest.indexing import ingest, read_folder

        knowledge = shutil.copytree(REPO / "knowledge", self.root / "knowledge")
        data = self.data_dir("data-sample")
        settings = self.settings(knowledge, data)
        embedder = load_embedder(settings.embedding, data)  # the model is loaded before every timing
        if not measure:
            ingest(settings, progress=False)
            return settings
        chunks = [c for r in read_folder(settings, False) if not r.skipped for c in r.chunks]
        unit_docs = units.unit_documents(chunks, units.standards_of(chunks))  # embedded too, like chunks
        texts = list(dict.fromkeys(d.page_content for d in chunks + unit_docs))
        window = Window()
        embedder.embed_documents(texts[:32])  # warm the allocator with a full batch
        log(f"raw encode of the {len(texts)} chunk texts")
        encodes = [timed(lambda: embedder.embed_documents(texts))]
        log("ingest of the sample knowledge, empty embedding cache")
        holder: dict[str, Any] = {}
        t_ingest = timed(lambda: holder.setdefault("r", ingest(settings, progress=False)))
        log("raw encode again")
        encodes.append(timed(lambda: embedder.embed_documents(texts)))
        machine = window.stop()
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
            "texts_encoded": len(texts),
            "profiled_ingest_s": profiled_s,
            "machine": machine,
            "goal": ">= 0.8",
            "met": (n / t_ingest) / (len(texts) / t_encode) >= 0.8,
        }
        return settings

    # --- whole answer vs one query embedding, torch and ONNX --------------------------------------

    def torch_embedder(self, settings: Settings) -> Any:
        """The same weights on torch + sentence-transformers, one thread (a model folder path selects torch)."""
        from bot.config import EmbeddingSettings
        from bot.embeddings import load_embedder

        return load_embedder(EmbeddingSettings(model=str(self.models / MODEL), threads=1), settings.data_dir)

    def answer_latency(self, settings: Settings) -> None:
        """Per question, in rotating order: torch embed, ONNX embed (the bot's encoder) and the whole
        ``Assistant.ask``; p50s and the ratios of ask to each embed."""
        from bot.answering.assistant import Assistant

        assistant = Assistant(settings)
        assistant.warm_up()
        onnx = assistant.embedder
        torch = self.torch_embedder(settings)
        torch.embed_query("预热")
        pool = question_pool()
        rounds = 1 if self.quick else 2
        times: dict[str, list[float]] = {"torch": [], "onnx": [], "ask": []}
        sizes: dict[str, dict[str, list[float]]] = {
            "short": {"torch": [], "onnx": []},
            "long": {"torch": [], "onnx": []},
        }
        steps: dict[str, Callable[[str], object]] = {
            "torch": torch.embed_query,
            "onnx": onnx.embed_query,
            "ask": assistant.ask,
        }
        order = list(steps)
        log(f"answer latency: {rounds} round(s) of {len(pool)} questions, torch / ONNX / ask interleaved")
        window = Window()
        n = 0
        for _ in range(rounds):
            for q in pool:
                n += 1
                for name in order[n % 3 :] + order[: n % 3]:  # rotate, so no step always runs first
                    step = steps[name]
                    t = timed(functools.partial(step, q))
                    times[name].append(t)
                    size = "short" if len(q) <= 20 else "long" if len(q) >= 60 else ""
                    if size and name != "ask":
                        sizes[size][name].append(t)
        machine = window.stop()
        if self.profile:
            with profiled(REPO / "bench" / "profile_ask.txt"):
                for q in pool * 2:
                    assistant.ask(q)
        p50 = {k: statistics.median(v) * 1000 for k, v in times.items()}
        self.results["answer_latency"] = {
            "questions": len(times["ask"]),
            **{f"{k}_p50_ms": v for k, v in p50.items()},
            **{f"{k}_p95_ms": pct(v, 95) * 1000 for k, v in times.items()},
            "by_length_p50_ms": {
                size: {k: statistics.median(v) * 1000 if v else None for k, v in d.items()}
                | {"n": len(d["onnx"])}
                for size, d in sizes.items()
            },
            "ask_over_torch": p50["ask"] / p50["torch"],
            "ask_over_onnx": p50["ask"] / p50["onnx"],
            "torch_over_onnx": p50["torch"] / p50["onnx"],
            "machine": machine,
            "goal": "ask/torch <= 0.6 (issue 12); ask/onnx <= 2.0 (issue 13)",
            "torch_met": p50["ask"] / p50["torch"] <= 0.6,
            "onnx_met": p50["ask"] / p50["onnx"] <= 2.0,
        }

    # --- ask --jsonl from a cold start ------------------------------------------------------------------

    def startup(self, settings: Settings) -> None:
        from bench.startup import ask_jsonl_cold

        torch = self.torch_embedder(settings)
        torch.embed_query("预热")
        runs = 1 if self.quick else 3
        self.results["startup"] = ask_jsonl_cold(
            settings.knowledge_dir, settings.data_dir, torch.embed_query, runs, self.root
        )

    # --- re-ingest 1 of 1000 ------------------------------------------------------------------------

    def reingest(self) -> None:
        from bot.ingest.indexing import ingest

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
        window = Window()
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
            "machine": window.stop(),
            "goal": "<= 10 s",
            "met": t <= 10,
        }

    # --- retrieval at 1k vs 100k chunks ----------------------------------------------------------------

    def retrieval_scale(self) -> None:
        import chromadb
        import numpy as np
        from chromadb.config import Settings as ChromaSettings

        from bot import index_store
        from bot.answering.index import BM25
        from bot.config import TuningSettings

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
        window = Window()
        for size in sizes:
            coll = client.get_or_create_collection(
                f"synthetic_{size}",
                embedding_function=None,
                configuration=index_store.HNSW,  # type: ignore[arg-type]
            )
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
            tuning = TuningSettings()
            bm25 = BM25(docs, k1=tuning.bm25_k1, b=tuning.bm25_b)
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
        out["machine"] = window.stop()
        self.results["retrieval"] = out

    # --- the bot under 50 residents ---------------------------------------------------------------------

    def bot_throughput(self, settings: Settings, runs: int, unthrottled: bool = False) -> None:
        """``runs`` fresh bot processes, each measured with residents who read and then at saturation;
        medians over the runs. ``unthrottled`` adds one run with PTB's 30 messages/s limiter lifted."""
        config = self.root / "bot-config.toml"
        text = (REPO / "config.toml").read_text(encoding="utf-8")
        text = re.sub(r"(?m)^questions_per_minute = \d+", "questions_per_minute = 100000", text)
        text = re.sub(r"(?m)^poll_timeout_seconds = [\d.]+", "poll_timeout_seconds = 2.0", text)
        config.write_text(text, encoding="utf-8")
        out = []
        for k in range(runs):
            log(f"bot run {k + 1}/{runs}")
            out.append(self._bot_run(settings, config, seed=10 * k, profile=self.profile and k == runs - 1))
        paced = [r["paced"] for r in out]

        def med(rows: list[dict[str, Any]], key: str) -> float:
            return float(statistics.median(r[key] for r in rows))

        peak = max(r["peak_rss_mb"] for r in out)
        summary = {
            "per_s": med(paced, "per_s"),
            "offered_per_s": med(paced, "offered_per_s"),
            "p50_ms": med(paced, "p50_ms"),
            "p95_ms": med(paced, "p95_ms"),
            "lost": sum(r["lost"] for r in paced),
            "other_processes_cores": med(paced, "other_processes_cores"),
            "saturation_per_s": med([r["saturation"] for r in out], "per_s"),
            "saturation_p95_ms": med([r["saturation"] for r in out], "p95_ms"),
            "peak_rss_mb_max": peak,
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in out),
        }
        self.results["bot"] = {
            "runs": out,
            "median": summary,
            "residents": RESIDENTS,
            "question_pool": len(question_pool()),
            "think_mean_s": THINK_MEAN_S,
            "goal": ">= 50 answered/s, p95 <= 300 ms, lost 0 (residents who read); bot peak < 700 MB",
            "met": summary["per_s"] >= 50 and summary["p95_ms"] <= 300 and summary["lost"] == 0,
            "memory_met": peak < 700,
        }
        if unthrottled:
            log("bot run with the 30 msg/s limiter lifted (diagnostic)")
            self.results["bot_unthrottled"] = self._bot_run(settings, config, seed=99, limiter=False)

    def _bot_run(
        self, settings: Settings, config: Path, *, seed: int, profile: bool = False, limiter: bool = True
    ) -> dict[str, Any]:
        """One bot process against its own fake Bot API: residents who read, then residents who never
        pause; with ``profile`` a third, py-spy-profiled saturation run."""
        from bot.testing.bot_api import FakeBotAPI

        pool = question_pool()
        runs: dict[str, Any] = {}
        with FakeBotAPI() as api:
            env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE_URL": api.base_url}
            env.pop("CHROMA_URL", None)
            entry = ["-m", "bot"] if limiter else ["-c", LIFT_LIMITER]
            command = [PYTHON, *entry, "run", "--no-ingest", "--config", str(config)]
            command += ["--knowledge", str(settings.knowledge_dir), "--data", str(settings.data_dir)]
            log_path = self.root / f"bot-{seed}.log"
            with log_path.open("w", encoding="utf-8") as stderr:
                proc = subprocess.Popen(command, cwd=REPO, env=env, stderr=stderr, text=True)
                try:
                    api.wait_for("getUpdates", timeout=120)
                    # Wait for the warm-up (model + index) before the clock starts: one question and its answer.
                    api.push_update(api.text_update(QUESTIONS[0], user_id=1))
                    api.wait_for("sendMessage", lambda c: c.chat_id == 1, timeout=120)
                    api.clear()
                    load = Residents(api, proc.pid, pool, RESIDENTS)
                    seconds = 20.0 if self.quick else 45.0
                    log(
                        f"bot: {RESIDENTS} residents reading ~{THINK_MEAN_S:.2f} s between messages, {seconds:.0f} s"
                    )
                    runs["paced"] = load.run(seconds, think_mean=THINK_MEAN_S, seed=seed + 1)
                    seconds = 15.0 if self.quick else 30.0
                    log(f"bot: {RESIDENTS} residents who never pause (saturation), {seconds:.0f} s")
                    runs["saturation"] = load.run(seconds, think_mean=0.0, seed=seed + 2)
                    if profile:
                        runs["profiled_saturation"] = self._profiled_run(load, 15.0 if self.quick else 25.0)
                    rejected = [c for c in api.calls if c.method == "sendMessage" and c.status != 200]
                    peak_kb = vm_hwm_kb(proc.pid)  # this process's own peak RSS since exec
                finally:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=60)
            token_in_log = api.token in log_path.read_text(encoding="utf-8")
        return {
            **runs,
            "limiter": limiter,
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "rejected_by_telegram": len(rejected),
            "peak_rss_mb": peak_kb / 1024,
            "exit_code": proc.returncode,
            "token_in_log": token_in_log,
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
