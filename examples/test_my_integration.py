"""A user's own integration, tested with difficult_customers.testing (run in CI).

Say a help-desk tool shows the agent a panel built from the advice: the next move in big
letters, the rest as a list, and what to avoid. This file is that panel and its tests, as
you would write them in your own project::

    pip install 'difficult-customers[testing]'
    pytest examples/test_my_integration.py

The strategies draw valid states, invalid requests (with the field they break) and whole
conversations; ``assert_consistent`` checks each advice against the declared invariants,
so a rule pack or a change of yours that breaks one fails here with the state.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from pydantic import ValidationError

from difficult_customers import Conversation, ConversationState, advise, default_rulebook
from difficult_customers.testing import (
    assert_consistent,
    conversations,
    invalid_states,
    states,
)

# Invariants your own rules knowingly break would be waived here (`ignore=`); the built-in
# rules break none (`difficult-customers check --with-builtin` proves it).
KNOWN: set[str] = set()


def agent_panel(request: dict[str, Any], locale: str = "en") -> dict[str, Any]:
    """What the help-desk screen shows for a request: the panel, or the field to fix."""
    try:
        advice = advise(request, locale=locale)
    except ValidationError as error:
        location = error.errors()[0]["loc"]
        return {"error": {"field": str(location[0]) if location else None}}
    moves = [r.text for r in advice.actions]
    return {
        "headline": moves[0] if moves else None,
        "then": moves[1:],
        "keep_in_mind": [r.text for r in advice.attitudes],
        "avoid": [r.text for r in advice.avoid],
        "advice": advice,
    }


@settings(max_examples=50, deadline=None)
@given(states())
def test_the_panel_shows_consistent_advice(state: ConversationState) -> None:
    panel = agent_panel(state.model_dump(mode="json"))
    assert_consistent(panel["advice"], ignore=KNOWN)
    # Our own promise: the headline is the advice's next move.
    actions = panel["advice"].actions
    assert panel["headline"] == (actions[0].text if actions else None)


@settings(max_examples=50, deadline=None)
@given(invalid_states())
def test_the_panel_names_the_field_to_fix(case: tuple[dict[str, Any], str]) -> None:
    request, field = case
    panel = agent_panel(request)
    # A contradiction between fields is reported on the whole state (no single field).
    assert panel["error"]["field"] in (field, None)


@settings(max_examples=25, deadline=None)
@given(conversations(max_events=12))
def test_every_turn_of_a_conversation_is_consistent(conversation: Conversation) -> None:
    for advice in conversation.advise_each():
        assert_consistent(advice, ignore=KNOWN)
    if conversation.ended:
        # Our own promise: once it has ended, the panel offers only what is left to do
        # afterwards (debriefing, recording the complaint), never another move towards
        # the customer.
        advice = agent_panel(conversation.state.model_dump(mode="json"))["advice"]
        assert all(default_rulebook()[r.rule_id].after_ending for r in advice.actions)
