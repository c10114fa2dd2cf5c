"""Timing helpers shared by the benchmark cases.

These machines are shared and noisy: every case times our path and its baseline in
the same run, alternating, several times, and reports medians and their ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def process_env(**settings: str) -> dict[str, str]:
    """The environment of a user's shell for a timed process: none of this machine's LAKE_ and
    AWS_ settings, plus ``settings``; and without PYTHONDONTWRITEBYTECODE (set on these
    machines), so the lake's modules are compiled once, as an installed lake's are, not again
    at every start (about 0.15 s of a small query)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LAKE_", "AWS_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(settings)
    return env


def median_seconds(action: Callable[[], Any], *, repeat: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def compare(
    case: str,
    ours: Callable[[], Any],
    baseline: Callable[[], Any],
    *,
    repeat: int = 5,
    warmup: int = 1,
    baseline_name: str = "baseline",
    **extra: Any,
) -> dict[str, Any]:
    """Time both sides alternately; ratio = ours / baseline (lower is better; 1.0 = as fast)."""
    for _ in range(warmup):
        baseline()
        ours()
    ours_s, base_s = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        baseline()
        base_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        ours()
        ours_s.append(time.perf_counter() - start)
    ours_median, base_median = statistics.median(ours_s), statistics.median(base_s)
    return {
        "case": case,
        "ours_s": ours_median,
        "baseline_s": base_median,
        "baseline": baseline_name,
        "ratio": ours_median / base_median if base_median else float("nan"),
        **extra,
    }


def peak_rss_mb(code: str, *args: str, env: dict[str, str] | None = None) -> float:
    """Peak resident memory of a fresh Python process running ``code`` (``args`` in its
    ``sys.argv``), in MB.

    Read from ``VmHWM`` in ``/proc/self/status``: ``ru_maxrss`` survives ``exec`` and would
    report the parent's peak when the parent was larger.
    """
    wrapped = (
        code
        + "\nimport sys\n"
        + "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        + "sys.stdout.write('\\nPEAK_RSS_KB=%s\\n' % hwm)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapped, *args], capture_output=True, text=True, env=env, check=True
    )
    line = [out for out in result.stdout.splitlines() if out.startswith("PEAK_RSS_KB=")][-1]
    return int(line.split("=")[1]) / 1024
