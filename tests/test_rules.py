"""Rules, the built-in rulebook, and loading user rule packs."""

from __future__ import annotations

import contextlib
import copy
import importlib
import multiprocessing
import os
import pickle
import re
import signal
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from difficult_customers import (
    ConditionTypeError,
    ConversationState,
    DifficultCustomersError,
    Kind,
    Phase,
    Rule,
    Rulebook,
    RulebookError,
    UnknownFilterValueError,
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

    @pytest.mark.parametrize(
        ("criteria", "criterion", "suggestion"),
        [
            pytest.param({"tag": "nosuchtag"}, "tag", None, id="tag"),
            pytest.param({"tag": "endings"}, "tag", "ending", id="tag-typo"),
            pytest.param({"reads": "offensive_remark"}, "field", "offensive_remarks", id="reads"),
            pytest.param({"document": "004"}, "document", "004_5f4e5305fe903518.txt", id="doc"),
            pytest.param({"phase": "de-escalate"}, "phase", "de_escalate", id="phase"),
            pytest.param({"kind": "dont"}, "kind", "do", id="kind"),
        ],
    )
    def test_filter_refuses_values_that_match_nothing(
        self, criteria: dict[str, str], criterion: str, suggestion: str | None
    ) -> None:
        for select in (default_rulebook().filter, rules):
            with pytest.raises(UnknownFilterValueError) as info:
                select(**criteria)  # type: ignore[operator]
            error = info.value
            assert isinstance(error, ValueError)
            assert isinstance(error, DifficultCustomersError)
            assert (error.criterion, error.suggestion) == (criterion, suggestion)
            assert error.value == next(iter(criteria.values()))
            assert error.known
            assert str(error).startswith(f"unknown {criterion} {error.value!r}")

    def test_filter_on_a_known_field_no_rule_reads_is_empty(self) -> None:
        book = Rulebook([])
        assert book.filter(reads="threats") == ()
        with pytest.raises(UnknownFilterValueError, match="none in this rulebook"):
            book.filter(tag="ending")

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

    @pytest.mark.parametrize("locale", ["fr_FR", "fr-CA", "pl_PL", "pl-PL", "en_GB", "en-US"])
    def test_missing_reads_a_regional_locale_as_its_language(self, locale: str) -> None:
        # advise(locale="fr_FR") speaks French: missing() must not say nothing is translated.
        from babel import Locale

        book = default_rulebook()
        assert book.missing(locale) == [] == book.missing(Locale.parse(locale, sep=locale[2]))

    def test_missing_of_a_language_without_a_catalog_is_every_message(self) -> None:
        book = default_rulebook()
        every = [(rule.id, message) for rule in book.rules for message in rule.messages()]
        assert book.missing("de") == book.missing("de_AT") == every

    @pytest.mark.parametrize("locale", ["not a locale", "", "xx_YY_ZZ_1", 3, None])
    def test_missing_refuses_what_is_not_a_locale(self, locale: object) -> None:
        with pytest.raises(UnsupportedLocaleError, match="supported locales: en, fr, pl"):
            default_rulebook().missing(locale)  # type: ignore[arg-type]

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


# --- hostile packs (issue 7) -----------------------------------------------------------------

# U+2028 and U+2029 are line breaks to Unicode (str.splitlines, JavaScript): a one-line field
# holding one is not one line, and a terminal or a browser may break the line there.
CONTROLS = ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\u202e", "\u2067", "\u2028", "\u2029"]


def toml_string(text: str) -> str:
    """A TOML basic string holding ``text`` exactly, control characters escaped."""
    return (
        '"'
        + "".join(
            f"\\u{ord(c):04X}" if c < " " or "\x7f" <= c <= "\x9f" or c in '"\\' else c
            for c in text
        )
        + '"'
    )


@pytest.mark.parametrize("character", CONTROLS)
@pytest.mark.parametrize(
    ("original", "field"),
    [
        ('title = "Offer a coffee"', "title"),
        ('rationale = "A small courtesy lowers the temperature."', "rationale"),
        ('text = "Can I get you a coffee while we sort this out?"', "phrasing"),
        ('document = "house-rules.txt"', "sources"),
        ('section = "Hospitality"', "sources"),
        ('quote = "Always offer something to drink."', "sources"),
        ('when = \'channel == "in_person" and mood >= "upset"\'', "when"),
    ],
)
def test_control_characters_in_pack_text_are_refused(
    tmp_path: Path, character: str, original: str, field: str
) -> None:
    key, _, value = original.partition(" = ")
    text = value[1:-1]
    poisoned = f"{key} = {toml_string(text[:5] + character + ']52;c;aGk=' + text[5:])}"
    if field == "when":  # in a comment: shown by `rules` and explain all the same (inside it,
        # since the text is stripped of the whitespace at its ends, U+2028 included)
        poisoned = f"{key} = {toml_string(text + '  # no' + character + 'te')}"
    path = write(tmp_path, MINIMAL_RULE.replace(original, poisoned))
    with pytest.raises(RulebookError, match="control character") as info:
        load_rulebook(path, base=Rulebook([]))
    assert (info.value.file, info.value.rule, info.value.field) == (
        str(path),
        "offer-a-coffee",
        field,
    )
    assert f"U+{ord(character):04X}" in str(info.value)


@pytest.mark.parametrize("character", ["\n", "\t", "\r"])
def test_one_line_fields_refuse_line_breaks(tmp_path: Path, character: str) -> None:
    poisoned = f"title = {toml_string('Offer' + character + 'a coffee')}"
    path = write(tmp_path, MINIMAL_RULE.replace('title = "Offer a coffee"', poisoned))
    with pytest.raises(RulebookError, match="this field is one line") as info:
        load_rulebook(path, base=Rulebook([]))
    assert info.value.field == "title"


def test_quotes_and_descriptions_may_span_lines(tmp_path: Path) -> None:
    text = '[pack]\nname = "coffee"\ndescription = """House rules.\nSee the wiki."""\n'
    text += MINIMAL_RULE.replace(
        'quote = "Always offer something to drink."',
        'quote = "Always offer\\nsomething to drink."',
    )
    book = load_rulebook(write(tmp_path, text), base=Rulebook([]))
    assert book["offer-a-coffee"].sources[0].quote == "Always offer\nsomething to drink."


@pytest.mark.parametrize(
    ("pack", "message"),
    [
        ('name = "front\\u0000desk"', "control character U+0000"),
        ('name = "front\\u001b]52;c;aGk=\\u0007"', "control character U+001B"),
        ('name = "front\\u202edesk"', "control character U+202E"),
        ('name = "front\\ndesk"', "one line"),
        ('name = ""', "empty"),
        ('name = "  "', "empty"),
        (f'name = "{"x" * 81}"', "at most 80 characters"),
        ("name = 5", "must be a string"),
        ('description = "about\\u001b[2J"', "control character U+001B"),
        (f'description = "{"x" * 2001}"', "at most 2000 characters"),
        ("description = []", "must be a string"),
    ],
)
def test_pack_name_and_description_are_validated(tmp_path: Path, pack: str, message: str) -> None:
    path = write(tmp_path, f"[pack]\n{pack}\n" + MINIMAL_RULE)
    with pytest.raises(RulebookError, match=re.escape(message)) as info:
        load_rulebook(path)
    assert info.value.file == str(path)
    assert info.value.field in ("name", "description")


def test_rulebook_names_are_validated() -> None:
    with pytest.raises(RulebookError, match=re.escape("control character U+0000")):
        Rulebook([], name="a\x00b")


def test_a_file_name_that_cannot_be_a_pack_name(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_RULE, "caf\x1b[2Je.toml")
    with pytest.raises(RulebookError, match=r"set \[pack\] name"):
        load_rulebook(path, base=Rulebook([]))


@pytest.mark.parametrize(
    "nested",
    [
        "x = " + "[" * 5000 + "]" * 5000,
        "when = " + "[" * 5000 + "]" * 5000,
        "x = " + "{a = " * 3000 + "1" + "}" * 3000,
    ],
)
def test_deeply_nested_toml_is_an_error_not_a_crash(tmp_path: Path, nested: str) -> None:
    text = MINIMAL_RULE.replace("[[rules.phrasing]]", nested + "\n[[rules.phrasing]]")
    if nested.startswith("when"):
        text = text.replace("when = 'channel", "# when = 'channel")
    path = write(tmp_path, text)
    with pytest.raises(RulebookError, match="nested") as info:
        load_rulebook(path, base=Rulebook([]))
    assert info.value.file == str(path)


def test_nesting_within_the_parser_limit_is_still_bounded(tmp_path: Path) -> None:
    from difficult_customers.rules import MAX_PACK_NESTING

    depth = MAX_PACK_NESTING + 1
    nested = "x = " + "[" * depth + "]" * depth
    path = write(
        tmp_path, MINIMAL_RULE.replace("[[rules.phrasing]]", nested + "\n[[rules.phrasing]]")
    )
    with pytest.raises(RulebookError, match=f"more than {MAX_PACK_NESTING} levels"):
        load_rulebook(path, base=Rulebook([]))


def chain(length: int, *, cycle: bool) -> list[Rule]:
    """Rules r0 ... r{length-1}, each overriding the next; the last one the first if cycle."""
    base = default_rulebook()["take-a-break"]
    return [
        base.model_copy(
            update={
                "id": f"r{i}",
                "overrides": (f"r{i + 1}",) if i + 1 < length else (("r0",) if cycle else ()),
            }
        )
        for i in range(length)
    ]


def test_a_long_override_chain_is_checked_without_recursion() -> None:
    book = Rulebook(chain(5000, cycle=False))
    assert len(book) == 5000


def test_a_long_override_cycle_is_reported() -> None:
    with pytest.raises(RulebookError, match="overrides form a cycle: r0 -> r1 -> r2 -> ") as info:
        Rulebook(chain(5000, cycle=True))
    assert str(info.value).endswith("r4999 -> r0")


def test_a_long_override_chain_in_a_pack_file(tmp_path: Path) -> None:
    rules_text = "".join(
        MINIMAL_RULE.replace('"offer-a-coffee"', f'"r{i}"').replace(
            'title = "Offer',
            f'overrides = ["r{i + 1}"]\ntitle = "Offer' if i < 4999 else 'title = "Offer',
        )
        for i in range(5000)
    )
    book = load_rulebook(write(tmp_path, rules_text), base=Rulebook([]))
    assert len(book) == 5000


def test_rules_per_pack_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("difficult_customers.rules")

    monkeypatch.setattr(module, "MAX_PACK_RULES", 3)
    text = "".join(MINIMAL_RULE.replace('"offer-a-coffee"', f'"r{i}"') for i in range(4))
    with pytest.raises(RulebookError, match="more than 3 rules"):
        load_rulebook(write(tmp_path, text), base=Rulebook([]))


@pytest.mark.parametrize(
    ("key", "limit"), [("phrasing", 32), ("sources", 32), ("tags", 16), ("overrides", 256)]
)
def test_lists_in_a_rule_are_capped(key: str, limit: int) -> None:
    base = default_rulebook()["take-a-break"].model_dump()
    items: dict[str, list[object]] = {
        "phrasing": [{"text": f"Say {i}."} for i in range(limit + 1)],
        "sources": [base["sources"][0]] * (limit + 1),
        "tags": [f"t{i}" for i in range(limit + 1)],
        "overrides": [f"r{i}" for i in range(limit + 1)],
    }
    with pytest.raises(ValidationError, match=f"at most {limit} items"):
        Rule.model_validate({**base, key: items[key]})


# A TOML value of the wrong type is a mistake to report, never read as some other value:
# pydantic alone would read priority = true as 1, and replace = "yes" as true.
@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ("priority = true", "priority", "must be an integer from 0 to 1000, not true"),
        ('priority = "5"', "priority", "must be an integer from 0 to 1000, not '5'"),
        ("priority = 5.0", "priority", "must be an integer from 0 to 1000, not 5.0"),
        ("firmness = false", "firmness", "must be an integer from 0 to 3, not false"),
        ('firmness = "2"', "firmness", "must be an integer from 0 to 3, not '2'"),
        ('replace = "yes"', "replace", "must be true or false, not 'yes'"),
        ("replace = 0", "replace", "must be true or false, not 0"),
        ('after_ending = "on"', "after_ending", "must be true or false, not 'on'"),
        ("after_ending = 1", "after_ending", "must be true or false, not 1"),
        ("repeats = 1", "repeats", 'must be true, false or "each_turn", not 1'),
        ('repeats = "no"', "repeats", "must be true, false or \"each_turn\", not 'no'"),
        (
            'repeats = "EACH_TURN"',
            "repeats",
            "must be true, false or \"each_turn\", not 'EACH_TURN'",
        ),
    ],
)
def test_scalar_keys_of_a_rule_take_their_own_type_only(
    tmp_path: Path, line: str, field: str, message: str
) -> None:
    text = MINIMAL_RULE.replace('title = "Offer', f'{line}\ntitle = "Offer')
    with pytest.raises(RulebookError) as info:
        load_rulebook(write(tmp_path, text), base=Rulebook([]))
    assert (info.value.rule, info.value.field) == ("offer-a-coffee", field)
    assert str(info.value).endswith(f"field {field!r}: {message}")


