"""Profiles of the benchmarks: pyinstrument around a step, and py-spy's stacks of the bot summed by bucket."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import log


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


PROFILE_BUCKETS = [  # (bucket, any of these in a stack's frames); the first that matches wins
    (
        "query embedding (OnnxEncoder.encode: tokenizer + ONNX Runtime)",
        ("onnx_encoder.py", "unigram.py", "OnnxEncoder.encode", "QueryBatcher"),
    ),
    ("ask outside the model (normalise, BM25, Chroma, answer)", ("Assistant.ask", "answering/")),
    ("SQLite state (history, answer log)", ("bot/state/",)),
    ("sendChatAction", ("send_chat_action",)),
    ("sendMessage (PTB request, rate limiter, httpx)", ("send_message",)),
    ("getUpdates (polling, update parsing)", ("get_updates", "_update_fetcher")),
    ("answer formatting (channels/telegram/format.py)", ("channels/telegram/format",)),
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
        "no pause), by what the stack was doing; shares of the busy samples. ONNX Runtime runs on the",
        "calling thread ([embedding] threads = 1), so its time shows under OnnxEncoder.encode; see",
        "cpu_ms_per_answer in results.json for the CPU split by thread.",
        f"Busy samples: {total}; idle (waiting) samples left out: {idle}.",
        "",
    ]
    lines += [f"{100 * n / total:5.1f} %  {b}" for b, n in sorted(busy.items(), key=lambda kv: -kv[1])]
    lines += ["", "Functions the busy samples were in (self time), top 15:"]
    top = sorted(leaves.items(), key=lambda kv: -kv[1])[:15]
    lines += [f"{100 * n / total:5.1f} %  {leaf}" for leaf, n in top]
    return "\n".join(lines) + "\n"
