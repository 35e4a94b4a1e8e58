"""tools/catalogs.py: form-of-address variants survive `update` and are checked by `check`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.catalog import Catalog, Message

TOOLS = Path(__file__).resolve().parents[1] / "tools"
EMPATHY = (
    "I understand your frustration, and in your place I would be upset too."
    " We're on the same side here."
)
WARNING_IN_WRITING = (
    "I don't have to accept being spoken to like this, and I won't. I'm here to help you, but if"
    " this continues, I will end this conversation."
)


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("catalogs_tool", TOOLS / "catalogs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("catalogs_tool", module)
    spec.loader.exec_module(module)
    return module


def polish(*messages: Message) -> Catalog:
    catalog = Catalog(locale="pl", domain="difficult_customers")
    for message in messages:
        catalog[message.id] = message
    return catalog


def test_update_keeps_variants_next_to_their_phrasing(tool: ModuleType) -> None:
    catalog = polish(
        Message(EMPATHY, "Rozumiem Pani frustrację.", context="show-empathy|feminine"),
        Message(EMPATHY, "Rozumiem Państwa frustrację.", context="show-empathy"),
        Message("Gone.", "Nie ma.", context="show-empathy|masculine"),
    )
    notes = tool.merge(catalog, tool.template())
    contexts = [m.context for m in catalog if m.id == EMPATHY]
    assert contexts == ["show-empathy", "show-empathy|feminine"]
    kept = catalog.get(EMPATHY, context="show-empathy|feminine")
    assert kept.string == "Rozumiem Pani frustrację."
    assert "form_of_address" in " ".join(kept.auto_comments)
    assert notes == [
        "pl: dropped variant 'show-empathy|masculine' of a phrasing no longer in the rules:"
        " 'Gone.'"
    ]
    assert catalog.get("Gone.", context="show-empathy|masculine") is None


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (Message(EMPATHY, "Rozumiem Pani.", context="show-empathy|pani"), "unknown form"),
        (Message("Hello.", "Dzień dobry.", context="show-empathy|feminine"), "no phrasing"),
        # The generic warning is only ever said in writing: a variant would never be used.
        (Message(WARNING_IN_WRITING, "Pani", context="issue-warning|feminine"), "no phrasing"),
        (Message(EMPATHY, "", context="show-empathy|feminine"), "empty translation"),
    ],
)
def test_check_reports_unsound_variants(tool: ModuleType, message: Message, problem: str) -> None:
    (found,) = tool.variant_problems(polish(message))
    assert problem in found
    assert message.context in found


def test_sound_variants_pass(tool: ModuleType) -> None:
    variant = Message(EMPATHY, "Rozumiem Pana frustrację.", context="show-empathy|masculine")
    assert tool.variant_problems(polish(variant)) == []


def test_the_committed_catalogs_are_sound(tool: ModuleType) -> None:
    assert tool.check() == 0
