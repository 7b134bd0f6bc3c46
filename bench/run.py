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
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: bench/run.py
    sys.path.insert(0, str(REPO))

from bench.measures import Bench  # noqa: E402


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
    if "workers" in r:
        rows += _workers_rows(r["workers"])
    return "\n".join(rows)


def _workers_rows(w: dict[str, Any]) -> list[str]:
    """One vs two webhook workers behind nginx, and PostgreSQL vs SQLite (figures, no goal)."""
    out = []
    for key, label in (
        ("pg_1", "1 worker, PostgreSQL"),
        ("pg_2", "2 workers, PostgreSQL"),
        ("sqlite_1", "1 worker, SQLite"),
    ):
        p, s = w[key]["paced"], w[key]["saturation"]
        out.append(
            f"| {label}, behind nginx: paced / saturation | {p['per_s']:.1f}/s p95 {p['p95_ms']:.0f} ms lost {p['lost']} / "
            f"**{s['per_s']:.1f}/s** p50 {s['p50_ms']:.0f} ms | — | — |"
        )
    c = w["state_calls"]
    out.append(f"| two workers / one (saturation) | **{w['two_over_one_saturation']:.2f}×** | — | — |")
    out.append(
        f"| state calls of one answer, PostgreSQL / SQLite (median) | {c['postgresql']['median_ms']:.2f} / "
        f"{c['sqlite']['median_ms']:.2f} ms = **{c['ratio']:.2f}×**; end to end {w['pg_over_sqlite_saturation']:.2f}× "
        f"the SQLite worker's saturation rate | — | — |"
    )
    return out


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
        "--only",
        nargs="*",
        default=[],
        help="ingest latency reingest retrieval bot workers (default: all but workers)",
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
        if "workers" in only:  # PostgreSQL, nginx and a chroma server: only when asked for
            from bench.workers import workers_bench

            bench.results["workers"] = workers_bench(settings, Path(tmp), args.quick)
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
