"""The benchmark's translations of conditions into other rule engines say the same thing.

Each peer is optional (``pip install -e '.[bench]'``); a test whose peer is missing is
skipped. Every translation is checked against the reference interpreter
(``Condition.evaluate``) over random states, on the built-in conditions and on random ones.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from difficult_customers import ConversationState, default_rulebook, parse_condition
from difficult_customers.conditions import state_schema
from strategies import conditions, states

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
peers = importlib.import_module("peers")

BOOK = default_rulebook()


def _peer(module: str) -> Any:
    return pytest.importorskip(module, reason=f"{module} is a [bench] extra")


def _zen(python: str) -> Callable[[dict[str, Any]], bool]:
    zen = _peer("zen")
    expression = zen.compile_expression(peers.zen_text(python))
    return lambda values: bool(expression.evaluate(values))


def _rule_engine(python: str) -> Callable[[dict[str, Any]], bool]:
    rule_engine = _peer("rule_engine")
    rule = rule_engine.Rule(peers.rule_engine_text(python))
    return lambda values: bool(rule.matches(values))


def _business_rules(python: str) -> Callable[[dict[str, Any]], bool]:
    _peer("business_rules")
    from business_rules.engine import check_conditions_recursively

    tree = peers.business_rules_condition(python, state_schema())
    variables = peers.state_variables()
    return lambda values: bool(check_conditions_recursively(tree, variables(values)))


TRANSLATORS = {"zen": _zen, "rule_engine": _rule_engine, "business_rules": _business_rules}


@pytest.mark.parametrize("peer", sorted(TRANSLATORS))
def test_every_built_in_condition_fires_alike(peer: str) -> None:
    translated = [(rule, TRANSLATORS[peer](rule.when.python)) for rule in BOOK.rules]
    for state in peers.random_states(300, seed=3):
        values = peers.plain_values(state)
        for rule, holds in translated:
            assert holds(values) == rule.when.evaluate(state.__dict__), (rule.id, values)


@settings(max_examples=60)
@given(text=conditions(depth=2), batch=st.lists(states(), min_size=1, max_size=5))
@pytest.mark.parametrize("peer", sorted(TRANSLATORS))
def test_random_conditions_fire_alike(
    peer: str, text: str, batch: list[ConversationState]
) -> None:
    condition = parse_condition(text)
    try:
        holds = TRANSLATORS[peer](condition.python)
    except peers.NotTranslatable:
        # business-rules compares a variable with a constant only (not two counts).
        assert peer == "business_rules"
        return
    for state in batch:
        assert holds(peers.plain_values(state)) == condition.evaluate(state.__dict__), text


def test_the_benchmark_evaluators_fire_what_advise_evaluates() -> None:
    ours = peers.ours(BOOK)
    states_ = peers.random_states(200, seed=4)
    for _label, (module, factory) in peers.PEERS.items():
        _peer(module)
        evaluate = factory(BOOK)
        for state in states_:
            assert evaluate(peers.plain_values(state)) == ours(state.__dict__)
