"""The validated condition tree, lowered to the few node types every back-end handles.

:func:`lower` re-reads a condition's whitelisted tree exactly as :meth:`Condition.explain`
does, type-checks it again against the schema (so a :class:`Condition` built by hand, around
the validation, cannot smuggle an unchecked value into generated code), and removes what the
back-ends should not each have to get right:

- a constant on the left (``1 <= x``) is turned round (``x >= 1``);
- a chain (``1 <= x < 3``) becomes an :class:`AllOf` of its pairs;
- a rank comparison on an ordered enum (``mood >= "angry"``) becomes the membership test the
  interpreter itself uses (``mood in ("angry", "furious")``);
- literal collections become tuples of unique values, in source order.

The nodes hold only field names of the schema, validated enum values, integers and booleans.
"""

from __future__ import annotations

import ast
import contextlib
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from .. import _seeds
from .._parser import _OPERATORS, _checked_tree, _Checker, _ordered_members, _pairs, _Pass
from ..conditions import Condition, FieldType, state_schema
from ..state import MAX_COUNT

__all__ = [
    "BEYOND_COUNTS",
    "LOWERED_CACHE_SIZE",
    "OPERATORS",
    "RULE_ID",
    "AllOf",
    "AnyOf",
    "Compare",
    "Constant",
    "Fields",
    "Flag",
    "Member",
    "Node",
    "Not",
    "bounded",
    "lower",
    "names",
    "require",
    "seed",
]

Op = Literal["==", "!=", "<", "<=", ">", ">="]
Value = bool | int | str

#: What a count constant above MAX_COUNT is compared as (see :func:`bounded`).
BEYOND_COUNTS = MAX_COUNT + 1


def bounded(value: Value) -> Value:
    """A count constant, at most ``MAX_COUNT + 1``; any other constant as it is.

    A condition may compare a count with any integer, and a state's counts are 0 to
    MAX_COUNT (validation refuses others): against each of them, ``count op n`` for an
    ``n`` above MAX_COUNT is ``count op MAX_COUNT + 1``, for every operator and for ``in``.
    So a back-end holds no integer that an engine might read as wider than its integers
    (polars has none for a constant of 40 digits, and one of 20 would widen the column).
    """
    # type(), not isinstance(): True is an int to Python, and only counts are compared
    # with integers.
    return BEYOND_COUNTS if type(value) is int and value > BEYOND_COUNTS else value


#: Every comparison operator a lowered tree holds, with its Python meaning (a bool for
#: Python values; for polars columns, the expression comparing them).
OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FLIPPED: Mapping[str, Op] = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

#: What a rule id looks like (the pattern of :class:`Rule`.id): checked again before an id
#: is written into generated code, since a Rule can be built around pydantic's validation.
RULE_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


class _Node:
    """A node of a lowered tree: immutable, equal to a node of the same type and fields.

    Written out rather than as dataclasses: the tree is needed by the first advise(), and
    defining eight dataclasses costs about 4 ms at import (their methods are compiled one by
    one), most of what the package itself adds to pydantic's own import time.
    """

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__match_args__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Node)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__name__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), self._values()


_set = object.__setattr__


class Constant(_Node):
    """``True`` or ``False`` standing alone."""

    __slots__ = ("value",)
    __match_args__ = ("value",)
    value: bool

    def __init__(self, value: bool) -> None:
        _set(self, "value", value)


class Flag(_Node):
    """A boolean field standing alone: true when the field is."""

    __slots__ = ("name",)
    __match_args__ = ("name",)
    name: str

    def __init__(self, name: str) -> None:
        _set(self, "name", name)


class Compare(_Node):
    """``name op value``: a field against a constant of the field's own type."""

    __slots__ = ("name", "op", "value")
    __match_args__ = ("name", "op", "value")
    name: str
    op: Op
    value: Value

    def __init__(self, name: str, op: Op, value: Value) -> None:
        _set(self, "name", name)
        _set(self, "op", op)
        _set(self, "value", value)


class Fields(_Node):
    """``left op right``: two counts compared with each other."""

    __slots__ = ("left", "op", "right")
    __match_args__ = ("left", "op", "right")
    left: str
    op: Op
    right: str

    def __init__(self, left: str, op: Op, right: str) -> None:
        _set(self, "left", left)
        _set(self, "op", op)
        _set(self, "right", right)


class Member(_Node):
    """``name in values`` (or ``not in`` when ``negated``); ``values`` is never empty."""

    __slots__ = ("name", "negated", "values")
    __match_args__ = ("name", "values", "negated")
    name: str
    values: tuple[Value, ...]
    negated: bool

    def __init__(self, name: str, values: tuple[Value, ...], negated: bool = False) -> None:
        _set(self, "name", name)
        _set(self, "values", values)
        _set(self, "negated", negated)


class Not(_Node):
    __slots__ = ("operand",)
    __match_args__ = ("operand",)
    operand: Node

    def __init__(self, operand: Node) -> None:
        _set(self, "operand", operand)


class AllOf(_Node):
    """Every operand holds (at least two)."""

    __slots__ = ("operands",)
    __match_args__ = ("operands",)
    operands: tuple[Node, ...]

    def __init__(self, operands: tuple[Node, ...]) -> None:
        _set(self, "operands", operands)


class AnyOf(_Node):
    """Some operand holds (at least two)."""

    __slots__ = ("operands",)
    __match_args__ = ("operands",)
    operands: tuple[Node, ...]

    def __init__(self, operands: tuple[Node, ...]) -> None:
        _set(self, "operands", operands)


