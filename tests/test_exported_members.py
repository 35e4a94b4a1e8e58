"""The public API is exactly what __all__ lists, in every module."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import difficult_customers

MODULES = sorted(
    f"difficult_customers.{m.name}"
    for m in pkgutil.iter_modules(difficult_customers.__path__)
    if m.name != "__main__"
)


def test_package_all_is_complete() -> None:
    # dir(), not vars(): conversations and events are attributes loaded on first use.
    public = {name for name in dir(difficult_customers) if not name.startswith("_")}
    # Submodules become attributes of the package when imported; they are not API.
    public -= {m.rsplit(".", 1)[1] for m in MODULES} | {"contextlib"}
    assert public - {"rules"} <= set(difficult_customers.__all__) | {"rules"}
    assert set(difficult_customers.__all__) <= public | {"__version__", "rules"}


def test_every_export_exists() -> None:
    for name in difficult_customers.__all__:
        assert hasattr(difficult_customers, name), name


def test_exports_show_the_public_module() -> None:
    assert difficult_customers.ConversationState.__module__ == "difficult_customers"
    assert difficult_customers.advise.__module__ == "difficult_customers"
    # Loaded on first use, and relabelled then, events with the conversation that uses them.
    assert difficult_customers.Conversation.__module__ == "difficult_customers"
    assert difficult_customers.CustomerInsulted.__module__ == "difficult_customers"


def test_the_import_leaves_conversations_for_their_first_use() -> None:
    # A fresh interpreter: this one has imported everything already.
    code = (
        "import sys, difficult_customers as dc\n"
        "lazy = ('difficult_customers.conversation', 'difficult_customers.events')\n"
        "assert not any(name in sys.modules for name in lazy), sorted(sys.modules)\n"
        "assert {'Conversation', 'parse_event', 'Facts'} <= set(dir(dc))\n"
        "from difficult_customers import Conversation, CustomerMood, parse_event\n"
        "event = parse_event({'type': 'customer_mood', 'mood': 'angry'})\n"
        "assert isinstance(event, CustomerMood), event\n"
        "assert Conversation().apply(event).state.mood == 'angry'\n"
        "assert dc.Turn.__module__ == 'difficult_customers'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_an_unknown_attribute_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Conversations'"):
        _ = difficult_customers.Conversations  # type: ignore[attr-defined]


@pytest.mark.parametrize("module_name", MODULES)
def test_each_module_has_an_all(module_name: str) -> None:
    if module_name == "difficult_customers.frames":
        pytest.importorskip("polars")  # the [frames] extra; the main CI run installs it
    if module_name == "difficult_customers.parquet":
        pytest.importorskip("duckdb")  # the [sql] extra, absent from the floor run
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, module_name
    for name in exported:
        assert hasattr(module, name), (module_name, name)
