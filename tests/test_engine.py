"""advise(), advise_many() and explain(): inputs, ordering, overrides, explanations."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from difficult_customers import (
    Advice,
    ConversationState,
    Details,
    Kind,
    Phase,
    Rulebook,
    UnknownRuleError,
    UnsupportedLocaleError,
    advise,
    advise_many,
    default_rulebook,
    explain,
    iter_advice,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "states"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text("utf-8"))
    return data


def ids(advice: Any) -> list[str]:
    return [r.rule_id for r in advice]


class TestInputs:
    def test_state_mapping_and_keywords_agree(self) -> None:
        fields = {"channel": "email", "mood": "angry", "offensive_remarks": 2}
        by_model = advise(ConversationState(**fields))
        by_mapping = advise(fields)
        by_keywords = advise(**fields)
        assert by_model.rule_ids == by_mapping.rule_ids == by_keywords.rule_ids

    def test_keywords_apply_on_top_of_a_state(self) -> None:
        base = ConversationState(mood="angry")
        advice = advise(base, resolved=True)
        assert advice.state.resolved is True
        assert advice.state.mood == "angry"
        assert base.resolved is False

    def test_the_callers_mapping_is_not_mutated(self) -> None:
        fields = {"mood": "furious", "offensive_remarks": 3}
        snapshot = dict(fields)
        advise(fields, warnings_given=1)
        assert fields == snapshot

    def test_a_validated_state_is_used_as_is(self) -> None:
        state = ConversationState(mood="calm")
        assert advise(state).state is state

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"mod": "angry"}, "mod"),
            ({"mood": "livid"}, "mood"),
            ({"offensive_remarks": -1}, "offensive_remarks"),
            ({"offensive_remarks": "2"}, "offensive_remarks"),
            ({"threats": "yes"}, "threats"),
            ({"threats": 1}, "threats"),
            ({"channel": "fax"}, "channel"),
        ],
    )
    def test_bad_fields_name_the_field(self, fields: dict[str, Any], field: str) -> None:
        with pytest.raises(ValidationError) as info:
            advise(fields)
        assert info.value.errors()[0]["loc"] == (field,)
        assert field in str(info.value)

    def test_enum_errors_list_the_allowed_values(self) -> None:
        with pytest.raises(ValidationError, match="'calm', 'upset', 'angry' or 'furious'"):
            advise(mood="livid")

    @pytest.mark.parametrize("bad", [[1, 2], "phone", 3])
    def test_not_a_mapping(self, bad: Any) -> None:
        with pytest.raises(ValidationError):
            advise(bad)

    def test_unsupported_locale_names_the_supported_ones(self) -> None:
        with pytest.raises(UnsupportedLocaleError) as info:
            advise(locale="de")
        assert info.value.supported == ("en", "fr", "pl")
        assert "de" in str(info.value)
        assert isinstance(info.value, LookupError)

    def test_rulebook_must_be_a_rulebook(self) -> None:
        with pytest.raises(TypeError, match="rulebook must be a Rulebook"):
            advise(rulebook="rules.toml")  # type: ignore[arg-type]

    def test_details_as_mapping(self) -> None:
        advice = advise(
            {"offensive_remarks": 1, "agent_upset": True}, details={"callback_in": 3600}
        )
        take_a_break = next(r for r in advice if r.rule_id == "take-a-break")
        assert "in an hour" in take_a_break.text

    def test_bad_details(self) -> None:
        with pytest.raises(ValidationError, match="deposit_percent"):
            advise(details={"deposit_percent": 150})
        with pytest.raises(ValidationError, match="callback"):
            advise(details={"callback": "PT1H"})


class TestDecisions:
    def test_mid_rant_listens_first(self) -> None:
        advice = advise(example("mid_rant_phone"))
        # The composure tactics are attitudes, apart: the first action is the next move.
        assert ids(advice)[0] == "listen-without-interrupting"
        assert [r.rule_id for r in advice.attitudes] == ["stay-calm", "stay-professional"]
        assert "avoid-interrupting" in {r.rule_id for r in advice.avoid}

    def test_warning_before_ending(self) -> None:
        before = advise(example("repeated_insults_before_warning"))
        after = advise(example("repeated_insults_after_warning"))
        # After the silent pause, the warning is the first thing said.
        assert ids(before)[:2] == ["pause-before-responding", "issue-warning"]
        assert "end-the-conversation" not in ids(before)
        assert "end-the-conversation" in ids(after)
        assert "issue-warning" not in ids(after)

    def test_threat_in_person_calls_security_first_and_asks_to_leave(self) -> None:
        advice = advise(example("threat_in_person"))
        assert ids(advice)[0] == "call-security"
        ending = next(r for r in advice if r.rule_id == "end-the-conversation")
        assert "leave the premises" in ending.text

    def test_phone_ending_hangs_up(self) -> None:
        advice = advise(example("repeated_insults_after_warning"))
        ending = next(r for r in advice if r.rule_id == "end-the-conversation")
        assert "end the call" in ending.text

    def test_invalid_complaint_under_contract(self) -> None:
        advice = advise(example("invalid_complaint_under_contract"))
        assert {"refer-to-the-contract", "explain-politely-when-right"} <= set(ids(advice))
        assert not {"apologize-and-take-ownership", "show-empathy"} & set(advice.rule_ids)
        assert "no-empathy-for-invalid-complaint" in {r.rule_id for r in advice.avoid}

    def test_resolved_case_is_follow_up_only(self) -> None:
        advice = advise(example("resolved_case"))
        assert {r.phase for r in advice} == {Phase.FOLLOW_UP}
        assert advice.avoid == ()

    def test_abuse_after_the_fix_is_warned_not_thanked(self) -> None:
        advice = advise(example("resolved_case"), offensive_remarks=2, mood="angry")
        assert "issue-warning" in ids(advice)
        assert "close-the-complaint" not in ids(advice)
        assert {"stay-calm", "stay-professional"} <= {r.rule_id for r in advice.attitudes}

    def test_valuable_customer_is_escalated_not_let_go(self) -> None:
        advice = advise(example("valuable_customer_nothing_satisfies"))
        assert "escalate-to-manager" in ids(advice)
        assert "let-the-customer-go" not in ids(advice)
        assert "preserve-valuable-relationship" in advice.rule_ids

    def test_effort_beyond_value_lets_even_a_valuable_customer_go(self) -> None:
        advice = advise(customer_value="high", effort_exceeds_value=True)
        assert "let-the-customer-go" in ids(advice)
        assert "preserve-valuable-relationship" not in ids(advice)

    def test_order_is_phase_priority_id(self) -> None:
        book = default_rulebook()
        for name in (p.stem for p in EXAMPLES.glob("*.json")):
            advice = advise(example(name))
            keys = [book[r.rule_id].sort_key for r in advice]
            assert keys == sorted(keys), name

    def test_actions_and_avoid_are_split_by_kind(self) -> None:
        advice = advise(example("mid_rant_phone"))
        assert all(r.kind is Kind.DO for r in advice)
        assert all(r.kind is Kind.AVOID for r in advice.avoid)

    def test_advise_many_matches_advise(self) -> None:
        states = [example(p.stem) for p in sorted(EXAMPLES.glob("*.json"))]
        batch = advise_many(states, locale="fr", details=Details(callback_in="PT2H"))
        single = [advise(s, locale="fr", details={"callback_in": "PT2H"}) for s in states]
        assert [a.to_dict() for a in batch] == [a.to_dict() for a in single]

    def test_advise_many_reports_the_bad_state(self) -> None:
        with pytest.raises(ValidationError, match="mood") as info:
            advise_many([{}, {"mood": "livid"}])
        assert "in states[1]" in info.value.__notes__

    @pytest.mark.parametrize(
        "states",
        [{"mood": "angry"}, ConversationState(mood="angry"), "mood", b"mood", None, 3],
        ids=["dict", "state", "str", "bytes", "none", "int"],
    )
    @pytest.mark.parametrize("batch", [advise_many, iter_advice])
    def test_one_state_or_no_iterable_is_not_taken_for_states(
        self, batch: Callable[..., Iterable[Advice]], states: object
    ) -> None:
        # A dict would have been iterated over its keys, a string over its characters, and
        # the error would have been about 'mood' not being a state.
        with pytest.raises(TypeError, match=r"states must be an iterable of states") as info:
            batch(states)
        assert type(states).__name__ in str(info.value)
        if isinstance(states, dict | ConversationState):
            assert "advise()" in str(info.value)

    def test_custom_rulebook(self) -> None:
        book = Rulebook([default_rulebook()["stay-professional"]])
        assert advise(rulebook=book).rule_ids == ("stay-professional",)


class TestExplain:
    def test_fired(self) -> None:
        explanation = explain({"mood": "angry"}, "stay-calm")
        assert explanation.status == "fired"
        assert str(explanation) == "stay-calm: fired"

    def test_overridden_names_the_winner(self) -> None:
        explanation = explain({"complaint_validity": "invalid"}, "apologize-and-take-ownership")
        assert explanation.status == "overridden"
        assert explanation.overridden_by == ("no-empathy-for-invalid-complaint",)

    def test_an_overridden_rule_overrides_nothing(self) -> None:
        # issue-warning removes take-a-break, which would have removed avoid-postponing
        # (and be-honest-about-limits, which comes back too).
        state = {"offensive_remarks": 2, "agent_upset": True, "agent_knows_resolution": False}
        assert explain(state, "take-a-break").overridden_by == ("issue-warning",)
        assert explain(state, "avoid-postponing").status == "fired"
        assert "avoid-postponing" in advise(state).rule_ids
        assert "be-honest-about-limits" in advise(state).rule_ids

    def test_not_fired_names_the_failing_clause_and_values(self) -> None:
        explanation = explain(None, "issue-warning", offensive_remarks=1)
        assert explanation.status == "not_fired"
        assert explanation.failure is not None
        assert explanation.failure.clause == "offensive_remarks >= 2 or threats"
        assert explanation.failure.values == {"offensive_remarks": 1, "threats": False}
        assert explanation.values["warnings_given"] == 0

    def test_every_rule_is_explained_and_agrees_with_advise(self) -> None:
        state = example("invalid_complaint_under_contract")
        explanations = explain(state)
        assert [e.rule_id for e in explanations] == list(default_rulebook().ids)
        fired = [e.rule_id for e in explanations if e.status == "fired"]
        assert fired == [r.id for r in default_rulebook() if r.id in advise(state).rule_ids]

    def test_rule_id_by_keyword(self) -> None:
        assert explain({}, rule_id="stay-professional").status == "fired"
        assert explain(rule_id="stay-calm", mood="angry").status == "fired"

    def test_to_dict_is_json_ready(self) -> None:
        data = explain(None, "issue-warning", offensive_remarks=1).to_dict()
        assert data["status"] == "not_fired"
        assert data["failure"]["values"] == {"offensive_remarks": 1, "threats": False}
        overridden = explain(
            {"complaint_validity": "invalid"}, "apologize-and-take-ownership"
        ).to_dict()
        assert overridden["overridden_by"] == ["no-empathy-for-invalid-complaint"]

    def test_unknown_rule_suggests(self) -> None:
        with pytest.raises(UnknownRuleError, match="issue-warning"):
            explain(None, "issue-warnings")


class TestFormOfAddress:
    """Spoken to one known person, Polish says Pan/Pani and French may say Monsieur/Madame."""

    INTERRUPTING: ClassVar[dict[str, Any]] = {
        "channel": "phone",
        "mood": "angry",
        "customer_interrupts": True,
        "complaint_validity": "valid",
    }

    def texts(self, state: dict[str, Any], locale: str, form: str | None) -> dict[str, str]:
        details = None if form is None else {"form_of_address": form}
        return {r.rule_id: r.text for r in advise(state, locale=locale, details=details)}

    def test_polish_phone_advice_for_a_woman_says_pani(self) -> None:
        texts = self.texts(self.INTERRUPTING, "pl", "feminine")
        assert texts["show-empathy"].startswith("Rozumiem Pani frustrację — mnie na Pani miejscu")
        assert "pozwoliła Pani dokończyć" in texts["ask-for-the-same-courtesy"]
        assert "jakie to Pani sprawiło" in texts["apologize-and-take-ownership"]
        assert "ma Pani poczucie" in texts["restate-the-request"]
        assert not any("Państw" in text for text in texts.values())

    def test_polish_phone_advice_for_a_man_says_pan(self) -> None:
        texts = self.texts(self.INTERRUPTING, "pl", "masculine")
        assert texts["show-empathy"].startswith("Rozumiem Pana frustrację — mnie na Pana miejscu")
        assert "pozwolił Pan dokończyć" in texts["ask-for-the-same-courtesy"]
        assert "jakie to Panu sprawiło" in texts["apologize-and-take-ownership"]
        assert "ma Pan poczucie" in texts["restate-the-request"]
        assert not any("Państw" in text or "Pani" in text for text in texts.values())

    def test_neutral_stays_as_today(self) -> None:
        today = self.texts(self.INTERRUPTING, "pl", None)
        assert self.texts(self.INTERRUPTING, "pl", "neutral") == today
        assert today["show-empathy"].startswith("Rozumiem Państwa frustrację")
        assert Details().form_of_address == "neutral"

    @pytest.mark.parametrize("channel", ["email", "chat", "social_media"])
    def test_written_channels_keep_the_company_voice(self, channel: str) -> None:
        state = {**self.INTERRUPTING, "channel": channel}
        assert self.texts(state, "pl", "feminine") == self.texts(state, "pl", None)
        assert self.texts(state, "fr", "masculine") == self.texts(state, "fr", None)

    def test_in_person_counts_as_spoken(self) -> None:
        state = {"channel": "in_person", "offensive_remarks": 2}
        assert "aby Pani pomóc" in self.texts(state, "pl", "feminine")["issue-warning"]
        assert "aby Panu pomóc" in self.texts(state, "pl", "masculine")["issue-warning"]
        assert self.texts(state, "fr", "feminine")["issue-warning"].startswith("Madame, je")

    def test_french_says_monsieur_or_madame_where_natural(self) -> None:
        texts = self.texts(self.INTERRUPTING, "fr", "masculine")
        assert "Je comprends votre frustration, Monsieur," in texts["show-empathy"]
        neutral = self.texts(self.INTERRUPTING, "fr", None)
        assert "Monsieur" not in neutral["show-empathy"]
        # Only some phrases take a title; the others are the neutral ones.
        assert texts["restate-the-request"] == neutral["restate-the-request"]

    def test_english_needs_no_variants(self) -> None:
        for form in ("masculine", "feminine"):
            assert self.texts(self.INTERRUPTING, "en", form) == self.texts(
                self.INTERRUPTING, "en", None
            )

    def test_variant_comes_with_other_details(self) -> None:
        state = {"channel": "phone", "offensive_remarks": 1, "agent_upset": True}
        details = {"callback_in": "PT1H", "form_of_address": "feminine"}
        advice = advise(state, locale="pl", details=details)
        text = next(r.text for r in advice if r.rule_id == "take-a-break")
        assert "skontaktuję się z Panią za godzinę" in text

    def test_cached_texts_do_not_leak_between_forms(self) -> None:
        for form in ("feminine", None, "masculine", "feminine", None):
            empathy = self.texts(self.INTERRUPTING, "pl", form)["show-empathy"]
            expected = {"feminine": "Pani", "masculine": "Pana", None: "Państwa"}[form]
            assert empathy.startswith(f"Rozumiem {expected} frustrację")

    def test_unknown_form_is_refused_with_the_allowed_values(self) -> None:
        with pytest.raises(ValidationError, match="form_of_address") as info:
            advise(details={"form_of_address": "pani"})
        assert "'neutral', 'masculine' or 'feminine'" in str(info.value)
