"""The precondition language: a whitelisted, type-checked subset of Python expressions.

A rule's ``when`` is data, never a callable::

    not resolved and warnings_given >= 1 and (offensive_remarks >= 2 or threats)
    channel in ("phone", "in_person")
    1 <= offensive_remarks < 3
    mood >= "angry"

:func:`parse_condition` parses the text with :mod:`ast`, walks the *whole* tree against the
whitelist (``_NODES`` and ``_OPERATORS`` in ``_parser.py``, where the parser and its passes
are, loaded on first use), so a forbidden node cannot hide behind a short-circuiting ``and``,
then type-checks every comparison against the fields of
:class:`~difficult_customers.state.ConversationState`. The resulting :class:`Condition` can
evaluate itself, explain which clause failed, and offers an equivalent Python expression
(:attr:`Condition.python`); the engine compiles the rulebook from the same trees, lowered, in
:mod:`difficult_customers.compile`. Rule text itself is never passed to ``eval``.
"""

from __future__ import annotations

import ast
import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel

from .state import ConversationState, CustomerValue, Mood

__all__ = [
    "MAX_CONDITION_LENGTH",
    "MAX_DEPTH",
    "MAX_LITERAL_SET",
    "ORDERED_ENUMS",
    "TREE_CACHE_SIZE",
    "Condition",
    "Failure",
    "FieldType",
    "parse_condition",
    "state_schema",
]

if typing.TYPE_CHECKING:
    from ._explanation import Failure


def __getattr__(name: str) -> Any:
    # Failure is defined in _explanation.py, loaded on first use (it was defined here).
    if name == "Failure":
        import difficult_customers

        return difficult_customers.Failure
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Longest condition text accepted, in characters; real rules stay far below it.
MAX_CONDITION_LENGTH = 2000
#: Deepest nesting of expression nodes accepted; bounds the recursion of every pass below.
MAX_DEPTH = 32
#: Most items a literal tuple, set or list after ``in`` may hold.
MAX_LITERAL_SET = 64
#: How many parsed trees :meth:`Condition.evaluate` and :meth:`Condition.explain` keep for
#: reuse. A condition keeps only its text and compiled form; trees are rebuilt on demand.
TREE_CACHE_SIZE = 256

#: Enums whose declaration order is a rank, so ``mood >= "angry"`` means "angry or worse".
#: Decided here rather than in ``state.py``: ordering is a property of the language.
ORDERED_ENUMS: frozenset[type[Enum]] = frozenset({Mood, CustomerValue})


@dataclass(frozen=True)
class FieldType:
    """What a condition may do with one state field.

    Attributes:
        kind: ``"bool"``, ``"int"`` (a count) or ``"enum"``.
        values: an enum's values in declaration order; empty for other kinds.
        ordered: the enum's order is a rank, so ``<``, ``<=``, ``>``, ``>=`` apply.
    """

    kind: Literal["bool", "int", "enum"]
    values: tuple[str, ...] = ()
    ordered: bool = False

    def describe(self) -> str:
        """A short phrase for error messages, e.g. ``one of 'calm', 'upset'``."""
        if self.kind == "enum":
            return "one of " + ", ".join(map(repr, self.values))
        return "a boolean" if self.kind == "bool" else "a count"


@functools.cache
def state_schema(model: type[BaseModel] = ConversationState) -> Mapping[str, FieldType]:
    """The fields a condition may read, and their types, derived from ``model``'s fields.

    Computed once per model; the result is read-only.

    Raises:
        TypeError: a field's type is neither bool, int nor an enum of strings, so conditions
            could not compare it safely.
    """
    schema: dict[str, FieldType] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if typing.get_origin(annotation) is tuple:
            # Memory (the steps already carried out) is applied by the engine from each
            # rule's ``repeats``, not read by conditions.
            continue
        # bool first: it is a subclass of int.
        if annotation is bool:
            schema[name] = FieldType("bool")
        elif annotation is int:
            schema[name] = FieldType("int")
        elif isinstance(annotation, type) and issubclass(annotation, Enum):
            values = tuple(member.value for member in annotation)
            if not all(isinstance(value, str) for value in values):
                raise TypeError(f"field {name!r}: only enums of strings can be used in conditions")
            schema[name] = FieldType("enum", values, annotation in ORDERED_ENUMS)
        else:
            raise TypeError(f"field {name!r} of type {annotation!r} cannot be used in conditions")
    return MappingProxyType(schema)


@dataclass(frozen=True, repr=False)
class Condition:
    """A parsed, validated precondition. Build one with :func:`parse_condition`.

    >>> condition = parse_condition('warnings_given >= 1 and mood >= "angry"')
    >>> sorted(condition.fields)
    ['mood', 'warnings_given']
    >>> condition.evaluate({"warnings_given": 1, "mood": "furious"})
    True
    >>> print(condition.explain({"warnings_given": 0, "mood": "furious"}))
    warnings_given >= 1 (warnings_given=0)

    Attributes:
        source: the text as written in the rule.
        fields: every state field the condition reads.
        python: an equivalent, fully parenthesized Python expression over free variables
            named after the fields, holding plain values (enums as their string values).
    """

    source: str
    fields: frozenset[str]
    python: str
    # None for the default state schema. Deliberately no syntax tree: a tree weighs tens of
    # times its text, and a large rule pack would keep one per rule for explain() alone.
    _schema: Mapping[str, FieldType] | None = field(default=None, compare=False)

    def evaluate(self, values: Mapping[str, object]) -> bool:
        """Whether the condition holds for these field values.

        ``values`` must hold every name in :attr:`fields` (``dict(state)`` does); enums may be
        members or plain strings.
        """
        from ._parser import _checked_tree, _Evaluator

        tree, _ = _checked_tree(self.source)
        return bool(_Evaluator(self._field_types, values).visit(tree))

    def explain(self, values: Mapping[str, object]) -> Failure | None:
        """``None`` when the condition holds, otherwise the smallest clause to blame.

        Under ``and``, the first failing operand, explained in turn; an ``or`` whose every
        alternative failed, a ``not X``, a comparison or a bare field is blamed whole.
        """
        from ._parser import _checked_tree, _Evaluator, _Explainer

        tree, text = _checked_tree(self.source)
        return _Explainer(_Evaluator(self._field_types, values), text).visit(tree)

    @property
    def _field_types(self) -> Mapping[str, FieldType]:
        return state_schema() if self._schema is None else self._schema

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its text (and a custom schema as a plain dict: the read-only mapping is
        # not picklable), checked again on the other side.
        schema = None if self._schema is None else dict(self._schema)
        return (parse_condition, (self.source, schema))


def parse_condition(text: str, schema: Mapping[str, FieldType] | None = None) -> Condition:
    """Parse and validate a precondition against ``schema`` (by default :func:`state_schema`).

    Raises:
        ConditionSyntaxError: ``text`` is not a string, is empty, too long or too deeply
            nested, is not valid Python, or uses a construct outside the whitelist.
        ConditionTypeError: an unknown field, a value outside an enum, or a comparison between
            mismatched types. ``file`` and ``rule`` are left unset for the rulebook loader.
    """
    from ._parser import _checked_tree, _Checker, _Compiler, _parse

    default = schema is None
    if schema is None:
        schema = state_schema()
    # Anything but a string is refused by _parse, before it could reach the cache.
    tree, source = _checked_tree(text) if isinstance(text, str) else _parse(text)
    _Checker(schema, source).visit(tree)
    fields = frozenset(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))
    return Condition(
        source=source.text,
        fields=fields,
        python=_Compiler(schema).visit(tree),
        _schema=None if default else schema,
    )
