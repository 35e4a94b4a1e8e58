"""The typed events of a conversation: what the customer did, what the agent did, what was learnt.

An event is JSON with a ``type``, validated into one of the models below (a discriminated
union, so an unknown ``type`` is an error that lists the allowed ones)::

    {"type": "customer_insulted"}
    {"type": "customer_mood", "mood": "furious"}
    {"type": "agent_followed", "rule": "issue-warning"}
    {"type": "facts", "values": {"complaint_validity": "valid", "resolved": true}}

Events say what happened, never how the state changes: that is
:class:`~difficult_customers.Conversation`'s fold, and for ``agent_followed`` the rule's
``effects`` in the rulebook.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from ._text import shown
from .errors import _short_validation_error
from .state import ConversationState, Mood

__all__ = [
    "EVENT_TYPES",
    "FACT_FIELDS",
    "AgentFollowed",
    "CustomerAttackedAgent",
    "CustomerFinishedSpeaking",
    "CustomerInsulted",
    "CustomerInterrupted",
    "CustomerMood",
    "CustomerStartedSpeaking",
    "CustomerThreatened",
    "Event",
    "Facts",
    "parse_event",
]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The fold trusts an event model's values (it builds the next state without validating
    # it), and conversations and the fast path keep what they worked out from equal values:
    # pydantic's two ways of building a model without validating it validate here, as
    # ConversationState's do.
    if not TYPE_CHECKING:  # the plugin types model_construct from the fields

        @classmethod
        def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:
            """Validates like the constructor: an event is never built from unchecked values."""
            return cls.model_validate(values)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied, validated like a new event."""
        if not update:
            return super().model_copy(deep=deep)
        return self.model_validate({**self.__dict__, **update})

    @property
    def by_customer(self) -> bool:
        """The customer did it (as opposed to the agent, or something the caller learnt)."""
        return self.type.startswith("customer_")  # type: ignore[attr-defined, no-any-return]


class CustomerStartedSpeaking(_Event):
    """The customer has started speaking (or writing): the agent's turn is over for now."""

    type: Literal["customer_started_speaking"] = "customer_started_speaking"


class CustomerFinishedSpeaking(_Event):
    """The customer has finished: it is the agent's turn."""

    type: Literal["customer_finished_speaking"] = "customer_finished_speaking"


class CustomerInterrupted(_Event):
    """The customer cut the agent off, and is speaking again."""

    type: Literal["customer_interrupted"] = "customer_interrupted"


class CustomerInsulted(_Event):
    """One insult or vulgar remark."""

    type: Literal["customer_insulted"] = "customer_insulted"


class CustomerAttackedAgent(_Event):
    """An attack on the agent as a person."""

    type: Literal["customer_attacked_agent"] = "customer_attacked_agent"


class CustomerThreatened(_Event):
    """A threat against the agent or the business."""

    type: Literal["customer_threatened"] = "customer_threatened"


class CustomerMood(_Event):
    """The customer's temper has changed (``calm``, ``upset``, ``angry``, ``furious``)."""

    type: Literal["customer_mood"] = "customer_mood"
    mood: Mood


_RuleId = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=64)
]


class AgentFollowed(_Event):
    """The agent carried out a recommendation: the rule with this id.

    What that changes (a warning given, the conversation ended...) is the rule's
    ``effects``; the rule is also remembered as done, so that it is not advised again
    unless it repeats.
    """

    type: Literal["agent_followed"] = "agent_followed"
    rule: _RuleId


#: The state fields a ``facts`` event may set: what the caller learns along the way. The
#: others follow from events (see :data:`_DERIVED`), so that counts and flags stay consistent.
FACT_FIELDS: tuple[str, ...] = (
    "channel",
    "complaint_validity",
    "covered_by_contract",
    "request_within_policy",
    "agent_knows_resolution",
    "agent_can_handle",
    "solution_available",
    "resolved",
    "discussion_stalled",
    "customer_value",
    "effort_exceeds_value",
    "unsatisfiable",
    "agent_upset",
)

