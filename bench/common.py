"""What every benchmark shares: the repository, its interpreter, the questions asked, and small timing helpers."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

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
