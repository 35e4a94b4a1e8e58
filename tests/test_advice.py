"""Advice and Recommendation: the shape callers read."""

from __future__ import annotations

import dataclasses
import html
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from difficult_customers import (
    Advice,
    ConversationState,
    Recommendation,
    Rule,
    Rulebook,
    Source,
    advise,
    default_rulebook,
)
from difficult_customers import advice as advice_module
from difficult_customers.engine import _reference
from strategies import states


@pytest.fixture
def advice() -> Advice:
    return advise(mood="angry", offensive_remarks=2, channel="phone")


def test_sequence_of_actions(advice: Advice) -> None:
    assert list(advice) == list(advice.actions)
    assert len(advice) == len(advice.actions)
    assert advice[0] is advice.actions[0]
    assert advice[-1] is advice.actions[-1]
    assert advice[:2] == advice.actions[:2]


def test_rule_ids_cover_attitudes_actions_then_avoid(advice: Advice) -> None:
    expected = [r.rule_id for r in (*advice.attitudes, *advice.actions, *advice.avoid)]
    assert list(advice.rule_ids) == expected


def test_immutable(advice: Advice) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        advice.locale = "fr"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        advice[0].text = "shout back"  # type: ignore[misc]
    assert isinstance(advice.actions, tuple)
    assert isinstance(advice.avoid, tuple)


def test_recommendation_fields(advice: Advice) -> None:
    rec = advice[0]
    assert isinstance(rec, Recommendation)
    assert set(Recommendation.model_fields) == {
        "rule_id",
        "kind",
        "phase",
        "title",
        "text",
        "rationale",
        "sources",
    }
    source = rec.sources[0]
    assert source.document.endswith(".txt")
    assert source.quote


def test_json(advice: Advice) -> None:
    data = json.loads(advice.to_json())
    assert data["locale"] == "en"
    assert data["state"]["mood"] == "angry"
    assert [a["rule_id"] for a in data["actions"]] == [r.rule_id for r in advice]
    assert data["actions"][0]["sources"][0]["document"]


def test_json_keeps_non_ascii_text() -> None:
    assert "é" in advise(locale="fr").to_json()


def test_text_is_localized() -> None:
    text = advise(locale="pl", mood="angry").to_text()
    assert text.startswith("Przez całą rozmowę:")
    assert "\nDo wykonania teraz" in text
    assert "Dlaczego:" in text


def test_markdown_and_html(advice: Advice) -> None:
    markdown = advice._repr_markdown_()
    assert markdown.startswith("### Throughout the conversation:")
    assert "\n### Do now" in markdown
    assert f"**{advice[0].title}**" in markdown
    html = advice._repr_html_()
    assert '<ol start="1">' in html
    assert "&#x27;" in html or "'" not in html  # text is escaped


def test_repr(advice: Advice) -> None:
    assert repr(advice).startswith("<Advice en: attitudes ['stay-calm'")
    assert "'issue-warning'" in repr(advice)


# --- issue 7: sources, escaping, braces, empty advice ----------------------------------------

HOSTILE = "<img src=x onerror=alert(1)> *bold* [link](javascript:alert(1)) `code` | $x$"


def _plain(markdown_line: str) -> str:
    """A markdown line as a reader sees it: backslash escapes and entities resolved."""
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown_line))


def _every(advice: Advice) -> tuple[Recommendation, ...]:
    """Every recommendation, in reading order: attitudes, moves, pending moves, avoid."""
    return (*advice.attitudes, *advice.actions, *advice.pending, *advice.avoid)


def _sources(advice: Advice) -> list[Source]:
    found: list[Source] = []
    for rec in _every(advice):
        found += [source for source in rec.sources if source not in found]
    return found


