"""compile.polars.bitmaps(), the evaluator behind advise_frame(), against the reference.

The same corpus as tests/test_compile.py (every construct, the built-in conditions and random
ones); each condition's bitmap must hold, row by row, what :meth:`Condition.evaluate` gives,
also on slices of a frame that start inside a byte of its Arrow bitmaps.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from difficult_customers import default_rulebook, parse_condition
from difficult_customers.compile import Constant, Flag, lower
from strategies import conditions, random_state_rows
from test_compile import CORPUS

pl = pytest.importorskip("polars")
np = pytest.importorskip("numpy")
polars_backend = pytest.importorskip("difficult_customers.compile.polars")

ROWS = random_state_rows(403, seed=11)  # not a multiple of 8: the last byte is partial
TEXTS = [
    *CORPUS,
    *(rule.when.source for rule in default_rulebook()),
    *(p.when.source for rule in default_rulebook() for p in rule.phrasing if p.when),
]


def _frame(rows: list[dict[str, Any]]) -> Any:
    return pl.DataFrame(rows, schema_overrides={"done": pl.List(pl.String)})


def _bits(bitmap: Any, rows: int) -> list[bool]:
    return [bool(b) for b in np.unpackbits(bitmap, bitorder="little")[:rows]]


def _reference(texts: list[str], rows: list[dict[str, Any]]) -> list[list[bool]]:
    parsed = [parse_condition(text) for text in texts]
    return [[condition.evaluate(row) for row in rows] for condition in parsed]


def test_every_condition_of_the_corpus_at_once() -> None:
    found = polars_backend.bitmaps([lower(text) for text in TEXTS], _frame(ROWS))
    assert [_bits(b, len(ROWS)) for b in found] == _reference(TEXTS, ROWS)


def test_a_plan_is_made_once_and_used_on_any_frame() -> None:
    plan = polars_backend.bitmap_plan([lower(text) for text in TEXTS])
    for rows in (ROWS, ROWS[:17], ROWS[100:]):
        found = polars_backend.bitmaps(plan, _frame(rows))
        assert [_bits(b, len(rows)) for b in found] == _reference(TEXTS, rows)


@pytest.mark.parametrize("start", [0, 1, 3, 8, 13])
def test_slices_that_start_inside_a_byte(start: int) -> None:
    frame = _frame(ROWS).slice(start, 250)
    found = polars_backend.bitmaps([lower(text) for text in TEXTS], frame)
    assert [_bits(b, 250) for b in found] == _reference(TEXTS, ROWS[start : start + 250])


def test_constants_and_the_empty_frame() -> None:
    nodes = [Constant(True), Constant(False), Flag("threats")]
    true, false, threats = polars_backend.bitmaps(nodes, _frame(ROWS))
    assert _bits(true, len(ROWS)) == [True] * len(ROWS)
    assert _bits(false, len(ROWS)) == [False] * len(ROWS)
    assert _bits(threats, len(ROWS)) == [row["threats"] for row in ROWS]
    empty = pl.DataFrame({"threats": pl.Series([], dtype=pl.Boolean)})
    assert [b.shape for b in polars_backend.bitmaps(nodes, empty)] == [(0,)] * 3


def test_the_bitmaps_are_read_only() -> None:
    # Shared subtrees and boolean columns are returned as they are: a caller writing into
    # one would change the others, or the caller's own frame.
    frame = _frame(ROWS)
    shared, flag = polars_backend.bitmaps([lower("not resolved"), lower("threats")], frame)
    for bitmap in (shared, flag):
        with pytest.raises(ValueError, match="read-only"):
            bitmap[0] = 0


def test_a_column_with_nulls_has_no_bitmap() -> None:
    with pytest.raises(ValueError, match="holds nulls"):
        polars_backend.bitmap(pl.Series("threats", [True, None]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions())
def test_random_conditions(text: str) -> None:
    (found,) = polars_backend.bitmaps([lower(text)], _frame(ROWS))
    assert _bits(found, len(ROWS)) == _reference([text], ROWS)[0]


def test_the_matrix_form_holds_the_same_rows() -> None:
    # Combinations are computed straight into their rows; comparisons, fields and a tree
    # asked for twice are copied in; the rows past the conditions are zero; it is writable.
    nodes = [lower(text) for text in [*TEXTS, TEXTS[-1], "threats", "True"]]
    frame = _frame(ROWS).slice(3, 300)
    matrix = polars_backend.bitmap_matrix(nodes, frame, rows=len(nodes) + 5)
    assert matrix.shape == (len(nodes) + 5, (300 + 7) // 8)
    expected = _reference([*TEXTS, TEXTS[-1], "threats", "True"], ROWS[3:303])
    assert [_bits(row, 300) for row in matrix[: len(nodes)]] == expected
    assert not matrix[len(nodes) :].any()
    matrix[0] = 0  # the caller's own
    again = polars_backend.bitmap_matrix(polars_backend.bitmap_plan(nodes), frame)
    assert [_bits(row, 300) for row in again] == expected
