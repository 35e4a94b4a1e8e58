"""What the condition language deliberately refuses: every case must fail at parse time."""

from __future__ import annotations

import pytest

from difficult_customers.conditions import (
    MAX_CONDITION_LENGTH,
    MAX_DEPTH,
    MAX_LITERAL_SET,
    parse_condition,
)
from difficult_customers.errors import ConditionSyntaxError

UNSUPPORTED = [
    # calls and attribute access: the classic sandbox escapes
    pytest.param('__import__("os")', "function calls", id="import"),
    pytest.param('__import__("os").system("true")', "function calls", id="system"),
    pytest.param("len(channel) > 2", "function calls", id="builtin-call"),
    pytest.param("mood.upper", "attribute access", id="attribute"),
    pytest.param('mood.upper() == "CALM"', "function calls", id="method-call"),
    pytest.param("().__class__", "attribute access", id="dunder-attribute"),
    pytest.param("().__class__.__bases__[0].__subclasses__()", "function calls", id="subclasses"),
    # subscripts and slices
    pytest.param('channel[0] == "p"', "subscripts", id="subscript"),
    pytest.param('channel[:2] == "ph"', "subscripts", id="slice"),
    # functions
    pytest.param("lambda: True", "lambdas", id="lambda"),
    pytest.param("(lambda: True)()", "function calls", id="called-lambda"),
    # arithmetic, including the classic CPU bomb
    pytest.param("2 ** 999999", "arithmetic", id="power"),
    pytest.param("offensive_remarks ** 99 > 1", "arithmetic", id="power-field"),
    pytest.param("offensive_remarks + 1 > 2", "arithmetic", id="add"),
    pytest.param("offensive_remarks * 2 > warnings_given", "arithmetic", id="multiply"),
    pytest.param("offensive_remarks % 2 == 0", "arithmetic", id="modulo"),
    pytest.param("threats | resolved", "arithmetic", id="bitwise-or"),
    pytest.param("-1 < offensive_remarks", "unary '-'", id="negative"),
    pytest.param("+1 < offensive_remarks", "unary '+'", id="unary-plus"),
    pytest.param("~offensive_remarks == 1", "'~'", id="invert"),
    # comprehensions and displays
    pytest.param("[x for x in (1, 2)]", "comprehensions", id="list-comprehension"),
    pytest.param("{x for x in ()}", "comprehensions", id="set-comprehension"),
    pytest.param("{x: 1 for x in ()}", "comprehensions", id="dict-comprehension"),
    pytest.param("any(x for x in (threats,))", "function calls", id="generator-call"),
    pytest.param("(x for x in ())", "generator expressions", id="generator"),
    pytest.param("offensive_remarks in {1: 2}", "dictionaries", id="dict"),
    pytest.param("offensive_remarks in {}", "dictionaries", id="empty-dict"),
    # strings that compute
    pytest.param('f"{mood}" == "calm"', "f-strings", id="f-string"),
    pytest.param('mood == f"calm"', "f-strings", id="f-string-constant"),
    # other expression forms
    pytest.param("(x := True)", "assignment expressions", id="walrus"),
    pytest.param("threats if resolved else personal_attacks", "conditional", id="if-expression"),
    pytest.param('channel in (*("phone",),)', "starred", id="starred"),
    pytest.param("(yield threats)", "yield", id="yield"),
    pytest.param("await threats", "await", id="await"),
    pytest.param("threats is True", "'is'", id="is"),
    pytest.param("mood is not None", "'is not'", id="is-not"),
    # forbidden nodes hidden behind short-circuits: never reached, still refused
    pytest.param("False and f()", "function calls", id="behind-and"),
    pytest.param('True or __import__("os")', "function calls", id="behind-or"),
    pytest.param("not (False and mood.upper())", "function calls", id="behind-not"),
    pytest.param("threats and (False and (lambda: 1))", "lambdas", id="behind-nested"),
    pytest.param(
        "offensive_remarks > 3 or 1 < offensive_remarks < 2 ** 99", "arithmetic", id="chain"
    ),
    # constants of other types
    pytest.param("offensive_remarks > 1.5", "float", id="float"),
    pytest.param("offensive_remarks > 1e3", "float", id="float-exponent"),
    pytest.param("offensive_remarks > 1j", "complex", id="complex"),
    pytest.param("mood == None", "None", id="none"),
    pytest.param('channel == b"phone"', "bytes", id="bytes"),
    pytest.param("...", "'...'", id="ellipsis"),
    # literal collections anywhere but right of in / not in, or holding non-constants
    pytest.param("(threats, resolved)", "only allowed after 'in'", id="bare-tuple"),
    pytest.param("threats,", "only allowed after 'in'", id="trailing-comma"),
    pytest.param('channel == ("phone",)', "only allowed after 'in'", id="compared-tuple"),
    pytest.param("(1, 2) in (1,)", "only allowed after 'in'", id="left-tuple"),
    pytest.param("channel in (mood,)", "only hold constants", id="field-in-collection"),
    pytest.param("offensive_remarks in (1, (2,))", "only hold constants", id="nested-tuple"),
    pytest.param('channel in "phone email"', "needs a literal tuple", id="substring"),
    pytest.param("offensive_remarks in warnings_given", "needs a literal tuple", id="in-field"),
    # comparisons of anything but a field or a constant
    pytest.param("(threats and resolved) == True", "field or a constant", id="compared-bool-op"),
    pytest.param("(threats == True) == True", "field or a constant", id="compared-compare"),
    # not Python, or not one expression
    pytest.param("threats and", "invalid syntax", id="dangling-and"),
    pytest.param("threats resolved", "invalid syntax", id="missing-operator"),
    pytest.param("threats; resolved", "invalid syntax", id="two-statements"),
    pytest.param("import os", "invalid syntax", id="import-statement"),
    pytest.param("threats = True", "invalid syntax", id="assignment"),
    pytest.param("(threats", "invalid syntax", id="unclosed"),
    pytest.param("threats)", "unmatched ')'", id="unmatched"),
    pytest.param("threats) or (resolved", "unmatched ')'", id="escaping-the-wrapper"),
    pytest.param("threats\0", "", id="null-byte"),
    pytest.param("", "empty", id="empty"),
    pytest.param("  \n\t ", "empty", id="blank"),
]