def test_markdown_cites_sources_as_footnotes(advice: Advice) -> None:
    markdown = advice.to_markdown()
    definitions = re.findall(r"^\[\^(\d+)\]: (.*)$", markdown, flags=re.MULTILINE)
    sources = _sources(advice)
    assert [int(number) for number, _ in definitions] == list(range(1, len(sources) + 1))
    for (number, text), source in zip(definitions, sources, strict=True):
        shown = _plain(text)
        assert source.document in shown
        assert (source.section or "opening paragraph") in shown
        assert source.quote in shown
        body = markdown.split("\n[^1]: ", 1)[0]
        assert f"[^{number}]" in body  # referenced from a recommendation
    for rec in _every(advice):
        line = next(line for line in markdown.splitlines() if _plain(rec.title) in _plain(line))
        block = markdown[markdown.index(line) :].split("\n\n", 1)[0]
        assert f"[^{sources.index(rec.sources[0]) + 1}]" in block


def test_text_shows_sources_only_when_asked(advice: Advice) -> None:
    sources = _sources(advice)
    plain = advice.to_text()
    assert not any(source.quote in plain for source in sources)
    cited = advice.to_text(sources=True)
    for source in sources:
        assert source.document in cited
        assert source.quote in cited
    assert cited.replace("\n", "").startswith(plain.split("\n")[0])
    assert "Sources:" in cited


def test_sources_are_localized() -> None:
    assert "Sources\u00a0:" in advise(locale="fr", mood="angry").to_text(sources=True)
    assert "Źródła:" in advise(locale="pl", mood="angry").to_text(sources=True)


def _hostile_book(title: str = HOSTILE, name: str = HOSTILE) -> Rulebook:
    rule = Rule.model_validate(
        {
            "id": "hostile-rule",
            "kind": "do",
            "phase": "resolve",
            "when": 'mood == "angry"  # <script>alert(1)</script> ` | x',
            "title": title,
            "rationale": f"Because {HOSTILE}",
            "phrasing": [{"text": f"Say {HOSTILE}"}],
            "sources": [{"document": "x<b>.txt", "section": HOSTILE, "quote": HOSTILE}],
        }
    )
    return Rulebook([rule], name=name)


def _assert_escaped_markdown(markdown: str) -> None:
    assert "<img" not in markdown
    assert "<script" not in markdown
    assert "<b>" not in markdown
    assert "[link](" not in markdown
    assert "\\[link\\](javascript" in markdown
    assert "*bold*" not in markdown
    assert "&lt;img" in markdown


def test_markdown_escapes_pack_text() -> None:
    advice = advise(mood="angry", rulebook=_hostile_book())
    markdown = advice.to_markdown()
    _assert_escaped_markdown(markdown)
    assert HOSTILE in _plain(markdown)  # escaped, not dropped
    assert "<img" not in advice._repr_html_()


def test_markdown_escapes_the_business_name() -> None:
    name = "<img src=x onerror=alert(1)>"
    advice = advise(
        complaint_validity="invalid",
        request_within_policy=False,
        mood="angry",
        details={"business_name": name},
    )
    assert any(name in rec.text for rec in advice)  # the phrase that names the business
    assert "<img" not in advice.to_markdown()
    assert "&lt;img src=x onerror=alert(1)&gt;" in advice.to_markdown()
    assert "<img" not in advice._repr_html_()


def test_rulebook_and_rule_reprs_escape_pack_text() -> None:
    book = _hostile_book()
    for shown in (book._repr_markdown_(), book._repr_html_(), book["hostile-rule"]._repr_html_()):
        assert "<img" not in shown
        assert "<script" not in shown
        assert "&lt;img" in shown or "&lt;script" in shown
    markdown = book._repr_markdown_()
    rows = [line for line in markdown.splitlines() if line.startswith("| `hostile-rule`")]
    assert len(rows) == 1
    # The condition's own "|" cannot split the table row into more cells.
    assert len(re.findall(r"(?<!\\)\|", rows[0])) == 5
    assert "hostile-rule" in book["hostile-rule"]._repr_html_()
    assert "<table>" in book._repr_html_()


