"""Back-end: polars expressions, evaluated over whole columns at once.

A column holds one state field: booleans as ``Boolean``, counts as integers, enums as
``Enum`` (or strings) of their values. Needs the ``[frames]`` extra.
"""

from __future__ import annotations

import functools
import operator

from ._tree import (
    AllOf,
    AnyOf,
    Compare,
    Constant,
    Fields,
    Flag,
    Member,
    Node,
    Not,
    RulebookLogic,
    require,
)

require("polars", "frames", "difficult_customers.compile.polars")

import polars as pl  # noqa: E402  (after the check, so a missing extra says which)

__all__ = ["expression", "fired", "kept"]

_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def expression(node: Node) -> pl.Expr:
    """A boolean polars expression equal to the condition, row by row."""
    if isinstance(node, Constant):
        # As long as the frame, even where every other expression is a constant too.
        return pl.repeat(node.value, pl.len(), dtype=pl.Boolean)
    if isinstance(node, Flag):
        return pl.col(node.name)
    if isinstance(node, Compare):
        compared: pl.Expr = _COMPARE[node.op](pl.col(node.name), pl.lit(node.value))
        return compared
    if isinstance(node, Fields):
        between: pl.Expr = _COMPARE[node.op](pl.col(node.left), pl.col(node.right))
        return between
    if isinstance(node, Member):
        member = pl.col(node.name).is_in(list(node.values))
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
