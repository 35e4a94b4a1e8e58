"""Back-end: SQL, as sqlglot expressions, written in any dialect sqlglot knows.

:func:`rulebook_sql` is what :meth:`Rulebook.to_sql` returns: one expression for a SELECT
list, ``rule_ids``, the array of the ids of the rules in the advice, in advice order. Needs
the ``[sql]`` extra (sqlglot; DuckDB to run it embedded).

Nothing the caller writes reaches the SQL text: column names are the state's field names,
literals are validated enum values, integers, booleans and rule ids (checked again here
against their patterns, since a rule or a condition can be built around validation), and
sqlglot quotes every identifier and string.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ._logic import RulebookLogic, rulebook_logic
from ._tree import (
    BEYOND_COUNTS,
    RULE_ID,
    AllOf,
    AnyOf,
    Compare,
    Constant,
    Fields,
    Flag,
    Member,
    Node,
    Not,
    Value,
    bounded,
    names,
    require,
)

require("sqlglot", "sql", "difficult_customers.compile.sql")

from sqlglot import exp  # noqa: E402  (after the check, so a missing extra says which)
from sqlglot.errors import ErrorLevel, SqlglotError  # noqa: E402

from .._text import shown  # noqa: E402
from ..conditions import FieldType, state_schema  # noqa: E402
from ..errors import RulebookError  # noqa: E402
from ..state import ConversationState  # noqa: E402

__all__ = [
    "INLINE_DIALECTS",
    "MAX_SQL_LENGTH",
    "OUTPUT",
    "condition_sql",
    "dialects",
    "rulebook_expression",
    "rulebook_sql",
]

#: Longest SQL text :func:`rulebook_sql` writes, in characters. The override tests grow with
#: the chains of overrides: the built-in rulebook needs about 23,000 characters with each
#: condition written once, 136,000 inline (DuckDB).
MAX_SQL_LENGTH = 2_000_000
#: The name of the output column.
OUTPUT = "rule_ids"

# sqlglot's base class of expressions changed name (Expression, then Expr); either will do.
Sql = Any

_ENUM_VALUE = re.compile(r"[a-z][a-z0-9_]*")
_COMPARE: Mapping[str, type[exp.Binary]] = {
    "==": exp.EQ,
    "!=": exp.NEQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}
# The lambda's variable in the final filter; a rule id never starts with an underscore.
_ITEM = "_rule_id"
# The lambda's variable holding every rule's outcome.
_FIRED = "_fired"


class _Writer:
    """Lowered trees to sqlglot expressions over the columns present."""

    def __init__(self, columns: frozenset[str]) -> None:
        self.schema = state_schema()
        self.columns = columns

    def field(self, name: str) -> Sql:
        field_type = self.schema.get(name)
        if field_type is None:
            raise ValueError(f"{name!r} is not a state field: refusing to write it as SQL")
        if name in self.columns:
            return exp.column(name, quoted=True)
        default = ConversationState.model_fields[name].default
        return self.literal(name, field_type, getattr(default, "value", default))

    def literal(self, name: str, field_type: FieldType, value: Value) -> Sql:
        # type() rather than isinstance(): True is an int to Python, not a count.
        if field_type.kind == "bool" and type(value) is bool:
            return exp.Boolean(this=value)
        if field_type.kind == "int" and type(value) is int and 0 <= value <= BEYOND_COUNTS:
            return exp.Literal.number(value)
        if (
            field_type.kind == "enum"
            and isinstance(value, str)
            and value in field_type.values
            and _ENUM_VALUE.fullmatch(value)
        ):
            return exp.Literal.string(value)
        raise ValueError(f"{value!r} is not a valid value of {name!r}: refusing to write it")

    def node(self, node: Node) -> Sql:
        if isinstance(node, Constant):
            return exp.Boolean(this=node.value is True)
        if isinstance(node, Flag):
            return self.field(node.name)
        if isinstance(node, Compare):
            field_type = self.schema[node.name]
            right = self.literal(node.name, field_type, bounded(node.value))
            return _COMPARE[node.op](this=self.field(node.name), expression=right)
        if isinstance(node, Fields):
            return _COMPARE[node.op](this=self.field(node.left), expression=self.field(node.right))
        if isinstance(node, Member):
            field_type = self.schema[node.name]
            distinct = dict.fromkeys(bounded(value) for value in node.values)
            values = [self.literal(node.name, field_type, value) for value in distinct]
            member: Sql = exp.In(this=self.field(node.name), expressions=values)
            return exp.Not(this=exp.Paren(this=member)) if node.negated else exp.Paren(this=member)
        if isinstance(node, Not):
            return exp.Not(this=exp.Paren(this=self.node(node.operand)))
        assert isinstance(node, AllOf | AnyOf)
        combine = exp.and_ if isinstance(node, AllOf) else exp.or_
        return exp.Paren(this=combine(*(exp.Paren(this=self.node(o)) for o in node.operands)))


def condition_sql(node: Node, dialect: str = "duckdb") -> str:
    """One lowered condition as a SQL boolean expression over the state's columns."""
    _check_dialect(dialect)
    writer = _Writer(frozenset(state_schema()))
    return _written(writer.node(node), dialect)


