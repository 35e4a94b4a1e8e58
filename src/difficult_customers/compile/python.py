"""Back-end: Python source, compiled into the one function that :func:`advise` runs.

The whole rulebook becomes straight-line ``if``s over local variables, one per field read,
so evaluating every rule costs about as much as the plain Python a person would write.
Only lowered trees reach the generator (field names of the schema, ``repr`` of validated
enum values, integers and booleans), so no rule text is ever executed as such.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..conditions import state_schema
from ..state import ConversationState
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
    lower,
    names,
)

__all__ = [
    "FIELDS",
    "MAX_SHARED_DEPTH",
    "MAX_SHARED_RULES",
    "MAX_SPLIT_FIELDS",
    "Evaluator",
    "MaskEvaluator",
    "compile_masks",
    "compile_rulebook",
    "field_values",
    "masks_source",
    "quiet_shift",
    "source",
]

Evaluator = Callable[[Mapping[str, Any]], list[int]]
MaskEvaluator = Callable[[tuple[Any, ...]], int]

#: The state's fields in the order of its model: a mask evaluator takes their values so.
FIELDS: tuple[str, ...] = tuple(ConversationState.model_fields)
#: The field values of a state's ``__dict__``, in :data:`FIELDS` order: what a mask evaluator
#: takes (``field_values(state.__dict__)``).
field_values: Callable[[Mapping[str, Any]], tuple[Any, ...]] = operator.itemgetter(*FIELDS)

#: Deepest nesting of shared conditions in a mask evaluator (Python allows 100 levels of
#: indentation); rules below it are tested in full.
MAX_SHARED_DEPTH = 24
#: Most boolean fields on which a mask evaluator is split into simplified copies (four
#: copies for two fields).
MAX_SPLIT_FIELDS = 2
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
    evaluator: Evaluator = _function("\n".join(lines), "evaluate", f"<rulebook {rulebook.name}>")
    return evaluator


def _function(text: str, name: str, filename: str) -> Any:
    """The function ``name`` defined by ``text``, generated source."""
    # No builtins: the generated code needs none (literal sets compile to constants).
    namespace: dict[str, Any] = {"__builtins__": {}}
    code = compile(text, filename, "exec")
    exec(code, namespace)  # generated from validated, lowered trees only; see above
    return namespace[name]


# --- bitmask evaluators, for the fast path of advise() -----------------------------------


def compile_masks(rulebook: Any) -> MaskEvaluator:
    """One function for the whole rulebook and its phrasings, as a bitmask.

    Bit ``i`` is set for rule ``i`` whose condition holds; above them, bit ``n + j``
    (``n`` rules) for the ``j``-th phrasing ``when``, in rule then phrasing order, that
    holds; above those (from :func:`quiet_shift`), while the customer speaks, bit ``i`` of
    rule ``i`` reading ``customer_speaking`` whose condition would hold once they stop
    (what waits until then), so that one call gives both. The function takes the field
    values of a validated state in :data:`FIELDS` order (:func:`field_values` of its
    ``__dict__``), its enum fields enum members (see :func:`_loads`): unpacking a tuple
    into locals costs a fraction of reading each field from a mapping, and the engine builds
    that tuple anyway, as the key of its cache.
    """
    evaluator: MaskEvaluator = _function(
        masks_source(rulebook), "fired", f"<rulebook {rulebook.name} (fired)>"
    )
    return evaluator


def quiet_shift(rulebook: Any) -> int:
    """Where the bits of rules as if the customer had stopped speaking start, in what
    :func:`compile_masks`' function returns: after the rules' and the phrasings' bits.
    """
    rules = rulebook.rules
    return len(rules) + sum(p.when is not None for rule in rules for p in rule.phrasing)


def masks_source(rulebook: Any) -> str:
    """The source of ``def fired(values):``, the function :func:`compile_masks` compiles.

    Also written into the package's prebuilt rulebook (``_prebuilt.py``) for the built-in
    rules, so that their first ``advise()`` compiles nothing: one generator for both.
    """
    rules = rulebook.rules
    whens = [p.when for rule in rules for p in rule.phrasing if p.when is not None]
    trees = [lower(rule.when) for rule in rules] + [lower(when) for when in whens]
    shift = quiet_shift(rulebook)
    # Each rule reading customer_speaking again, as if it were false, under the condition
    # that it is true: folding the split on that flag keeps these in its true copy only.
    silent = {"customer_speaking": False}
    quiet = []
    for index, tree in enumerate(trees[: len(rules)]):
        if "customer_speaking" in names(tree):
            folded = _fold(tree, silent)
            if folded != _FALSE:
                quiet.append((shift + index, _speaking(folded)))
    return "\n".join(_mask_lines("fired", [*enumerate(trees), *quiet]))


def _speaking(tree: Node) -> Node:
    """``customer_speaking and tree``, flat."""
    flag = Flag("customer_speaking")
    if isinstance(tree, Constant):
        return flag
    operands = tree.operands if isinstance(tree, AllOf) else (tree,)
    return AllOf((flag, *operands))


def _mask_lines(
    name: str,
    trees: Sequence[tuple[int, Node]],
    fixed: Mapping[str, bool] | None = None,
) -> list[str]:
    trees = [(bit, _fold(tree, fixed or {})) for bit, tree in trees]
    lines = [f"def {name}(values):"]
    # Every field a condition reads becomes a local at once; the others are left unnamed.
    read = frozenset().union(*(names(tree) for _, tree in trees))
    lines.append(f"    ({', '.join(f if f in read else '_' for f in FIELDS)},) = values")
    if len(trees) <= MAX_SHARED_RULES:
        splits = _splits(trees)
        reads = [(bit, tree, names(tree)) for bit, tree in trees if tree != _FALSE]
        _variants(reads, splits, 1, lines)
    else:
        lines += _loads(sorted(frozenset().union(*(names(tree) for _, tree in trees))), 1)
        lines.append("    fired = 0")
        for bit, tree in trees:
            lines.append(f"    if {source(tree)}:")
            lines.append(f"        fired |= {1 << bit}")
        lines.append("    return fired")
    return lines


def _splits(trees: Sequence[tuple[int, Node]]) -> list[str]:
    """The boolean fields read by the most conditions (at least two), most read first."""
    schema = state_schema()
    counts: dict[str, int] = {}
    for _, tree in trees:
        for field in names(tree):
            if field in schema and schema[field].kind == "bool":
                counts[field] = counts.get(field, 0) + 1
    ranked = sorted((-count, field) for field, count in counts.items() if count >= 2)
    return [field for _, field in ranked[:MAX_SPLIT_FIELDS]]


Read = tuple[int, Node, frozenset[str]]
"""A condition's bit, its tree and the fields the tree reads."""


