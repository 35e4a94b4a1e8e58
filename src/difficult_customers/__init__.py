"""Expert advice on handling difficult, angry and abusive customers, as cited, localized rules.

>>> from difficult_customers import advise
>>> advice = advise({"channel": "phone", "mood": "furious", "customer_speaking": True})
>>> advice[0].rule_id, advice[0].phase.value
('listen-without-interrupting', 'listen')
>>> advice.attitudes[0].rule_id, advice.pending[0].rule_id
('stay-calm', 'pause-before-responding')
"""

import contextlib

from .advice import Advice, Recommendation
from .conditions import Condition, Failure, parse_condition
from .conversation import Conversation, Turn
from .details import Details, FormOfAddress, Weekday
from .engine import Explanation, advise, advise_many, explain, iter_advice
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

# Show the public path in reprs and docs, as httpx does.
for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and getattr(_obj, "__module__", "").startswith(__name__ + "."):
        with contextlib.suppress(AttributeError, TypeError):
            _obj.__module__ = __name__
del _name, _obj
