"""Benchmarks: ``python -m bench.run [--quick] [--profile]`` (or ``.venv/bin/python bench/run.py``).

Every figure is a ratio or a count measured within one run on this machine, so a busy or slow
machine moves both sides of a ratio together. Prints a table and writes ``bench/results.json``;
``--profile`` also writes pyinstrument profiles of ``ask`` and of an ingest to ``bench/``, and a
py-spy profile of the bot process under load (``bench/profile_bot.txt``; needs ``py-spy`` in
``.venv``). Sections: the whole answer vs one query embedding (torch and ONNX, interleaved), ``ask
--jsonl`` from a cold start, ingest vs raw encode, re-ingest, retrieval at scale, and the bot with 50
simulated residents through the fake Bot API in ``--bot-runs`` fresh processes (medians), each in two
load models: residents who read each reply before the next message (the goal), and residents who never
pause (saturation). Every section records the load average and the other processes' CPU meanwhile.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: bench/run.py
    sys.path.insert(0, str(REPO))

from bench.machine import describe  # noqa: E402
from bench.measures import Bench  # noqa: E402


def table(r: dict[str, Any]) -> str:
    rows = ["| figure | measured | goal | met |", "| --- | --- | --- | --- |"]
    if "answer_latency" in r:
        a = r["answer_latency"]
        n, m = a["questions"], describe(a["machine"])
        rows.append(
            f"| whole `Assistant.ask` p50 / torch + sentence-transformers embed p50 (1 thread) | "
            f"{a['ask_p50_ms']:.1f} / {a['torch_p50_ms']:.1f} ms = **{a['ask_over_torch']:.2f}×** (n={n}; {m}) "
            f"| ≤ 0.6× | {_yes(a['torch_met'])} |"
        )
        rows.append(
            f"| whole `Assistant.ask` p50 / ONNX embed p50 (the bot's encoder, 1 thread) | "
            f"{a['ask_p50_ms']:.1f} / {a['onnx_p50_ms']:.1f} ms = **{a['ask_over_onnx']:.2f}×** "
            f"(ask p95 {a['ask_p95_ms']:.1f} ms; torch / ONNX = {a['torch_over_onnx']:.1f}×) | ≤ 2.0× | {_yes(a['onnx_met'])} |"
        )
        by = a["by_length_p50_ms"]
        rows.append(
            f"| one query embedding p50, torch / ONNX: ≤ 20 characters (n={by['short']['n']}), "
            f"≥ 60 characters (n={by['long']['n']}) | {_ms(by['short']['torch'])} / {_ms(by['short']['onnx'])} ms; "
            f"{_ms(by['long']['torch'])} / {_ms(by['long']['onnx'])} ms | — | — |"
        )
    if "startup" in r:
        s = r["startup"]
        runs = s["runs"]
        m = "; ".join(describe(x["machine"]) for x in runs)
        rows.append(
            f"| `ask --jsonl` cold start → first answer line (median of {len(runs)}) | **{s['first_answer_s']:.2f} s** "
            f"({_each(runs, lambda x: x['first_answer_s'], 2)}; {m}) | ≤ 5 s (≤ 3 s in the issue's text) "
            f"| {_yes(s['first_met'])} |"
        )
        rows.append(
            f"| `ask --jsonl` peak memory (VmHWM), over {s['questions']} held-out questions | **{s['peak_rss_mb_max']:.0f} MB** "
            f"(max of {_each(runs, lambda x: x['peak_rss_mb'], 0)}) | < 700 MB | {_yes(s['memory_met'])} |"
        )
        rows.append(
            f"| `ask --jsonl` median `latency_ms` / torch embed p50, {s['questions']} held-out questions, interleaved "
            f"| {s['latency_ms_p50']:.1f} / {s['torch_embed_ms_p50']:.1f} ms = **{s['ratio']:.2f}×** "
            f"(per run: {_each(runs, lambda x: x['latency_ms_p50'] / x['torch_embed_ms_p50'], 2)}) "
            f"| ≤ 0.6× | {_yes(s['ratio_met'])} |"
        )
    if "ingest" in r:
        i = r["ingest"]
        rows.append(
            f"| ingest throughput / raw encode ({i['embedded']} chunks and answer units) | {i['ingest_chunks_per_s']:.1f} / "
            f"{i['encode_chunks_per_s']:.1f} texts/s = **{i['ratio']:.2f}×** (encodes "
            f"{' / '.join(f'{e:.1f}' for e in i['encode_s'])} s, ingest {i['ingest_s']:.1f} s; {describe(i['machine'])}) "
            f"| ≥ 0.8× | {_yes(i['met'])} |"
        )
    if "reingest" in r:
        g = r["reingest"]
        rows.append(
            f"| re-ingest after changing 1 of {g['files']} files | **{g['reingest_s']:.1f} s** "
            f"({g['embedded']} texts embedded; first ingest {g['first_ingest_s']:.0f} s) | ≤ 10 s | {_yes(g['met'])} |"
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
    if "bot" in r:
        t = r["bot"]
        med, runs = t["median"], t["runs"]
        each = "; ".join(
            f"{x['paced']['per_s']:.1f}/s p95 {x['paced']['p95_ms']:.0f} ms, others {x['paced']['other_processes_cores']:.2f} cores"
            for x in runs
        )
        rows.append(
            f"| bot, {t['residents']} residents reading ~{t['think_mean_s']:.2f} s between messages, fake Bot API "
            f"(offered {med['offered_per_s']:.1f} msg/s), median of {len(runs)} | **{med['per_s']:.1f} answers/s**, "
            f"p50 {med['p50_ms']:.0f} ms, p95 **{med['p95_ms']:.0f} ms**, lost **{med['lost']}** ({each}) "
            f"| ≥ 50/s, p95 ≤ 300 ms, 0 lost | {_yes(t['met'])} |"
        )
        rows.append(
            f"| bot, {t['residents']} residents who never pause (saturation), median of {len(runs)} | "
            f"**{med['saturation_per_s']:.1f} answers/s**, p95 {med['saturation_p95_ms']:.0f} ms "
            f"({_each(runs, lambda x: x['saturation']['per_s'], 1)}) | — | — |"
        )
        cpu = runs[len(runs) // 2]["paced"]["cpu_ms_per_answer"]
        rows.append(
            f"| CPU per answered message, paced run: bot event loop / bot answering threads / fake API + residents "
            f"| {cpu['bot_event_loop']:.1f} / {cpu['bot_other_threads']:.1f} / "
            f"{cpu['bench_fake_api_and_residents']:.1f} ms | — | — |"
        )
        rows.append(
            f"| peak memory (VmHWM) of the bot process | **{med['peak_rss_mb_max']:.0f} MB** (max of "
            f"{_each(runs, lambda x: x['peak_rss_mb'], 0)}) | < 700 MB | {_yes(t['memory_met'])} |"
        )
    if "bot_unthrottled" in r:
        u = r["bot_unthrottled"]
        p, sat = u["paced"], u["saturation"]
        rows.append(
            f"| diagnostic: the same bot with PTB's 30 msg/s limiter lifted (not how it runs) | residents who read: "
            f"{p['per_s']:.1f}/s (offered {p['offered_per_s']:.1f}), p95 {p['p95_ms']:.0f} ms, lost {p['lost']}; "
            f"saturation {sat['per_s']:.1f}/s, p95 {sat['p95_ms']:.0f} ms (others {p['other_processes_cores']:.2f} cores) "
            f"| — | — |"
        )
    if "workers" in r:
        rows += _workers_rows(r["workers"])
    return "\n".join(rows)


def _each(runs: list[dict[str, Any]], figure: Callable[[dict[str, Any]], float], digits: int) -> str:
    return ", ".join(f"{figure(x):.{digits}f}" for x in runs)


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


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


def _commit() -> str:
    import subprocess

    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip()


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
        help="ingest latency startup reingest retrieval bot workers (default: all but workers)",
    )
    parser.add_argument(
        "--bot-runs", type=int, default=3, help="fresh bot processes measured (medians quoted)"
    )
    parser.add_argument(
        "--unthrottled",
        action="store_true",
        help="one more bot run with PTB's 30 messages/s limiter lifted (a diagnostic, not a goal)",
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
    only = set(args.only) or {"ingest", "latency", "startup", "reingest", "retrieval", "bot"}
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        bench = Bench(Path(tmp), args.quick, args.profile)
        settings = bench.ingest_throughput("ingest" in only)  # the sample index every later step uses
        if "latency" in only:
            bench.answer_latency(settings)
        if "startup" in only:
            bench.startup(settings)
        if "reingest" in only:
            bench.reingest()
        if "retrieval" in only:
            bench.retrieval_scale()
        if "bot" in only:
            bench.bot_throughput(settings, 1 if args.quick else args.bot_runs, args.unthrottled)
        if "workers" in only:  # PostgreSQL, nginx and a chroma server: only when asked for
            from bench.workers import workers_bench

            bench.results["workers"] = workers_bench(settings, Path(tmp), args.quick)
    results = bench.results
    results["meta"] = {
        "command": "python -m bench.run"
        + (" --quick" if args.quick else "")
        + (" --profile" if args.profile else "")
        + (f" --bot-runs {args.bot_runs}" if args.bot_runs != 3 else "")
        + (" --unthrottled" if args.unthrottled else "")
        + (f" --only {' '.join(args.only)}" if args.only else ""),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "commit": _commit(),
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
