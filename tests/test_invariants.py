"""The invariants of DESIGN section 6, as properties over generated conversation states."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import product
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from difficult_customers import (
    SUPPORTED_LOCALES,
    Advice,
    Channel,
    ConversationState,
    Details,
    FormOfAddress,
    Kind,
    Phase,
    advise,
    default_rulebook,
)
from difficult_customers.i18n import UI_MESSAGES
from strategies import states

BOOK = default_rulebook()
ABUSE_FIELDS = ("offensive_remarks", "threats", "personal_attacks")
SILENT_PHASES = {Phase.SAFETY, Phase.COMPOSURE}


def firmness(advice: Advice) -> int:
    return max((BOOK[r.rule_id].firmness for r in advice), default=0)


@given(states())
def test_deterministic(state: ConversationState) -> None:
    first, second = advise(state), advise(state.model_dump())
    assert first.rule_ids == second.rule_ids
    assert first.to_dict() == second.to_dict()


def test_deterministic_across_processes_and_hash_seeds() -> None:
    script = (
        "import json, sys; from difficult_customers import advise; "
        "states = json.loads(sys.argv[1]); "
        "print(json.dumps([advise(s, locale=l).to_dict() for s in states for l in "
        "('en', 'fr', 'pl')], sort_keys=True))"
    )
    sample = [
        {"mood": "furious", "offensive_remarks": 3, "warnings_given": 1},
        {"channel": "in_person", "threats": True, "customer_speaking": True},
        {"complaint_validity": "invalid", "covered_by_contract": True},
        {"resolved": True},
    ]
    outputs = set()
    for seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", script, json.dumps(sample)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        outputs.add(run.stdout)
    assert len(outputs) == 1


@given(states())
def test_same_decisions_in_every_locale(state: ConversationState) -> None:
    decisions = {advise(state, locale=locale).rule_ids for locale in SUPPORTED_LOCALES}
    assert len(decisions) == 1


def live(state: ConversationState, **update: Any) -> ConversationState:
    """The same state in a conversation still going on, with nothing carried out yet."""
    return state.model_copy(update={"ended": False, "done": (), **update})


@given(states())
def test_never_empty(state: ConversationState) -> None:
    assert len(advise(live(state))) > 0


@given(states())
def test_nothing_but_what_follows_an_ending_once_ended(state: ConversationState) -> None:
    advice = advise(state.model_copy(update={"ended": True}))
    assert not advice.pending
    for rule_id in advice.rule_ids:
        assert BOOK[rule_id].after_ending, rule_id


@given(states())
def test_nothing_carried_out_is_advised_again_unless_it_repeats(
    state: ConversationState,
) -> None:
    advice = advise(state)
    for rec in (*advice.attitudes, *advice.actions, *advice.pending, *advice.avoid):
        assert rec.rule_id not in state.done or BOOK[rec.rule_id].repeats is True, rec.rule_id


@given(states())
def test_attitudes_are_composure_and_actions_are_moves(state: ConversationState) -> None:
    advice = advise(state)
    assert all(r.phase is Phase.COMPOSURE and r.kind is Kind.DO for r in advice.attitudes)
    assert all(r.phase is not Phase.COMPOSURE and r.kind is Kind.DO for r in advice.actions)
    assert all(r.kind is Kind.DO for r in advice.pending)


@given(states())
def test_pending_is_what_comes_once_the_customer_stops(state: ConversationState) -> None:
    # Once ended, nothing is pending: the customer's turn is over too.
    state = state.model_copy(update={"ended": False})
    speaking = advise(state.model_copy(update={"customer_speaking": True}))
    stopped = advise(state.model_copy(update={"customer_speaking": False}))
    now = {r.rule_id for r in speaking.actions}
    assert [r.rule_id for r in speaking.pending] == [
        r.rule_id for r in stopped.actions if r.rule_id not in now
    ]
    assert stopped.pending == ()


@given(states())
def test_no_declared_conflict_pair_together(state: ConversationState) -> None:
    present = set(advise(state).rule_ids)
    for rule_id in present:
        assert not present & set(BOOK[rule_id].overrides), rule_id


@given(states())
def test_no_abuse_driven_ending_before_a_warning(state: ConversationState) -> None:
    state = state.model_copy(update={"warnings_given": 0, "abuse_after_warning": False})
    endings = {r.rule_id for r in advise(state) if "ending" in BOOK[r.rule_id].tags}
    without_abuse = state.model_copy(
        update={"offensive_remarks": 0, "threats": False, "personal_attacks": False}
    )
    # Whatever ends the conversation before a warning must have another cause than abuse.
    assert endings <= set(advise(without_abuse).rule_ids)


@given(states())
def test_listen_first_while_the_customer_is_speaking(state: ConversationState) -> None:
    state = live(state, customer_speaking=True, resolved=False)
    phases = [r.phase for r in advise(state)]
    spoken = [phase for phase in phases if phase not in SILENT_PHASES]
    assert spoken, phases
    assert spoken[0] is Phase.LISTEN


@given(states())
def test_no_empathy_for_an_invalid_complaint(state: ConversationState) -> None:
    state = state.model_copy(update={"complaint_validity": "invalid"})
    assert not [r.rule_id for r in advise(state) if "empathy" in BOOK[r.rule_id].tags]


@given(states())
def test_empathy_is_offered_to_an_upset_customer_with_a_valid_complaint(
    state: ConversationState,
) -> None:
    # The other half of "empathy only where the seeds allow it": where they call for it,
    # it is there, unless the conversation is being ended or paused.
    state = live(
        state, complaint_validity="valid", mood="upset", customer_speaking=False, resolved=False
    )
    advice = advise(state)
    if not any({"ending", "pause"} & set(BOOK[r.rule_id].tags) for r in advice):
        assert any("empathy" in BOOK[r.rule_id].tags for r in advice)


@given(states(), st.integers(0, 5), st.booleans(), st.booleans(), st.booleans())
def test_firmness_never_decreases_as_abuse_grows(
    state: ConversationState, more_remarks: int, threat: bool, attack: bool, again: bool
) -> None:
    state = live(state)
    remarks = state.offensive_remarks + more_remarks
    threats = state.threats or threat
    attacks = state.personal_attacks or attack
    worse = state.model_copy(
        update={
            "offensive_remarks": remarks,
            "threats": threats,
            "personal_attacks": attacks,
            # Only a consistent state: abuse after a warning needs a warning and some abuse.
            "abuse_after_warning": state.abuse_after_warning
            or (again and state.warnings_given > 0 and bool(remarks or threats or attacks)),
        }
    )
    assert firmness(advise(worse)) >= firmness(advise(state))


@given(states())
def test_composure_whenever_the_agent_is_insulted(state: ConversationState) -> None:
    state = live(state)
    insulted = state.offensive_remarks > 0 or state.personal_attacks
    advice = advise(state)
    composure = [
        r
        for r in (*advice.attitudes, *advice.avoid)
        if r.phase is Phase.COMPOSURE
        and BOOK[r.rule_id].when.fields & {"offensive_remarks", "personal_attacks"}
    ]
    assert bool(composure) or not insulted


@given(states())
def test_only_follow_up_and_closure_once_resolved(state: ConversationState) -> None:
    state = state.model_copy(update={"resolved": True})
    advice = advise(state)
    # Nothing reopens the case. What remains possible (docs/conflicts.md, 8): follow-up and
    # closure, composure and listening, and the limits set on a customer who turns abusive
    # after the fix: a warning, then every way of ending the exchange.
    allowed = {Phase.FOLLOW_UP, Phase.CONCLUDE, Phase.COMPOSURE, Phase.LISTEN}
    for rec in (*advice.actions, *advice.avoid):
        tags = set(BOOK[rec.rule_id].tags)
        assert rec.phase in allowed or tags & {"ending", "boundary"}, rec.rule_id


def test_abuse_space_exhaustively() -> None:
    # The abuse-related part of the state is small enough to walk completely.
    for channel, mood, remarks, threats, attacks, warnings, again, speaking, resolved in product(
        Channel,
        ("calm", "upset", "angry", "furious"),
        range(4),
        (False, True),
        (False, True),
        range(3),
        (False, True),
        (False, True),
        (False, True),
    ):
        if again and not (warnings and (remarks or threats or attacks)):
            continue  # a contradiction the model refuses
        state = ConversationState(
            channel=channel,
            mood=mood,
            offensive_remarks=remarks,
            threats=threats,
            personal_attacks=attacks,
            warnings_given=warnings,
            abuse_after_warning=again,
            customer_speaking=speaking,
            resolved=resolved,
        )
        advice = advise(state)
        ids = set(advice.rule_ids)
        assert len(advice) > 0
        endings = [r for r in advice if "ending" in BOOK[r.rule_id].tags]
        if warnings == 0:
            assert not endings, state
        if again and not speaking:
            # The warning is carried out, whatever the customer's mood.
            assert "end-the-conversation" in ids, state
        if again and threats and channel == "in_person":
            assert advice[0].rule_id == "call-security", state
        if speaking and not resolved:
            spoken = [r.phase for r in advice if r.phase not in SILENT_PHASES]
            assert spoken[0] is Phase.LISTEN, state
        if speaking:
            assert "close-the-complaint" not in ids, state
        if remarks or attacks:
            assert {"stay-calm", "avoid-retaliating"} <= ids, state


DETAILS = Details(
    business_name="Atelier Durand", callback_in="PT1H", deposit_percent=20, closed_day="sunday"
)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_phrase_renders_in_every_locale(locale: str) -> None:
    from difficult_customers.engine import _plan, _Renderer
    from difficult_customers.i18n import negotiate_locale

    plan = _plan(BOOK)
    negotiated = negotiate_locale(locale, BOOK.locales)
    forms = [DETAILS.model_copy(update={"form_of_address": f}) for f in FormOfAddress]
    for details in (None, DETAILS, *forms):
        renderer = _Renderer(BOOK, plan, negotiated, details)
        for index, rule in enumerate(BOOK.rules):
            for channel in Channel:
                rec = renderer.render(index, ConversationState(channel=channel))
                for text in (rec.title, rec.text, rec.rationale):
                    assert text.strip(), (rule.id, locale)
                    assert "{" not in text, (rule.id, locale, text)
                    assert "}" not in text, (rule.id, locale, text)
                    if locale != "en":
                        english = [*rule.messages()]
                        assert text not in english, (rule.id, locale, text)
    for _key, context, message in UI_MESSAGES:
        assert (context, message) in BOOK.catalogs.get(locale, {}) or locale == "en"


def test_details_are_used_when_supplied() -> None:
    state = {"offensive_remarks": 1, "agent_upset": True}
    with_details = {r.rule_id: r.text for r in advise(state, locale="fr", details=DETAILS)}
    without = {r.rule_id: r.text for r in advise(state, locale="fr")}
    assert "dans une heure" in with_details["take-a-break"]
    assert "dans une heure" not in without["take-a-break"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
field_names = st.sampled_from([*ConversationState.model_fields, "mod", "threat", ""])


@given(
    st.one_of(
        json_values,
        st.dictionaries(field_names, json_values, max_size=6),
        st.dictionaries(
            st.sampled_from(list(ConversationState.model_fields)),
            st.sampled_from([0, 1, 3, -1, True, False, "phone", "angry", "invalid", "high", None]),
            max_size=8,
        ),
    )
)
def test_any_json_gives_advice_or_a_validation_error(value: Any) -> None:
    try:
        advice = advise(value)
    except ValidationError:
        return
    assert len(advice) > 0 or advice.state.ended or advice.state.done