def _rule_id(rule_id: str) -> Sql:
    if RULE_ID.fullmatch(rule_id) is None:
        raise ValueError(f"{rule_id!r} is not a rule id: refusing to write it as SQL")
    return exp.Literal.string(rule_id)


def _names(columns: Iterable[str]) -> set[str]:
    # A string is iterable too: "mood" would be the columns "m", "o", "o" and "d".
    if isinstance(columns, str) or not isinstance(columns, Iterable):
        kind = "a string" if isinstance(columns, str) else type(columns).__name__
        raise TypeError(f"columns must be an iterable of state field names, not {kind}")
    names = list(columns)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(
                f"columns must be an iterable of state field names, not of "
                f"{type(name).__name__} ({name!r:.40})"
            )
    present: set[str] = set()
    for name in names:
        if name in present:
            # Counted once, a column listed twice would hide the typo of another one.
            raise ValueError(f"{shown(name)} is named twice in columns: name each column once")
        present.add(name)
    return present


def rulebook_expression(
    logic: RulebookLogic, columns: Iterable[str] | None = None, *, inline: bool = False
) -> Sql:
    """The ``rule_ids`` expression of a rulebook, as a sqlglot tree.

    ``columns`` are the state fields the table holds; the others take their defaults
    (``None``: every field is a column). ``inline`` spells each condition out wherever an
    override reads it, instead of evaluating every condition once into an array handed to
    a lambda: a longer text, but DuckDB runs it about twice as fast as the lambda.
    """
    fields = set(ConversationState.model_fields)
    present = fields if columns is None else _names(columns)
    unknown = sorted(present - fields)
    if unknown:
        raise ValueError(
            f"{shown(unknown[0])} is not a state field; columns may be: "
            f"{', '.join(sorted(fields))}"
        )
    writer = _Writer(frozenset(present))
    on: list[Sql] = [exp.Paren(this=writer.node(c)) for c in logic.conditions]
    if "ended" in present:
        ended = exp.column("ended", quoted=True)
        on = [
            f if i in logic.after_ending else exp.and_(f, exp.Not(this=ended))
            for i, f in enumerate(on)
        ]
    if inline:
        outcome = on
    else:
        # The conditions are evaluated once, into an array that a one-element TRANSFORM
        # hands to the override logic as a lambda variable: SQL has no LET, and spelling a
        # condition out again wherever an override reads it multiplies the query's size.
        fired = exp.to_identifier(_FIRED)
        outcome = [
            exp.Bracket(this=fired.copy(), expressions=[exp.Literal.number(i)])
            for i in range(len(on))
        ]
    overridden: list[Sql | None] = [None] * len(on)
    for i in logic.overriders:
        # As in the engine: only a rule that fired and was not overridden overrides.
        out = overridden[i]
        by_i = (
            outcome[i] if out is None else exp.and_(outcome[i], exp.Not(this=exp.Paren(this=out)))
        )
        for target in logic.overrides[i]:
            current = overridden[target]
            overridden[target] = by_i if current is None else exp.or_(current, by_i)
    items: list[Sql] = []
    for i, f in enumerate(outcome):
        out = overridden[i]
        keep = f if out is None else exp.and_(f, exp.Not(this=exp.Paren(this=out)))
        if "done" in present and i not in logic.repeats:
            carried_out = exp.ArrayContains(
                this=exp.column("done", quoted=True), expression=_rule_id(logic.ids[i])
            )
            keep = exp.and_(keep, exp.Not(this=carried_out))
        items.append(exp.Case(ifs=[exp.If(this=keep, true=_rule_id(logic.ids[i]))]))
    item = exp.to_identifier(_ITEM)
    advised = exp.ArrayFilter(
        this=exp.Array(expressions=items),
        expression=exp.Lambda(
            this=exp.Not(this=exp.Is(this=item.copy(), expression=exp.Null())),
            expressions=[item],
        ),
    )
    kept: Sql = advised
    if not inline:
        once = exp.Transform(
            this=exp.Array(expressions=[exp.Array(expressions=on)]),
            expression=exp.Lambda(this=advised, expressions=[fired]),
        )
        kept = exp.Bracket(this=once, expressions=[exp.Literal.number(0)])
    # A NULL in a column the rules read makes the whole row's answer NULL, rather than
    # silently dropping the rules that read it.
    read = sorted(
        ({name for c in logic.conditions for name in names(c)} | {"ended", "done"}) & present
    )
    nulls: list[Sql] = [
        exp.Is(this=exp.column(n, quoted=True), expression=exp.Null()) for n in read
    ]
    if "done" in present:
        # So does a NULL item in done. Engines differ on one: DuckDB's ARRAY_CONTAINS skips
        # it, Spark's gives NULL for any other id, and so dropped every rule carried out
        # or not.
        item = exp.to_identifier(_ITEM)
        null_items = exp.ArrayFilter(
            this=exp.column("done", quoted=True),
            expression=exp.Lambda(
                this=exp.Is(this=item.copy(), expression=exp.Null()), expressions=[item]
            ),
        )
        nulls.append(exp.GT(this=exp.ArraySize(this=null_items), expression=exp.Literal.number(0)))
    guarded = (
        exp.Case(ifs=[exp.If(this=exp.or_(*nulls), true=exp.Null())], default=kept)
        if nulls
        else kept
    )
    return exp.alias_(guarded, OUTPUT, quoted=True)


