"""Details: optional facts phrases can weave in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from difficult_customers import Details, FormOfAddress, Weekday
from difficult_customers.details import DETAIL_NAMES


def test_all_optional() -> None:
    assert Details().supplied() == frozenset()


def test_supplied() -> None:
    details = Details(callback_in=timedelta(hours=2), closed_day="sunday")
    assert details.supplied() == {"callback_in", "closed_day"}


def test_iso_durations_and_seconds() -> None:
    assert Details(callback_in="PT1H").callback_in == timedelta(hours=1)
    assert Details(callback_in=1800).callback_in == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("callback_in", "PT10S"),
        ("callback_in", "P60D"),
        ("deposit_percent", 0),
        ("deposit_percent", 101),
        ("closed_day", "funday"),
        ("business_name", ""),
        ("business_name", "x" * 81),
        ("business_name", "Acme\nLtd"),
        ("deposit_percent", "1e-50"),
        ("deposit_percent", "12.345"),
        ("callback_in", 90.5),
    ],
)
def test_invalid(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        Details.model_validate({field: value})
    assert info.value.errors()[0]["loc"] == (field,)


def test_extra_forbidden() -> None:
    with pytest.raises(ValidationError, match="callback"):
        Details.model_validate({"callback": "PT1H"})


def test_weekday_numbers_follow_babel() -> None:
    assert [day.number for day in Weekday] == list(range(7))


def test_detail_names_are_the_fields() -> None:
    expected = {"business_name", "callback_in", "deposit_percent", "closed_day"}
    assert expected == DETAIL_NAMES
    # Written out in _detail_values.py, so that checking a phrase needs no model: the same.
    assert frozenset(Details.model_fields) - {"form_of_address"} == DETAIL_NAMES


def test_form_of_address_is_neutral_unless_given() -> None:
    assert Details().form_of_address is FormOfAddress.NEUTRAL
    assert Details(form_of_address="feminine").form_of_address is FormOfAddress.FEMININE
    assert [form.value for form in FormOfAddress] == ["neutral", "masculine", "feminine"]


def test_form_of_address_is_not_a_placeholder() -> None:
    # It picks a catalog variant; a phrase cannot say "{form_of_address}".
    assert "form_of_address" not in DETAIL_NAMES
    assert Details(form_of_address="masculine").supplied() == frozenset()


@pytest.mark.parametrize("value", ["pani", "Feminine", "", None, 1])
def test_unknown_form_of_address_names_the_field(value: object) -> None:
    with pytest.raises(ValidationError) as info:
        Details.model_validate({"form_of_address": value})
    assert info.value.errors()[0]["loc"] == ("form_of_address",)
