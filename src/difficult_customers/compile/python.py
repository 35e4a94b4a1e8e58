"""Back-end: Python source, compiled into the one function that :func:`advise` runs.

The whole rulebook becomes straight-line ``if``s over local variables, one per field read,
so evaluating every rule costs about as much as the plain Python a person would write.
Only lowered trees reach the generator (field names of the schema, ``repr`` of validated
enum values, integers and booleans), so no rule text is ever executed as such.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._tree import AllOf, AnyOf, Compare, Constant, Fields, Flag, Member, Node, Not, lower, names

__all__ = ["Evaluator", "compile_rulebook", "source"]

Evaluator = Callable[[Mapping[str, Any]], list[int]]


def source(node: Node) -> str:
    """One fully parenthesized Python expression over free variables named after fields.

    Enums are compared as their string values: a StrEnum member and its value are equal
    and hash alike, so the same code reads members or plain strings.
    """
    if isinstance(node, Constant):
        return repr(node.value)
    if isinstance(node, Flag):
        return node.name
    if isinstance(node, Compare):
        return f"({node.name} {node.op} {node.value!r})"
    if isinstance(node, Fields):
        return f"({node.left} {node.op} {node.right})"
    if isinstance(node, Member):
        # A set display after `in` is folded by CPython into a frozenset constant.
        return f"({node.name} {'not in' if node.negated else 'in'} {_set(node.values)})"
    if isinstance(node, Not):
        return f"(not {source(node.operand)})"
    joiner = " and " if isinstance(node, AllOf) else " or "
    assert isinstance(node, AllOf | AnyOf)
    return "(" + joiner.join(source(operand) for operand in node.operands) + ")"


def _set(values: Iterable[object]) -> str:
    return "{" + ", ".join(map(repr, values)) + "}"


def compile_rulebook(rulebook: Any) -> Evaluator:
    """One Python function for the whole rulebook: the indices of the rules that hold.

    ``rulebook`` is a :class:`~difficult_customers.rules.Rulebook`; the function takes a
    mapping of every field the rules read (``state.__dict__`` does) and returns the indices,
    in advice order, of the rules whose condition holds.
    """
    trees = [lower(rule.when) for rule in rulebook.rules]
    # Names from the lowered trees, never Condition.fields: a hand-built Condition could
    # carry anything there.
    fields = sorted(frozenset().union(*map(names, trees)))
    lines = ["def evaluate(values):", "    fired = []"]
    lines += [f"    {name} = values[{name!r}]" for name in fields]
    for index, tree in enumerate(trees):
        lines.append(f"    if {source(tree)}:")
        lines.append(f"        fired.append({index})")
    lines.append("    return fired")
    # No builtins: the generated code needs none (literal sets compile to constants).
    namespace: dict[str, Any] = {"__builtins__": {}}
    code = compile("\n".join(lines), f"<rulebook {rulebook.name}>", "exec")
    exec(code, namespace)  # generated from validated, lowered trees only; see above
    evaluator: Evaluator = namespace["evaluate"]
    return evaluator
