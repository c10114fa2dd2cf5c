"""Run the benchmarks: `make bench` (or `python -m bench [CASE...] [--scale S]`).

Each module `bench/bench_*.py` has `run(scale) -> list[dict]`; every row names its case,
the median time of our path and of the baseline measured in the same run, and the ratio.
Results are printed as a table and written to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="module names without bench_ (default: all)")
    parser.add_argument(
        "--scale",
        type=float,
        default=0.1,
        help="fraction of the full-size data (1.0 = the issue's sizes)",
    )
    args = parser.parse_args(argv)
    modules = sorted(
        m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_")
    )
    wanted = [m for m in modules if not args.cases or m.removeprefix("bench_") in args.cases]
    rows: list[dict] = []
    for name in wanted:
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        try:
            found = module.run(scale=args.scale)
        except Exception as error:  # noqa: BLE001 - one failing case must not hide the others
            print(f"{name}: failed: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        for row in found:
            row.setdefault("module", name)
        rows += found
        print(f"{name}: {time.perf_counter() - started:.1f}s", file=sys.stderr)
    _print(rows)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps({"scale": args.scale, "rows": rows}, indent=2, default=str)
    )
    return 0


def _print(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="lake benchmarks (medians; ratio = ours / baseline, lower is better)")
    for column in ("case", "ours", "baseline", "ratio", "notes"):
        table.add_column(column)
    for row in rows:
        notes = ", ".join(
            f"{k}={_fmt(v)}"
            for k, v in row.items()
            if k not in {"case", "ours_s", "baseline_s", "ratio", "module", "baseline"}
        )
        table.add_row(
            row["case"],
            _fmt(row.get("ours_s"), "s"),
            f"{_fmt(row.get('baseline_s'), 's')} ({row.get('baseline', '')})",
            _fmt(row.get("ratio"), "x"),
            notes,
        )
    Console().print(table)


def _fmt(value, unit: str = "") -> str:
    if isinstance(value, float):
        return f"{value:.3f}{unit}" if value < 100 else f"{value:.0f}{unit}"
    return "" if value is None else f"{value}{unit}"


if __name__ == "__main__":
    sys.exit(main())