def test_default_rulebook_html_repr_lists_every_rule() -> None:
    shown = default_rulebook()._repr_html_()
    assert all(f"<code>{rule_id}</code>" in shown for rule_id in default_rulebook().ids)


def _braces_book() -> Rulebook:
    rule = Rule.model_validate(
        {
            "id": "braces",
            "kind": "do",
            "phase": "resolve",
            "when": 'mood == "angry"',
            "title": "Braces",
            "rationale": "Braces render the same way in every phrasing.",
            "phrasing": [
                {"text": "Write {{ref}} to {business_name}.", "requires": ["business_name"]},
                {"text": "Write {{ref}} to us."},
            ],
            "sources": [{"document": "x.txt", "quote": "a quote of ten characters"}],
        }
    )
    return Rulebook([rule])


def test_doubled_braces_render_single_in_every_phrasing() -> None:
    book = _braces_book()
    assert advise(mood="angry", rulebook=book)[0].text == "Write {ref} to us."
    named = advise(mood="angry", rulebook=book, details={"business_name": "Acme"})
    assert named[0].text == "Write {ref} to Acme."
    other_detail = advise(mood="angry", rulebook=book, details={"closed_day": "sunday"})
    assert other_detail[0].text == "Write {ref} to us."


@pytest.mark.parametrize("locale", ["en", "fr", "pl"])
def test_empty_advice_says_there_is_nothing_to_advise(locale: str) -> None:
    book = Rulebook([], catalogs={"fr": {}, "pl": {}})
    empty = advise(locale=locale, rulebook=book)
    assert len(empty) == 0
    nothing = dict(empty.labels)["nothing"]
    assert nothing.strip()
    if locale == "en":
        assert nothing == "Nothing to advise right now."
    else:
        assert nothing != "Nothing to advise right now."  # translated
    assert empty.to_text() == nothing
    assert empty.to_text(sources=True) == nothing
    assert _plain(empty.to_markdown().strip()) == nothing
    assert nothing in html.unescape(empty._repr_html_())
    do_heading = dict(empty.labels)["do"]
    for shown in (empty.to_text(), empty.to_markdown(), empty._repr_html_()):
        assert do_heading not in html.unescape(shown)


def _hostile_rule(rule_id: str, kind: str, phase: str, when: str, section: str) -> Rule:
    return Rule.model_validate(
        {
            "id": rule_id,
            "kind": kind,
            "phase": phase,
            "when": when,
            "title": f"{rule_id} {HOSTILE}",
            "rationale": f"Because {HOSTILE}",
            "phrasing": [{"text": f"Say {HOSTILE}"}],
            "sources": [{"document": "x<b>.txt", "section": section, "quote": HOSTILE}],
        }
    )


@pytest.fixture
def every_group() -> Advice:
    """Advice with an attitude, a move, a pending move and a thing to avoid, all hostile."""
    book = Rulebook(
        [
            _hostile_rule("attitude", "do", "composure", 'mood == "angry"', "<i>A</i>"),
            _hostile_rule("move", "do", "listen", "customer_speaking", "<i>B</i>"),
            _hostile_rule("later", "do", "resolve", "not customer_speaking", "<i>C</i>"),
            _hostile_rule("never", "avoid", "resolve", 'mood == "angry"', "<i>D</i>"),
        ]
    )
    advice = advise(mood="angry", customer_speaking=True, rulebook=book)
    assert [[r.rule_id for r in group] for group in _groups(advice)] == [
        ["attitude"],
        ["move"],
        ["later"],
        ["never"],
    ]
    return advice


def _groups(advice: Advice) -> list[tuple[Recommendation, ...]]:
    return [advice.attitudes, advice.actions, advice.pending, advice.avoid]


HEADINGS = ("attitudes", "do", "pending", "avoid")


