"""Throughput of advise_frame() and of the SQL back-end: ``python benchmarks/bench_frames.py``.

    python benchmarks/bench_frames.py                      # 1,000,000 states
    python benchmarks/bench_frames.py --states 10000000 --runs 3

Needs the ``[frames]`` and ``[sql]`` extras (pandas for its row). The states are random
valid states (the generator of the tests: 100,000 distinct states, repeated to ``--states``
rows). Each figure is the wall-clock time of one call, the best of ``--runs`` calls after
one warm-up call that is not counted (it pays for what a process does once: polars'
query planning, the rulebook's compiled logic), given as rows per second; the median of
the counted calls is shown beside it, since this machine is shared and noisy.

The target figure is the documented call: ``advise_frame(frame)`` (locale "en", no texts),
where ``frame`` is a ``polars.DataFrame`` with one column per state field except ``done``,
enums as ``pl.Enum`` columns, booleans ``Boolean``, counts ``Int64``; the result is the
polars frame with its ``rule_ids`` column (a list of rule ids per row, in advice order).
Its target: at least 20 million states a second (issue 10). The other rows, for scale:
the same frame with a ``done`` column, with plain string columns, with the texts, as an
Arrow table and as a pandas frame (each result in its own library); ``Rulebook.to_sql()``
run by DuckDB over the same frame; ``advise()`` in a Python loop, on a sample.

Every figure's result is checked first: its rule ids equal ``advise()`` on a sample of
the rows. Prints the machine, then one Markdown table (figure, target, measured, status)
and a PASS/FAIL line per target, as ``bench_advise.py`` does; exits with status 1 if a
target is missed. Not part of the test suite: timings are never asserted by tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb
import polars as pl
from _machine import cpu_model

from difficult_customers import advise, default_rulebook
from difficult_customers.conditions import state_schema
from difficult_customers.frames import advise_frame
from strategies import random_state_rows

TARGET_IDS_PER_SECOND = 20e6
"""advise_frame(frame) rule ids, states per second: Enum columns, no done column."""
SAMPLE = 2000
DISTINCT = 100_000


@dataclass(frozen=True)
class Case:
    figure: str
    call: Callable[[], Any]
    expected: list[list[str]]
    target: float | None = None


def _timed(function: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """The best and the median seconds of ``runs`` calls after a warm-up, and a result."""
    result = function()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return min(seconds), statistics.median(seconds), result


def _expected(rows: list[dict[str, Any]]) -> list[list[str]]:
    index = {rule.id: i for i, rule in enumerate(default_rulebook().rules)}
    expected = []
    for row in rows:
        advice = advise(row)
        ids = [r.rule_id for r in (*advice.attitudes, *advice.actions, *advice.avoid)]
        expected.append(sorted(ids, key=index.__getitem__))
    return expected


def _ids(result: Any) -> list[list[str]]:
    """The first rows' rule ids, whatever library the result is in."""
    if isinstance(result, pl.DataFrame):
        column = result["rule_ids"].head(SAMPLE).to_list()
    elif hasattr(result, "iloc"):  # pandas
        column = list(result["rule_ids"].iloc[:SAMPLE])
    else:  # Arrow
        column = result.column("rule_ids").slice(0, SAMPLE).to_pylist()
    return [list(ids) for ids in column]


