"""ConversationState: the public contract of fields, defaults and validation."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from pydantic import ValidationError

from conftest import REPO
from difficult_customers import (
    Channel,
    ConversationState,
    CustomerValue,
    DifficultCustomersError,
    Mood,
    StateValidationError,
    advise,
    parse_condition,
)
from difficult_customers.state import STATE_SCHEMA_ID, loads_state
from strategies import state_fields

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
    assert ConversationState(
        abuse_after_warning=True, warnings_given=1, offensive_remarks=1
    ).abuse_after_warning


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


# --- issue 7: the contract defects -------------------------------------------------------


class TestRankedEnums:
    """Item 1: ``Mood`` and ``CustomerValue`` compare by their declared rank in Python."""

    def test_mood_compares_by_rank(self) -> None:
        assert Mood.ANGRY > Mood.UPSET
        assert Mood.CALM < Mood.UPSET <= Mood.UPSET < Mood.ANGRY < Mood.FURIOUS
        assert Mood.FURIOUS >= Mood.ANGRY
        assert not Mood.CALM > Mood.FURIOUS

    def test_sorted_and_max_follow_the_rank(self) -> None:
        assert sorted(Mood) == [Mood.CALM, Mood.UPSET, Mood.ANGRY, Mood.FURIOUS]
        assert sorted([Mood.FURIOUS, Mood.CALM, Mood.ANGRY]) == [
            Mood.CALM,
            Mood.ANGRY,
            Mood.FURIOUS,
        ]
        assert max(Mood) is Mood.FURIOUS
        assert min(Mood) is Mood.CALM
        assert sorted(CustomerValue) == [
            CustomerValue.LOW,
            CustomerValue.NORMAL,
            CustomerValue.HIGH,
        ]
        assert (
            max(CustomerValue.NORMAL, CustomerValue.HIGH, CustomerValue.LOW) is CustomerValue.HIGH
        )

    def test_rank_attribute(self) -> None:
        assert [mood.rank for mood in Mood] == [0, 1, 2, 3]
        assert CustomerValue.HIGH.rank == 2

    def test_a_member_value_string_compares_by_rank_too(self) -> None:
        assert Mood.ANGRY > "upset"
        assert "furious" > Mood.ANGRY  # noqa: SIM300 - the reflected comparison is the point
        assert Mood.CALM <= "calm"
        assert sorted(["furious", Mood.CALM, "angry"]) == ["calm", "angry", "furious"]

    @pytest.mark.parametrize("other", ["livid", "", "ANGRY", "high"])
    def test_other_strings_cannot_be_ordered_against_a_mood(self, other: str) -> None:
        with pytest.raises(TypeError, match="Mood"):
            _ = Mood.ANGRY < other  # noqa: SIM300 - both operand orders are tested
        with pytest.raises(TypeError, match="Mood"):
            _ = other < Mood.ANGRY

    def test_different_ranked_enums_do_not_compare(self) -> None:
        with pytest.raises(TypeError):
            _ = Mood.ANGRY < CustomerValue.HIGH  # type: ignore[operator]

    def test_non_strings_do_not_compare(self) -> None:
        with pytest.raises(TypeError):
            _ = Mood.ANGRY < 3  # type: ignore[operator]

    def test_still_plain_strings_otherwise(self) -> None:
        assert Mood.ANGRY == "angry"
        assert {"angry": 1}[Mood.ANGRY] == 1
        assert hash(Mood.ANGRY) == hash("angry")
        assert json.dumps([Mood.ANGRY, CustomerValue.HIGH]) == '["angry", "high"]'
        assert ConversationState(mood="angry").model_dump(mode="json")["mood"] == "angry"

    def test_conditions_keep_their_meaning(self) -> None:
        condition = parse_condition('mood >= "angry" and customer_value < "high"')
        assert condition.evaluate({"mood": Mood.FURIOUS, "customer_value": CustomerValue.LOW})
        assert condition.evaluate({"mood": "angry", "customer_value": "normal"})
        assert not condition.evaluate({"mood": Mood.UPSET, "customer_value": CustomerValue.LOW})


class TestNoUnvalidatedState:
    """Item 2: copies and constructed states are validated like any other."""

    def test_model_copy_with_an_update_is_validated(self) -> None:
        with pytest.raises(ValidationError) as info:
            ConversationState().model_copy(update={"offensive_remarks": -5, "mood": "livid"})
        assert {error["loc"] for error in info.value.errors()} == {
            ("offensive_remarks",),
            ("mood",),
        }

    def test_model_copy_converts_values_like_the_constructor(self) -> None:
        copied = ConversationState().model_copy(update={"mood": "angry"})
        assert copied.mood is Mood.ANGRY
        assert copied == ConversationState(mood="angry")

    def test_model_copy_refuses_unknown_fields_and_contradictions(self) -> None:
        with pytest.raises(ValidationError, match="moood"):
            ConversationState().model_copy(update={"moood": "angry"})
        with pytest.raises(ValidationError, match="warnings_given"):
            ConversationState().model_copy(update={"abuse_after_warning": True})

    def test_model_copy_without_update_is_an_equal_state(self) -> None:
        state = ConversationState(mood="furious", threats=True)
        assert state.model_copy() == state
        assert state.model_copy(deep=True) == state

    def test_model_construct_is_validated(self) -> None:
        with pytest.raises(ValidationError):
            ConversationState.model_construct(offensive_remarks=-5, mood="livid")
        assert ConversationState.model_construct(mood="angry").mood is Mood.ANGRY

    def test_deprecated_copy_is_validated(self) -> None:
        with pytest.warns(DeprecationWarning, match="model_copy"), pytest.raises(ValidationError):
            ConversationState().copy(update={"offensive_remarks": -5})
        with (
            pytest.warns(DeprecationWarning, match="model_copy"),
            pytest.raises(TypeError, match="every field"),
        ):
            ConversationState().copy(exclude={"mood"})

    def test_no_advice_for_a_bad_copy(self) -> None:
        with pytest.raises(ValidationError):
            advise(
                ConversationState().model_copy(update={"offensive_remarks": -5, "mood": "livid"})
            )

    def test_trusted_builds_without_validation_for_internal_use(self) -> None:
        state = ConversationState(mood="angry", warnings_given=1)
        values = {**state.__dict__, "warnings_given": 2}
        built = ConversationState._trusted(values)
        validated = ConversationState.model_validate(dict(values))
        assert built == validated
        assert hash(built) == hash(validated)
        assert built.__dict__ is values, "the fresh dict it is given becomes the state's"
        # What pydantic's own construction sets: a set (not a frozenset) of every field.
        assert type(built.model_fields_set) is set
        assert built.model_fields_set == validated.model_fields_set
        # Shared by the trusted states, never by their copies.
        again = ConversationState._trusted(dict(values))
        assert built.model_fields_set is again.model_fields_set
        for copied in (copy.copy(built), copy.deepcopy(built), pickle.loads(pickle.dumps(built))):
            assert copied.model_fields_set == built.model_fields_set
            assert copied.model_fields_set is not built.model_fields_set
        assert built.__pydantic_extra__ is None
        assert built.__pydantic_private__ is None
        assert built.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True)
        assert pickle.loads(pickle.dumps(built)) == validated
        with pytest.raises(ValidationError, match="frozen"):
            built.mood = "calm"  # type: ignore[assignment]


class TestNoContradiction:
    """Item 3: a state that contradicts itself is refused, naming the fields."""

    @pytest.mark.parametrize(
        "fields",
        [
            {"warnings_given": 1, "abuse_after_warning": True},
            {"warnings_given": 3, "abuse_after_warning": True, "agent_upset": True},
        ],
    )
    def test_abuse_after_a_warning_needs_some_abuse(self, fields: dict[str, object]) -> None:
        with pytest.raises(ValidationError) as info:
            ConversationState.model_validate(fields)
        (error,) = info.value.errors()
        assert error["loc"] == ("abuse_after_warning",)
        for name in ("offensive_remarks", "personal_attacks", "threats"):
            assert name in error["msg"]

    def test_abuse_after_a_warning_needs_a_warning_and_names_the_field(self) -> None:
        with pytest.raises(ValidationError) as info:
            ConversationState(abuse_after_warning=True, threats=True)
        (error,) = info.value.errors()
        assert error["loc"] == ("abuse_after_warning",)
        assert "warnings_given" in error["msg"]

    @pytest.mark.parametrize(
        "abuse", [{"offensive_remarks": 1}, {"personal_attacks": True}, {"threats": True}]
    )
    def test_any_recorded_abuse_is_enough(self, abuse: dict[str, object]) -> None:
        state = ConversationState.model_validate(
            {"warnings_given": 1, "abuse_after_warning": True, **abuse}
        )
        assert state.abuse_after_warning

    def test_no_advice_to_part_ways_without_abuse(self) -> None:
        with pytest.raises(ValidationError):
            advise({"warnings_given": 1, "abuse_after_warning": True})


class TestPublishedSchema:
    """Item 14: the published schema agrees with the validator and can be referenced."""

    def test_schema_has_schema_and_id(self) -> None:
        schema = ConversationState.model_json_schema()
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == STATE_SCHEMA_ID
        assert list(schema)[:2] == ["$schema", "$id"]

    def test_schema_documents_the_cross_field_rule(self) -> None:
        schema = ConversationState.model_json_schema()
        assert "abuse_after_warning" in schema["description"]
        assert "warnings_given" in schema["description"]

    @pytest.mark.parametrize(
        "state",
        [
            {"abuse_after_warning": True},
            {"abuse_after_warning": True, "warnings_given": 1},
            {"abuse_after_warning": True, "threats": True},
            {"abuse_after_warning": True, "warnings_given": 0, "offensive_remarks": 4},
        ],
    )
    def test_schema_refuses_what_the_validator_refuses(self, state: dict[str, object]) -> None:
        jsonschema = pytest.importorskip("jsonschema")
        with pytest.raises(ValidationError):
            ConversationState.model_validate(state)
        assert not jsonschema.Draft202012Validator(ConversationState.model_json_schema()).is_valid(
            state
        )

    @given(state_fields())
    def test_schema_and_validator_agree(self, fields: dict[str, Any]) -> None:
        jsonschema = pytest.importorskip("jsonschema")
        data = json.loads(json.dumps(fields))  # as a state file would hold it
        try:
            ConversationState.model_validate(data)
            valid = True
        except ValidationError:
            valid = False
        assert _schema_validator(jsonschema).is_valid(data) is valid

    def test_a_state_file_may_name_its_schema(self) -> None:
        data = {"$schema": STATE_SCHEMA_ID, "mood": "angry"}
        assert ConversationState.model_validate(data) == ConversationState(mood="angry")
        assert ConversationState.model_validate_json(json.dumps(data)).mood is Mood.ANGRY
        assert advise(data).state == ConversationState(mood="angry")
        assert data == {"$schema": STATE_SCHEMA_ID, "mood": "angry"}, "caller's dict unchanged"
        assert "$schema" not in ConversationState.model_validate(data).model_dump()

    def test_schema_key_must_be_a_string(self) -> None:
        with pytest.raises(ValidationError) as info:
            ConversationState.model_validate({"$schema": 3})
        assert info.value.errors()[0]["loc"] == ("$schema",)

    def test_example_states_are_valid_for_the_schema(self) -> None:
        jsonschema = pytest.importorskip("jsonschema")
        validator = _schema_validator(jsonschema)
        examples = sorted((REPO / "examples" / "states").glob("*.json"))
        assert examples
        for path in examples:
            data = json.loads(path.read_text(encoding="utf-8"))
            assert validator.is_valid(data), path.name
            ConversationState.model_validate(data)


def _schema_validator(jsonschema: Any) -> Any:
    return jsonschema.Draft202012Validator(ConversationState.model_json_schema())


class TestStateErrors:
    """Item 15 (state part): errors that say where and what, and belong to the hierarchy."""

    def test_a_bad_state_is_both_a_validation_error_and_ours(self) -> None:
        with pytest.raises(StateValidationError) as info:
            ConversationState.model_validate({"mood": "livid"})
        assert isinstance(info.value, ValidationError)
        assert isinstance(info.value, DifficultCustomersError)
        assert isinstance(info.value, ValueError)
        assert info.value.errors()[0]["loc"] == ("mood",)

    @pytest.mark.parametrize(
        "build",
        [
            lambda: ConversationState(mood="livid"),
            lambda: ConversationState.model_validate({"mood": "livid"}),
            lambda: ConversationState.model_validate_json('{"mood": "livid"}'),
            lambda: ConversationState().model_copy(update={"mood": "livid"}),
            lambda: ConversationState.model_construct(mood="livid"),
            lambda: advise({"mood": "livid"}),
            lambda: advise(mood="livid"),
        ],
    )
    def test_every_way_in_raises_the_same_error(self, build: Any) -> None:
        with pytest.raises(StateValidationError, match="mood"):
            build()

    @pytest.mark.parametrize("data", [{1: 2}, {None: True}, {(1, 2): 3}, {"mood": "calm", 4: 4}])
    def test_keys_that_are_not_strings(self, data: dict[object, object]) -> None:
        with pytest.raises(StateValidationError) as info:
            advise(data)  # type: ignore[arg-type]
        assert info.value.errors()[0]["type"] == "invalid_key"

    def test_a_misspelled_field_gets_a_suggestion(self) -> None:
        with pytest.raises(ValidationError) as info:
            ConversationState.model_validate({"warnings_givne": 1})
        (error,) = info.value.errors()
        assert error["loc"] == ("warnings_givne",)
        assert error["type"] == "extra_forbidden"
        assert "did you mean 'warnings_given'?" in error["msg"]

    def test_many_unknown_fields_cost_a_bounded_number_of_suggestions(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Each suggestion is a difflib search: one per key made a 1 MiB state of unknown keys
        # take seconds to refuse, and a dict of 200,000 keys nine seconds.
        from difficult_customers import state

        calls: list[str] = []
        searched = state.close_matches

        def counted(word: str, *args: Any, **kwargs: Any) -> list[str]:
            calls.append(word)
            return searched(word, *args, **kwargs)

        monkeypatch.setattr(state, "close_matches", counted)
        with pytest.raises(StateValidationError) as info:
            advise({f"mood{i}": "calm" for i in range(1000)})
        errors = info.value.errors()
        assert len(errors) == 1000
        assert len(calls) == state.MAX_SUGGESTIONS
        assert "did you mean 'mood'?" in errors[0]["msg"]
        assert errors[-1]["msg"] == "Extra inputs are not permitted: no such field"

    def test_an_unknown_field_without_a_close_match_has_no_suggestion(self) -> None:
        with pytest.raises(ValidationError) as info:
            ConversationState.model_validate({"zzzzzzzz": 1})
        assert "did you mean" not in info.value.errors()[0]["msg"]

    def test_a_huge_number_in_json_names_the_field(self) -> None:
        text = '{"offensive_remarks": ' + "9" * 5000 + "}"
        with pytest.raises(ValidationError) as info:
            ConversationState.model_validate_json(text)
        (error,) = info.value.errors()
        assert error["loc"] == ("offensive_remarks",)
        assert "5000 digits" in error["msg"]
        assert len(str(info.value)) < 1000

    def test_loads_state_bounds_numbers(self) -> None:
        data = loads_state('{"warnings_given": -' + "1" * 5000 + ', "mood": "calm"}')
        with pytest.raises(ValidationError) as info:
            ConversationState.model_validate(data)
        assert info.value.errors()[0]["loc"] == ("warnings_given",)
        assert loads_state('{"warnings_given": 2}') == {"warnings_given": 2}

    def test_a_key_that_is_not_unicode_text_has_a_location(self) -> None:
        data = json.loads('{"\\ud800": 1}')
        with pytest.raises(ValidationError) as info:
            ConversationState.model_validate(data)
        (error,) = info.value.errors()
        assert error["loc"] == ("\\ud800",)
        assert error["type"] == "extra_forbidden"
        str(info.value).encode("utf-8")  # printable

    def test_the_contradiction_is_reported_at_the_field(self) -> None:
        with pytest.raises(StateValidationError) as info:
            ConversationState.model_validate({"abuse_after_warning": True})
        (error,) = info.value.errors()
        assert error["loc"] == ("abuse_after_warning",)
        assert not error["msg"].startswith("Value error")


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("offensive_remarks", "a count from 0 to 10000"),
        ("threats", "true or false"),
        ("mood", "one of 'calm'"),
    ],
)
def test_a_huge_number_says_what_the_field_expects(field: str, expected: str) -> None:
    with pytest.raises(StateValidationError) as info:
        ConversationState.model_validate(loads_state(f'{{"{field}": {"7" * 200}}}'))
    (error,) = info.value.errors()
    assert error["loc"] == (field,)
    assert "200 digits" in error["msg"]
    assert expected in error["msg"]


def test_counts_are_bounded() -> None:
    from difficult_customers.state import MAX_COUNT

    assert ConversationState(offensive_remarks=MAX_COUNT).offensive_remarks == MAX_COUNT
    with pytest.raises(StateValidationError) as info:
        ConversationState(warnings_given=MAX_COUNT + 1)
    assert info.value.errors()[0]["loc"] == ("warnings_given",)
