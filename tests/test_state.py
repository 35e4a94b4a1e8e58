"""ConversationState: the public contract of fields, defaults and validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from difficult_customers import Channel, ConversationState, Mood

SCHEMA = Path(__file__).with_name("data") / "conversation_state.schema.json"

CONTRACT = {
    "channel": "phone",
    "mood": "upset",
    "customer_speaking": False,
    "customer_interrupts": False,
    "offensive_remarks": 0,
    "personal_attacks": False,
    "threats": False,
    "warnings_given": 0,
    "abuse_after_warning": False,
    "complaint_validity": "unknown",
    "covered_by_contract": False,
    "request_within_policy": True,
    "agent_knows_resolution": True,
    "agent_can_handle": True,
    "solution_available": True,
    "resolved": False,
    "discussion_stalled": False,
    "customer_value": "normal",
    "effort_exceeds_value": False,
    "unsatisfiable": False,
    "agent_upset": False,
    "position_stated": False,
    "agent_replied": False,
    "done": [],
    "ended": False,
}


def test_fields_and_defaults_are_the_documented_contract() -> None:
    assert ConversationState().model_dump(mode="json") == CONTRACT


def test_every_field_is_documented_with_its_default() -> None:
    for name, field in ConversationState.model_fields.items():
        assert field.description, name
        assert "Default" in field.description, name


def test_frozen() -> None:
    state = ConversationState()
    with pytest.raises(ValidationError):
        state.mood = Mood.ANGRY  # type: ignore[misc]


def test_extra_fields_are_errors() -> None:
    with pytest.raises(ValidationError, match="moood"):
        ConversationState(moood="angry")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("offensive_remarks", -1),
        ("warnings_given", -3),
        ("offensive_remarks", 1.5),
        ("offensive_remarks", True),
        ("threats", "false"),
        ("threats", 0),
        ("channel", "carrier pigeon"),
        ("complaint_validity", "maybe"),
        ("customer_value", "priceless"),
    ],
)
def test_invalid_values_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        ConversationState.model_validate({field: value})
    assert info.value.errors()[0]["loc"] == (field,)


def test_abuse_after_a_warning_needs_a_warning() -> None:
    with pytest.raises(ValidationError, match="warnings_given"):
        ConversationState(abuse_after_warning=True)
    assert ConversationState(abuse_after_warning=True, warnings_given=1).abuse_after_warning


def test_enums_accept_their_values_and_compare_as_strings() -> None:
    state = ConversationState(channel="in_person", mood="furious")
    assert state.channel is Channel.IN_PERSON
    assert state.mood == "furious"


def test_json_round_trip() -> None:
    state = ConversationState(channel="chat", offensive_remarks=2, threats=True)
    assert ConversationState.model_validate_json(state.model_dump_json()) == state


def test_json_schema_is_pinned() -> None:
    # A diff here is a change to the public contract: update the file on purpose.
    pinned = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert ConversationState.model_json_schema() == pinned