def frames(states: int) -> tuple[list[dict[str, Any]], pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The distinct rows, and ``states`` rows of them as string columns with ``done``, as
    ``Enum`` columns with ``done``, and as the target's frame (``Enum`` columns, no ``done``).
    """
    base = random_state_rows(min(states, DISTINCT), seed=1)
    repeat = -(-states // len(base))
    strings = pl.concat(
        [pl.DataFrame(base, schema_overrides={"done": pl.List(pl.String)})] * repeat
    ).head(states)
    strings = strings.rechunk()
    enums = strings.with_columns(
        pl.col(name).cast(pl.Enum(list(field.values)))
        for name, field in state_schema().items()
        if field.kind == "enum"
    )
    return base, strings, enums, enums.drop("done")


def target_case(base: list[dict[str, Any]], frame: pl.DataFrame) -> Case:
    """The figure with a target: ``advise_frame(frame)``, checked against ``advise()``."""
    return Case(
        "advise_frame(frame): rule ids, Enum columns, no done",
        lambda: advise_frame(frame),
        _expected([{**row, "done": []} for row in base[:SAMPLE]]),
        TARGET_IDS_PER_SECOND,
    )


def target_rate(states: int, runs: int) -> tuple[float, float]:
    """States a second of the target figure: the best and the median of ``runs`` calls.

    Raises:
        AssertionError: its rule ids differ from ``advise()``'s.
    """
    base, _, _, frame = frames(states)
    case = target_case(base, frame)
    best, median, result = _timed(case.call, runs)
    assert _ids(result) == case.expected, "advise_frame() differs from advise()"
    return states / best, states / median


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only-target", action="store_true", help="the target figure only")
    args = parser.parse_args(argv)
    base, strings, enums, frame = frames(args.states)
    expected = _expected(base[:SAMPLE])
    cases = [target_case(base, frame)]
    expected_without_done = cases[0].expected
    if not args.only_target:
        import pandas  # noqa: F401  (the pandas row needs it; fail here, not midway)

        sql = default_rulebook().to_sql("duckdb")
        connection = duckdb.connect()

        def duck() -> Any:
            connection.register("states", enums)
            return connection.sql(f"SELECT {sql} FROM states").pl()

        arrow = frame.to_arrow()
        pandas_frame = frame.to_pandas()
        cases += [
            Case("advise_frame: Enum columns + done", lambda: advise_frame(enums), expected),
            Case("advise_frame: string columns + done", lambda: advise_frame(strings), expected),
            Case(
                "advise_frame: ids + texts (en), Enum columns + done",
                lambda: advise_frame(enums, text=True),
                expected,
            ),
            Case(
                "advise_frame: Arrow table in and out",
                lambda: advise_frame(arrow),
                expected_without_done,
            ),
            Case(
                "advise_frame: pandas frame in and out",
                lambda: advise_frame(pandas_frame),
                expected_without_done,
            ),
            Case("DuckDB, Rulebook.to_sql()", duck, expected),
        ]
    print(
        f"{args.states:,} random valid states ({len(base):,} distinct), best of {args.runs} "
        f"calls after a warm-up; Python {platform.python_version()}, polars {pl.__version__}, "
        f"duckdb {duckdb.__version__}; {os.cpu_count()} CPUs ({cpu_model()}), "
        f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}",
        flush=True,
    )
    lines = ["| Figure | Target | Measured | Status |", "|---|---|---|---|"]
    verdicts = []
    for case in cases:
        print(f"... {case.figure}", file=sys.stderr, flush=True)
        best, median, result = _timed(case.call, args.runs)
        if _ids(result) != case.expected:
            print(f"{case.figure}: results differ from advise()", file=sys.stderr)
            return 2
        rate, typical = args.states / best, args.states / median
        measured = f"{rate / 1e6:.1f} M states/s (median {typical / 1e6:.1f})"
        if case.target is None:
            lines.append(f"| {case.figure} | - | {measured} | - |")
            continue
        passed = rate >= case.target
        status = "PASS" if passed else "FAIL"
        target = f">= {case.target / 1e6:.0f} M states/s"
        lines.append(f"| {case.figure} | {target} | {measured} | {status} |")
        verdicts.append((status, case.figure, measured, target))
    if not args.only_target:
        sample = [dict(row) for row in base[:SAMPLE]]
        best, median, _ = _timed(lambda: [advise(row) for row in sample], 1)
        lines.append(
            f"| advise() in a Python loop | - | {SAMPLE / best / 1e6:.2f} M states/s | - |"
        )
    print()
    print("\n".join(lines))
    print()
    for status, figure, measured, target in verdicts:
        print(f"{status}: {figure}: {measured} (target {target})")
    return 1 if any(status == "FAIL" for status, *_ in verdicts) else 0


if __name__ == "__main__":
    raise SystemExit(main())
