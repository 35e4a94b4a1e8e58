"""The built-in conditions in other rule engines' languages, translated from the condition tree.

Each rule's condition is taken in its normalized Python form (``Condition.python``: fully
parenthesized, chains split into ``and``, ordered enum comparisons turned into ``in`` sets)
and walked as a syntax tree into:

* zen-engine's ZEN expression language (``compile_expression``),
* rule-engine's rule language (``rule_engine.Rule``),
* business-rules' JSON conditions (``all``/``any`` over variable comparisons; it has no
  ``not``, so negations are pushed down to the comparisons).

Used by ``bench_advise.py`` (section g) and tested in ``tests/test_bench_peers.py`` when the
peers are installed (``pip install -e '.[bench]'``). Nothing here is part of the library.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any, get_origin

from difficult_customers import ConversationState, Rulebook
from difficult_customers.conditions import FieldType, state_schema

Values = Mapping[str, Any]
Evaluator = Callable[[Values], list[int]]

__all__ = [
    "PEERS",
    "NotTranslatable",
    "business_rules_condition",
    "plain_values",
    "random_states",
    "rule_engine_text",
    "state_variables",
    "zen_text",
]


class NotTranslatable(ValueError):
    """A condition that a peer's language cannot say."""


def _tree(python: str) -> ast.expr:
    return ast.parse(python, mode="eval").body


def _comparison(node: ast.Compare) -> tuple[str, ast.cmpop, ast.expr]:
    """``(field, op, other)`` with the field on the left (flipping ``1 <= x``)."""
    if len(node.ops) != 1:
        raise NotTranslatable("chained comparisons are split in the normalized form")
    left, op, right = node.left, node.ops[0], node.comparators[0]
    if isinstance(left, ast.Name):
        return left.id, op, right
    if isinstance(right, ast.Name):
        flipped = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}
        return right.id, flipped.get(type(op), type(op))(), left
    raise NotTranslatable(ast.unparse(node))


_SYMBOLS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}


def _literal(node: ast.expr, true: str, false: str) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return true if node.value else false
        if isinstance(node.value, int | str):
            return '"' + node.value + '"' if isinstance(node.value, str) else str(node.value)
    raise NotTranslatable(ast.unparse(node))


def _members(node: ast.expr) -> list[object]:
    if not isinstance(node, ast.Set | ast.Tuple | ast.List):
        raise NotTranslatable(ast.unparse(node))
    return [item.value for item in node.elts if isinstance(item, ast.Constant)]


def _infix(node: ast.expr, true: str, false: str, negate: Callable[[str], str]) -> str:
    """An infix expression language with ``and``/``or``, ``in [..]`` and C-like operators."""

    def walk(node: ast.expr) -> str:
        if isinstance(node, ast.BoolOp):
            word = " and " if isinstance(node.op, ast.And) else " or "
            return "(" + word.join(walk(value) for value in node.values) + ")"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return negate(walk(node.operand))
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Constant):
            return _literal(node, true, false)
        if isinstance(node, ast.Compare):
            name, op, other = _comparison(node)
            if isinstance(op, ast.In | ast.NotIn):
                items = ", ".join(
                    f'"{member}"' if isinstance(member, str) else str(member)
                    for member in _members(other)
                )
                test = f"({name} in [{items}])"
                return negate(test) if isinstance(op, ast.NotIn) else test
            return f"({name} {_SYMBOLS[type(op)]} {_literal(other, true, false)})"
        raise NotTranslatable(ast.unparse(node))

    return walk(node)


def zen_text(python: str) -> str:
    """A condition in ZEN, zen-engine's expression language."""
    return _infix(_tree(python), "true", "false", lambda text: f"(not {text})")


def rule_engine_text(python: str) -> str:
    """A condition in rule-engine's language (``not`` binds like Python's)."""
    return _infix(_tree(python), "true", "false", lambda text: f"(not {text})")