# For a field a caller may not set through facts: the event that records it instead.
_DERIVED: dict[str, str] = {
    "mood": "a customer_mood event",
    "customer_speaking": "customer_started_speaking or customer_finished_speaking events",
    "customer_interrupts": "a customer_interrupted event",
    "offensive_remarks": "one customer_insulted event per remark",
    "personal_attacks": "a customer_attacked_agent event",
    "threats": "a customer_threatened event",
    "warnings_given": "agent_followed with the rule that gives the warning",
    "abuse_after_warning": "customer events after agent_followed of a warning",
    "done": "agent_followed events",
    "agent_replied": "agent_followed events (and customer events, which clear it)",
    "position_stated": "agent_followed with the rule that states the final position",
    "ended": "agent_followed with a rule that ends the conversation",
}

#: Most fields one ``facts`` event may carry (there are fewer fact fields than this).
MAX_FACTS = 32


def _read_only(*args: object, **kwargs: object) -> typing.NoReturn:
    raise TypeError("the facts of an event cannot be changed: make a new facts event")


class _FactValues(dict[str, Any]):
    """The values of a :class:`Facts` event: a dict that cannot be changed.

    Events are frozen, and one instance of an event read from a dict is shared by every
    conversation (see :func:`_from_dict`), which also keep the turns taken with it: a
    change to its values would reach all of them, and the turns kept would no longer be
    the event's. Copies and pickles hold the same facts, as unchangeable.
    """

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle and copy would otherwise fill a new one in item by item.
        return (_FactValues, (dict(self),))


class Facts(_Event):
    """Something the caller has learnt: ``{"resolved": true}``, ``{"complaint_validity": ...}``.

    ``values`` holds fields of :data:`FACT_FIELDS`, validated like the state itself.
    """

    type: Literal["facts"] = "facts"
    values: dict[str, Any] = Field(min_length=1, max_length=MAX_FACTS)

    @field_validator("values", mode="after")
    @classmethod
    def _known_facts(cls, values: dict[str, Any]) -> dict[str, Any]:
        for name in values:
            if name in _DERIVED:
                raise ValueError(
                    f"{name!r} is not a fact: the conversation derives it from {_DERIVED[name]}"
                )
            if name not in FACT_FIELDS:
                close = difflib.get_close_matches(str(name), FACT_FIELDS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(
                    f"unknown fact {shown(name)}{hint}; facts are: {', '.join(FACT_FIELDS)}"
                )
        # Validated by the state model itself, so a fact is held to the same types and
        # values as a snapshot; kept as the model's values (enums, not strings).
        checked = ConversationState.model_validate(values)
        return _FactValues({name: getattr(checked, name) for name in sorted(values)})


Event = Annotated[
    CustomerStartedSpeaking
    | CustomerFinishedSpeaking
    | CustomerInterrupted
    | CustomerInsulted
    | CustomerAttackedAgent
    | CustomerThreatened
    | CustomerMood
    | AgentFollowed
    | Facts,
    Field(discriminator="type"),
]
"""Any event, told apart by its ``type``."""

# Titled, so that errors read "1 validation error for event" rather than naming the union.
_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event, config=ConfigDict(title="event"))

#: The event models, in the order of the union.
_KINDS: tuple[type[_Event], ...] = typing.get_args(typing.get_args(Event)[0])

# An event that carries nothing but its type is parsed to one shared instance.
_BARE: dict[str, Event] = {
    kind.model_fields["type"].default: kind()  # type: ignore[misc]
    for kind in _KINDS
    if set(kind.model_fields) == {"type"}
}

# The same by the event's class: any instance of one of these classes equals its instance.
_bare_of_class: dict[type, Event] = {type(event): event for event in _BARE.values()}

# Every instance parse_event shares, by id: a conversation finds a turn taken before by its
# event's identity (see Conversation.apply). Each is kept here for good, so its id stays
# its own; there are as many as the bounded caches below hold.
_shared_events: dict[int, Event] = {id(event): event for event in _BARE.values()}


def _share(event: Event) -> Event:
    _shared_events[id(event)] = event
    return event


# Checked by identity first: isinstance() on a pydantic model class costs more than a turn's
# whole fold would.
_MODELS: frozenset[type] = frozenset(_KINDS)

