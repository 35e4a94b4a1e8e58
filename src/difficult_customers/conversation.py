"""A conversation as an immutable log of events, folded into one state per event.

The fold is a pure function of the state, the event and the rulebook: what the customer does
is counted the same way every time, and what following a rule changes is that rule's
``effects`` in the rulebook data. The log *is* the serialization, so replaying it rebuilds
the same states and the same advice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from babel import Locale
from pydantic import ValidationError

from .advice import Advice
from .details import Details
from .engine import DetailsInput, StateInput, _coerce_state, _rulebook, advise, decided_ids
from .errors import ConversationEndedError, DifficultCustomersError
from .events import (
    AgentFollowed,
    CustomerAttackedAgent,
    CustomerFinishedSpeaking,
    CustomerInsulted,
    CustomerInterrupted,
    CustomerMood,
    CustomerStartedSpeaking,
    CustomerThreatened,
    Event,
    Facts,
    event_json,
    parse_event,
)
from .rules import Kind, Rulebook
from .state import MAX_COUNT, MAX_DONE, ConversationState, Mood

__all__ = ["MAX_EVENTS", "MAX_JSON_BYTES", "Conversation", "Turn", "fold"]

#: Most events one conversation may hold; a real exchange has tens.
MAX_EVENTS = 10_000
#: Longest JSON text :meth:`Conversation.from_json` reads, in bytes.
MAX_JSON_BYTES = 5_000_000

_FORMAT = "difficult_customers.conversation"
_VERSION = 1


def fold(state: ConversationState, event: Event, rulebook: Rulebook) -> ConversationState:
    """The state after one event. Pure: the same inputs always give the same state.

    Raises:
        ConversationEndedError: the conversation has ended, and the event is not an agent
            move that may follow an ending.
        UnknownRuleError: ``agent_followed`` names no rule of ``rulebook``.
        pydantic.ValidationError: the event would take a count past its limit.

    .. versionadded:: 0.2
    """
    if state.ended and type(event) is not AgentFollowed:
        raise ConversationEndedError(event, allowed=_after_ending(rulebook))
    values = state.__dict__.copy()
    if _FOLDS[type(event)](state, event, values, rulebook) and _is_consistent(values):
        return _derived(values)
    # Validated again as a whole, so that the error names the field and what is allowed.
    return ConversationState.model_validate(values)


# Each fold below writes an event's changes into ``values`` (a copy of the state's fields)
# and says whether the result is known to be valid field by field: then only the
# cross-field rule is checked, not the whole state again.
_Fold = Callable[[ConversationState, Any, dict[str, Any], Rulebook], bool]


def _agent_followed(
    state: ConversationState, event: AgentFollowed, values: dict[str, Any], rulebook: Rulebook
) -> bool:
    rule = rulebook[event.rule]  # UnknownRuleError with the closest id
    if state.ended and not rule.after_ending:
        raise ConversationEndedError(event, allowed=_after_ending(rulebook))
    valid = True
    for effect in rule.effects:
        if effect.increment:
            values[effect.field] += effect.value
            valid = valid and values[effect.field] <= MAX_COUNT
        else:
            values[effect.field] = effect.value  # each value checked when the rule loaded
    done = state.done if rule.id in state.done else tuple(sorted((*state.done, rule.id)))
    values["done"] = done
    if rule.kind is Kind.DO:
        values["agent_replied"] = True
    return valid and len(done) <= MAX_DONE


def _facts(
    state: ConversationState, event: Facts, values: dict[str, Any], rulebook: Rulebook
) -> bool:
    # Each fact was validated as its state field when the event was; none of them takes part
    # in a cross-field rule (those fields come from events), which is checked anyway.
    values.update(event.values)
    return True


def _speaks(
    state: ConversationState, event: Event, values: dict[str, Any], rulebook: Rulebook
) -> bool:
    values["customer_speaking"] = True
    values["agent_replied"] = False
    if type(event) is CustomerInterrupted:
        values["customer_interrupts"] = True
    if state.done:
        # A new turn of the customer's: the steps taken once per turn are due again.
        values["done"] = tuple(i for i in state.done if rulebook[i].repeats != "each_turn")
    return True


def _stops(
    state: ConversationState, event: Event, values: dict[str, Any], rulebook: Rulebook
) -> bool:
    values["customer_speaking"] = False
    return True


def _abuses(
    state: ConversationState, event: Event, values: dict[str, Any], rulebook: Rulebook
) -> bool:
    kind = type(event)
    if kind is CustomerInsulted:
        values["offensive_remarks"] += 1
    elif kind is CustomerAttackedAgent:
        values["personal_attacks"] = True
    else:
        values["threats"] = True
    # Abuse since the last warning is what a warning's consequence hangs on; the cumulative
    # counts cannot tell it apart from abuse before the warning.
    if state.warnings_given >= 1:
        values["abuse_after_warning"] = True
    within: bool = values["offensive_remarks"] <= MAX_COUNT  # else validation names the limit
    return within


def _mood(
    state: ConversationState, event: CustomerMood, values: dict[str, Any], rulebook: Rulebook
) -> bool:
    values["mood"] = event.mood
    if event.mood is Mood.CALM:
        # A customer who has calmed down is no longer abusing the agent: the warning stands
        # (warnings_given), but there is nothing to carry it out against.
        values["abuse_after_warning"] = False
    return True


_FOLDS: dict[type, _Fold] = {
    AgentFollowed: _agent_followed,
    Facts: _facts,
    CustomerStartedSpeaking: _speaks,
    CustomerInterrupted: _speaks,
    CustomerFinishedSpeaking: _stops,
    CustomerInsulted: _abuses,
    CustomerAttackedAgent: _abuses,
    CustomerThreatened: _abuses,
    CustomerMood: _mood,
}
_is_consistent = ConversationState._is_consistent


_new = object.__new__
_set = object.__setattr__
_EVERY_FIELD: frozenset[str] = frozenset(ConversationState.model_fields)


def _derived(values: dict[str, Any]) -> ConversationState:
    """A state from a validated one and an event's changes, without revalidating.

    Every changed value is of its field's type already (an event's values and a rule's
    effects are validated when they are made), counts were checked against their limit and
    the cross-field rule with ``ConversationState._is_consistent``, so validating the whole
    state again would only repeat what is known: a turn stays as cheap as its advice.
    """
    derived = _new(ConversationState)
    _set(derived, "__dict__", values)
    # Every field has its value here, so every field counts as set; the models are frozen,
    # so one shared set serves every derived state.
    _set(derived, "__pydantic_fields_set__", _EVERY_FIELD)
    _set(derived, "__pydantic_extra__", None)
    _set(derived, "__pydantic_private__", None)
    return derived


def _after_ending(rulebook: Rulebook) -> tuple[str, ...]:
    return tuple(rule.id for rule in rulebook if rule.after_ending)


class Turn:
    """One event of a conversation and the state it led to.

    Attributes:
        event: the event.
        state: the state after it.
        before: the state it was applied to.

    .. versionadded:: 0.2
    """

    __slots__ = ("_advised", "_rulebook", "before", "event", "state")

    def __init__(
        self,
        event: Event,
        state: ConversationState,
        before: ConversationState,
        rulebook: Rulebook,
    ) -> None:
        self.event = event
        self.state = state
        self.before = before
        self._rulebook = rulebook
        self._advised: bool | None = None

    @property
    def advised(self) -> bool | None:
        """For ``agent_followed``, whether the rule was in the advice at that moment.

        The agent may follow a rule that was not advised; the turn records it as such.
        ``None`` for the other events. Worked out when first asked for, so that a turn
        costs no second evaluation of the rulebook.
        """
        if not isinstance(self.event, AgentFollowed):
            return None
        if self._advised is None:
            self._advised = self.event.rule in decided_ids(self._rulebook, self.before)
        return self._advised

    def __repr__(self) -> str:
        return f"<Turn {self.event.type}>"


class Conversation:
    """An immutable, replayable conversation: events folded into states, turn by turn.

    >>> conv = Conversation(channel="phone", mood="angry")
    >>> conv = conv.apply({"type": "customer_insulted"}, {"type": "customer_insulted"})
    >>> conv.state.offensive_remarks, conv.advise()[1].rule_id
    (2, 'issue-warning')
    >>> conv = conv.apply({"type": "agent_followed", "rule": "issue-warning"},
    ...                   {"type": "customer_insulted"})
    >>> conv.state.warnings_given, conv.state.abuse_after_warning
    (1, True)
    >>> [r.rule_id for r in conv.advise() if r.phase.value == "conclude"]
    ['part-ways-over-abuse', 'end-the-conversation']

    Args:
        state: the state the conversation starts from (a :class:`ConversationState`, a
            mapping of its fields, or ``None`` for the defaults); keyword ``fields`` are
            applied on top.
        rulebook: the rules whose ``effects`` the conversation applies and that
            :meth:`advise` uses by default; the built-in ones if ``None``.

    .. versionadded:: 0.2
    """

    __slots__ = ("_initial", "_rulebook", "_turns")

    def __init__(
        self, state: StateInput = None, /, *, rulebook: Rulebook | None = None, **fields: Any
    ) -> None:
        self._rulebook = _rulebook(rulebook)
        self._initial = _coerce_state(state, fields)
        self._turns: tuple[Turn, ...] = ()
        _check_memory(self._initial, self._rulebook)

    @classmethod
    def _extended(cls, base: Conversation, turns: tuple[Turn, ...]) -> Conversation:
        new = cls.__new__(cls)
        new._rulebook = base._rulebook
        new._initial = base._initial
        new._turns = base._turns + turns
        return new

    # -- reading -------------------------------------------------------------------------

    @property
    def initial(self) -> ConversationState:
        """The state before the first event."""
        return self._initial

    @property
    def state(self) -> ConversationState:
        """The current state: after the last event, or the initial one."""
        return self._turns[-1].state if self._turns else self._initial

    @property
    def events(self) -> tuple[Event, ...]:
        """Every event so far, in order."""
        return tuple(turn.event for turn in self._turns)

    @property
    def states(self) -> tuple[ConversationState, ...]:
        """The history: the state after each event, one per event."""
        return tuple(turn.state for turn in self._turns)

    @property
    def turns(self) -> tuple[Turn, ...]:
        """Each event with the state it led to and, for agent moves, whether it was advised."""
        return self._turns

    @property
    def rulebook(self) -> Rulebook:
        """The rules this conversation follows."""
        return self._rulebook

    @property
    def ended(self) -> bool:
        """A rule that ends the conversation has been carried out."""
        return self.state.ended

    def __len__(self) -> int:
        return len(self._turns)

    def __iter__(self) -> Iterator[Turn]:
        return iter(self._turns)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Conversation):
            return NotImplemented
        return (
            self._rulebook is other._rulebook
            and self._initial == other._initial
            and self.events == other.events
        )

    def __hash__(self) -> int:
        return hash((id(self._rulebook), self._initial, self.events))

    def __repr__(self) -> str:
        status = ", ended" if self.ended else ""
        return f"<Conversation: {len(self._turns)} events{status}>"

    # -- changing (into a new conversation) ----------------------------------------------

    def apply(self, *events: Event | Mapping[str, Any]) -> Conversation:
        """A new conversation with these events added; this one is unchanged.

        Events are models from :mod:`difficult_customers.events` or plain mappings such as
        ``{"type": "customer_insulted"}``. Either all of them apply or none does.

        Raises:
            pydantic.ValidationError: an event is malformed or of an unknown type (with a
                note naming its position, ``in events[2]``).
            UnknownRuleError: ``agent_followed`` names no rule (the closest id is given).
            ConversationEndedError: an event comes after the end of the conversation.
            DifficultCustomersError: the conversation would exceed :data:`MAX_EVENTS`.
        """
        turns_so_far = self._turns
        if len(turns_so_far) + len(events) > MAX_EVENTS:
            raise DifficultCustomersError(
                f"a conversation holds at most {MAX_EVENTS:,} events; "
                f"this one has {len(turns_so_far):,} and {len(events):,} more were given"
            )
        state = turns_so_far[-1].state if turns_so_far else self._initial
        if len(events) == 1:
            # One event: the common turn of a live conversation, kept as short as it can be
            # (a turn should cost about what its advice does).
            try:
                event = parse_event(events[0])
            except ValidationError as exc:
                exc.add_note("in events[0]")
                raise
            book = self._rulebook
            new = _new(Conversation)
            new._rulebook = book
            new._initial = self._initial
            new._turns = (*turns_so_far, Turn(event, fold(state, event, book), state, book))
            return new
        turns = []
        for position, raw in enumerate(events):
            try:
                event = parse_event(raw)
            except ValidationError as exc:
                exc.add_note(f"in events[{position}]")
                raise
            before, state = state, fold(state, event, self._rulebook)
            turns.append(Turn(event, state, before, self._rulebook))
        return Conversation._extended(self, tuple(turns))

    # -- advising ------------------------------------------------------------------------

    def advise(
        self,
        *,
        locale: str | Locale = "en",
        details: DetailsInput = None,
        rulebook: Rulebook | None = None,
    ) -> Advice:
        """:func:`~difficult_customers.advise` on the current state.

        Args:
            locale: as for :func:`~difficult_customers.advise`.
            details: as for :func:`~difficult_customers.advise`.
            rulebook: rules to advise with; by default the conversation's own.
        """
        return advise(
            self.state,
            locale=locale,
            details=details,
            rulebook=self._rulebook if rulebook is None else rulebook,
        )

    def advise_each(
        self, *, locale: str | Locale = "en", details: Details | None = None
    ) -> Iterator[Advice]:
        """The advice after each event, in order: the conversation as the agent saw it."""
        for turn in self._turns:
            yield advise(turn.state, locale=locale, details=details, rulebook=self._rulebook)

    # -- serialization -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The event log as JSON-ready data: the initial state and every event."""
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "rulebook": self._rulebook.name,
            "initial": self._initial.model_dump(mode="json"),
            "events": [event_json(event) for event in self.events],
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """The event log as JSON; :meth:`from_json` replays it."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, rulebook: Rulebook | None = None
    ) -> Conversation:
        """Replay an event log made by :meth:`to_dict`.

        Raises:
            DifficultCustomersError: not a conversation log, an unknown version, or a log
                written with another rulebook than the one given.
            pydantic.ValidationError: the initial state or an event is invalid.
        """
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise DifficultCustomersError(
                f'not a conversation log: expected an object with "format": "{_FORMAT}"'
            )
        unknown = sorted(set(data) - {"format", "version", "rulebook", "initial", "events"})
        if unknown:
            raise DifficultCustomersError(f"unknown key {unknown[0]!r} in a conversation log")
        if data.get("version") != _VERSION:
            raise DifficultCustomersError(
                f"unsupported conversation log version {data.get('version')!r}; "
                f"this version of difficult_customers reads version {_VERSION}"
            )
        book = _rulebook(rulebook)
        written_with = data.get("rulebook")
        if written_with != book.name:
            raise DifficultCustomersError(
                f"the conversation was recorded with the rulebook {written_with!r}, not "
                f"{book.name!r}: pass the same rulebook to replay it"
            )
        events = data.get("events", [])
        if not isinstance(events, list):
            raise DifficultCustomersError('"events" must be a list of events')
        initial = data.get("initial", {})
        if not isinstance(initial, Mapping):
            raise DifficultCustomersError('"initial" must be an object of state fields')
        return cls(initial, rulebook=book).apply(*events)

    @classmethod
    def from_json(cls, text: str | bytes, *, rulebook: Rulebook | None = None) -> Conversation:
        """Replay an event log made by :meth:`to_json`: the same states, the same advice.

        Raises:
            DifficultCustomersError: not JSON, too long (over :data:`MAX_JSON_BYTES`), or
                not a conversation log (see :meth:`from_dict`).
            pydantic.ValidationError: the initial state or an event is invalid.
        """
        if len(text) > MAX_JSON_BYTES:
            raise DifficultCustomersError(
                f"a conversation log is at most {MAX_JSON_BYTES:,} bytes; this one is longer"
            )
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DifficultCustomersError(f"a conversation log must be JSON: {exc}") from None
        except RecursionError:
            raise DifficultCustomersError("the conversation log is nested too deeply") from None
        return cls.from_dict(data, rulebook=rulebook)

    @classmethod
    def replay(
        cls,
        events: Iterable[Event | Mapping[str, Any]],
        state: StateInput = None,
        /,
        *,
        rulebook: Rulebook | None = None,
    ) -> Conversation:
        """A conversation from a start state and its events, as from a JSON Lines log."""
        return cls(state, rulebook=rulebook).apply(*events)


def _check_memory(state: ConversationState, rulebook: Rulebook) -> None:
    for rule_id in state.done:
        rulebook[rule_id]  # UnknownRuleError with the closest id