def test_duplicate_overrides_are_refused(tmp_path: Path) -> None:
    text = MINIMAL_RULE.replace(
        'title = "Offer', 'overrides = ["stay-calm", "take-a-break", "stay-calm"]\ntitle = "Offer'
    )
    with pytest.raises(RulebookError, match="'stay-calm' is listed twice") as info:
        load_rulebook(write(tmp_path, text))
    assert info.value.field == "overrides"


def test_duplicate_tags_are_refused(tmp_path: Path) -> None:
    # A tag given twice was kept twice without a word: a typo of the pack's author, or a
    # merge gone wrong, that filter(tag=) would hide.
    text = MINIMAL_RULE.replace(
        'title = "Offer', 'tags = ["hospitality", "x", "x"]\ntitle = "Offer'
    )
    with pytest.raises(RulebookError, match="'x' is listed twice") as info:
        load_rulebook(write(tmp_path, text))
    assert (info.value.rule, info.value.field) == ("offer-a-coffee", "tags")


@pytest.mark.parametrize("digits", ["9" * 5_000, "1_" * 4_400 + "1"])
def test_an_integer_of_thousands_of_digits_is_named_by_its_line(
    tmp_path: Path, digits: str
) -> None:
    # tomllib converts with int(), whose "Exceeds the limit (4300 digits) for integer string
    # conversion ... use sys.set_int_max_str_digits()" said neither where nor what to do.
    text = MINIMAL_RULE.replace('title = "Offer', f'priority = {digits}\ntitle = "Offer')
    with pytest.raises(RulebookError) as info:
        load_rulebook(write(tmp_path, text))
    message = str(info.value)
    assert "line 7: an integer of more than 4,300 digits" in message, message
    assert "set_int_max_str_digits" not in message