def business_rules_condition(python: str, schema: Mapping[str, FieldType]) -> dict[str, Any]:
    """A condition as business-rules JSON: ``all``/``any`` over single comparisons.

    The language has no negation: ``not`` is pushed down (De Morgan) and each comparison
    negated: an enum's ``!=`` or ``not in`` becomes ``any`` of the other members.
    """

    def compare(name: str, op: str, value: object) -> dict[str, Any]:
        return {"name": name, "operator": op, "value": value}

    def enum_any(name: str, members: Sequence[object]) -> dict[str, Any]:
        if not members:
            raise NotTranslatable(f"{name} in an empty set")
        return {"any": [compare(name, "equal_to", member) for member in members]}

    def leaf(node: ast.expr, positive: bool) -> dict[str, Any]:
        if isinstance(node, ast.Name):
            return compare(node.id, "is_true" if positive else "is_false", "")
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            # No constants in business-rules: a tautology or a contradiction over one field.
            holds = node.value == positive
            either = [compare("resolved", "is_true", ""), compare("resolved", "is_false", "")]
            return {"any": either} if holds else {"all": either}
        if not isinstance(node, ast.Compare):
            raise NotTranslatable(ast.unparse(node))
        name, op, other = _comparison(node)
        field = schema[name]
        if isinstance(op, ast.In | ast.NotIn):
            inside = _members(other)
            keep = isinstance(op, ast.In) == positive
            if field.kind == "enum":
                chosen = inside if keep else [v for v in field.values if v not in inside]
                return enum_any(name, chosen)
            tests = [compare(name, "equal_to", member) for member in inside]
            if keep:
                return {"any": tests}
            return {"all": [negated(test) for test in tests]}
        if not isinstance(other, ast.Constant):
            raise NotTranslatable("business-rules compares a variable with a constant only")
        value = other.value
        symbol = _SYMBOLS[type(op)]
        if not positive:
            symbol = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}[symbol]
        if field.kind == "enum":
            if symbol == "==":
                return compare(name, "equal_to", value)
            if symbol == "!=":
                return enum_any(name, [v for v in field.values if v != value])
            raise NotTranslatable("ordered enum comparisons are sets in the normalized form")
        if field.kind == "bool":
            truth = bool(value) == (symbol == "==")
            return compare(name, "is_true" if truth else "is_false", "")
        if symbol == "!=":
            return {
                "any": [compare(name, "less_than", value), compare(name, "greater_than", value)]
            }
        names = {
            "==": "equal_to",
            "<": "less_than",
            "<=": "less_than_or_equal_to",
            ">": "greater_than",
            ">=": "greater_than_or_equal_to",
        }
        return compare(name, names[symbol], value)

    def negated(test: dict[str, Any]) -> dict[str, Any]:
        opposite = {
            "equal_to": None,
            "less_than": "greater_than_or_equal_to",
            "greater_than": "less_than_or_equal_to",
        }
        target = opposite.get(test["operator"])
        if target is None:
            return {
                "any": [
                    compare(test["name"], "less_than", test["value"]),
                    compare(test["name"], "greater_than", test["value"]),
                ]
            }
        return compare(test["name"], target, test["value"])

    def walk(node: ast.expr, positive: bool) -> dict[str, Any]:
        if isinstance(node, ast.BoolOp):
            both = isinstance(node.op, ast.And) == positive
            return {"all" if both else "any": [walk(value, positive) for value in node.values]}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return walk(node.operand, not positive)
        return leaf(node, positive)

    return walk(_tree(python), True)


def plain_values(state: ConversationState) -> dict[str, Any]:
    """The state's fields as JSON values (enums as strings), as every peer reads them."""
    return {
        name: value.value if isinstance(value, Enum) else value
        for name, value in state.__dict__.items()
        if name != "done"
    }


