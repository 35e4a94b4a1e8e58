"""A conversation as an immutable log of events, folded into one state per event.

The fold is a pure function of the state, the event and the rulebook: what the customer does
is counted the same way every time, and what following a rule changes is that rule's
``effects`` in the rulebook data. The log *is* the serialization, so replaying it rebuilds
the same states and the same advice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from babel import Locale
from pydantic import ValidationError

from . import engine as _engine
from ._text import shown
from .advice import Advice
from .details import Details
from .engine import (
    StateInput,
    _coerce_state,
    _rulebook,
    _state_values,
    advise,
    advise_valid,
    decided_ids,
)
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
    _bare_of_class,
    _from_dict,
    _shared_events,
    event_json,
    parse_event,
)
from .rules import Effect, Kind, Rulebook
from .state import (
    MAX_COUNT,
    MAX_DONE,
    ConversationState,
    Mood,
    loads_state,
)

if TYPE_CHECKING:
    from .engine import DetailsInput

__all__ = ["MAX_EVENTS", "MAX_JSON_BYTES", "MAX_KEPT_TURNS", "Conversation", "Turn", "fold"]

#: Most events one conversation may hold; a real exchange has tens.
MAX_EVENTS = 10_000
#: Most turns (a state and an event, and the state they led to) kept per rulebook, so that
#: a turn taken before, in any conversation, is not folded again. Each holds a state, about
#: 1.5 KB; the first ones are kept (see :meth:`Conversation.apply`).
MAX_KEPT_TURNS = 1024
#: Longest JSON text :meth:`Conversation.from_json` reads, in bytes.
MAX_JSON_BYTES = 5_000_000

_FORMAT = "difficult_customers.conversation"
_VERSION = 1


def fold(state: ConversationState, event: Event, rulebook: Rulebook) -> ConversationState:
    """The state after one event. Pure: the same inputs always give the same state.

    Raises:
        TypeError: ``event`` is not an event model (see :func:`parse_event` for JSON).
        ConversationEndedError: the conversation has ended, and the event is not an agent
            move that may follow an ending.
        UnknownRuleError: ``agent_followed`` names no rule of ``rulebook``.
        pydantic.ValidationError: the event would take a count past its limit.

    .. versionadded:: 0.2
    """
    step = _FOLDS.get(type(event)) or _step_of(event)
    if type(state) is not ConversationState:
        state = _coerce_state(state, {})  # a subclass that redefines a field, validated
    return _fold(state, event, step, _folding_of(rulebook))


def _fold(
    state: ConversationState, event: Any, step: _Step, folding: _Folding
) -> ConversationState:
    values = state.__dict__.copy()
    if values["ended"] and step is not _agent_followed:
        raise ConversationEndedError(event, allowed=folding.after_ending)
    if step(values, event, folding):
        return _trusted(values)
    # Validated again as a whole, so that the error names the field and what is allowed.
    return ConversationState.model_validate(values)


class _Folding:
    """What the fold needs of one rulebook, worked out once and kept with the rulebook."""

    __slots__ = ("after_ending", "each_turn", "moves", "rulebook", "turns")

    def __init__(self, rulebook: Rulebook) -> None:
        self.rulebook = rulebook
        #: By rule id: may it follow an ending, its effects (field, value, increment) with
        #: enum values as the state holds them, and whether it is something the agent does.
        self.moves: dict[str, tuple[bool, tuple[tuple[str, Any, bool], ...], bool]] = {
            rule.id: (
                rule.after_ending,
                tuple((e.field, _state_value(e), e.increment) for e in rule.effects),
                rule.kind is Kind.DO,
            )
            for rule in rulebook
        }
        self.each_turn = frozenset(rule.id for rule in rulebook if rule.repeats == "each_turn")
        self.after_ending = tuple(rule.id for rule in rulebook if rule.after_ending)
        #: The turns taken so far (see Conversation.apply): by the field values of the state
        #: before and the id of the event, that event, the state after, its fields and
        #: their values.
        self.turns: dict[
            tuple[tuple[object, ...], int],
            tuple[Event, ConversationState, dict[str, Any], tuple[object, ...]],
        ] = {}


def _state_value(effect: Effect) -> Any:
    # A rule keeps an enum value as its text; the state holds the enum member.
    kind = _ENUMS.get(effect.field)
    return effect.value if kind is None else kind(effect.value)


def _folding_of(rulebook: Rulebook) -> _Folding:
    folding: _Folding | None = rulebook._cache.get("folding")
    if folding is None:
        folding = rulebook._cache["folding"] = _Folding(rulebook)
    return folding


# Each step below writes an event's changes into ``values`` (a copy of the fields of the
# state before it, so that it also reads that state from there) and says whether the
# result is known to be a valid state: each field valid, and the cross-field rule
# (ConversationState._is_consistent) kept. Then the state is built without validating it
# again; otherwise it is validated, so that the error names the field. Only an agent's
# move, whose effects are rule data, can break the cross-field rule, so only that step
# checks it; the others keep it by what they change (see each), which the property tests
# check on every state they build.
_Step = Callable[[dict[str, Any], Any, _Folding], bool]


def _agent_followed(values: dict[str, Any], event: AgentFollowed, folding: _Folding) -> bool:
    rule_id = event.rule
    move = folding.moves.get(rule_id)
    if move is None:
        folding.rulebook[rule_id]  # UnknownRuleError with the closest id
        raise AssertionError(rule_id)  # unreachable: every rule has its move
    after_ending, effects, do = move
    if values["ended"] and not after_ending:
        raise ConversationEndedError(event, allowed=folding.after_ending)
    valid = True
    if effects:
        for field, value, increment in effects:
            if increment:
                value += values[field]
                valid = value <= MAX_COUNT and valid
            values[field] = value  # each value checked when the rule loaded
        # Effects may set any field, so they may break the cross-field rule.
        valid = valid and _is_consistent(values)
    done = values["done"]
    if not done:
        values["done"] = (rule_id,)
    elif rule_id not in done:
        done = tuple(sorted((*done, rule_id)))
        values["done"] = done
        valid = len(done) <= MAX_DONE and valid
    if do:
        values["agent_replied"] = True
    return valid


def _facts(values: dict[str, Any], event: Facts, folding: _Folding) -> bool:
    # Each fact was validated as its state field when the event was; none of them takes part
    # in the cross-field rule (its fields come from events: FACT_FIELDS leaves them out).
    values.update(event.values)
    return True


def _started_speaking(values: dict[str, Any], event: Event, folding: _Folding) -> bool:
    values["customer_speaking"] = True
    values["agent_replied"] = False
    done = values["done"]
    if done and not folding.each_turn.isdisjoint(done):
        # A new turn of the customer's: the steps taken once per turn are due again.
        each_turn = folding.each_turn
        values["done"] = tuple(i for i in done if i not in each_turn)
    return True


def _interrupted(values: dict[str, Any], event: Event, folding: _Folding) -> bool:
    values["customer_interrupts"] = True
    return _started_speaking(values, event, folding)


def _finished_speaking(values: dict[str, Any], event: Event, folding: _Folding) -> bool:
    values["customer_speaking"] = False
    return True


def _insulted(values: dict[str, Any], event: Event, folding: _Folding) -> bool:
    remarks: int = values["offensive_remarks"] + 1
    values["offensive_remarks"] = remarks
    # Abuse since the last warning is what a warning's consequence hangs on; the cumulative
    # counts cannot tell it apart from abuse before the warning. Set only with a warning
    # given and the abuse just recorded, which is what the cross-field rule asks.
    if values["warnings_given"]:
        values["abuse_after_warning"] = True
    return remarks <= MAX_COUNT  # else validation names the limit


def _attacked(values: dict[str, Any], event: Event, folding: _Folding) -> bool:
    values["personal_attacks"] = True
    if values["warnings_given"]:
        values["abuse_after_warning"] = True
    return True


def _threatened(values: dict[str, Any], event: Event, folding: _Folding) -> bool:
    values["threats"] = True
    if values["warnings_given"]:
        values["abuse_after_warning"] = True
    return True


def _mood(values: dict[str, Any], event: CustomerMood, folding: _Folding) -> bool:
    mood = event.mood
    values["mood"] = mood
    if mood is _CALM:
        # A customer who has calmed down is no longer abusing the agent: the warning stands
        # (warnings_given), but there is nothing to carry it out against.
        values["abuse_after_warning"] = False
    return True


_CALM = Mood.CALM  # an enum member read from its class costs a lookup through the metaclass

# By the event's exact class: a dictionary lookup, where isinstance() on a pydantic model
# class costs more than most steps do.
_FOLDS: dict[type, _Step] = {
    AgentFollowed: _agent_followed,
    Facts: _facts,
    CustomerStartedSpeaking: _started_speaking,
    CustomerInterrupted: _interrupted,
    CustomerFinishedSpeaking: _finished_speaking,
    CustomerInsulted: _insulted,
    CustomerAttackedAgent: _attacked,
    CustomerThreatened: _threatened,
    CustomerMood: _mood,
}
_is_consistent = ConversationState._is_consistent
_trusted = ConversationState._trusted
_new = object.__new__
_ENUMS: dict[str, type[Enum]] = {
    name: field.annotation
    for name, field in ConversationState.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, Enum)
}


def _step_of(event: object) -> _Step:
    """The step of a subclass of an event model (that of its model), or a TypeError."""
    for kind in type(event).__mro__:
        if kind in _FOLDS:
            return _FOLDS[kind]
    names = ", ".join(kind.__name__ for kind in _FOLDS)
    raise TypeError(
        f"not an event: {type(event).__name__}; events are {names} "
        "(parse_event reads them from JSON)"
    )


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

    # Each conversation is one event longer than the one it was made from, and points to
    # it: a turn adds one small object, whatever the length. Events, states and the Turn
    # objects are gathered from the chain when asked for (most turns are only advised).
    __slots__ = (
        "_event",
        "_folding",
        "_initial",
        "_length",
        "_previous",
        "_seen",
        "_state",
        "_turns",
        "_values",
    )

    def __init__(
        self, state: StateInput = None, /, *, rulebook: Rulebook | None = None, **fields: Any
    ) -> None:
        book = _rulebook(rulebook)
        initial = _coerce_state(state, fields)
        _check_memory(initial, book)
        self._start(_folding_of(book), initial)

    def _start(self, folding: _Folding, initial: ConversationState) -> None:
        self._folding = folding
        self._initial = self._state = initial
        # The current state's fields, read without the cost of a pydantic attribute, and
        # their values in field order once needed (see apply).
        self._values: dict[str, Any] = initial.__dict__
        self._seen: tuple[object, ...] | None = None
        self._previous: Conversation | None = None
        self._event: Event | None = None
        self._length = 0
        self._turns: tuple[Turn, ...] = ()

    def _then(self, event: Event, state: ConversationState) -> Conversation:
        # The same slots as apply() sets for one event (where they are written out).
        new = _new(Conversation)
        new._folding = self._folding
        new._initial = self._initial
        new._state = state
        new._values = state.__dict__
        new._seen = None
        new._previous = self
        new._event = event
        new._length = self._length + 1
        return new

    def _chain(self) -> list[Conversation]:
        """This conversation and those it grew from, the first event's first, the start out."""
        chain = []
        conv: Conversation | None = self
        while conv is not None and conv._previous is not None:
            chain.append(conv)
            conv = conv._previous
        chain.reverse()
        return chain

    # -- reading -------------------------------------------------------------------------

    @property
    def initial(self) -> ConversationState:
        """The state before the first event."""
        return self._initial

    @property
    def state(self) -> ConversationState:
        """The current state: after the last event, or the initial one."""
        return self._state

    @property
    def events(self) -> tuple[Event, ...]:
        """Every event so far, in order."""
        return tuple(conv._event for conv in self._chain())  # type: ignore[misc]

    @property
    def states(self) -> tuple[ConversationState, ...]:
        """The history: the state after each event, one per event."""
        return tuple(conv._state for conv in self._chain())

    @property
    def turns(self) -> tuple[Turn, ...]:
        """Each event with the state it led to and, for agent moves, whether it was advised."""
        try:
            return self._turns
        except AttributeError:  # not asked for yet
            pass
        # Back to the nearest conversation whose turns are known (at the latest, the start).
        newer = []
        conv = self
        while True:
            try:
                known = conv._turns
                break
            except AttributeError:
                newer.append(conv)
                conv = conv._previous  # type: ignore[assignment]  # the start has turns
        book = self._folding.rulebook
        turns = known + tuple(
            Turn(c._event, c._state, c._previous._state, book)  # type: ignore[arg-type, union-attr]
            for c in reversed(newer)
        )
        self._turns = turns  # a cache: the conversation itself does not change
        return turns

    @property
    def rulebook(self) -> Rulebook:
        """The rules this conversation follows."""
        return self._folding.rulebook

    @property
    def ended(self) -> bool:
        """A rule that ends the conversation has been carried out."""
        return self._state.ended

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[Turn]:
        return iter(self.turns)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Conversation):
            return NotImplemented
        return (
            self._folding is other._folding
            and self._length == other._length
            and self._initial == other._initial
            and self.events == other.events
        )

    def __hash__(self) -> int:
        return hash((id(self._folding), self._initial, self.events))

    def __repr__(self) -> str:
        status = ", ended" if self.ended else ""
        return f"<Conversation: {self._length} events{status}>"

    # Pickled (and copied) flat, as what it is made of: a chain of thousands of events
    # would go deeper than pickle's recursion limit.
    def __getstate__(self) -> tuple[Rulebook, ConversationState, tuple[Any, ...], tuple[Any, ...]]:
        return self.rulebook, self._initial, self.events, self.states

    def __setstate__(
        self, data: tuple[Rulebook, ConversationState, tuple[Any, ...], tuple[Any, ...]]
    ) -> None:
        book, initial, events, states = data
        if not events:
            self._start(_folding_of(book), initial)
            return
        conv = _new(Conversation)
        conv._start(_folding_of(book), initial)
        for event, state in zip(events[:-1], states[:-1], strict=True):
            conv = conv._then(event, state)
        last = conv._then(events[-1], states[-1])
        for name in Conversation.__slots__:
            if name != "_turns":
                setattr(self, name, getattr(last, name))

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
        length = self._length
        if len(events) == 1 and length < MAX_EVENTS:
            # One event: the common turn of a live conversation, kept as short as it can be
            # (a turn should cost about what its advice does).
            event: Any = events[0]
            if type(event) is dict:
                try:
                    event = _from_dict(event)
                except ValidationError as exc:
                    exc.add_note("in events[0]")
                    raise
            folding = self._folding
            seen = self._seen
            if seen is None:
                seen = self._seen = _state_values(self._values)
            # A turn taken before, in this conversation or another, is not folded again: the
            # fold is a function of the state's values and the event. Events are found by
            # identity, since hashing a model costs more than a fold: those read from dicts
            # are shared instances, and so is the one instance of each event without fields.
            shared = _bare_of_class.get(type(event))
            if shared is None and _shared_events.get(id(event)) is event:
                shared = event
            known = None if shared is None else folding.turns.get((seen, id(shared)))
            if known is not None and known[0] is shared:
                _, state, values, after = known
            else:
                event, state, values, after = self._fold_one(event, shared, seen)
            new = _new(Conversation)
            new._folding = folding
            new._initial = self._initial
            new._state = state
            new._values = values
            new._seen = after
            new._previous = self
            new._event = event
            new._length = length + 1
            return new
        if length + len(events) > MAX_EVENTS:
            raise DifficultCustomersError(
                f"a conversation holds at most {MAX_EVENTS:,} events; "
                f"this one has {length:,} and {len(events):,} more were given"
            )
        conv, state, folding = self, self._state, self._folding
        for position, raw in enumerate(events):
            try:
                event = parse_event(raw)
            except ValidationError as exc:
                exc.add_note(f"in events[{position}]")
                raise
            step = _FOLDS.get(type(event)) or _step_of(event)
            state = _fold(state, event, step, folding)
            conv = conv._then(event, state)
        return conv

    def _fold_one(
        self, event: Any, shared: Event | None, seen: tuple[object, ...]
    ) -> tuple[Event, ConversationState, dict[str, Any], tuple[object, ...]]:
        """:meth:`apply` of one event not taken from this state before: :func:`fold`, and the
        turn kept if its event is a shared instance (see :meth:`apply`).

        Returns the event (a model), the state after it, that state's fields and their
        values.
        """
        try:
            step = _FOLDS.get(type(event))  # an event model, found by its class
            if step is None:
                event = parse_event(event)
                step = _FOLDS.get(type(event)) or _step_of(event)
        except ValidationError as exc:
            exc.add_note("in events[0]")
            raise
        folding = self._folding
        state = _fold(self._state, event, step, folding)
        values = state.__dict__
        after = _state_values(values)
        # The first turns are kept: flushing would let a stream of turns taken once push out
        # the ones every conversation takes. The event is kept with its turn, so that its id
        # stays its own. As in the fast path's caches, not a turn from or to a long done set,
        # which it would hold twice.
        if (
            shared is not None
            and len(folding.turns) < MAX_KEPT_TURNS
            and len(values["done"]) <= _engine.MAX_CACHED_DONE
            and len(self._values["done"]) <= _engine.MAX_CACHED_DONE
        ):
            folding.turns[seen, id(shared)] = (shared, state, values, after)
        return event, state, values, after

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
        book = self._folding.rulebook if rulebook is None else _rulebook(rulebook)
        if details is None:
            # The state was validated when it was made: straight to the fast path.
            return advise_valid(self._state, locale, book, self._seen)
        return advise(self._state, locale=locale, details=details, rulebook=book)

    def advise_each(
        self, *, locale: str | Locale = "en", details: Details | None = None
    ) -> Iterator[Advice]:
        """The advice after each event, in order: the conversation as the agent saw it."""
        for state in self.states:
            yield advise(state, locale=locale, details=details, rulebook=self.rulebook)

    # -- serialization -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The event log as JSON-ready data: the initial state and every event."""
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "rulebook": self.rulebook.name,
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
            UnknownRuleError: an ``agent_followed`` event names no rule of the rulebook.
            ConversationEndedError: an event comes after the end of the conversation.
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
        if "rulebook" not in data:
            raise DifficultCustomersError(
                'the conversation log names no rulebook: "rulebook" is missing (the name of '
                "the rulebook it was recorded with, as to_dict() writes it)"
            )
        written_with = data["rulebook"]
        if not isinstance(written_with, str):
            raise DifficultCustomersError(
                f'"rulebook" must be the name of a rulebook (a string), not {shown(written_with)}'
            )
        if written_with != book.name:
            raise DifficultCustomersError(
                f"the conversation was recorded with the rulebook {shown(written_with)}, not "
                f"{shown(book.name)}: pass the same rulebook to replay it"
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
            TypeError: ``text`` is neither ``str`` nor ``bytes``.
            DifficultCustomersError: not JSON, too long (over :data:`MAX_JSON_BYTES`), or
                not a conversation log (see :meth:`from_dict`).
            pydantic.ValidationError: the initial state or an event is invalid.
            UnknownRuleError: an ``agent_followed`` event names no rule of the rulebook.
            ConversationEndedError: an event comes after the end of the conversation.
        """
        if not isinstance(text, str | bytes | bytearray):
            raise TypeError(
                f"Conversation.from_json() takes the log as str or bytes, not "
                f"{type(text).__name__} (Conversation.from_dict() takes a parsed log)"
            )
        if len(text) > MAX_JSON_BYTES:
            raise DifficultCustomersError(
                f"a conversation log is at most {MAX_JSON_BYTES:,} bytes; this one is longer"
            )
        try:
            data = loads_state(text)  # bounded numbers: a huge one is refused at its field
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
