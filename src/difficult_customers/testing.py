"""Hypothesis strategies and assertions for your own tests of code built on the advice.

Needs the ``[testing]`` extra (hypothesis)::

    from hypothesis import given
    from difficult_customers import advise
    from difficult_customers.testing import assert_consistent, states

    @given(states())
    def test_my_screen_shows_consistent_advice(state):
        assert_consistent(advise(state))

Strategies:

- :func:`states`: any valid :class:`~difficult_customers.ConversationState`.
- :func:`invalid_states`: ``(mapping, field)`` pairs where the mapping is refused by
  ``advise`` because of ``field`` (wrong type, out of range, unknown value or field).
- :func:`events`: any single valid event.
- :func:`conversations`: whole :class:`~difficult_customers.Conversation` values built from
  valid event sequences only, ended ones included.

Assertions: :func:`invariant_violations` lists what an advice breaks among the declared
invariants (:data:`difficult_customers.verify.INVARIANTS`); :func:`assert_consistent`
fails with that list.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - exercised in a venv without the extra
    raise ImportError(
        "difficult_customers.testing needs hypothesis: install the 'testing' extra "
        "(pip install 'difficult-customers[testing]')"
    ) from None

from .advice import Advice
from .conditions import state_schema
from .conversation import Conversation
from .errors import ConversationEndedError
from .events import (
    FACT_FIELDS,
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
)
from .rules import Rulebook, default_rulebook
from .state import MAX_COUNT, ConversationState, Mood
from .verify import invariant_violations

__all__ = [
    "assert_consistent",
    "conversations",
    "events",
    "invalid_states",
    "invariant_violations",
    "states",
]

# Small counts reach every threshold a rule is likely to use; the large ones reach the limit.
_COUNTS = st.integers(0, 4) | st.sampled_from([10, MAX_COUNT])


def _field_values(name: str) -> st.SearchStrategy[Any]:
    kind = state_schema()[name]
    if kind.kind == "bool":
        return st.booleans()
    if kind.kind == "int":
        return _COUNTS
    return st.sampled_from(kind.values)


def states(rulebook: Rulebook | None = None) -> st.SearchStrategy[ConversationState]:
    """Any valid state; ``done`` holds ids of ``rulebook``'s rules (the built-in ones)."""
    book = default_rulebook() if rulebook is None else rulebook
    ids = sorted(rule.id for rule in book)
    fields = {name: _field_values(name) for name in state_schema()}
    done = st.lists(st.sampled_from(ids), max_size=5).map(tuple) if ids else st.just(())

    def build(values: dict[str, Any]) -> ConversationState:
        abuse = values["offensive_remarks"] or values["personal_attacks"] or values["threats"]
        if values["warnings_given"] == 0 or not abuse:
            values = {**values, "abuse_after_warning": False}
        return ConversationState.model_validate(values)

    return st.fixed_dictionaries({**fields, "done": done}).map(build)


def _broken(name: str) -> st.SearchStrategy[Any]:
    kind = state_schema().get(name)
    if name == "done":
        return st.sampled_from([["Not An Id"], "issue-warning", [1]])
    assert kind is not None
    if kind.kind == "bool":
        return st.sampled_from([1, 0, "true", None, "yes"])
    if kind.kind == "int":
        return st.sampled_from([-1, MAX_COUNT + 1, "2", 1.5, True, None])
    return st.sampled_from(["", "unknown-value", 3, None, kind.values[0].upper()])


@st.composite
def invalid_states(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A state mapping that ``advise`` refuses, and the field that makes it invalid.

    The other fields are valid; the broken one has a wrong type, a value out of range or
    outside its enum, is an unknown field, or contradicts another field
    (``abuse_after_warning`` without a warning).
    """
    base = draw(states()).model_dump(mode="json")
    how = draw(st.sampled_from(["value", "unknown", "contradiction"]))
    if how == "unknown":
        name = draw(st.sampled_from(["mod", "threat", "customer", "warnings"]))
        return {**base, name: True}, name
    if how == "contradiction":
        return {**base, "abuse_after_warning": True, "warnings_given": 0}, "abuse_after_warning"
    name = draw(st.sampled_from([*state_schema(), "done"]))
    return {**base, name: draw(_broken(name))}, name


def _facts() -> st.SearchStrategy[Facts]:
    names = st.lists(st.sampled_from(FACT_FIELDS), min_size=1, max_size=3, unique=True)
    values = names.flatmap(lambda ns: st.fixed_dictionaries({n: _field_values(n) for n in ns}))
    return values.map(lambda v: Facts(values=v))


_BARE: tuple[Event, ...] = (
    CustomerStartedSpeaking(),
    CustomerFinishedSpeaking(),
    CustomerInterrupted(),
    CustomerInsulted(),
    CustomerAttackedAgent(),
    CustomerThreatened(),
)


def events(rulebook: Rulebook | None = None) -> st.SearchStrategy[Event]:
    """Any single valid event; ``agent_followed`` names a rule of ``rulebook``."""
    book = default_rulebook() if rulebook is None else rulebook
    ids = sorted(rule.id for rule in book)
    followed = st.sampled_from(ids).map(lambda i: AgentFollowed(rule=i))
    moods = st.sampled_from(list(Mood)).map(lambda m: CustomerMood(mood=m))
    return st.one_of(st.sampled_from(_BARE), moods, _facts(), followed)


@st.composite
def conversations(
    draw: st.DrawFn, rulebook: Rulebook | None = None, max_events: int = 20
) -> Conversation:
    """A conversation built from a valid start and valid events only.

    The agent sometimes follows what the advice holds, sometimes any rule; once the
    conversation has ended, only rules marked ``after_ending`` follow, so ended
    conversations are drawn too.
    """
    book = default_rulebook() if rulebook is None else rulebook
    start = draw(states(book)).model_copy(update={"ended": False, "done": ()})
    conversation = Conversation(start, rulebook=book)
    after_ending = sorted(rule.id for rule in book if rule.after_ending)
    for _ in range(draw(st.integers(0, max_events))):
        if conversation.ended:
            if not after_ending:
                break
            event: Event = AgentFollowed(rule=draw(st.sampled_from(after_ending)))
        elif draw(st.booleans()):
            advised = [r.rule_id for r in conversation.advise().actions]
            if not advised:
                continue
            event = AgentFollowed(rule=draw(st.sampled_from(advised)))
        else:
            event = draw(events(book))
        try:
            conversation = conversation.apply(event)
        except (ConversationEndedError, ValueError):
            # A count at its limit, or a fact that contradicts the state: not a valid event
            # here, so it is not part of the conversation.
            continue
    return conversation


def assert_consistent(
    advice: Advice, rulebook: Rulebook | None = None, *, ignore: Iterable[str] = ()
) -> None:
    """Fail with every declared invariant ``advice`` breaks (see :func:`invariant_violations`).

    Raises:
        AssertionError: one line per broken invariant, with the state.
    """
    broken = invariant_violations(advice, rulebook, ignore=ignore)
    if broken:
        lines = [f"{invariant}: {problem}" for invariant, problem in broken]
        state = advice.state.model_dump(mode="json", exclude_defaults=True)
        raise AssertionError(f"advice for {state} breaks:\n" + "\n".join(lines))