def test_a_pack_that_is_not_utf8_names_the_line_and_column(tmp_path: Path) -> None:
    # The error was Python's "'utf-8' codec can't decode byte 0xe9 in position 171".
    path = tmp_path / "pack.toml"
    path.write_bytes(
        textwrap.dedent(MINIMAL_RULE).replace('coffee"', 'caf\xe9"').encode("latin-1")
    )
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    message = str(info.value)
    assert "not UTF-8 text (byte 0xe9 at line 3, column 18)" in message, message
    assert "codec" not in message


def test_a_pack_catalog_that_is_not_utf8_names_the_line_and_column(tmp_path: Path) -> None:
    # Babel's decoding error surfaced as "'utf-8' codec can't decode byte 0xe9 in position
    # 21", a position within a line it did not name.
    path = write(tmp_path, MINIMAL_RULE, "coffee.toml")
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "coffee.po"
    po.parent.mkdir(parents=True)
    text = 'msgctxt "offer-a-coffee"\nmsgid "Offer a coffee"\nmsgstr "Proposez un café"\n'
    po.write_bytes(text.encode("latin-1"))
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    message = str(info.value)
    assert "not UTF-8 text (byte 0xe9 at line 3, column 24)" in message, message
    assert info.value.file == str(po)


def test_pack_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("difficult_customers.rules")

    path = write(tmp_path, MINIMAL_RULE)
    monkeypatch.setattr(module, "MAX_PACK_BYTES", path.stat().st_size - 1)
    with pytest.raises(RulebookError, match=f"larger than {path.stat().st_size - 1} bytes"):
        load_rulebook(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_not_read(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match="not a regular file") as info:
        load_rulebook("/dev/zero")
    assert info.value.file == "/dev/zero"


def fifo(tmp_path: Path, name: str) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs FIFOs")
    path = tmp_path / name
    os.mkfifo(path)
    return path


@contextlib.contextmanager
def no_hang(seconds: int = 5) -> Iterator[None]:
    """Fail instead of blocking forever on a FIFO."""

    def timeout(*_: object) -> None:
        raise AssertionError("blocked")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = fifo(tmp_path, "pack.toml")
    with no_hang(), pytest.raises(RulebookError, match="not a regular file"):
        load_rulebook(path)


def pack_with_catalog(tmp_path: Path, lang: str = "fr", name: str = "coffee") -> Path:
    path = write(tmp_path, MINIMAL_RULE, f"{name}.toml")
    (tmp_path / "locales" / lang / "LC_MESSAGES").mkdir(parents=True)
    return path


def po_text(entries: list[tuple[str, str, str]]) -> str:
    return 'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n' + "".join(
        f'msgctxt "{context}"\nmsgid "{msgid}"\nmsgstr "{msgstr}"\n\n'
        for context, msgid, msgstr in entries
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_catalog_linked_to_a_device_is_refused(tmp_path: Path) -> None:
    path = pack_with_catalog(tmp_path)
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "coffee.po"
    po.symlink_to("/dev/zero")
    with pytest.raises(RulebookError, match="not a regular file") as info:
        load_rulebook(path)
    assert info.value.file == str(po)


def test_a_catalog_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    path = pack_with_catalog(tmp_path)
    fifo(tmp_path / "locales" / "fr" / "LC_MESSAGES", "coffee.po")
    with no_hang(), pytest.raises(RulebookError, match="not a regular file"):
        load_rulebook(path)


def test_catalog_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from difficult_customers import i18n

    path = pack_with_catalog(tmp_path)
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "coffee.po"
    po.write_text(po_text([("offer-a-coffee", "Offer a coffee", "Proposez un café")]))
    monkeypatch.setattr(i18n, "MAX_CATALOG_BYTES", 100)
    with pytest.raises(RulebookError, match="larger than 100 bytes") as info:
        load_rulebook(path)
    assert info.value.file == str(po)


def test_a_broken_catalog_link_is_an_error(tmp_path: Path) -> None:
    path = pack_with_catalog(tmp_path)
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "coffee.po"
    po.symlink_to(tmp_path / "nowhere.po")
    with pytest.raises(RulebookError, match="cannot read") as info:
        load_rulebook(path)
    assert info.value.file == str(po)


def test_a_malformed_catalog_is_an_error_and_prints_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = pack_with_catalog(tmp_path)
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "coffee.po"
    po.write_text('msgctxt "offer-a-coffee"\nmsgid "Offer a coffee"\nbogus line\nmsgstr "x"\n')
    with pytest.raises(RulebookError, match="line 3") as info:
        load_rulebook(path)
    assert info.value.file == str(po)
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # Babel strips what it takes for the quotes: this read as "ous asseoir".
        ('msgctxt "offer-a-coffee"\nmsgid "Offer a coffee"\nmsgstr Vous asseoir\n', 3),
        # Babel dropped the entry, and the next, without a word.
        ('msgctxt "offer-a-coffee"\nmsgid "Offer a coffee\nmsgstr "Un café"\n', 2),
        ('msgctxt "offer-a-coffee"\nmsgid "Offer a coffee"\nmsgstr "Un café" x\n', 3),
    ],
)
def test_a_string_not_in_quotes_in_a_catalog_is_an_error(
    tmp_path: Path, text: str, line: int
) -> None:
    path = pack_with_catalog(tmp_path)
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "coffee.po"
    po.write_text(text, encoding="utf-8")
    with pytest.raises(RulebookError, match=f"on line {line}") as info:
        load_rulebook(path)
    assert info.value.file == str(po)
    assert "quoted" in str(info.value)


