"""The library's error messages: each names what is wrong, and never repeats a huge input whole."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from difficult_customers import (
    Conversation,
    ConversationState,
    DifficultCustomersError,
    advise,
    default_rulebook,
    explain,
    load_rulebook,
)
from difficult_customers._text import MAX_SHOWN, shown
from test_rules import MINIMAL_RULE

HUGE = "x" * 100_000
CUT = "... (100,000 characters)"


def _pack(tmp_path: Path, text: str) -> Callable[[], object]:
    path = tmp_path / "pack.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return lambda: load_rulebook(path)


def _rule_line(line: str) -> str:
    return MINIMAL_RULE.replace('title = "Offer', f'{line}\ntitle = "Offer')


# What each error must still say, beside the cut input.
CASES: dict[str, tuple[Callable[[Path], Callable[[], object]], str]] = {
    "rulebook[id]": (lambda _: lambda: default_rulebook()[HUGE], "no rule with id"),
    "explain(rule_id=)": (lambda _: lambda: explain({}, HUGE), "no rule with id"),
    "filter(tag=)": (lambda _: lambda: default_rulebook().filter(tag=HUGE), "unknown tag"),
    "locale": (lambda _: lambda: advise(locale=HUGE), "unsupported locale"),
    "state key": (lambda _: lambda: ConversationState.model_validate({HUGE: 1}), "no such field"),
    "event type": (lambda _: lambda: Conversation().apply({"type": HUGE}), "does not match"),
    "event key": (
        lambda _: lambda: Conversation().apply({"type": "customer_insulted", HUGE: 1}),
        "Extra inputs are not permitted",
    ),
    "fact name": (
        lambda _: lambda: Conversation().apply({"type": "facts", "values": {HUGE: True}}),
        "unknown fact",
    ),
    "pack rule id": (
        lambda tmp: _pack(tmp, MINIMAL_RULE.replace('"offer-a-coffee"', f'"{HUGE}"')),
        "field 'id'",
    ),
    "pack rule key": (lambda tmp: _pack(tmp, _rule_line(f"{HUGE} = 1")), "unknown key"),
    "pack top-level key": (
        lambda tmp: _pack(tmp, f"{HUGE} = 1\n{MINIMAL_RULE}"),
        "unknown top-level key",
    ),
    "pack effect field": (
        lambda tmp: _pack(tmp, _rule_line(f"effects = {{ {HUGE} = true }}")),
        "unknown state field",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_huge_input_is_shown_by_its_start_and_length(tmp_path: Path, case: str) -> None:
    make, still_said = CASES[case]
    with pytest.raises((DifficultCustomersError, ValueError, LookupError, KeyError)) as info:
        make(tmp_path)()
    message = str(info.value)
    assert len(message) < 2_000, message[:300]
    assert CUT in message, message[:300]
    assert still_said in message, message[:300]


def test_a_pack_error_still_names_the_rule_and_the_field(tmp_path: Path) -> None:
    from difficult_customers import RulebookError

    with pytest.raises(RulebookError) as info:
        _pack(tmp_path, _rule_line(f"{HUGE} = 1"))()
    assert info.value.field == HUGE  # the attribute keeps the key whole
    assert str(info.value).startswith(
        f"{tmp_path / 'pack.toml'}, rule 'offer-a-coffee', field {shown(HUGE)}: unknown key "
    )


@pytest.mark.parametrize("length", [1, MAX_SHOWN - 2, MAX_SHOWN - 1, 1_000])
def test_shown_repeats_a_short_value_and_cuts_a_long_one(length: int) -> None:
    value = "é" * length
    if len(repr(value)) <= MAX_SHOWN:
        assert shown(value) == repr(value)
    else:
        assert shown(value) == f"{repr(value)[:40]}... ({length:,} characters)"


def test_a_frame_column_of_a_huge_name_is_shown_cut() -> None:
    pl = pytest.importorskip("polars")
    from difficult_customers.errors import FrameError
    from difficult_customers.frames import advise_frame

    with pytest.raises(FrameError) as info:
        advise_frame(pl.DataFrame({HUGE: [1], "mood": ["angry"]}))
    message = str(info.value)
    assert len(message) < 2_000, message[:300]
    assert f"column {shown(HUGE)}: not a state field" in message, message[:300]
    assert info.value.problems[0].column == HUGE


def test_a_huge_sql_dialect_is_shown_cut() -> None:
    pytest.importorskip("sqlglot")
    with pytest.raises(ValueError, match="unknown SQL dialect") as info:
        default_rulebook().to_sql(HUGE)
    assert len(str(info.value)) < 2_000
    assert CUT in str(info.value)


def test_a_huge_pack_path_is_shown_cut() -> None:
    from difficult_customers import RulebookError

    with pytest.raises(RulebookError, match="cannot read the rule pack") as info:
        load_rulebook(HUGE)
    assert len(str(info.value)) < 2_000
    assert CUT in str(info.value)
    assert info.value.file == HUGE


def test_details_with_a_huge_key_are_refused_with_the_key_cut() -> None:
    key = "x" * 100_000
    with pytest.raises(ValidationError) as info:
        advise(details={key: 1})
    text = str(info.value)
    assert "(100,000 characters)" in text
    assert len(text) < 1_000
    assert info.value.errors()[0]["loc"] == (key,)  # kept whole for programs
