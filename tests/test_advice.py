"""Advice and Recommendation: the shape callers read."""

from __future__ import annotations

import dataclasses
import json

import pytest
from pydantic import ValidationError

from difficult_customers import Advice, Recommendation, advise


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
