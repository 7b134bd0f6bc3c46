"""What the rest of the machine did while a benchmark ran: load average, other processes' CPU, the busiest of them.

The machine has two cores shared with other sessions (their test suites, evaluations), so every
figure is recorded next to how much CPU was left for it. :class:`Window` brackets one measurement:
``/proc/stat`` busy time minus this process (all its threads), its waited children and the live
children named in ``pids``, and the three other processes that took the most CPU meanwhile.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Any

from bench.load import machine_busy, process_cpu

TICK = os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """CPU seconds of this process (every thread) and of its children that have been waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _processes() -> dict[int, tuple[int, float]]:
    """Every process now: pid → (parent pid, CPU seconds so far)."""
    out: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        out[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
    return out


def _ours(procs: dict[int, tuple[int, float]]) -> set[int]:
    """This process and its descendants."""
    me, ours = os.getpid(), set()
    for pid in procs:
        p, seen = pid, 0
        while p > 1 and seen < 64:
            if p == me:
                ours.add(pid)
                break
            p, seen = procs.get(p, (0, 0.0))[0], seen + 1
    return ours


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:80] or "?"


class Window:
    """One measurement's share of the machine: call :meth:`stop` when it ends."""

    def __init__(self, pids: tuple[int, ...] = ()) -> None:
        self.pids = pids
        self.started = time.monotonic()
        self.load_start = os.getloadavg()
        self.procs = _processes()
        self.busy = machine_busy()
        self.own = own_cpu() + sum(sum(process_cpu(p)) for p in pids)

    def stop(self) -> dict[str, Any]:
        busy = machine_busy()
        own = own_cpu() + sum(sum(process_cpu(p)) for p in self.pids)
        elapsed = max(1e-9, time.monotonic() - self.started)
        procs = _processes()
        ours = _ours(procs)
        spent = {
            pid: cpu - self.procs.get(pid, (0, 0.0))[1] for pid, (_, cpu) in procs.items() if pid not in ours
        }
        top = sorted(spent.items(), key=lambda kv: -kv[1])[:3]
        return {
            "seconds": elapsed,
            "load_average_start": [round(x, 2) for x in self.load_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            # CPU the rest of the machine took meanwhile, in cores (of os.cpu_count())
            "other_processes_cores": max(0.0, busy - self.busy - (own - self.own)) / elapsed,
            "busiest_others": [
                {"cores": round(cpu / elapsed, 2), "command": _command(pid)}
                for pid, cpu in top
                if cpu / elapsed >= 0.01
            ],
        }


def describe(window: dict[str, Any]) -> str:
    """One line for a table cell: other processes' cores and the load average at the end."""
    load = window["load_average_end"][0]
    return f"others {window['other_processes_cores']:.2f} cores, load {load:.1f}"
