"""Why a rule did not fire: :class:`Failure` and :class:`Explanation`, for :func:`explain`.

A module of their own, loaded when first used: :func:`advise` never needs them, and
defining two dataclasses costs about a millisecond of every import. They are published as
``difficult_customers.Failure`` and ``difficult_customers.Explanation`` (also reachable from
:mod:`difficult_customers.conditions` and :mod:`difficult_customers.engine`, where they
were first defined).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["Explanation", "Failure", "Status"]

Status = Literal["fired", "overridden", "not_fired", "done", "ended"]


@dataclass(frozen=True)
class Failure:
    """Why a condition did not hold: the smallest failing clause and the values it read.

    >>> str(Failure("warnings_given >= 1", {"warnings_given": 0}))
    'warnings_given >= 1 (warnings_given=0)'

    Attributes:
        clause: the clause's source text, with whitespace collapsed and comments removed.
        values: the fields that clause reads, in order of appearance, enums as plain strings.
    """

    clause: str
    values: Mapping[str, object] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Read-only, so a Failure cannot change after the fact.
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    def __reduce__(self) -> tuple[type[Failure], tuple[str, dict[str, object]]]:
        # A read-only mapping cannot be pickled or deep-copied: rebuilt from a plain copy.
        return (type(self), (self.clause, dict(self.values)))

    def __str__(self) -> str:
        if not self.values:
            return self.clause
        shown = ", ".join(f"{name}={value!r}" for name, value in self.values.items())
        return f"{self.clause} ({shown})"


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a rule did or did not make it into the advice.

    Attributes:
        rule_id: the rule.
        status: "fired" (in the advice), "overridden" (its condition held, but a rule that
            also fired overrides it), "not_fired" (its condition failed), "done" (its
            condition held, but the agent has carried it out and it does not repeat) or
            "ended" (the conversation has ended and the rule is not one for after an ending).
        overridden_by: the ids of the rules that removed it, in advice order.
        failure: for "not_fired", the smallest failing clause and its field values.
        values: the value of every field the rule's condition reads.

    .. versionadded:: 0.1
    """

    rule_id: str
    status: Status
    overridden_by: tuple[str, ...]
    failure: Failure | None
    values: Mapping[str, object]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "rule_id": self.rule_id,
            "status": self.status,
            "overridden_by": list(self.overridden_by),
            "failure": None
            if self.failure is None
            else {"clause": self.failure.clause, "values": dict(self.failure.values)},
            "values": dict(self.values),
        }

    def __str__(self) -> str:
        if self.status == "fired":
            return f"{self.rule_id}: fired"
        if self.status == "overridden":
            return f"{self.rule_id}: overridden by {', '.join(self.overridden_by)}"
        if self.status == "done":
            return f"{self.rule_id}: already carried out, not repeated"
        if self.status == "ended":
            return f"{self.rule_id}: the conversation has ended"
        return f"{self.rule_id}: did not fire: {self.failure}"