def random_states(count: int, seed: int = 10) -> list[ConversationState]:
    """Valid states with every field drawn at random (counts 0..4), reproducibly."""
    generator = random.Random(seed)
    choices: dict[str, Sequence[Any]] = {}
    for name, info in ConversationState.model_fields.items():
        annotation = info.annotation
        if get_origin(annotation) is tuple:
            continue  # memory of steps taken: left empty
        if annotation is bool:
            choices[name] = (False, True)
        elif annotation is int:
            choices[name] = range(5)
        elif isinstance(annotation, type) and issubclass(annotation, Enum):
            choices[name] = list(annotation)
    states = []
    for _ in range(count):
        fields = {name: generator.choice(values) for name, values in choices.items()}
        abused = fields["offensive_remarks"] or fields["personal_attacks"] or fields["threats"]
        if not (fields["warnings_given"] and abused):
            # Abuse after a warning needs the warning and the abuse (the model says so).
            fields["abuse_after_warning"] = False
        states.append(ConversationState(**fields))
    return states


# --- evaluators: each returns the indices of the rules whose condition holds ----------------


def ours(book: Rulebook) -> Evaluator:
    """This library's generated evaluator (``compile_rulebook``, the reference path's), on
    plain values."""
    from difficult_customers.compile.python import compile_rulebook

    return compile_rulebook(book)


def zen_each(book: Rulebook) -> Evaluator:
    """zen-engine: one ``compile_expression`` per condition."""
    import zen

    compiled = [zen.compile_expression(zen_text(rule.when.python)) for rule in book.rules]
    pairs = list(enumerate(compiled))

    def evaluate(values: Values) -> list[int]:
        return [i for i, expression in pairs if expression.evaluate(values)]

    return evaluate


def zen_array(book: Rulebook) -> Evaluator:
    """zen-engine's fastest mode here: every condition in one compiled array expression."""
    import zen

    array = "[" + ", ".join(zen_text(rule.when.python) for rule in book.rules) + "]"
    expression = zen.compile_expression(array)

    def evaluate(values: Values) -> list[int]:
        return [i for i, holds in enumerate(expression.evaluate(values)) if holds]

    return evaluate


def rule_engine(book: Rulebook) -> Evaluator:
    """rule-engine: one ``Rule`` per condition, matched against the values."""
    import rule_engine as engine

    rules = list(enumerate(engine.Rule(rule_engine_text(r.when.python)) for r in book.rules))

    def evaluate(values: Values) -> list[int]:
        return [i for i, rule in rules if rule.matches(values)]

    return evaluate


def state_variables() -> Callable[[Values], Any]:
    """A business-rules ``BaseVariables`` class with one typed variable per state field."""
    from business_rules.variables import (
        BaseVariables,
        boolean_rule_variable,
        numeric_rule_variable,
        string_rule_variable,
    )

    decorators = {
        "bool": boolean_rule_variable,
        "int": numeric_rule_variable,
        "enum": string_rule_variable,
    }
    methods: dict[str, Any] = {"__init__": lambda self, values: setattr(self, "values", values)}
    for name, field in state_schema().items():
        methods[name] = decorators[field.kind]()(lambda self, name=name: self.values[name])
    return type("StateVariables", (BaseVariables,), methods)


def business_rules(book: Rulebook) -> Evaluator:
    """business-rules: the JSON conditions, checked against typed rule variables."""
    from business_rules.engine import check_conditions_recursively

    schema = state_schema()
    variables = state_variables()
    conditions = list(
        enumerate(business_rules_condition(rule.when.python, schema) for rule in book.rules)
    )

    def evaluate(values: Values) -> list[int]:
        defined = variables(values)
        return [i for i, tree in conditions if check_conditions_recursively(tree, defined)]

    return evaluate


PEERS: dict[str, tuple[str, Callable[[Rulebook], Evaluator]]] = {
    "zen-engine, one compiled array expression": ("zen", zen_array),
    "zen-engine, compile_expression per condition": ("zen", zen_each),
    "rule-engine": ("rule_engine", rule_engine),
    "business-rules": ("business_rules", business_rules),
}
"""label: (module to import, evaluator factory); a peer whose module is missing is skipped."""