def test_a_message_translated_twice_in_a_catalog_is_an_error(tmp_path: Path) -> None:
    # msgfmt refuses it; Babel kept the first translation and said nothing.
    path = pack_with_catalog(tmp_path)
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "coffee.po"
    entries = [("offer-a-coffee", "Offer a coffee", "Proposez un café")]
    po.write_text(
        po_text([*entries, ("offer-a-coffee", "Offer a coffee", "Offrez un café")]),
        encoding="utf-8",
    )
    with pytest.raises(RulebookError, match="given twice, on lines 4 and 8") as info:
        load_rulebook(path)
    assert (info.value.file, info.value.rule) == (str(po), "offer-a-coffee")
    # The same message in another context is another message.
    po.write_text(po_text([*entries, ("other", "Offer a coffee", "Un café")]), encoding="utf-8")
    load_rulebook(path)


def test_control_characters_in_a_translation_are_refused(tmp_path: Path) -> None:
    path = pack_with_catalog(tmp_path)
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "coffee.po"
    po.write_text(po_text([("offer-a-coffee", "Offer a coffee", "Proposez\x1b]52;c;aGk=\x07")]))
    with pytest.raises(RulebookError, match=re.escape("control character U+001B")) as info:
        load_rulebook(path)
    assert (info.value.file, info.value.rule, info.value.field) == (
        str(po),
        "offer-a-coffee",
        "msgstr",
    )


