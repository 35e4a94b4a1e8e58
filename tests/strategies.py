"""Hypothesis strategies shared by the test modules."""

from __future__ import annotations

from enum import Enum
from typing import Any, get_origin

from hypothesis import assume
from hypothesis import strategies as st

from difficult_customers.conditions import FieldType, parse_condition, state_schema
from difficult_customers.errors import ConditionError
from difficult_customers.rules import default_rulebook
from difficult_customers.state import ConversationState

# Small counts, so that comparisons with the constants below land on both sides.
COUNTS = st.integers(min_value=0, max_value=4)
_CONSTANTS = st.integers(min_value=0, max_value=4)
_OPERATORS = ("==", "!=", "<", "<=", ">", ">=")
# Whitespace between operands, including line breaks and comments: conditions may be
# multi-line TOML strings.
_GAPS = st.sampled_from([" ", " ", "  ", "\n", "\n    ", "  # why\n  "])


def _values_of(annotation: Any) -> st.SearchStrategy[Any]:
    if get_origin(annotation) is tuple:
        # Memory: a few steps of the built-in rulebook already carried out.
        ids = sorted(default_rulebook().ids)
        return st.lists(st.sampled_from(ids), max_size=4).map(tuple)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return COUNTS
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from(list(annotation))
    raise NotImplementedError(f"no strategy for {annotation!r}")


def state_fields() -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for :class:`ConversationState`, every field drawn from its type."""
    return st.fixed_dictionaries(
        {
            name: _values_of(info.annotation)
            for name, info in ConversationState.model_fields.items()
        }
    )


def _consistent(fields: dict[str, Any]) -> dict[str, Any]:
    # Abuse "after a warning" needs a warning and some abuse: the model refuses the
    # contradiction.
    abused = (
        fields.get("offensive_remarks") or fields.get("personal_attacks") or fields.get("threats")
    )
    if fields.get("warnings_given") == 0 or not abused:
        return {**fields, "abuse_after_warning": False}
    return fields


def states() -> st.SearchStrategy[ConversationState]:
    """Any valid conversation state, built from the model's fields so new fields join in."""
    return state_fields().map(lambda fields: ConversationState(**_consistent(fields)))


def _collection(draw: st.DrawFn, items: list[str]) -> str:
    """A literal tuple, list or set of the given constant spellings."""
    shapes = ["tuple", "list"] + (["set"] if items else [])
    shape = draw(st.sampled_from(shapes))
    inner = ", ".join(items)
    if shape == "list":
        return f"[{inner}]"
    if shape == "set":
        return f"{{{inner}}}"
    return f"({inner},)" if len(items) == 1 else f"({inner})"


def _compared(draw: st.DrawFn, name: str, operators: tuple[str, ...], value: str) -> str:
    """``name op value``, or ``value op name``: constants may stand on either side."""
    op = draw(st.sampled_from(operators))
    return f"{name} {op} {value}" if draw(st.booleans()) else f"{value} {op} {name}"


@st.composite
def comparisons(draw: st.DrawFn, schema: dict[str, FieldType] | None = None) -> str:
    """One valid clause over one field (or two counts): a comparison, chain, ``in`` or name."""
    schema = dict(schema or state_schema())
    name = draw(st.sampled_from(sorted(schema)))
    field = schema[name]
    if field.kind == "bool":
        if draw(st.booleans()):
            return name
        return _compared(draw, name, ("==", "!="), repr(draw(st.booleans())))
    if field.kind == "int":
        form = draw(st.sampled_from(["compare", "chain", "in", "fields"]))
        if form in ("compare", "chain"):
            if form == "compare":
                text = _compared(draw, name, _OPERATORS, str(draw(_CONSTANTS)))
            else:
                low, high = draw(_CONSTANTS), draw(_CONSTANTS)
                first = draw(st.sampled_from(_OPERATORS))
                second = draw(st.sampled_from(_OPERATORS))
                text = f"{low} {first} {name} {second} {high}"
            # `offensive_remarks < 0` can never hold, and is refused as `mood > "furious"` is.
            assume(_parses(text, schema))
            return text
        if form == "in":
            items = draw(st.lists(_CONSTANTS.map(str), min_size=1, max_size=3))
            op = draw(st.sampled_from(["in", "not in"]))
            return f"{name} {op} {_collection(draw, items)}"
        counts = sorted(other for other, kind in schema.items() if kind.kind == "int")
        other = draw(st.sampled_from(counts))
        return f"{name} {draw(st.sampled_from(_OPERATORS))} {other}"
    members = st.sampled_from(field.values).map(lambda value: f'"{value}"')
    if draw(st.booleans()):
        items = draw(st.lists(members, min_size=1, max_size=3))
        op = draw(st.sampled_from(["in", "not in"]))
        return f"{name} {op} {_collection(draw, items)}"
    operators = _OPERATORS if field.ordered else ("==", "!=")
    text = _compared(draw, name, operators, draw(members))
    # `mood > "furious"` can never hold, and is refused like any other constant condition.
    assume(_parses(text, schema))
    return text


def _parses(text: str, schema: dict[str, FieldType]) -> bool:
    try:
        parse_condition(text, schema)
    except ConditionError:
        return False
    return True


@st.composite
def conditions(draw: st.DrawFn, schema: dict[str, FieldType] | None = None, depth: int = 3) -> str:
    """A valid condition: clauses combined with ``and``, ``or`` and ``not``, ``depth`` deep.

    Parentheses are sometimes left out, so Python's precedence decides the grouping, exactly
    as it will for a rule author.
    """
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.one_of(comparisons(schema), st.sampled_from(["True", "False"])))
    kind = draw(st.sampled_from(["not", "and", "or"]))
    if kind == "not":
        operand = draw(conditions(schema, depth - 1))
        return f"not ({operand})" if draw(st.booleans()) else f"not {operand}"
    operands = draw(st.lists(conditions(schema, depth - 1), min_size=2, max_size=3))
    if draw(st.booleans()):
        operands = [f"({operand})" for operand in operands]
    text = operands[0]
    for operand in operands[1:]:
        text += f"{draw(_GAPS)}{kind}{draw(_GAPS)}{operand}"
    return text


def random_state_rows(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` valid states as plain rows (enums as strings, ``done`` as a list), seeded.

    For the columnar and SQL back-ends, which need many states at once: drawing them one by
    one through hypothesis would take longer than the comparison itself.
    """
    import random

    rng = random.Random(seed)
    ids = sorted(default_rulebook().ids)
    rows = []
    for _ in range(count):
        row: dict[str, Any] = {}
        for name, info in ConversationState.model_fields.items():
            annotation = info.annotation
            if get_origin(annotation) is tuple:
                row[name] = sorted(set(rng.sample(ids, rng.randint(0, 4))))
            elif annotation is bool:
                row[name] = rng.random() < 0.5
            elif annotation is int:
                row[name] = rng.randint(0, 4)
            elif isinstance(annotation, type) and issubclass(annotation, Enum):
                row[name] = rng.choice([member.value for member in annotation])
        rows.append(_consistent(row))
    return rows
