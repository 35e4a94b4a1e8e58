"""Expert advice on handling difficult, angry and abusive customers, as cited, localized rules.

>>> from difficult_customers import advise
>>> advice = advise({"channel": "phone", "mood": "furious", "customer_speaking": True})
>>> advice[0].rule_id, advice[0].phase.value
('listen-without-interrupting', 'listen')
>>> advice.attitudes[0].rule_id, advice.pending[0].rule_id
('stay-calm', 'pause-before-responding')
"""

import contextlib
import typing

from ._detail_values import FormOfAddress, Weekday
from .conditions import Condition, parse_condition
from .engine import advise, advise_many, explain, iter_advice
from .errors import (
    ConditionError,
    ConditionSyntaxError,
    ConditionTypeError,
    ConversationEndedError,
    DifficultCustomersError,
    RulebookError,
    StateValidationError,
    UnknownFilterValueError,
    UnknownRuleError,
    UnsupportedLocaleError,
)
from .rules import (
    Effect,
    Kind,
    Phase,
    Phrasing,
    Rule,
    Rulebook,
    Source,
    default_rulebook,
    load_rulebook,
)
from .state import Channel, ComplaintValidity, ConversationState, CustomerValue, Mood

if typing.TYPE_CHECKING:
    from typing import Any

    from ._explanation import Explanation, Failure
    from .advice import Advice, Recommendation
    from .conversation import Conversation, Turn
    from .details import Details
    from .events import (
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
        parse_event,
    )

# Imported on first use (PEP 562), so that the import defines only what a rulebook and a
# state are made of: the results (loaded with the first advice), Details, the records of
# explain(), and conversations and their events (their models and union were a tenth of the
# import). See docs/performance.md, "Cold start".
_LAZY = {
    "Advice": "advice",
    "Recommendation": "advice",
    "Details": "details",
    "Explanation": "_explanation",
    "Failure": "_explanation",
    "Conversation": "conversation",
    "Turn": "conversation",
    **dict.fromkeys(
        (
            "AgentFollowed",
            "CustomerAttackedAgent",
            "CustomerFinishedSpeaking",
            "CustomerInsulted",
            "CustomerInterrupted",
            "CustomerMood",
            "CustomerStartedSpeaking",
            "CustomerThreatened",
            "Event",
            "Facts",
            "parse_event",
        ),
        "events",
    ),
}

__version__ = "0.1.0"

SUPPORTED_LOCALES = ("en", "fr", "pl")
"""The languages of the built-in catalogs."""


def rules(
    *,
    kind: Kind | str | None = None,
    phase: Phase | str | None = None,
    tag: str | None = None,
    reads: str | None = None,
    document: str | None = None,
) -> tuple[Rule, ...]:
    """The built-in rules, in advice order, optionally filtered (see :meth:`Rulebook.filter`).

    Raises:
        UnknownFilterValueError: a value matches nothing that exists, such as a misspelled
            tag or field (the closest known value is suggested).
    """
    return default_rulebook().filter(
        kind=kind, phase=phase, tag=tag, reads=reads, document=document
    )


__all__ = [
    "SUPPORTED_LOCALES",
    "Advice",
    "AgentFollowed",
    "Channel",
    "ComplaintValidity",
    "Condition",
    "ConditionError",
    "ConditionSyntaxError",
    "ConditionTypeError",
    "Conversation",
    "ConversationEndedError",
    "ConversationState",
    "CustomerAttackedAgent",
    "CustomerFinishedSpeaking",
    "CustomerInsulted",
    "CustomerInterrupted",
    "CustomerMood",
    "CustomerStartedSpeaking",
    "CustomerThreatened",
    "CustomerValue",
    "Details",
    "DifficultCustomersError",
    "Effect",
    "Event",
    "Explanation",
    "Facts",
    "Failure",
    "FormOfAddress",
    "Kind",
    "Mood",
    "Phase",
    "Phrasing",
    "Recommendation",
    "Rule",
    "Rulebook",
    "RulebookError",
    "Source",
    "StateValidationError",
    "Turn",
    "UnknownFilterValueError",
    "UnknownRuleError",
    "UnsupportedLocaleError",
    "Weekday",
    "__version__",
    "advise",
    "advise_many",
    "default_rulebook",
    "explain",
    "iter_advice",
    "load_rulebook",
    "parse_condition",
    "parse_event",
    "rules",
]


def _relabel(obj: object) -> None:
    """Show the public path in reprs and docs, as httpx does."""
    if getattr(obj, "__module__", "").startswith(__name__ + "."):
        with contextlib.suppress(AttributeError, TypeError):
            obj.__module__ = __name__


def __getattr__(name: str) -> "Any":
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    import sys

    importlib.import_module(f"{__name__}.{module_name}")
    # Every lazy export of the modules now loaded (conversation loads events), relabelled
    # as the others are at import, and kept, so that __getattr__ is not called again.
    for lazy, owner in _LAZY.items():
        module = sys.modules.get(f"{__name__}.{owner}")
        if module is not None and lazy not in globals():
            value = getattr(module, lazy)
            _relabel(value)
            globals()[lazy] = value
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


for _name in __all__:
    if _name not in _LAZY:
        _relabel(globals()[_name])
del _name, typing