@pytest.mark.parametrize(("text", "message"), UNSUPPORTED)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition(text)
    assert message in caught.value.message
    assert caught.value.condition == text
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("value", [None, b"threats", 1, True, ["threats"]])
def test_refuses_what_is_not_a_string(value: object) -> None:
    with pytest.raises(ConditionSyntaxError, match="must be a string"):
        parse_condition(value)  # type: ignore[arg-type]


def test_length_limit() -> None:
    at_limit = "threats" + " " * (MAX_CONDITION_LENGTH - len("threats"))
    parse_condition(at_limit)
    with pytest.raises(ConditionSyntaxError, match=f"longer than {MAX_CONDITION_LENGTH}"):
        parse_condition(at_limit + " ")


def test_depth_limit() -> None:
    # Each `not` is one level, under the root; the name itself is one more.
    parse_condition("not " * (MAX_DEPTH - 1) + "threats")
    with pytest.raises(ConditionSyntaxError, match=f"more than {MAX_DEPTH} levels"):
        parse_condition("not " * MAX_DEPTH + "threats")


def test_deep_parentheses_are_refused_not_crashing() -> None:
    depth = MAX_CONDITION_LENGTH // 2 - 10
    with pytest.raises(ConditionSyntaxError):
        parse_condition("(" * depth + "threats" + ")" * depth)


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    text = "not " * (MAX_CONDITION_LENGTH // 4 - 2) + "threats"
    with pytest.raises(ConditionSyntaxError, match="levels deep"):
        parse_condition(text)


def test_literal_set_limit() -> None:
    items = ", ".join(str(number) for number in range(MAX_LITERAL_SET))
    parse_condition(f"offensive_remarks in ({items})")
    with pytest.raises(ConditionSyntaxError, match=f"at most {MAX_LITERAL_SET} items"):
        parse_condition(f"offensive_remarks in ({items}, {MAX_LITERAL_SET})")
