"""The values of :class:`~difficult_customers.details.Details` that advising needs.

:class:`Weekday`, :class:`FormOfAddress` and :data:`DETAIL_NAMES` are read by the rules and
catalogs of every advice; the model itself only when a caller passes details, so it is
defined in details.py, loaded then (the package loads it on first use: it cost about a
millisecond of every import). Published from :mod:`difficult_customers.details`.
"""

from enum import StrEnum

__all__ = ["DETAIL_NAMES", "FormOfAddress", "Weekday"]


class Weekday(StrEnum):
    """A day of the week, Monday first (the order Babel's day-name tables use)."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def number(self) -> int:
        """0 for Monday ... 6 for Sunday."""
        return list(Weekday).index(self)


class FormOfAddress(StrEnum):
    """How the agent addresses the customer when speaking to them, by phone or in person.

    The names are grammatical, not a language's words: each catalog says what they mean.

    * ``neutral``: no gendered form; Polish addresses the customer as "Państwo", French
      says "vous" with no title. The default, and always the form of written channels.
    * ``masculine``: Polish "Pan", French "Monsieur" where a French agent would say it.
    * ``feminine``: Polish "Pani", French "Madame" where a French agent would say it.

    .. versionadded:: 0.2
    """

    NEUTRAL = "neutral"
    MASCULINE = "masculine"
    FEMININE = "feminine"


DETAIL_NAMES: frozenset[str] = frozenset(
    {"business_name", "callback_in", "deposit_percent", "closed_day"}
)
"""The placeholders a phrase may use: the fields of :class:`Details` that are values to say.

``form_of_address`` is not one: it picks a catalog variant of a phrase instead. Written out,
so that checking a phrase does not need the model (tests/test_details.py checks that these
are its fields).
"""
