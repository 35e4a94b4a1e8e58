"""Details: values a caller supplies for ready-to-say phrases (business name, callback...)."""

# Annotations not postponed, for a quicker import: see state.py.

from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ._detail_values import DETAIL_NAMES, FormOfAddress, Weekday

__all__ = ["DETAIL_NAMES", "Details", "FormOfAddress", "Weekday"]


class Details(BaseModel):
    """Facts about the business that some phrases can weave in, all optional.

    A phrase uses a detail only when it was supplied; otherwise the rule's wording without
    it is used, so the advice always reads naturally. Values are formatted per locale with
    Babel and the catalogs (``callback_in`` of one hour becomes "in an hour", "dans une heure",
    "za godzinę"; 90 minutes stays "in 90 minutes").

    >>> Details(callback_in="PT1H", deposit_percent=20, closed_day="sunday").closed_day
    <Weekday.SUNDAY: 'sunday'>

    .. versionadded:: 0.1
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    business_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
        | None
    ) = Field(default=None, description="The business's name, as the customer knows it.")
    callback_in: timedelta | None = Field(
        default=None,
        description="When the agent will get back to the customer, from now "
        "(ISO 8601 duration such as PT1H, or seconds). Between 1 minute and 30 days.",
    )
    deposit_percent: Decimal | None = Field(
        default=None,
        gt=0,
        le=100,
        max_digits=5,
        decimal_places=2,
        description="The deposit the written agreement requires, in percent (20 for 20%).",
    )
    closed_day: Weekday | None = Field(
        default=None, description="A day the business is closed, such as sunday."
    )
    form_of_address: FormOfAddress = Field(
        default=FormOfAddress.NEUTRAL,
        description="How the agent addresses the customer on the phone and in person: "
        "neutral (the default), masculine (Polish Pan, French Monsieur) or feminine (Pani, "
        "Madame). Email, chat and social media always use the neutral company voice.",
    )

    @field_validator("business_name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # The name is read aloud and printed on one line: no line breaks or control codes.
        if value is not None and not value.isprintable():
            raise ValueError("must be printable text on one line")
        return value

    @field_validator("callback_in")
    @classmethod
    def _reasonable_delay(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(minutes=1) <= value <= timedelta(days=30):
            raise ValueError("must be between 1 minute and 30 days")
        if value is not None and value.microseconds:
            raise ValueError("must be a whole number of seconds")
        return value

    def supplied(self) -> frozenset[str]:
        """The names of the details that were given and that phrases use as placeholders."""
        return frozenset(
            name
            for name, value in self.__dict__.items()
            if value is not None and name in DETAIL_NAMES
        )