def test_every_group_is_rendered_in_order_with_its_sources(every_group: Advice) -> None:
    labels = dict(every_group.labels)
    text = every_group.to_text(sources=True)
    markdown = every_group.to_markdown()
    shown_html = html.unescape(every_group._repr_html_())
    for shown in (text, _plain(markdown), shown_html):
        positions = [shown.index(labels[key]) for key in HEADINGS]
        assert positions == sorted(positions), shown
    # Each recommendation, in every group, is followed by its own source.
    for section in ("<i>A</i>", "<i>B</i>", "<i>C</i>", "<i>D</i>"):
        assert f"§ {section}:" in text
        assert f"§ {section}:" in _plain(markdown)
        assert f"§ {section}:" in shown_html
    assert text.count(labels["sources"]) == 4
    assert re.findall(r"^\[\^(\d)\]: ", markdown, flags=re.MULTILINE) == ["1", "2", "3", "4"]
    # The moves now and the pending ones are one numbered list; the others are bullets.
    assert " 1. [" in text
    assert " 2. [" in text
    assert '<ol start="2">' in every_group._repr_html_()


def test_every_group_is_escaped(every_group: Advice) -> None:
    _assert_escaped_markdown(every_group.to_markdown())
    shown = every_group._repr_html_()
    assert "<img" not in shown
    assert "<i>A</i>" not in shown
    assert shown.count("&lt;img") == 4 * 4  # title, text, rationale and quote of each


def test_markdown_keeps_french_non_breaking_spaces() -> None:
    advice = advise(locale="fr", mood="angry", offensive_remarks=2)
    markdown = advice.to_markdown()
    assert "\u00a0:" in advice.to_text()
    assert markdown.count("\u00a0") >= advice.to_text().count("\u00a0")
    assert " :" not in markdown.replace("\u00a0:", "")


def test_markdown_puts_each_field_on_one_line() -> None:
    from difficult_customers._markup import escape_markdown

    assert escape_markdown("first\n# second\r\nthird\u2028fourth") == (
        "first # second third fourth"
    )
    assert escape_markdown("# heading") == "\\# heading"
    assert escape_markdown("one\n\n  two") == "one two"
    assert escape_markdown("12. not a list") == "12\\. not a list"
    assert escape_markdown("a\u00a0: b  c") == "a\u00a0: b  c"


@settings(max_examples=60)
@given(
    state=states(),
    locale=st.sampled_from(["en", "fr", "pl"]),
    indent=st.sampled_from([None, 0, 1, 2, 4]),
    reference=st.booleans(),
)
def test_to_json_is_json_dumps_of_to_dict(
    state: ConversationState, locale: str, indent: int | None, reference: bool
) -> None:
    # Written from each recommendation's kept JSON: the same text as the plain dump, for
    # shared recommendations (the fast path) and new ones (the reference path) alike.
    make = _reference if reference else advise
    for _ in range(2):
        advice = make(state, locale=locale)
        expected = json.dumps(advice.to_dict(), ensure_ascii=False, indent=indent)
        assert advice.to_json(indent=indent) == expected
        assert json.loads(advice.to_json(indent=indent)) == advice.to_dict()


def test_to_json_keeps_a_bounded_number_of_recommendations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(advice_module, "MAX_KEPT_JSON", 3)
    # Empty to begin with: recommendations other tests kept would all be found, and a
    # cache that takes nothing new is never emptied down to the lowered bound.
    monkeypatch.setattr(advice_module, "_kept_json", {})
    for remarks in range(4):
        advice = _reference(offensive_remarks=remarks, agent_upset=True)
        assert advice.to_json(indent=None) == json.dumps(advice.to_dict(), ensure_ascii=False)
        assert len(advice_module._kept_json) <= 3
    # An indentation json.dumps takes but that is not a count is written as json.dumps does.
    assert advice.to_json(indent="\t") == json.dumps(  # type: ignore[arg-type]
        advice.to_dict(), ensure_ascii=False, indent="\t"
    )