def _variants(trees: Sequence[Read], splits: Sequence[str], depth: int, lines: list[str]) -> None:
    """One copy of the evaluator per value of each split field, each simplified for it.

    ``if resolved:`` then the copy for a resolved case (which returns), then the copy for
    an unresolved one: a field that most conditions read is tested once, not in each of
    them, and each copy reads only the fields its simplified conditions still need.
    """
    indent = "    " * depth
    if splits:
        field, rest = splits[0], splits[1:]
        lines.append(f"{indent}if {field}:")
        _variants(_known(trees, field, True), rest, depth + 1, lines)
        _variants(_known(trees, field, False), rest, depth, lines)
        return
    lines += _loads(sorted(frozenset().union(*(fields for _, _, fields in trees))), depth)
    lines.append(f"{indent}fired = 0")
    _emit([(bit, _conjuncts(tree)) for bit, tree, _ in trees], depth - 1, lines)
    lines.append(f"{indent}return fired")


def _known(trees: Sequence[Read], field: str, value: bool) -> list[Read]:
    """The trees simplified for ``field`` having ``value``; those that cannot hold dropped."""
    known = {field: value}
    simplified = []
    for bit, tree, fields in trees:
        if field in fields:
            tree = _fold(tree, known)
            if tree == _FALSE:
                continue
            fields = names(tree)
        simplified.append((bit, tree, fields))
    return simplified


_FALSE = Constant(False)


def _fold(node: Node, known: Mapping[str, bool]) -> Node:
    """``node`` with the boolean fields of ``known`` replaced by their values, simplified."""
    if not known:
        return node
    if isinstance(node, Flag):
        return Constant(known[node.name]) if node.name in known else node
    if isinstance(node, Compare) and node.name in known:
        return Constant(OPERATORS[node.op](known[node.name], node.value))
    if isinstance(node, Member) and node.name in known:
        return Constant((known[node.name] in node.values) != node.negated)
    if isinstance(node, Not):
        inner = _fold(node.operand, known)
        return Constant(not inner.value) if isinstance(inner, Constant) else Not(inner)
    if isinstance(node, AllOf | AnyOf):
        # True decides an AnyOf and False an AllOf; the other constant drops out.
        decisive = isinstance(node, AnyOf)
        parts = [_fold(operand, known) for operand in node.operands]
        if any(isinstance(part, Constant) and part.value is decisive for part in parts):
            return Constant(decisive)
        parts = [part for part in parts if not isinstance(part, Constant)]
        if not parts:
            return Constant(not decisive)
        return parts[0] if len(parts) == 1 else type(node)(tuple(parts))
    return node


def _loads(fields: Iterable[str], depth: int) -> list[str]:
    """Each ordered enum among ``fields`` read as its plain string value: its members define
    ``<`` and the like in Python, which makes even their ``==`` several times slower than a
    string's, and lowered trees only test such fields for (in)equality. Every path through
    the function runs one such set of lines (each copy of :func:`_variants` returns).
    """
    schema = state_schema()
    indent = "    " * depth
    return [
        f"{indent}{field} = {field}._value_"
        for field in fields
        if field in schema and schema[field].ordered
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
