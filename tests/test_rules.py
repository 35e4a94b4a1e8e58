"""Rules, the built-in rulebook, and loading user rule packs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from difficult_customers import (
    ConditionTypeError,
    Kind,
    Phase,
    Rule,
    Rulebook,
    RulebookError,
    UnknownRuleError,
    UnsupportedLocaleError,
    advise,
    default_rulebook,
    load_rulebook,
    rules,
)
from difficult_customers.rules import BUILTIN_RULEBOOK

MINIMAL_RULE = """
[[rules]]
id = "offer-a-coffee"
kind = "do"
phase = "de_escalate"
when = 'channel == "in_person" and mood >= "upset"'
title = "Offer a coffee"
rationale = "A small courtesy lowers the temperature."

[[rules.phrasing]]
text = "Can I get you a coffee while we sort this out?"

[[rules.sources]]
document = "house-rules.txt"
section = "Hospitality"
quote = "Always offer something to drink."
"""


def write(tmp_path: Path, text: str, name: str = "pack.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


class TestBuiltinRulebook:
    def test_loads_once(self) -> None:
        assert default_rulebook() is default_rulebook()

    def test_has_do_and_avoid_rules(self) -> None:
        kinds = {rule.kind for rule in default_rulebook()}
        assert kinds == {Kind.DO, Kind.AVOID}

    def test_has_the_avoid_rules_the_seeds_name(self) -> None:
        avoid = {rule.id for rule in rules(kind="avoid")}
        assert {
            "avoid-retaliating",
            "avoid-blaming-colleagues",
            "avoid-interrupting",
            "avoid-bluffing",
            "avoid-postponing",
        } <= avoid

    def test_is_sorted_in_advice_order(self) -> None:
        keys = [rule.sort_key for rule in default_rulebook()]
        assert keys == sorted(keys)

    def test_every_phase_is_used(self) -> None:
        assert {rule.phase for rule in default_rulebook()} == set(Phase)

    def test_every_rule_cites_a_source(self) -> None:
        assert all(rule.sources for rule in default_rulebook())

    def test_is_supported_in_three_locales(self) -> None:
        assert default_rulebook().locales == ("en", "fr", "pl")

    def test_channel_specific_phrasing_where_the_seeds_distinguish(self) -> None:
        for rule_id in ("end-the-conversation", "issue-warning"):
            phrasing = default_rulebook()[rule_id].phrasing
            channels = {channel for p in phrasing for channel in p.channels}
            assert {"phone", "in_person"} <= channels, rule_id

    def test_lookup_suggests_close_ids(self) -> None:
        with pytest.raises(UnknownRuleError) as info:
            default_rulebook()["stay-clam"]
        assert info.value.suggestion == "stay-calm"
        assert isinstance(info.value, KeyError)

    def test_filter(self) -> None:
        book = default_rulebook()
        assert {r.id for r in book.filter(tag="ending")} == {
            "call-security",
            "end-the-conversation",
            "part-ways-over-abuse",
            "let-the-customer-go",
        }
        assert all(r.phase is Phase.SAFETY for r in book.filter(phase="safety"))
        assert all("threats" in r.when.fields for r in book.filter(reads="threats"))
        assert book.filter(document="002_81eb60c27948f47b.txt")
        assert rules(kind="avoid", phase="listen") == book.filter(kind="avoid", phase="listen")

    def test_filter_rejects_unknown_values(self) -> None:
        with pytest.raises(ValueError, match="phase"):
            default_rulebook().filter(phase="panic")

    def test_markdown_display(self) -> None:
        shown = default_rulebook()._repr_markdown_()
        assert "| `issue-warning` | do | de_escalate |" in shown

    def test_rules_are_frozen(self) -> None:
        rule = default_rulebook()["stay-calm"]
        with pytest.raises(ValidationError):
            rule.priority = 1  # type: ignore[misc]

    def test_rule_serializes_its_condition_as_text(self) -> None:
        dumped = default_rulebook()["stay-calm"].model_dump(mode="json")
        assert dumped["when"].startswith("offensive_remarks >= 1")
        assert Rule.model_validate(dumped) == default_rulebook()["stay-calm"]


class TestRuleValidation:
    def rule(self, **changes: object) -> Rule:
        base = default_rulebook()["take-a-break"].model_dump()
        return Rule.model_validate({**base, **changes})

    def test_misspelled_key(self) -> None:
        with pytest.raises(ValidationError, match="priorty"):
            self.rule(priorty=3)

    def test_placeholder_must_be_a_known_detail(self) -> None:
        with pytest.raises(ValidationError, match="unknown detail 'delay'"):
            self.rule(phrasing=[{"text": "Back {delay}.", "requires": ["delay"]}, {"text": "x"}])

    def test_placeholders_must_match_requires(self) -> None:
        with pytest.raises(ValidationError, match="must equal requires"):
            self.rule(phrasing=[{"text": "Back {callback_in}."}])

    @pytest.mark.parametrize("field", ["{callback_in.days}", "{callback_in[0]}", "{0}", "{}"])
    def test_unsafe_placeholders(self, field: str) -> None:
        with pytest.raises(ValidationError):
            self.rule(phrasing=[{"text": f"Back {field}."}, {"text": "Back soon."}])

    def test_every_channel_needs_a_fallback(self) -> None:
        with pytest.raises(ValidationError, match="no phrasing without details"):
            self.rule(phrasing=[{"text": "Hanging up.", "channels": ["phone"]}])

    def test_cannot_override_itself(self) -> None:
        with pytest.raises(ValidationError, match="itself"):
            self.rule(overrides=["take-a-break"])

    def test_multi_line_conditions_keep_clauses_after_a_comment(self) -> None:
        rule = self.rule(when="not resolved  # the case is open\nand threats")
        assert rule.when.fields == {"resolved", "threats"}
        assert not rule.when.evaluate({"resolved": False, "threats": False})

    def test_condition_must_be_text(self) -> None:
        with pytest.raises(ValidationError, match="must be a condition written as a string"):
            self.rule(when=True)

    def test_bad_condition(self) -> None:
        with pytest.raises(ConditionTypeError, match="did you mean 'offensive_remarks'"):
            self.rule(when="offensive_remark >= 1")


class TestRulePacks:
    def test_a_pack_adds_rules_to_the_builtins(self, tmp_path: Path) -> None:
        book = load_rulebook(write(tmp_path, MINIMAL_RULE))
        assert "offer-a-coffee" in book
        assert len(book) == len(default_rulebook()) + 1
        advice = advise(channel="in_person", rulebook=book)
        assert "offer-a-coffee" in advice.rule_ids

    def test_an_untranslated_pack_is_english_only(self, tmp_path: Path) -> None:
        book = load_rulebook(write(tmp_path, MINIMAL_RULE))
        assert book.locales == ("en",)
        with pytest.raises(UnsupportedLocaleError, match="supported locales: en"):
            advise(locale="fr", rulebook=book)

    def test_a_pack_brings_its_own_translations(self, tmp_path: Path) -> None:
        path = write(tmp_path, MINIMAL_RULE, "coffee.toml")
        po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "coffee.po"
        po.parent.mkdir(parents=True)
        entries = {
            "Offer a coffee": "Proposez un café",
            "Can I get you a coffee while we sort this out?": (
                "Puis-je vous offrir un café pendant que nous réglons cela ?"
            ),
            "A small courtesy lowers the temperature.": "Une petite attention apaise.",
        }
        po.write_text(
            'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
            + "".join(
                f'msgctxt "offer-a-coffee"\nmsgid "{k}"\nmsgstr "{v}"\n\n'
                for k, v in entries.items()
            ),
            encoding="utf-8",
        )
        book = load_rulebook(path)
        assert book.locales == ("en", "fr")
        advice = advise(channel="in_person", locale="fr", rulebook=book)
        coffee = next(r for r in advice if r.rule_id == "offer-a-coffee")
        assert coffee.title == "Proposez un café"

    def test_a_pack_can_replace_a_builtin(self, tmp_path: Path) -> None:
        replacement = MINIMAL_RULE.replace('"offer-a-coffee"', '"stay-calm"').replace(
            'phase = "de_escalate"', 'phase = "de_escalate"\nreplace = true'
        )
        book = load_rulebook(write(tmp_path, replacement))
        assert book["stay-calm"].title == "Offer a coffee"
        assert len(book) == len(default_rulebook())

    def test_replacing_needs_to_be_explicit(self, tmp_path: Path) -> None:
        clash = MINIMAL_RULE.replace('"offer-a-coffee"', '"stay-calm"')
        with pytest.raises(RulebookError, match="set replace = true") as info:
            load_rulebook(write(tmp_path, clash))
        assert info.value.rule == "stay-calm"

    def test_a_pack_can_override_builtins(self, tmp_path: Path) -> None:
        overriding = MINIMAL_RULE.replace(
            'title = "Offer a coffee"',
            'overrides = ["ask-to-calm-down"]\ntitle = "Offer a coffee"',
        )
        book = load_rulebook(write(tmp_path, overriding))
        advice = advise(channel="in_person", mood="angry", rulebook=book)
        assert "offer-a-coffee" in advice.rule_ids
        assert "ask-to-calm-down" not in advice.rule_ids

    def test_standalone_pack(self, tmp_path: Path) -> None:
        book = load_rulebook(write(tmp_path, MINIMAL_RULE), base=Rulebook([]))
        assert book.ids == ("offer-a-coffee",)

    @pytest.mark.parametrize(
        ("change", "rule", "field", "message"),
        [
            (('mood >= "upset"', 'mood >= "livid"'), "offer-a-coffee", "when", "livid"),
            (("channel ==", "chanel =="), "offer-a-coffee", "when", "did you mean 'channel'"),
            (('kind = "do"', 'kind = "maybe"'), "offer-a-coffee", "kind", "'do' or 'avoid'"),
            (('phase = "de_escalate"', 'phase = "calm"'), "offer-a-coffee", "phase", "safety"),
            (('title = "Offer', 'titel = "Offer'), "offer-a-coffee", "titel", "unknown key"),
            (
                ("[[rules.sources]]\n", "[[rules.sourcez]]\n"),
                "offer-a-coffee",
                "sourcez",
                "'sources'",
            ),
            (('id = "offer-a-coffee"', 'id = "Offer Coffee"'), "Offer Coffee", "id", "pattern"),
        ],
    )
    def test_errors_name_file_rule_and_field(
        self,
        tmp_path: Path,
        change: tuple[str, str],
        rule: str,
        field: str,
        message: str | None,
    ) -> None:
        path = write(tmp_path, MINIMAL_RULE.replace(*change))
        with pytest.raises(RulebookError) as info:
            load_rulebook(path)
        error = info.value
        assert error.file == str(path)
        assert error.rule == rule
        assert error.field == field
        assert str(path) in str(error)
        assert "\n" not in str(error)
        if message:
            assert message in str(error)

    def test_condition_errors_are_typed(self, tmp_path: Path) -> None:
        with pytest.raises(ConditionTypeError) as info:
            load_rulebook(write(tmp_path, MINIMAL_RULE.replace("channel ==", "chanel ==")))
        assert info.value.suggestion == "channel"

    def test_overriding_an_unknown_rule(self, tmp_path: Path) -> None:
        text = MINIMAL_RULE.replace('title = "Offer', 'overrides = ["stay-clam"]\ntitle = "Offer')
        with pytest.raises(RulebookError, match="did you mean 'stay-calm'") as info:
            load_rulebook(write(tmp_path, text))
        assert info.value.field == "overrides"

    def test_override_cycles_are_refused(self, tmp_path: Path) -> None:
        first = MINIMAL_RULE.replace('title = "Offer', 'overrides = ["b-rule"]\ntitle = "Offer')
        second = first.replace('"offer-a-coffee"', '"b-rule"').replace(
            '["b-rule"]', '["offer-a-coffee"]'
        )
        with pytest.raises(RulebookError, match="cycle"):
            load_rulebook(write(tmp_path, first + second), base=Rulebook([]))

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("[[rules]\n", "not valid TOML"),
            ("", "no [[rules]] found"),
            ("[settings]\nx = 1\n", "unknown top-level key 'settings'"),
            ("[pack]\nauthor = 'me'\n" + MINIMAL_RULE, "[pack] may only hold"),
            (MINIMAL_RULE + MINIMAL_RULE, "duplicate rule id"),
        ],
    )
    def test_malformed_packs(self, tmp_path: Path, text: str, message: str) -> None:
        path = write(tmp_path, text)
        with pytest.raises(RulebookError, match=message.replace("[", r"\[")) as info:
            load_rulebook(path)
        assert info.value.file == str(path)

    def test_a_standalone_translated_pack_offers_its_language(self, tmp_path: Path) -> None:
        path = write(tmp_path, MINIMAL_RULE, "coffee.toml")
        po = tmp_path / "locales" / "pl" / "LC_MESSAGES" / "coffee.po"
        po.parent.mkdir(parents=True)
        rule = load_rulebook(path, base=Rulebook([]))["offer-a-coffee"]
        po.write_text(
            'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
            + "".join(
                f'msgctxt "offer-a-coffee"\nmsgid "{m}"\nmsgstr "PL {m}"\n\n'
                for m in rule.messages()
            ),
            encoding="utf-8",
        )
        book = load_rulebook(path, base=Rulebook([]))
        assert book.locales == ("en", "pl")
        advice = advise(channel="in_person", locale="pl", rulebook=book)
        assert advice[0].title == "PL Offer a coffee"
        # Headings come from the built-in catalogs when the pack has none.
        assert advice.to_text().startswith("Do wykonania")

    def test_missing_lists_untranslated_messages(self, tmp_path: Path) -> None:
        book = load_rulebook(write(tmp_path, MINIMAL_RULE))
        assert book.missing("fr") == [
            ("offer-a-coffee", "Offer a coffee"),
            ("offer-a-coffee", "Can I get you a coffee while we sort this out?"),
            ("offer-a-coffee", "A small courtesy lowers the temperature."),
        ]
        assert book.missing("en") == []
        assert default_rulebook().missing("pl") == []

    def test_variants_are_optional_and_never_stand_in_for_a_message(self, tmp_path: Path) -> None:
        path = write(tmp_path, MINIMAL_RULE, "coffee.toml")
        rule = load_rulebook(path, base=Rulebook([]))["offer-a-coffee"]
        phrase = rule.phrasing[0].text
        po = tmp_path / "locales" / "pl" / "LC_MESSAGES" / "coffee.po"
        po.parent.mkdir(parents=True)
        header = 'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        variants = "".join(
            f'msgctxt "offer-a-coffee|{form}"\nmsgid "{phrase}"\nmsgstr "PL {form}"\n\n'
            for form in ("masculine", "feminine")
        )
        po.write_text(header + variants, encoding="utf-8")
        book = load_rulebook(path, base=Rulebook([]))
        assert ("offer-a-coffee", phrase) in book.missing("pl")
        assert book.locales == ("en",)
        entries = "".join(
            f'msgctxt "offer-a-coffee"\nmsgid "{m}"\nmsgstr "PL {m}"\n\n' for m in rule.messages()
        )
        po.write_text(header + entries, encoding="utf-8")
        assert load_rulebook(path, base=Rulebook([])).locales == ("en", "pl")
        po.write_text(header + entries + variants, encoding="utf-8")
        book = load_rulebook(path, base=Rulebook([]))
        assert book.missing("pl") == []
        assert book.locales == ("en", "pl")
        state = {"channel": "in_person"}
        texts = [
            advise(state, locale="pl", rulebook=book, details={"form_of_address": form})[0].text
            for form in ("neutral", "masculine", "feminine")
        ]
        assert texts == [f"PL {phrase}", "PL masculine", "PL feminine"]

    @pytest.mark.parametrize("rules_arg", [[1], "abc", [{"id": "x"}]])
    def test_rulebook_holds_rules_only(self, rules_arg: object) -> None:
        with pytest.raises(TypeError, match="Rule objects"):
            Rulebook(rules_arg)  # type: ignore[arg-type]

    def test_catalogs_must_be_mappings(self) -> None:
        with pytest.raises(TypeError, match="'fr' must be a mapping"):
            Rulebook([], catalogs={"fr": None})  # type: ignore[dict-item]

    def test_base_must_be_a_rulebook(self, tmp_path: Path) -> None:
        with pytest.raises(TypeError, match="base must be a Rulebook"):
            load_rulebook(write(tmp_path, MINIMAL_RULE), base="builtin")  # type: ignore[arg-type]

    def test_conditions_are_revalidated_against_the_state(self) -> None:
        from difficult_customers.conditions import FieldType, parse_condition

        foreign = parse_condition("vip", schema={"vip": FieldType("bool")})
        base = default_rulebook()["stay-calm"].model_dump()
        with pytest.raises(ConditionTypeError, match="unknown field 'vip'"):
            Rule.model_validate({**base, "when": foreign})

    def test_nul_byte_in_path(self) -> None:
        with pytest.raises(RulebookError, match="cannot read"):
            load_rulebook("a\x00b.toml")

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(RulebookError, match="cannot read"):
            load_rulebook(tmp_path / "nope.toml")

    def test_the_builtin_rulebook_file_is_a_valid_pack(self) -> None:
        book = load_rulebook(BUILTIN_RULEBOOK, base=Rulebook([]))
        assert book.ids == default_rulebook().ids