# Moods and agent moves already parsed, by type and then by the one value they carry: a
# rulebook has a few dozen rules, so these stay small; the bound keeps hostile input from
# growing them.
_SEEN: dict[str, tuple[str, dict[str, Event]]] = {
    "customer_mood": ("mood", {}),
    "agent_followed": ("rule", {}),
}
_MAX_SEEN = 4096

#: Every event ``type``, in the order of the union.
EVENT_TYPES: tuple[str, ...] = tuple(kind.model_fields["type"].default for kind in _KINDS)


def parse_event(event: Event | Mapping[str, Any]) -> Event:
    """An event model from a model (returned as is) or a plain mapping such as parsed JSON.

    >>> parse_event({"type": "customer_mood", "mood": "angry"})
    CustomerMood(type='customer_mood', mood=<Mood.ANGRY: 'angry'>)

    Raises:
        pydantic.ValidationError: unknown ``type`` (the allowed ones are listed), a missing
            or misspelled field, or a bad value.

    .. versionadded:: 0.2
    """
    if type(event) is dict:
        return _from_dict(event)
    if type(event) in _MODELS or isinstance(event, _Event):  # or a subclass of a model
        return event  # type: ignore[return-value]
    try:
        return _ADAPTER.validate_python(event)
    except ValidationError as exc:
        raise _short_validation_error(exc) from None


def _from_dict(event: dict[str, Any]) -> Event:
    """:func:`parse_event` of a plain dict, the form JSON gives.

    Most turns are a bare customer event, a mood or an agent move: events are frozen, so
    one instance of each serves every conversation, and the union's validation would only
    find the same again.
    """
    try:
        kind = event.get("type")
        if type(kind) is str:
            size = len(event)
            if size == 1:
                bare = _BARE.get(kind)
                if bare is not None:
                    return bare
            elif size == 2:
                cached = _SEEN.get(kind)
                if cached is not None:
                    field, seen = cached
                    value = event.get(field)
                    if type(value) is str:
                        known = seen.get(value)
                        if known is None:
                            known = _ADAPTER.validate_python(event)
                            if len(seen) < _MAX_SEEN:
                                seen[value] = _share(known)
                        return known
                elif kind == "facts":
                    values = event.get("values")
                    if type(values) is dict:
                        if len(values) == 1:
                            # One fact learnt at a time, the common case, found without a key.
                            (name,) = values
                            by_value = _SEEN_FACT.get(name)
                            if by_value is not None:
                                fact = values[name]
                                if type(fact) is str or type(fact) is bool:
                                    parsed = by_value.get(fact)
                                    if parsed is not None:
                                        return parsed
                        if 0 < len(values) <= MAX_FACTS:
                            return _facts(event, values)
        return _ADAPTER.validate_python(event)
    except ValidationError as exc:
        # pydantic's text repeats an unknown type or key whole, of whatever length.
        raise _short_validation_error(exc) from None


def _facts(event: dict[str, Any], values: dict[Any, Any]) -> Event:
    """A ``facts`` event, from the cache when the same plain facts were parsed before.

    Every fact is a string (an enum value) or a boolean, and only those are cached: 1 and
    1.0 are equal to True as keys, but only True is a boolean.
    """
    if len(values) == 1:
        # Kept by name, then value: only valid facts are kept, so a few dozen at most.
        (name,) = values
        value = values[name]
        parsed = _ADAPTER.validate_python(event)
        if type(name) is str and (type(value) is str or type(value) is bool):
            _SEEN_FACT.setdefault(name, {})[value] = _share(parsed)
        return parsed
    for value in values.values():
        if type(value) is not str and type(value) is not bool:
            return _ADAPTER.validate_python(event)
    key = tuple(values.items())
    known = _SEEN_FACTS.get(key)
    if known is None:
        known = _ADAPTER.validate_python(event)
        if len(_SEEN_FACTS) < _MAX_SEEN:
            _SEEN_FACTS[key] = _share(known)
    return known


_SEEN_FACT: dict[str, dict[str | bool, Event]] = {}
_SEEN_FACTS: dict[tuple[tuple[str, str | bool], ...], Event] = {}


def event_json(event: Event) -> dict[str, Any]:
    """The event as JSON-ready data, as :func:`parse_event` reads it back."""
    return event.model_dump(mode="json")