def test_a_pack_catalog_may_not_retranslate_a_builtin_rule(tmp_path: Path) -> None:
    path = pack_with_catalog(tmp_path)
    title = default_rulebook()["stay-calm"].title
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "coffee.po"
    po.write_text(po_text([("stay-calm", title, "Hurlez plus fort")]))
    with pytest.raises(RulebookError, match="replace = true") as info:
        load_rulebook(path)
    assert (info.value.file, info.value.rule, info.value.field) == (str(po), "stay-calm", "msgstr")


def test_a_pack_catalog_may_not_retranslate_the_headings(tmp_path: Path) -> None:
    path = pack_with_catalog(tmp_path)
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "coffee.po"
    po.write_text(po_text([("@ui", "Avoid:", "Faites donc :")]))
    with pytest.raises(RulebookError, match="heading 'Avoid:'"):
        load_rulebook(path)
    # The same with a standalone pack: the headings still come from the built-in catalogs.
    with pytest.raises(RulebookError, match="heading 'Avoid:'"):
        load_rulebook(path, base=Rulebook([]))


def test_a_pack_may_retranslate_a_rule_it_replaces(tmp_path: Path) -> None:
    builtin = default_rulebook()["stay-calm"]
    replacement = (
        MINIMAL_RULE.replace('"offer-a-coffee"', '"stay-calm"')
        .replace('phase = "de_escalate"', 'phase = "de_escalate"\nreplace = true')
        .replace('title = "Offer a coffee"', f'title = "{builtin.title}"')
    )
    path = write(tmp_path, replacement, "calm.toml")
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "calm.po"
    po.parent.mkdir(parents=True)
    po.write_text(po_text([("stay-calm", builtin.title, "Restez serein")]))
    book = load_rulebook(path)
    assert book.catalogs["fr"][("stay-calm", builtin.title)] == "Restez serein"


