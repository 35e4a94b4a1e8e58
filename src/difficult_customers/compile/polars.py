"""Back-end: polars expressions, evaluated over whole columns at once.

A column holds one state field: booleans as ``Boolean``, counts as integers, enums as
``Enum`` (or strings) of their values. Needs the ``[frames]`` extra.

:func:`expression` is one condition as one polars expression. :func:`bitmaps` evaluates many
conditions at once, as :func:`difficult_customers.frames.advise_frame` needs them: polars
computes each distinct comparison once, and the ``and``/``or``/``not`` above them are done
on the Arrow bitmaps of the results, 64 rows per machine word.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._logic import RulebookLogic
from ._tree import (
    OPERATORS,
    AllOf,
    AnyOf,
    Compare,
    Constant,
    Fields,
    Flag,
    Member,
    Node,
    Not,
    bounded,
    require,
)

require("polars", "frames", "difficult_customers.compile.polars")

require("numpy", "frames", "difficult_customers.compile.polars")
require("pyarrow", "frames", "difficult_customers.compile.polars")

import numpy as np  # noqa: E402  (after the checks, so a missing extra says which)
import polars as pl  # noqa: E402
import pyarrow as pa  # type: ignore[import-untyped]  # noqa: E402

__all__ = [
    "Bitmap",
    "BitmapPlan",
    "bitmap",
    "bitmap_matrix",
    "bitmap_plan",
    "bitmaps",
    "expression",
    "fired",
    "kept",
]

#: A column of booleans as bits, 8 rows per byte: row ``r`` is bit ``r % 8`` of byte ``r // 8``
#: (the layout of an Arrow bitmap). Bits past the last row are unspecified.
Bitmap = np.ndarray[Any, np.dtype[np.uint8]]


def expression(node: Node) -> pl.Expr:
    """A boolean polars expression equal to the condition, row by row."""
    if isinstance(node, Constant):
        # As long as the frame, even where every other expression is a constant too.
        return pl.repeat(node.value, pl.len(), dtype=pl.Boolean)
    if isinstance(node, Flag):
        return pl.col(node.name)
    if isinstance(node, Compare):
        compared: pl.Expr = OPERATORS[node.op](pl.col(node.name), pl.lit(bounded(node.value)))
        return compared
    if isinstance(node, Fields):
        between: pl.Expr = OPERATORS[node.op](pl.col(node.left), pl.col(node.right))
        return between
    if isinstance(node, Member):
        member = pl.col(node.name).is_in(list(dict.fromkeys(map(bounded, node.values))))
        return ~member if node.negated else member
    if isinstance(node, Not):
        return ~expression(node.operand)
    assert isinstance(node, AllOf | AnyOf)
    combine = operator.and_ if isinstance(node, AllOf) else operator.or_
    return functools.reduce(combine, (expression(operand) for operand in node.operands))


def fired(logic: RulebookLogic, *, ended: pl.Expr | None = None) -> list[pl.Expr]:
    """One boolean expression per rule, in advice order: the rule takes part and holds.

    ``ended`` is the state's ``ended`` column; ``None`` stands for its default (false).
    Once a conversation has ended only the ``after_ending`` rules take part.
    """
    result = [expression(condition) for condition in logic.conditions]
    if ended is not None:
        result = [f if i in logic.after_ending else f & ~ended for i, f in enumerate(result)]
    return [f.alias(f"_f{i}") for i, f in enumerate(result)]


def kept(
    logic: RulebookLogic,
    *,
    ended: pl.Expr | None = None,
    done: pl.Expr | None = None,
    outcomes: list[pl.Expr] | None = None,
) -> list[pl.Expr]:
    """One boolean expression per rule, in advice order, named after it: it is advised.

    ``done`` is the state's list of rule ids carried out; ``None`` stands for its default
    (nothing done), which spares its work. ``outcomes`` are the expressions of
    :func:`fired` (or columns holding them, computed in an earlier step, so that polars
    evaluates each condition once rather than once per override that reads it).
    """
    on = fired(logic, ended=ended) if outcomes is None else outcomes
    overridden: list[pl.Expr | None] = [None] * len(on)
    for i in logic.overriders:
        # A rule overrides others only when it fired and was not overridden itself; the
        # order guarantees every rule that could override i has been seen already.
        out = overridden[i]
        by_i = on[i] if out is None else on[i] & ~out
        for target in logic.overrides[i]:
            current = overridden[target]
            overridden[target] = by_i if current is None else current | by_i
    result = []
    for i, f in enumerate(on):
        out = overridden[i]
        keep = f if out is None else f & ~out
        if done is not None and i not in logic.repeats:
            # A rule carried out still overrides; it is only not advised again.
            keep = keep & ~done.list.contains(pl.lit(logic.ids[i]))
        result.append(keep.alias(logic.ids[i]))
    return result


@dataclass(frozen=True, slots=True)
class BitmapPlan:
    """How :func:`bitmaps` evaluates some conditions: worked out once, used on any frame.

    Every distinct node has a slot: first the comparisons polars evaluates, then the
    boolean fields, then the combinations, children before parents, as
    ``(slot, kind, operand slots)``; ``results`` are the slots of the conditions asked for.
    """

    expressions: tuple[pl.Expr, ...]
    flags: tuple[str, ...]
    steps: tuple[tuple[int, str, tuple[int, ...]], ...]
    results: tuple[int, ...]
    #: For :func:`bitmap_matrix`: the combinations that are results, and the one row each
    #: is computed into (the first condition that is that tree).
    written: dict[int, int]


def bitmap_plan(nodes: Sequence[Node]) -> BitmapPlan:
    """The :class:`BitmapPlan` of ``nodes`` (hashing the trees once, not on every frame)."""
    leaves = list(dict.fromkeys(leaf for node in nodes for leaf in _leaves(node)))
    flags = list(dict.fromkeys(flag for node in nodes for flag in _flags(node)))
    inner = list(dict.fromkeys(inner for node in nodes for inner in _inner(node)))
    slot: dict[Node, int] = {node: i for i, node in enumerate([*leaves, *flags, *inner])}
    steps: list[tuple[int, str, tuple[int, ...]]] = []
    for node in inner:
        if isinstance(node, Constant):
            steps.append((slot[node], "true" if node.value else "false", ()))
        elif isinstance(node, Not):
            steps.append((slot[node], "not", (slot[node.operand],)))
        else:
            assert isinstance(node, AllOf | AnyOf)
            kind = "and" if isinstance(node, AllOf) else "or"
            steps.append((slot[node], kind, tuple(slot[operand] for operand in node.operands)))
    results = tuple(slot[node] for node in nodes)
    combined = {index for index, _, _ in steps}
    written: dict[int, int] = {}
    for row, index in enumerate(results):
        if index in combined:
            written.setdefault(index, row)
    return BitmapPlan(
        expressions=tuple(expression(leaf).alias(f"_{i}") for i, leaf in enumerate(leaves)),
        flags=tuple(flag.name for flag in flags),
        steps=tuple(steps),
        results=results,
        written=written,
    )


def bitmaps(nodes: Sequence[Node] | BitmapPlan, frame: pl.DataFrame) -> list[Bitmap]:
    """Each condition's value on every row of ``frame``, as a read-only :data:`Bitmap`.

    ``frame`` holds every field the conditions read, without nulls. Each distinct
    comparison (:class:`Compare`, :class:`Member`, :class:`Fields`) is evaluated once by
    polars, all of them in one ``select``; a boolean field is its column's own bitmap, not
    copied; the rest is whole-bitmap ``&``, ``|`` and ``~``, each distinct subtree computed
    once, into a row of one matrix (one large allocation costs far less than many small
    ones). ``nodes`` may be given as their :func:`bitmap_plan`, made once.
    """
    plan = nodes if isinstance(nodes, BitmapPlan) else bitmap_plan(nodes)
    slots = _evaluate(plan, frame, None)
    return [slots[index] for index in plan.results]


def bitmap_matrix(
    nodes: Sequence[Node] | BitmapPlan, frame: pl.DataFrame, *, rows: int = 0
) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The conditions' bitmaps as the rows of one new matrix, which the caller may change.

    As :func:`bitmaps`, but a condition whose tree ends in ``and``, ``or`` or ``not`` is
    computed straight into its row; the matrix has at least ``rows`` rows, the ones past
    the conditions' zero.
    """
    plan = nodes if isinstance(nodes, BitmapPlan) else bitmap_plan(nodes)
    out = np.zeros((max(rows, len(plan.results)), (frame.height + 7) // 8), dtype=np.uint8)
    slots = _evaluate(plan, frame, out)
    for row, index in enumerate(plan.results):
        if plan.written.get(index) != row:  # a comparison, a field, or a repeated tree
            out[row] = slots[index]
    return out


def _evaluate(
    plan: BitmapPlan, frame: pl.DataFrame, out: np.ndarray[Any, np.dtype[np.uint8]] | None
) -> list[Bitmap]:
    """Every slot of the plan; combinations that are results go into ``out``, if given."""
    size = (frame.height + 7) // 8
    slots: list[Bitmap] = [bitmap(column) for column in frame.select(plan.expressions)]
    slots += [bitmap(frame.get_column(name)) for name in plan.flags]
    scratch = np.empty((len(plan.steps), size), dtype=np.uint8)
    for row, (index, kind, operands) in zip(scratch, plan.steps, strict=True):
        assert index == len(slots)  # children come before parents
        target = row if out is None or index not in plan.written else out[plan.written[index]]
        if kind in ("true", "false"):
            target.fill(0xFF if kind == "true" else 0)
        elif kind == "not":
            np.invert(slots[operands[0]], out=target)
        else:
            combine = np.bitwise_and if kind == "and" else np.bitwise_or
            first, second, *rest = operands
            combine(slots[first], slots[second], out=target)
            for operand in rest:
                combine(target, slots[operand], out=target)
        if out is None:
            target.flags.writeable = False  # a subtree's row is shared by every tree holding it
        slots.append(target)
    return slots


def _inner(node: Node) -> list[Node]:
    """The nodes of a tree that bitmaps combine (and constants), children first."""
    if isinstance(node, Constant):
        return [node]
    if isinstance(node, Not):
        return [*_inner(node.operand), node]
    if isinstance(node, AllOf | AnyOf):
        return [*(inner for operand in node.operands for inner in _inner(operand)), node]
    return []


def _flags(node: Node) -> list[Flag]:
    if isinstance(node, Flag):
        return [node]
    if isinstance(node, Not):
        return _flags(node.operand)
    if isinstance(node, AllOf | AnyOf):
        return [flag for operand in node.operands for flag in _flags(operand)]
    return []


def _leaves(node: Node) -> list[Node]:
    """The comparisons in a tree, which polars evaluates (booleans need no evaluation)."""
    if isinstance(node, Compare | Member | Fields):
        return [node]
    if isinstance(node, Not):
        return _leaves(node.operand)
    if isinstance(node, AllOf | AnyOf):
        return [leaf for operand in node.operands for leaf in _leaves(operand)]
    return []


def bitmap(series: pl.Series) -> Bitmap:
    """A Boolean column without nulls as a read-only :data:`Bitmap`, ``(len + 7) // 8`` bytes.

    A column that starts on a byte of its Arrow buffer (any column polars computed, most
    others) is a view of that buffer: no copy, no pass over the rows.
    """
    array = series.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:
        raise ValueError(f"column {series.name!r} holds nulls: no bitmap of its values")
    size = (len(array) + 7) // 8
    start, shift = divmod(array.offset, 8)
    result: Bitmap = np.frombuffer(array.buffers()[1], dtype=np.uint8)[start:]
    if shift:  # a slice that starts inside a byte: its bits, moved to the start
        bits = np.unpackbits(result[: (shift + len(array) + 7) // 8], bitorder="little")
        result = np.packbits(bits[shift : shift + len(array)], bitorder="little")
    result = result[:size]
    result.flags.writeable = False
    return result
