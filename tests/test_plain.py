"""The validator of plain dicts (``_plain.py``) against pydantic itself.

It may decline anything, but what it accepts must be exactly what pydantic makes of the
same dict: the same values of the same types, the same fields set, and pydantic must accept
it too.
"""

from __future__ import annotations

import copy
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from difficult_customers import ConversationState, advise
from difficult_customers._plain import plain_source, plain_validator
from difficult_customers.state import MAX_COUNT, Channel, ComplaintValidity, CustomerValue, Mood
from strategies import random_state_rows, state_fields, states

PLAIN = plain_validator()
FIELDS = list(ConversationState.model_fields)
ENUMS = (Channel, Mood, ComplaintValidity, CustomerValue)


class _Number(int):
    pass


class _Text(str):
    pass


class _Other(StrEnum):
    PHONE = "phone"
    ANGRY = "angry"


class _Rank(IntEnum):
    ONE = 1


# Values of every kind a caller might pass, plausible or hostile.
VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-2, max_value=5),
    st.sampled_from([MAX_COUNT, MAX_COUNT + 1, 2**64, -(2**64)]),
    st.floats(allow_nan=True),
    st.sampled_from([member for enum in ENUMS for member in enum]),
    st.sampled_from([member.value for enum in ENUMS for member in enum]),
    st.sampled_from(["Angry", "", "phone ", "\x00", "unknown", "high"]),
    st.sampled_from([_Number(1), _Text("phone"), _Other.PHONE, _Other.ANGRY, _Rank.ONE]),
    st.none(),
    st.sampled_from([[], (), [""], ["stay-calm"], ("stay-calm",), {}, set(), b"", "stay-calm"]),
)
NAMES = st.one_of(st.sampled_from(FIELDS), st.sampled_from(["$schema", "Mood", "x", ""]))


def assert_same_state(plain: ConversationState, data: dict[str, Any]) -> None:
    validated = ConversationState.__pydantic_validator__.validate_python(data)
    assert plain == validated
    assert plain.__dict__ == validated.__dict__
    assert [type(v) for v in plain.__dict__.values()] == [
        type(v) for v in validated.__dict__.values()
    ]
    assert list(plain.__dict__) == list(validated.__dict__)
    assert plain.model_fields_set == validated.model_fields_set
    assert plain.__pydantic_extra__ == validated.__pydantic_extra__
    assert plain.__pydantic_private__ == validated.__pydantic_private__
    assert plain.model_dump_json(exclude_unset=True) == validated.model_dump_json(
        exclude_unset=True
    )


@settings(max_examples=500)
@given(data=st.dictionaries(NAMES, VALUES, max_size=8))
def test_what_it_accepts_pydantic_makes_the_same(data: dict[str, Any]) -> None:
    before = copy.deepcopy(data)
    plain = PLAIN(data)
    assert data == before  # nothing the caller passed is changed
    event("accepted" if plain is not None else "declined")
    if plain is not None:
        assert_same_state(plain, data)


@settings(max_examples=300)
@given(fields=state_fields(), json=st.booleans(), keep=st.sets(st.sampled_from(FIELDS)))
def test_valid_dicts_of_any_fields(fields: dict[str, Any], json: bool, keep: set[str]) -> None:
    data = {name: value for name, value in fields.items() if name in keep}
    try:
        ConversationState.__pydantic_validator__.validate_python(data)
    except ValidationError:
        assert PLAIN(data) is None  # an inconsistent state is left to pydantic to report
        return
    if json:
        data = ConversationState.model_validate(data).model_dump(mode="json", include=keep)
    plain = PLAIN(data)
    if not data.get("done"):
        assert plain is not None, data  # the plain case is taken
    if plain is not None:
        assert_same_state(plain, data)


@given(state=states())
def test_advise_on_a_dict_is_advise_on_its_state(state: ConversationState) -> None:
    data = state.model_dump(mode="json")
    assert advise(data) == advise(state)


def test_random_rows_are_plain() -> None:
    rows = [{**row, "done": []} for row in random_state_rows(200, seed=4)]
    for row in rows:
        plain = PLAIN(row)
        assert plain is not None
        assert_same_state(plain, row)


@pytest.mark.parametrize(
    "data",
    [
        {"abuse_after_warning": True},
        {"abuse_after_warning": True, "warnings_given": 1},
        {"abuse_after_warning": True, "threats": True},
        {"done": ["stay-calm"]},
        {"done": "stay-calm"},
        {"$schema": "https://example.org/state.json"},
        {"offensive_remarks": True},
        {"threats": 1},
        {"mood": _Other.ANGRY},
        {"channel": _Text("phone")},
        {"warnings_given": _Number(1)},
        {1: True},
    ],
)
def test_declined(data: dict[Any, Any]) -> None:
    assert PLAIN(data) is None


def test_an_unknown_kind_of_field_is_declined_when_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # A field the generator knows no check for costs speed, never correctness.
    info = ConversationState.model_fields["threats"]
    monkeypatch.setattr(info, "metadata", [])  # no longer a strict bool
    text, _ = plain_source()
    assert "if 'threats' in data:\n        return None" in text