def test_a_pack_may_retranslate_the_variants_of_a_rule_it_replaces(tmp_path: Path) -> None:
    builtin = default_rulebook()["issue-warning"]
    variant = next(
        (context, message)
        for context, message in default_rulebook().catalogs["fr"]
        if context == "issue-warning|feminine"
    )
    replacement = builtin.model_dump(mode="json", exclude_defaults=True)
    path = tmp_path / "warn.toml"
    lines = [
        "[[rules]]",
        'id = "issue-warning"',
        "replace = true",
        'kind = "do"',
        'phase = "de_escalate"',
        f"when = {toml_string(replacement['when'])}",
        f"title = {toml_string(builtin.title)}",
        f"rationale = {toml_string(builtin.rationale)}",
        "[[rules.phrasing]]",
        f"text = {toml_string(variant[1])}",
        "[[rules.sources]]",
        f"document = {toml_string(builtin.sources[0].document)}",
        f"section = {toml_string(builtin.sources[0].section or '')}",
        f"quote = {toml_string(builtin.sources[0].quote)}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "warn.po"
    po.parent.mkdir(parents=True)
    po.write_text(po_text([(variant[0], variant[1], "Madame, je vous avertis.")]))
    book = load_rulebook(path)
    assert book.catalogs["fr"][variant] == "Madame, je vous avertis."
    # Without replace = true, the same catalog would change a built-in rule's wording.
    other = write(tmp_path, MINIMAL_RULE, "other.toml")
    (tmp_path / "locales" / "fr" / "LC_MESSAGES" / "other.po").write_text(po.read_text())
    with pytest.raises(RulebookError, match="replace = true"):
        load_rulebook(other)


def test_a_pack_may_bring_headings_for_a_new_language(tmp_path: Path) -> None:
    path = pack_with_catalog(tmp_path, lang="de")
    po = tmp_path / "locales" / "de" / "LC_MESSAGES" / "coffee.po"
    rule = load_rulebook(path, base=Rulebook([]))["offer-a-coffee"]
    po.write_text(
        po_text(
            [("offer-a-coffee", m, f"DE {m}") for m in rule.messages()]
            + [("@ui", "Do now, in this order:", "Jetzt, in dieser Reihenfolge:")]
        )
    )
    book = load_rulebook(path, base=Rulebook([]))
    advice = advise(channel="in_person", locale="de", rulebook=book)
    assert advice.to_text().startswith("Jetzt, in dieser Reihenfolge:")


def test_a_pack_can_disable_builtin_rules(tmp_path: Path) -> None:
    path = write(tmp_path, '[pack]\ndisable = ["take-a-break", "stay-calm"]\n' + MINIMAL_RULE)
    book = load_rulebook(path)
    assert "take-a-break" not in book
    assert "stay-calm" not in book
    assert len(book) == len(default_rulebook()) - 1
    # Rules that overrode a disabled rule simply no longer mention it.
    assert all("take-a-break" not in rule.overrides for rule in book)
    advice = advise(mood="angry", offensive_remarks=1, agent_upset=True, rulebook=book)
    assert "take-a-break" not in advice.rule_ids
    assert book.locales == ("en",)


@pytest.mark.parametrize(
    ("pack", "extra", "message"),
    [
        ('disable = ["stay-clam"]', "", "did you mean 'stay-calm'"),
        ('disable = ["stay-calm", "stay-calm"]', "", "'stay-calm' is listed twice"),
        ('disable = "stay-calm"', "", "a list of rule ids"),
        ("disable = [1]", "", "a list of rule ids"),
        ('disable = ["Stay Calm\\u001b"]', "", "is not a rule id"),
        (f'disable = ["{"x" * 5000}"]', "", "is not a rule id"),
        ('disable = ["offer-a-coffee"]', "", "defined by the pack itself"),
        ('disable = ["stay-calm"]', 'overrides = ["stay-calm"]\n', "disabled by the pack"),
    ],
)
def test_disable_is_validated(tmp_path: Path, pack: str, extra: str, message: str) -> None:
    rule = MINIMAL_RULE.replace('title = "Offer', extra + 'title = "Offer')
    path = write(tmp_path, f"[pack]\n{pack}\n" + rule)
    with pytest.raises(RulebookError, match=message) as info:
        load_rulebook(path)
    assert info.value.file == str(path)


def test_the_locale_error_says_which_messages_are_untranslated(tmp_path: Path) -> None:
    book = load_rulebook(write(tmp_path, MINIMAL_RULE))
    with pytest.raises(UnsupportedLocaleError) as info:
        advise(locale="fr_FR", rulebook=book)
    text = str(info.value)
    assert text.startswith("unsupported locale 'fr_FR'; supported locales: en")
    assert "fr lacks 3 translation(s)" in text
    assert "rule 'offer-a-coffee'" in text
    assert "'Offer a coffee'" in text
    assert info.value.missing[:1] == (("offer-a-coffee", "Offer a coffee"),)


# --- issue 7, items 23 and 24: concurrency, read-only catalogs, pickling -----------------


def _loaded_book_ids(book: Rulebook, states: list[dict[str, object]]) -> list[tuple[str, ...]]:
    """Run in a worker process: the advice for each state, as rule ids."""
    return [advise(state, rulebook=book).rule_ids for state in states]


class TestSharing:
    def test_concurrent_first_use_loads_the_default_rulebook_once(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rules_module = importlib.import_module("difficult_customers.rules")
        loads: list[int] = []
        real_read = rules_module._read_builtin
        barrier = threading.Barrier(16)

        def slow_read() -> object:
            loads.append(1)
            time.sleep(0.05)  # widen the window in which other threads would load too
            return real_read()

        monkeypatch.setattr(rules_module, "_read_builtin", slow_read)
        monkeypatch.setattr(rules_module, "_DEFAULT", None)
        books: list[Rulebook] = []

        def first_use() -> None:
            barrier.wait()
            books.append(default_rulebook())

        threads = [threading.Thread(target=first_use) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(books) == 16
        assert len({id(book) for book in books}) == 1
        assert len(loads) == 1

    def test_catalogs_are_read_only(self) -> None:
        book = default_rulebook()
        with pytest.raises(TypeError):
            book.catalogs["fr"] = {}  # type: ignore[index]
        with pytest.raises(TypeError):
            book.catalogs["fr"][("stay-calm", "x")] = "y"  # type: ignore[index]
        with pytest.raises(AttributeError):
            book.catalogs = {}  # type: ignore[misc]

    def test_catalogs_are_copied_from_the_caller(self) -> None:
        base = default_rulebook()
        french = dict(base.catalogs["fr"])
        catalogs = {"fr": french}
        book = Rulebook(base.rules, catalogs=catalogs, name="copy")
        assert book.locales == ("en", "fr")
        french.clear()
        catalogs["pl"] = dict(base.catalogs["pl"])
        assert book.catalogs["fr"] == base.catalogs["fr"]
        assert "pl" not in book.catalogs
        assert advise(rulebook=book, locale="fr").rule_ids == advise(locale="fr").rule_ids


class TestPickling:
    def test_the_default_rulebook_pickles_to_itself(self) -> None:
        book = default_rulebook()
        assert pickle.loads(pickle.dumps(book)) is book
        assert copy.deepcopy(book) is book

    def test_a_pack_round_trips(self, tmp_path: Path) -> None:
        book = load_rulebook(write(tmp_path, MINIMAL_RULE))
        advise(rulebook=book)  # fill the caches: they are rebuilt, not pickled
        clone = pickle.loads(pickle.dumps(book))
        assert clone is not book
        assert clone.ids == book.ids
        assert clone.name == book.name
        assert dict(clone.catalogs) == dict(book.catalogs)
        assert clone.locales == book.locales
        assert list(clone.rules) == list(book.rules)
        state = {"channel": "in_person", "mood": "angry"}
        assert advise(state, rulebook=clone) == advise(state, rulebook=book)

    def test_a_rule_and_its_condition_round_trip(self) -> None:
        rule = default_rulebook()["issue-warning"]
        clone = pickle.loads(pickle.dumps(rule))
        assert clone == rule
        assert clone.when.python == rule.when.python
        assert clone.when.evaluate({**ConversationState().__dict__, "threats": True}) == (
            rule.when.evaluate({**ConversationState().__dict__, "threats": True})
        )

    def test_a_condition_over_another_schema_round_trips(self) -> None:
        from difficult_customers.conditions import FieldType, parse_condition

        condition = parse_condition(
            "vip and level >= 2", {"vip": FieldType("bool"), "level": FieldType("int")}
        )
        clone = pickle.loads(pickle.dumps(condition))
        assert clone == condition
        assert clone.evaluate({"vip": True, "level": 3})
        assert not clone.evaluate({"vip": True, "level": 1})

    def test_a_rulebook_works_in_worker_processes(self, tmp_path: Path) -> None:
        book = load_rulebook(write(tmp_path, MINIMAL_RULE))
        states: list[dict[str, object]] = [
            {"channel": "in_person", "mood": "angry"},
            {"mood": "furious", "customer_speaking": True},
        ]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            (result,) = pool.map(_loaded_book_ids, [book], [states])
        assert result == _loaded_book_ids(book, states)
        assert "offer-a-coffee" in result[0]


# Any character, and often those at the edges of what the patterns refuse.
_EDGES = st.sampled_from(
    "\x00\x08\t\n\x0b\r\x1b\x1f \x7f\x85\x9f\xa0a\u202a\u202e\u2066\u2069\u2028"
)


@given(st.text(st.one_of(st.characters(), _EDGES)), st.booleans())
def test_the_check_for_control_characters_is_the_pattern_s(text: str, line_breaks: bool) -> None:
    from difficult_customers import _text

    pattern = _text._MULTI_LINE if line_breaks else _text._ONE_LINE
    found = re.search(pattern, text)
    expected = None if found is None else found.start()
    assert _text.control_character(text, line_breaks=line_breaks) == expected


def test_a_byte_order_mark_may_open_a_pack(tmp_path: Path) -> None:
    # Windows editors write one; it is no TOML statement, and was reported as "Invalid
    # statement (at line 1, column 1)", a line that looks right.
    path = tmp_path / "pack.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL_RULE.encode())
    assert "offer-a-coffee" in load_rulebook(path, base=Rulebook([]))


def test_an_increment_of_thousands_of_digits_is_refused_as_an_increment(tmp_path: Path) -> None:
    text = MINIMAL_RULE.replace(
        'title = "Offer', 'effects = { warnings_given = "+' + "9" * 5000 + '" }\ntitle = "Offer'
    )
    with pytest.raises(RulebookError) as info:
        load_rulebook(write(tmp_path, text), base=Rulebook([]))
    assert info.value.field == "effects"
    assert "at most +100" in str(info.value)
    assert "set_int_max_str_digits" not in str(info.value)
    assert len(str(info.value)) < 500


def test_a_byte_order_mark_may_open_a_catalog(tmp_path: Path) -> None:
    path = pack_with_catalog(tmp_path)
    po = tmp_path / "locales" / "fr" / "LC_MESSAGES" / "coffee.po"
    text = po_text(
        [
            ("offer-a-coffee", message, "Un café")
            for message in load_rulebook(path, base=Rulebook([]))["offer-a-coffee"].messages()
        ]
    )
    po.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert "fr" in load_rulebook(path, base=Rulebook([])).locales
