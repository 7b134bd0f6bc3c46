"""Load on the bot: simulated residents through the fake Bot API, and what the bot's
process spent (CPU per thread, peak memory) as /proc reports it."""

from __future__ import annotations

import json
import os
import queue
import random
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import QUESTIONS, REPO, pct

RESIDENTS = 50
# Mean pause between a reply and the resident's next message (exponential). 50 residents offer
# 50 / (0.85 s + latency) messages/s: ~55 at 50 ms, so the offered load reaches issue 12's 50/s.
THINK_MEAN_S = 0.85
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
        cpu_before = process_cpu(self.pid), time.process_time(), machine_busy()
        started = time.monotonic()
        threads = [threading.Thread(target=resident, args=(i,)) for i in range(self.residents)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.monotonic() - started
        bot_cpu, own_cpu, busy = process_cpu(self.pid), time.process_time(), machine_busy()
        ours = sum(bot_cpu) - sum(cpu_before[0]) + own_cpu - cpu_before[1]
        n = max(1, len(latencies))
        return {
            "seconds": elapsed,
            "think_mean_s": think_mean,
            "messages": sent[0],
            "answered": len(latencies),
            "offered_per_s": sent[0] / elapsed,
            "per_s": len(latencies) / elapsed,
            "window_per_s": window_rates(answered_at, started, elapsed),
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


def window_rates(times: list[float], started: float, elapsed: float, width: float = 5.0) -> list[float]:
    """Answers per second in consecutive ``width``-second windows of the run."""
    counts = [0] * max(1, int(elapsed // width))
    for t in times:
        k = int((t - started) // width)
        if k < len(counts):
            counts[k] += 1
    return [c / width for c in counts]


def machine_busy() -> float:
    """CPU seconds all cores have spent busy since boot (``/proc/stat``: everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of a process so far: (its main thread — the bot's event loop, all other threads)."""
    tick = os.sysconf("SC_CLK_TCK")

    def cpu(stat: Path) -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime, stime

    total = cpu(Path(f"/proc/{pid}/stat"))  # includes threads that have ended
    main = cpu(Path(f"/proc/{pid}/task/{pid}/stat"))
    return main, total - main


def vm_hwm_kb(pid: int) -> int:
    """Peak resident set (VmHWM) of a live process. ``wait4``'s ru_maxrss is not used: on Linux a
    child forked from this (large) process starts with the parent's high-water mark."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
