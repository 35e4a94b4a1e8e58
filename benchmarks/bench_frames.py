"""Throughput of the columnar and SQL back-ends: run with ``python benchmarks/bench_frames.py``.

    python benchmarks/bench_frames.py            # 1,000,000 states
    python benchmarks/bench_frames.py --states 200000

Needs the ``[frames]`` and ``[sql]`` extras. Measures, on random valid states (the same
generator as the tests), each figure as the best of a few runs:

- ``advise_frame`` rule ids over a polars frame whose enums are ``Enum`` columns, without and
  with a ``done`` column; over plain string columns; with the texts;
- ``Rulebook.to_sql()`` run by DuckDB over the same frame;
- the Python loop, ``advise()`` per state, on a sample, for scale.

Every figure is checked first: the results equal ``advise()`` on a sample of the rows.
Prints one Markdown table (figure, target, measured, pass/fail) and exits with status 1 if a
target is missed. Not part of the test suite: timings are never asserted by tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import duckdb
import polars as pl

from difficult_customers import advise, default_rulebook
from difficult_customers.conditions import state_schema
from difficult_customers.frames import advise_frame
from strategies import random_state_rows

TARGET_IDS_PER_SECOND = 20e6
"""advise_frame() rule ids, states per second, Enum columns, no done column."""
SAMPLE = 2000


def _best(function: Callable[[], Any], runs: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def _expected(rows: list[dict[str, Any]]) -> list[list[str]]:
    index = {rule.id: i for i, rule in enumerate(default_rulebook().rules)}
    expected = []
    for row in rows:
        advice = advise(row)
        ids = [r.rule_id for r in (*advice.attitudes, *advice.actions, *advice.avoid)]
        expected.append(sorted(ids, key=index.__getitem__))
    return expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    base = random_state_rows(min(args.states, 100_000), seed=1)
    repeat = -(-args.states // len(base))
    strings = pl.concat(
        [pl.DataFrame(base, schema_overrides={"done": pl.List(pl.String)})] * repeat
    ).head(args.states)
    strings = strings.rechunk()
    enums = strings.with_columns(
        pl.col(name).cast(pl.Enum(list(field.values)))
        for name, field in state_schema().items()
        if field.kind == "enum"
    )
    without_done = enums.drop("done")
    expected = _expected(base[:SAMPLE])
    expected_without_done = _expected([{**row, "done": []} for row in base[:SAMPLE]])
    sql = default_rulebook().to_sql("duckdb")
    connection = duckdb.connect()

    def duck() -> Any:
        connection.register("states", enums)
        return connection.sql(f"SELECT {sql} FROM states").pl()

    cases: list[tuple[str, Callable[[], Any], list[list[str]], float | None]] = [
        (
            "advise_frame ids, Enum columns",
            lambda: advise_frame(without_done),
            expected_without_done,
            TARGET_IDS_PER_SECOND,
        ),
        ("advise_frame ids, Enum columns + done", lambda: advise_frame(enums), expected, None),
        ("advise_frame ids, string columns + done", lambda: advise_frame(strings), expected, None),
        ("advise_frame ids + texts (en)", lambda: advise_frame(enums, text=True), expected, None),
        ("DuckDB, Rulebook.to_sql()", duck, expected, None),
    ]
    lines = [
        f"{args.states:,} random valid states; {platform.python_implementation()} "
        f"{platform.python_version()}, polars {pl.__version__}, duckdb {duckdb.__version__}, "
        f"{os.cpu_count()} CPUs ({platform.machine()})",
        "",
        "| figure | target | measured | pass |",
        "|---|---|---|---|",
    ]
    failed = False
    for label, function, want, target in cases:
        seconds, result = _best(function, args.runs)
        found = [list(ids) for ids in result["rule_ids"].head(SAMPLE).to_list()]
        if found != want:
            print(f"{label}: results differ from advise()", file=sys.stderr)
            return 2
        rate = args.states / seconds
        passed = target is None or rate >= target
        failed |= not passed
        shown = "-" if target is None else f">= {target / 1e6:.0f} M/s"
        verdict = "-" if target is None else ("PASS" if passed else "FAIL")
        lines.append(f"| {label} | {shown} | {rate / 1e6:.1f} M states/s | {verdict} |")
    sample = [dict(row) for row in base[:SAMPLE]]
    seconds, _ = _best(lambda: [advise(row) for row in sample], 1)
    lines.append(
        f"| advise() in a Python loop | - | {SAMPLE / seconds / 1e6:.2f} M states/s | - |"
    )
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