Node = Constant | Flag | Compare | Fields | Member | Not | AllOf | AnyOf


class _Lowering(_Pass[Node]):
    def __init__(self, schema: Mapping[str, FieldType]) -> None:
        self.schema = schema

    def expression(self, node: ast.Expression) -> Node:
        return self.visit(node.body)

    def bool_op(self, node: ast.BoolOp) -> Node:
        operands = tuple(self.visit(value) for value in node.values)
        return AllOf(operands) if isinstance(node.op, ast.And) else AnyOf(operands)

    def unary_op(self, node: ast.UnaryOp) -> Node:
        return Not(self.visit(node.operand))

    def compare(self, node: ast.Compare) -> Node:
        pairs = tuple(self._pair(left, cmpop, right) for left, cmpop, right in _pairs(node))
        return pairs[0] if len(pairs) == 1 else AllOf(pairs)

    def name(self, node: ast.Name) -> Node:
        return Flag(node.id)

    def constant(self, node: ast.Constant) -> Node:
        assert isinstance(node.value, bool)  # the checker lets no other constant stand alone
        return Constant(node.value)

    def collection(self, node: ast.Tuple | ast.Set | ast.List) -> Node:  # pragma: no cover
        raise AssertionError("a collection is only lowered as the right side of 'in'")

    def _pair(self, left: ast.expr, cmpop: ast.cmpop, right: ast.expr) -> Node:
        op = _OPERATORS[type(cmpop)]
        ordered = _ordered_members(self.schema, left, op, right)
        if ordered is not None:
            name, members = ordered
            return Member(name, members)
        if op.symbol in ("in", "not in"):
            assert isinstance(left, ast.Name)
            assert isinstance(right, ast.Tuple | ast.Set | ast.List)
            values = tuple(
                dict.fromkeys(
                    _value(item) for item in right.elts if isinstance(item, ast.Constant)
                )
            )
            return Member(left.id, values, negated=op.symbol == "not in")
        symbol: Op = op.symbol  # type: ignore[assignment]  # the other operators are these
        if isinstance(left, ast.Name) and isinstance(right, ast.Name):
            return Fields(left.id, symbol, right.id)
        if isinstance(left, ast.Name):
            assert isinstance(right, ast.Constant)
            return Compare(left.id, symbol, _value(right))
        assert isinstance(left, ast.Constant)
        assert isinstance(right, ast.Name)
        return Compare(right.id, _FLIPPED[symbol], _value(left))


def _value(node: ast.Constant) -> Value:
    value = node.value
    if not isinstance(value, bool | int | str):  # pragma: no cover - the checker refuses them
        raise AssertionError(f"unexpected constant {value!r}")
    return value


def names(node: Node) -> frozenset[str]:
    """Every field a lowered tree reads."""
    if isinstance(node, Flag | Compare | Member):
        return frozenset({node.name})
    if isinstance(node, Fields):
        return frozenset({node.left, node.right})
    if isinstance(node, Not):
        return names(node.operand)
    if isinstance(node, AllOf | AnyOf):
        return frozenset().union(*(names(operand) for operand in node.operands))
    return frozenset()


def lower(condition: Condition | str, schema: Mapping[str, FieldType] | None = None) -> Node:
    """The lowered tree of a condition, validated again against ``schema``.

    Raises:
        ConditionError: the text is not a valid condition for the schema.
    """
    text = condition if isinstance(condition, str) else condition.source
    if schema is None or schema is state_schema():
        return _lower_default(text)
    return _lower(text, schema)


#: Most condition texts whose lowered tree (for the default schema) is kept.
LOWERED_CACHE_SIZE = 1024
# Schemas are read-only mappings, not hashable: only the default one is cached. Keyed by
# the text alone, which is all a lowered tree depends on besides the schema, so a Condition
# built by hand is lowered from its own text, checked, like any other.
_LOWERED: dict[str, Node] = {}


def _lower_default(text: str) -> Node:
    node = _LOWERED.get(text)
    if node is None:
        while _LATER:
            # pop() is atomic: each provider runs once, whichever thread gets it; another
            # thread meanwhile lowers the text itself, to the same tree.
            with contextlib.suppress(IndexError):
                _LATER.pop()()
            node = _LOWERED.get(text)
    if node is None:
        node = _lower(text, state_schema())
        _remember(text, node)
    return node


def _remember(text: str, node: Node) -> None:
    if len(_LOWERED) >= LOWERED_CACHE_SIZE:
        # The oldest goes, so the cache stays bounded; another thread may have taken it.
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):
            _LOWERED.pop(next(iter(_LOWERED)))
    _LOWERED[text] = node


# Providers of seeds not yet run, each calling seed(): kept in _seeds.py, so that the
# prebuilt rulebook can leave them there without importing this module.
_LATER = _seeds.LATER


def seed(text: str, node: Node) -> None:
    """Remember the lowered tree of a condition text, for the default schema.

    For the built-in rulebook's conditions, lowered when the package was built
    (``_prebuilt.py``, which checks the tree against the schema first): its first
    ``advise()`` then need not parse and check every condition again.
    """
    if text not in _LOWERED:
        _remember(text, node)


def _lower(text: str, schema: Mapping[str, FieldType]) -> Node:
    tree, source = _checked_tree(text)
    _Checker(schema, source).visit(tree)
    return _Lowering(schema).visit(tree)


def require(module: str, extra: str, feature: str) -> None:
    """Import an optional dependency, or raise an ImportError naming the extra to install."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{feature} needs {module!r}, which is not installed: "
            f"pip install 'difficult-customers[{extra}]'"
        ) from None
