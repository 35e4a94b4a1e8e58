"""Back-end: Python source, compiled into the one function that :func:`advise` runs.

The whole rulebook becomes straight-line ``if``s over local variables, one per field read,
so evaluating every rule costs about as much as the plain Python a person would write.
Only lowered trees reach the generator (field names of the schema, ``repr`` of validated
enum values, integers and booleans), so no rule text is ever executed as such.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..conditions import state_schema
from ._tree import AllOf, AnyOf, Compare, Constant, Fields, Flag, Member, Node, Not, lower, names

__all__ = [
    "MAX_SHARED_DEPTH",
    "MAX_SHARED_RULES",
    "Evaluator",
    "MaskEvaluator",
    "compile_masks",
    "compile_quiet",
    "compile_rulebook",
    "source",
]

Evaluator = Callable[[Mapping[str, Any]], list[int]]
MaskEvaluator = Callable[[Mapping[str, Any]], int]

#: Deepest nesting of shared conditions in a mask evaluator (Python allows 100 levels of
#: indentation); rules below it are tested in full.
MAX_SHARED_DEPTH = 24
#: Most conditions whose shared clauses are factored out; a larger rulebook is evaluated
#: rule by rule, so that generating its evaluator stays linear in its size.
MAX_SHARED_RULES = 1000


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
    evaluator: Evaluator = _function(lines, "evaluate", f"<rulebook {rulebook.name}>")
    return evaluator


def _function(lines: list[str], name: str, filename: str) -> Any:
    """The function ``name`` defined by ``lines`` of generated source."""
    # No builtins: the generated code needs none (literal sets compile to constants).
    namespace: dict[str, Any] = {"__builtins__": {}}
    code = compile("\n".join(lines), filename, "exec")
    exec(code, namespace)  # generated from validated, lowered trees only; see above
    return namespace[name]


# --- bitmask evaluators, for the fast path of advise() -----------------------------------


def compile_masks(rulebook: Any) -> MaskEvaluator:
    """One function for the whole rulebook and its phrasings, as a bitmask.

    Bit ``i`` is set for rule ``i`` whose condition holds; above them, bit ``n + j``
    (``n`` rules) for the ``j``-th phrasing ``when``, in rule then phrasing order, that
    holds. The function takes the ``__dict__`` of a validated state: its enum fields must
    be enum members (see :func:`_loads`).
    """
    rules = rulebook.rules
    whens = [p.when for rule in rules for p in rule.phrasing if p.when is not None]
    trees = [lower(rule.when) for rule in rules] + [lower(when) for when in whens]
    return _exec(rulebook, "fired", list(enumerate(trees)))


def compile_quiet(rulebook: Any) -> MaskEvaluator:
    """The rule bits of :func:`compile_masks` for the rules that read ``customer_speaking``,
    as if the customer had finished speaking; the other bits are never set.
    """
    trees = [(index, lower(rule.when)) for index, rule in enumerate(rulebook.rules)]
    speaking = [(index, tree) for index, tree in trees if "customer_speaking" in names(tree)]
    return _exec(rulebook, "quiet", speaking, quiet="customer_speaking")


def _exec(
    rulebook: Any, name: str, trees: Sequence[tuple[int, Node]], quiet: str = ""
) -> MaskEvaluator:
    fields = sorted(frozenset().union(*(names(tree) for _, tree in trees)) - {quiet})
    lines = [f"def {name}(values):", *_loads(fields)]
    if quiet:
        lines.append(f"    {quiet} = False")
    lines.append("    fired = 0")
    conjuncts = [(bit, _conjuncts(tree)) for bit, tree in trees]
    if len(trees) <= MAX_SHARED_RULES:
        _emit(conjuncts, 0, lines)
    else:
        for bit, parts in conjuncts:
            lines.append(f"    if {' and '.join(parts) or 'True'}:")
            lines.append(f"        fired |= {1 << bit}")
    lines.append("    return fired")
    evaluator: MaskEvaluator = _function(lines, name, f"<rulebook {rulebook.name} ({name})>")
    return evaluator


def _loads(fields: Iterable[str]) -> list[str]:
    """A local for each field (reading them all first costs no more than reading each where
    it is first needed: measured). An ordered enum is read as its plain string value: its
    members define ``<`` and the like in Python, which makes even their ``==`` several times
    slower than a string's, and lowered trees only test such fields for (in)equality.
    """
    schema = state_schema()
    return [
        f"    {field} = values[{field!r}]"
        + ("._value_" if field in schema and schema[field].ordered else "")
        for field in fields
    ]


def _conjuncts(tree: Node) -> list[str]:
    """The top-level ``and`` operands of a tree, each as Python source, without repeats."""
    if isinstance(tree, Constant) and tree.value:
        return []
    parts = tree.operands if isinstance(tree, AllOf) else (tree,)
    return list(dict.fromkeys(source(part) for part in parts))


def _emit(rules: list[tuple[int, list[str]]], depth: int, lines: list[str]) -> None:
    """Lines setting each rule's bit when all its conjuncts hold.

    A conjunct shared by several rules (``not resolved``) is tested once, in an ``if`` around
    them; the rules only need all their conjuncts to hold, and evaluating a conjunct has no
    effect, so which one is tested first changes nothing but the time it takes.
    """
    indent = "    " * (depth + 1)
    always = sum(1 << bit for bit, conjuncts in rules if not conjuncts)
    if always:
        lines.append(f"{indent}fired |= {always}")
    rest = [(bit, conjuncts) for bit, conjuncts in rules if conjuncts]
    while rest:
        counts: dict[str, int] = {}
        for _, conjuncts in rest:
            for conjunct in conjuncts:
                counts[conjunct] = counts.get(conjunct, 0) + 1
        # The most shared conjunct; ties go to the first seen, so the output is deterministic.
        best = max(counts, key=counts.__getitem__)
        if counts[best] < 2 or depth >= MAX_SHARED_DEPTH:
            for bit, conjuncts in rest:
                lines.append(f"{indent}if {' and '.join(conjuncts)}:")
                lines.append(f"{indent}    fired |= {1 << bit}")
            return
        lines.append(f"{indent}if {best}:")
        _emit(
            [
                (bit, [c for c in conjuncts if c != best])
                for bit, conjuncts in rest
                if best in conjuncts
            ],
            depth + 1,
            lines,
        )
        rest = [(bit, conjuncts) for bit, conjuncts in rest if best not in conjuncts]
