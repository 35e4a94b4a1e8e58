"""Every back-end of the condition tree against the reference, the interpreter of explain().

One corpus of conditions (hand-picked constructs, the built-in rulebook's conditions and
hypothesis' random ones) and of states; each back-end must give, state by state, exactly
what :meth:`Condition.evaluate` gives.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from difficult_customers import ConversationState, default_rulebook, parse_condition
from difficult_customers.compile import (
    AllOf,
    Compare,
    Member,
    Not,
    lower,
    rulebook_logic,
)
from difficult_customers.compile._tree import require
from difficult_customers.compile.python import (
    compile_masks,
    compile_rulebook,
    field_values,
    quiet_shift,
    source,
)
from difficult_customers.errors import ConditionTypeError
from strategies import conditions, random_state_rows, states

# Each construct of the language, spelled in the ways a rule author may spell it.
CORPUS = [
    "True",
    "False",
    "threats",
    "not threats",
    "threats == True",
    "False != threats",
    "warnings_given >= 1",
    "1 <= warnings_given",
    "1 <= offensive_remarks < 3",
    "0 < warnings_given <= offensive_remarks < 4",
    "warnings_given < offensive_remarks",
    "offensive_remarks != warnings_given",
    "offensive_remarks in (0, 2)",
    "offensive_remarks not in [1, 3, 3]",
    'channel == "phone"',
    '"email" != channel',
    'channel in ("phone", "in_person")',
    'channel not in {"chat"}',
    'mood >= "angry"',
    '"angry" > mood',
    'mood < "furious" and mood > "calm"',
    'customer_value <= "normal"',
    'mood in ("calm",) or not (resolved and threats)',
    'not resolved and (offensive_remarks >= 2 or threats) and mood >= "angry"',
    "not not threats",
    "(threats or personal_attacks) and not (resolved or ended)",
    "customer_speaking and mood >= 'angry'",
    "not customer_speaking or customer_value == 'high'",
]


def _rows(sample: Sequence[ConversationState]) -> list[dict[str, Any]]:
    return [
        {name: getattr(value, "value", value) for name, value in state.__dict__.items()}
        for state in sample
    ]


def _reference(text: str, rows: Sequence[dict[str, Any]]) -> list[bool]:
    condition = parse_condition(text)
    return [condition.evaluate(row) for row in rows]


def _python(text: str, rows: Sequence[dict[str, Any]]) -> list[bool]:
    code = compile(source(lower(text)), "<condition>", "eval")
    return [bool(eval(code, {"__builtins__": {}}, dict(row))) for row in rows]


def _pack(text: str) -> SimpleNamespace:
    """The smallest rulebook the mask generators read: one rule, no phrasing ``when``."""
    rule = SimpleNamespace(when=parse_condition(text), phrasing=())
    return SimpleNamespace(name="test", rules=[rule])


def _masks(text: str, rows: Sequence[dict[str, Any]]) -> list[bool]:
    # The fast path's evaluator reads validated states: enum fields hold members.
    evaluate = compile_masks(_pack(text))
    return [
        evaluate(field_values(ConversationState.model_validate(row).__dict__)) & 1 == 1
        for row in rows
    ]


def _polars(text: str, rows: Sequence[dict[str, Any]]) -> list[bool]:
    pl = pytest.importorskip("polars")
    from difficult_customers.compile.polars import expression

    frame = pl.DataFrame(rows, schema_overrides={"done": pl.List(pl.String)})
    result: list[bool] = frame.select(expression(lower(text)).alias("x"))["x"].to_list()
    return result


def _duckdb(text: str, rows: Sequence[dict[str, Any]]) -> list[bool]:
    pl = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    from difficult_customers.compile.sql import condition_sql

    frame = pl.DataFrame(rows, schema_overrides={"done": pl.List(pl.String)})  # noqa: F841
    found = duckdb.sql(f"SELECT {condition_sql(lower(text))} AS x FROM frame").fetchall()
    return [bool(row[0]) for row in found]


BACKENDS: dict[str, Callable[[str, Sequence[dict[str, Any]]], list[bool]]] = {
    "python": _python,
    "masks": _masks,
    "polars": _polars,
    "duckdb": _duckdb,
}
ROWS = random_state_rows(400, seed=10)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("text", CORPUS)
def test_corpus(backend: str, text: str) -> None:
    assert BACKENDS[backend](text, ROWS) == _reference(text, ROWS)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_builtin_conditions(backend: str) -> None:
    texts = [rule.when.source for rule in default_rulebook()]
    texts += [p.when.source for rule in default_rulebook() for p in rule.phrasing if p.when]
    for text in texts:
        assert BACKENDS[backend](text, ROWS) == _reference(text, ROWS), text


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=conditions(), sample=st.lists(states(), min_size=1, max_size=12))
def test_random_conditions(backend: str, text: str, sample: list[ConversationState]) -> None:
    rows = _rows(sample)
    assert BACKENDS[backend](text, rows) == _reference(text, rows)


@pytest.mark.parametrize("text", CORPUS)
def test_quiet_bits_read_the_customer_as_silent(text: str) -> None:
    # Above the rule's bit: while the customer speaks, whether it would hold once they stop.
    pack = _pack(text)
    evaluate = compile_masks(pack)
    shift = quiet_shift(pack)
    assert shift == 1
    reads_speaking = "customer_speaking" in parse_condition(text).fields
    for row in ROWS:
        bits = evaluate(field_values(ConversationState.model_validate(row).__dict__))
        assert bits & 1 == _reference(text, [row])[0]
        silent = _reference(text, [{**row, "customer_speaking": False}])[0]
        expected = row["customer_speaking"] and reads_speaking and silent
        assert bits >> shift == expected, row


def _many(texts: Sequence[str]) -> SimpleNamespace:
    rules = [SimpleNamespace(when=parse_condition(text), phrasing=()) for text in texts]
    return SimpleNamespace(name="many", rules=rules)


def _check_masks(texts: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    pack = _many(texts)
    evaluate = compile_masks(pack)
    shift = quiet_shift(pack)
    expected = [_reference(text, rows) for text in texts]
    silent = [
        _reference(text, [{**row, "customer_speaking": False} for row in rows]) for text in texts
    ]
    speaking = ["customer_speaking" in parse_condition(text).fields for text in texts]
    for position, row in enumerate(rows):
        bits = evaluate(field_values(ConversationState.model_validate(row).__dict__))
        found = [bool(bits >> index & 1) for index in range(len(texts))]
        assert found == [holds[position] for holds in expected], row
        quiet = [bool(bits >> (shift + index) & 1) for index in range(len(texts))]
        assert quiet == [
            row["customer_speaking"] and reads and holds[position]
            for reads, holds in zip(speaking, silent, strict=True)
        ], row
        assert bits >> (shift + len(texts)) == 0


def test_masks_of_many_rules_are_split_on_the_flags_they_share() -> None:
    # The evaluator is copied per value of the booleans most conditions read, each copy
    # simplified for them: every copy must still give each condition's own outcome.
    from difficult_customers.compile.python import _splits

    pack = _many(CORPUS)
    assert _splits([(i, lower(rule.when)) for i, rule in enumerate(pack.rules)])
    _check_masks(CORPUS, ROWS)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(conditions(), min_size=2, max_size=8),
    sample=st.lists(states(), min_size=1, max_size=8),
)
def test_masks_of_random_rulebooks(texts: list[str], sample: list[ConversationState]) -> None:
    _check_masks(texts, _rows(sample))


def test_masks_put_phrasings_above_the_rules() -> None:
    book = default_rulebook()
    evaluate = compile_masks(book)
    whens = [p.when for rule in book.rules for p in rule.phrasing if p.when is not None]
    for row in ROWS:
        state = ConversationState.model_validate(row)
        bits = evaluate(field_values(state.__dict__))
        for index, rule in enumerate(book.rules):
            assert bool(bits >> index & 1) == rule.when.evaluate(row), rule.id
        for index, when in enumerate(whens, len(book.rules)):
            assert bool(bits >> index & 1) == when.evaluate(row), when.source


def test_lowering_normalizes() -> None:
    assert lower("1 <= warnings_given") == Compare("warnings_given", ">=", 1)
    assert lower('mood >= "angry"') == Member("mood", ("angry", "furious"))
    assert lower("0 < warnings_given < 3") == AllOf(
        (Compare("warnings_given", ">", 0), Compare("warnings_given", "<", 3))
    )
    assert lower("offensive_remarks not in (1, 1, 2)") == Member(
        "offensive_remarks", (1, 2), negated=True
    )
    assert isinstance(lower("not threats"), Not)


def test_lowering_checks_types_again() -> None:
    # A Condition built by hand, around parse_condition: its text is checked again, so a
    # value outside the enum never reaches generated code.
    from difficult_customers.conditions import Condition

    forged = Condition(
        source='channel == "x\' OR 1=1 --"', fields=frozenset({"channel"}), python=""
    )
    with pytest.raises(ConditionTypeError, match="not a value of field 'channel'"):
        lower(forged)


def test_generated_python_reads_names_from_the_tree() -> None:
    # Condition.fields of a hand-built condition could hold anything; the generator reads
    # field names from the validated tree only.
    from difficult_customers.conditions import Condition
    from difficult_customers.rules import Rulebook

    book = default_rulebook()
    rule = book.rules[0]
    forged = Condition(
        source="threats", fields=frozenset({"__import__('os')"}), python="__import__('os')"
    )
    evaluate = compile_rulebook(
        Rulebook([rule.model_copy(update={"when": forged, "overrides": ()})])
    )
    assert evaluate({"threats": True}) == [0]
    assert evaluate({"threats": False}) == []


def test_python_source_is_plain_expression() -> None:
    for rule in default_rulebook():
        tree = ast.parse(source(lower(rule.when)), mode="eval")
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert names <= set(ConversationState.model_fields)


def test_logic_decide_matches_engine() -> None:
    from difficult_customers import advise

    book = default_rulebook()
    logic = rulebook_logic(book)
    index = {rule_id: i for i, rule_id in enumerate(logic.ids)}
    for row in random_state_rows(500, seed=3):
        state = ConversationState(**row)
        outcomes = [rule.when.evaluate(row) for rule in book]
        kept = logic.decide(outcomes, state.ended, frozenset(state.done))
        advice = advise(state)
        advised = sorted(
            (r.rule_id for r in (*advice.attitudes, *advice.actions, *advice.avoid)),
            key=index.__getitem__,
        )
        assert [logic.ids[i] for i in kept] == advised


def test_rule_ids_are_checked_before_compiling() -> None:
    from difficult_customers.rules import Rule, Rulebook

    rule = default_rulebook().rules[0]
    hostile = Rule.model_construct(
        **{**dict(rule), "overrides": (), "id": "x'); DROP TABLE states; --"}
    )
    with pytest.raises(ValueError, match="is not a rule id"):
        rulebook_logic(Rulebook([hostile]))


def test_a_missing_extra_is_named() -> None:
    with pytest.raises(ImportError, match=r"pip install 'difficult-customers\[frames\]'"):
        require("no_such_module_for_this_test", "frames", "advise_frame()")


def test_the_package_works_without_any_extra() -> None:
    # A fresh interpreter in which none of the extras can be imported: the package and
    # advise() work, and each feature names the extra it needs.
    import subprocess
    import sys

    script = """
import sys
for name in ("polars", "pyarrow", "pandas", "sqlglot", "duckdb", "pyspark", "numpy"):
    sys.modules[name] = None  # makes `import name` raise ImportError
import difficult_customers
assert difficult_customers.advise(mood="furious").actions
try:
    import difficult_customers.frames
except ImportError as error:
    print(error)
try:
    difficult_customers.default_rulebook().to_sql()
except ImportError as error:
    print(error)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    lines = done.stdout.splitlines()
    assert "pip install 'difficult-customers[frames]'" in lines[0]
    assert "pip install 'difficult-customers[sql]'" in lines[1]