#: Dialects whose engines run the inline form faster (measured with DuckDB 1.x-2.x); the
#: others get the conditions evaluated once (Spark plans and runs it faster).
INLINE_DIALECTS = frozenset({"duckdb"})


def rulebook_sql(
    rulebook: object,
    dialect: str = "duckdb",
    columns: Iterable[str] | None = None,
    *,
    inline: bool | None = None,
) -> str:
    """The SQL text of :func:`rulebook_expression` for a rulebook, in a dialect.

    ``inline`` ``None`` chooses by dialect (:data:`INLINE_DIALECTS`).

    Raises:
        ValueError: ``dialect`` is not one of :func:`dialects`, or ``columns`` names a
            field the state does not have.
        TypeError: ``dialect`` is not a string, or ``columns`` is not an iterable of
            strings (a single string included).
        RulebookError: the text would exceed :data:`MAX_SQL_LENGTH`.
    """
    _check_dialect(dialect)
    logic = rulebook_logic(rulebook)
    if inline is None:
        inline = dialect in INLINE_DIALECTS
    return _written(rulebook_expression(logic, columns, inline=inline), dialect)


def dialects() -> tuple[str, ...]:
    """The names :func:`rulebook_sql` takes as ``dialect``: those sqlglot writes, sorted.

    A name exactly, without sqlglot's settings after a comma: the text must be that of the
    dialect asked for, and the shape of the query is chosen by that name.
    """
    from sqlglot.dialects.dialect import Dialect, Dialects

    names = {member.value for member in Dialects} | set(Dialect.classes)
    return tuple(sorted(name for name in names if name))


def _check_dialect(dialect: object) -> None:
    if not isinstance(dialect, str):
        raise TypeError(f"dialect must be a string, not {type(dialect).__name__}")
    known = dialects()
    if dialect not in known:
        close = difflib.get_close_matches(dialect.strip().lower(), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown SQL dialect {shown(dialect)}{hint}; dialects: {', '.join(known)}"
        )


def _written(expression: Sql, dialect: str) -> str:
    try:
        # RAISE: by default sqlglot only logs what the dialect lacks (MySQL has no arrays)
        # and writes a text that cannot give the advice.
        text: str = expression.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
    except (SqlglotError, ValueError) as error:
        # One line, each reason once: sqlglot repeats a reason per construct.
        reasons = "; ".join(dict.fromkeys(line for line in str(error).splitlines() if line))
        raise ValueError(f"cannot write SQL for dialect {dialect!r}: {reasons}") from None
    if len(text) > MAX_SQL_LENGTH:
        raise RulebookError(
            f"the rulebook's SQL would be {len(text)} characters, more than "
            f"MAX_SQL_LENGTH ({MAX_SQL_LENGTH}): its chains of overrides are too long"
        )
    return text
