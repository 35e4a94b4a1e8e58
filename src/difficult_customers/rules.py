"""Rules, their sources and phrasing, and loading a rulebook from TOML."""

# Annotations not postponed, for a quicker import: see state.py.

import re
import string
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema

from ._detail_values import DETAIL_NAMES
from ._files import read_regular_file
from ._text import MAX_SHOWN, close_matches, control_character, describe_control, shown
from .conditions import Condition, parse_condition, state_schema
from .errors import (
    ConditionError,
    RulebookError,
    UnknownFilterValueError,
    UnknownRuleError,
    UnsupportedLocaleError,
)
from .i18n import LazyCatalogs
from .state import Channel, ConversationState

if TYPE_CHECKING:
    from babel import Locale

__all__ = [
    "MAX_OVERRIDES",
    "MAX_PACK_BYTES",
    "MAX_PACK_DESCRIPTION",
    "MAX_PACK_NAME",
    "MAX_PACK_NESTING",
    "MAX_PACK_RULES",
    "MAX_PHRASINGS",
    "MAX_SOURCES",
    "MAX_TAGS",
    "Effect",
    "Kind",
    "Phase",
    "Phrasing",
    "Rule",
    "Rulebook",
    "Source",
    "default_rulebook",
    "load_rulebook",
]

BUILTIN_RULEBOOK = Path(__file__).with_name("rulebook.toml")
DOMAIN = "difficult_customers"

# Limits on what a rule pack may hold, so that loading an untrusted pack takes bounded time
# and memory. Documented in docs/rule-packs.md ("Limits").

#: Largest pack file read, in bytes; the built-in rulebook is about 47 kB.
MAX_PACK_BYTES = 4 * 1024 * 1024
#: Most rules one pack may hold (the built-in rulebook has about 60).
MAX_PACK_RULES = 5000
#: Deepest nesting of tables and arrays in a pack file; a pack needs 6 (the file, [[rules]],
#: a rule, its phrasing list, one phrasing, its channels).
MAX_PACK_NESTING = 16
#: Longest ``[pack] name``, in characters.
MAX_PACK_NAME = 80
#: Longest ``[pack] description``, in characters.
MAX_PACK_DESCRIPTION = 2000
#: Most phrasing entries of one rule.
MAX_PHRASINGS = 32
#: Most sources of one rule.
MAX_SOURCES = 32
#: Most tags of one rule.
MAX_TAGS = 16
#: Most rules one rule may override.
MAX_OVERRIDES = 256


class Kind(StrEnum):
    """Whether a rule recommends an action or warns against one."""

    DO = "do"
    AVOID = "avoid"


class Phase(StrEnum):
    """The de-escalation ladder, in the order advice is given.

    Protect first, keep your composure, listen, cool things down, acknowledge, resolve,
    escalate if needed, conclude, then follow up.
    """

    SAFETY = "safety"
    COMPOSURE = "composure"
    LISTEN = "listen"
    DE_ESCALATE = "de_escalate"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    CONCLUDE = "conclude"
    FOLLOW_UP = "follow_up"

    @property
    def rank(self) -> int:
        """Position in the ladder, 0 for safety."""
        return _PHASE_RANK[self]


_PHASE_RANK = {phase: rank for rank, phase in enumerate(Phase)}


def _no_controls(value: str) -> str:
    position = control_character(value)
    if position is not None:
        raise ValueError(f"{describe_control(value[position])} at position {position + 1}")
    return value


def _no_controls_but_line_breaks(value: str) -> str:
    position = control_character(value, line_breaks=True)
    if position is not None:
        message = describe_control(value[position], line_breaks=True)
        raise ValueError(f"{message} at position {position + 1}")
    return value


_RULE_ID_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
RuleId = Annotated[str, StringConstraints(pattern=_RULE_ID_PATTERN, max_length=64)]
# Pack text reaches terminals and documents: control characters are refused at load, so
# that nothing downstream has to trust it (see _text.py).
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=600),
    AfterValidator(_no_controls),
]


class Source(BaseModel):
    """The seed passage a rule comes from.

    >>> Source(document="004_5f4e5305fe903518.txt", section="Manière",
    ...        quote="Maintenez toujours une manière polie").section
    'Manière'

    .. versionadded:: 0.1
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    document: Annotated[
        str,
        StringConstraints(pattern=r"^[^/\\]+$", max_length=200),
        AfterValidator(_no_controls),
    ] = Field(description="The seed file's name.")
    section: (
        Annotated[
            str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_controls)
        ]
        | None
    ) = Field(
        default=None,
        description="The seed's heading exactly as written; null for the untitled opening.",
    )
    # A quote may run over a paragraph break of its seed.
    quote: Annotated[
        str,
        StringConstraints(min_length=10, max_length=2000),
        AfterValidator(_no_controls_but_line_breaks),
    ] = Field(description="A verbatim excerpt of that section.")


def _placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a phrase; only bare names are allowed."""
    found: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"malformed placeholder in {text!r}: {exc}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(
                f"placeholder {{{name}}} is not allowed: use a plain detail name such as "
                "{callback_in}, without attributes, indexes, conversions or format specs"
            )
        found.add(name)
    return found


def _parse_when(value: object) -> object:
    if isinstance(value, str):
        # Line breaks and comments are part of the language, so the text is kept as written;
        # joining lines here would let a "# comment" swallow the clauses after it.
        return parse_condition(value.strip())
    if isinstance(value, Condition):
        # Re-validated: a condition parsed against another schema may name other fields.
        return parse_condition(value.source)
    raise ValueError(f"must be a condition written as a string, not {type(value).__name__}")


# The fields below serialize with plain functions in their core schemas rather than with
# PlainSerializer: importing pydantic.functional_serializers was a tenth of the import's own
# share.
def _condition_source(condition: Condition) -> str:
    return condition.source


class _ParsedWhen:
    """The schema of a ``when``: :func:`_parse_when` alone, which always returns a Condition,
    written back as its source.

    Not ``BeforeValidator``: that would also make pydantic build a schema for the Condition
    dataclass, whose annotations it resolves in the module named by ``__module__`` when the
    (deferred) rule models are first used, and the package relabels that to its own.
    """

    @staticmethod
    def __get_pydantic_core_schema__(source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # The inner schema passes on what _parse_when returned; it carries a reference, as
        # the dataclass's schema did, so that the JSON Schema stays exactly what it was
        # (pydantic gives a field a "title" unless its schema is a referenced one).
        return core_schema.no_info_before_validator_function(
            _parse_when,
            core_schema.any_schema(ref="difficult_customers.Condition"),
            serialization=core_schema.plain_serializer_function_ser_schema(
                _condition_source, return_schema=core_schema.str_schema()
            ),
        )


WhenCondition = Annotated[
    Condition,
    _ParsedWhen,
    WithJsonSchema({"type": "string", "description": "A precondition over the state."}),
]


class Phrasing(BaseModel):
    """One way of saying a rule, for some channels, details supplied or situations."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True
    )

    text: Text = Field(description="English source text, a gettext msgid.")
    channels: tuple[Channel, ...] = Field(
        default=(), description="Only for these channels; empty for every channel."
    )
    requires: tuple[str, ...] = Field(
        default=(), description="Details that must be supplied; exactly its placeholders."
    )
    when: WhenCondition | None = Field(
        default=None,
        description="Only in states where this condition holds (the wording follows the "
        "situation, as in 001's direct words for verbal abuse); none for every state.",
    )
    addition: Text | None = Field(
        default=None,
        description="What this wording says that no seed does, in a few words: marks the "
        "project's own advice, so that a reader can tell it from the cited tactic.",
    )

    def fits(self, channel: Channel) -> bool:
        """Whether this phrasing may be used on a channel."""
        return not self.channels or channel in self.channels

    def applies(self, values: Mapping[str, object] | None) -> bool:
        """Whether the phrasing's condition holds; without state values, only if it has none."""
        if self.when is None:
            return True
        return values is not None and self.when.evaluate(values)

    @model_validator(mode="after")
    def _placeholders_match(self) -> "Phrasing":
        used = _placeholders(self.text)
        unknown = sorted((used | set(self.requires)) - DETAIL_NAMES)
        if unknown:
            raise ValueError(
                f"unknown detail {unknown[0]!r}; known details: {', '.join(sorted(DETAIL_NAMES))}"
            )
        if used != set(self.requires):
            raise ValueError(
                f"placeholders {sorted(used)} must equal requires {sorted(self.requires)}"
            )
        return self


#: The largest step an increment effect may take (``warnings_given = "+1"``).
MAX_INCREMENT = 100


class Effect(BaseModel):
    """One change that carrying out a rule makes to the conversation state.

    Written in a rule's ``effects`` table as ``field = value``: a boolean or an enum value
    sets the field; for a count, an integer sets it and ``"+N"`` adds ``N`` to it.

    >>> Effect.parse("warnings_given", "+1").written()
    '+1'
    >>> Effect.parse("ended", True)
    Effect(field='ended', value=True, increment=False)

    .. versionadded:: 0.2
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    field: str
    value: bool | int | str
    increment: bool = False

    @classmethod
    def parse(cls, name: str, value: object) -> "Effect":
        """Validate ``name = value`` against the fields of the conversation state.

        Raises:
            ValueError: unknown field (with the closest one), or a value of the wrong type.
        """
        schema = state_schema()
        field_type = schema.get(name)
        if field_type is None:
            close = close_matches(name, list(schema), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown state field {shown(name)}{hint}")
        if field_type.kind == "bool":
            if type(value) is not bool:
                raise ValueError(
                    f"{name} is a boolean: set it to true or false, not {_written(value)}"
                )
            return cls(field=name, value=value)
        if field_type.kind == "enum":
            if not isinstance(value, str) or value not in field_type.values:
                raise ValueError(f"{name} must be {field_type.describe()}, not {_written(value)}")
            return cls(field=name, value=value)
        if type(value) is int and 0 <= value <= 10_000:
            return cls(field=name, value=value)
        # ASCII digits, and few: "+" and 5,000 digits cannot be converted, and "+٣" is no
        # way to write 3 in a pack.
        digits = value[1:] if isinstance(value, str) and value.startswith("+") else ""
        if 1 <= len(digits) <= len(str(MAX_INCREMENT)) and digits.isascii() and digits.isdigit():
            step = int(digits)
            if 1 <= step <= MAX_INCREMENT:
                return cls(field=name, value=step, increment=True)
        raise ValueError(
            f"{name} is a count: set it to an integer or add to it with a string such as "
            f'"+1" (at most +{MAX_INCREMENT}), not {_written(value)}'
        )

    def written(self) -> bool | int | str:
        """The value as a rule pack writes it."""
        return f"+{self.value}" if self.increment else self.value


def _parse_effects(value: object) -> object:
    if isinstance(value, Mapping):
        # Sorted by field: one spelling per set of effects, whatever the table's order.
        return tuple(Effect.parse(str(name), value[name]) for name in sorted(value))
    if isinstance(value, tuple) and all(isinstance(item, Effect) for item in value):
        return value
    raise ValueError(f"must be a table of state fields, not {type(value).__name__}")


def _written_effects(effects: tuple[Effect, ...]) -> dict[str, bool | int | str]:
    return {effect.field: effect.written() for effect in effects}


class _ParsedEffects:
    """The schema of ``effects``: a table of state fields in, the same table out."""

    @staticmethod
    def __get_pydantic_core_schema__(source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(
            _parse_effects,
            handler(source),
            serialization=core_schema.plain_serializer_function_ser_schema(
                _written_effects, return_schema=core_schema.dict_schema()
            ),
        )


Effects = Annotated[
    tuple[Effect, ...],
    _ParsedEffects,
    WithJsonSchema({"type": "object", "description": "State changes once the rule is followed."}),
]


class Rule(BaseModel):
    """One tactic from the seeds: when it applies, what to say, and where it comes from.

    >>> rule = default_rulebook()["stay-calm"]
    >>> rule.phase, sorted(rule.when.fields)[:2]
    (<Phase.COMPOSURE: 'composure'>, ['agent_upset', 'mood'])

    .. versionadded:: 0.1
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True
    )

    id: RuleId
    kind: Kind
    phase: Phase
    priority: int = Field(default=50, ge=0, le=1000)
    firmness: int = Field(default=0, ge=0, le=3)
    tags: tuple[
        Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)], ...
    ] = Field(default=(), max_length=MAX_TAGS)
    when: WhenCondition
    overrides: tuple[RuleId, ...] = Field(default=(), max_length=MAX_OVERRIDES)
    conflicts_with: tuple[RuleId, ...] = Field(
        default=(),
        max_length=MAX_OVERRIDES,
        description="Rules whose advice contradicts this one's: they must never be advised "
        "together. Unlike overrides, it decides nothing; `check` proves the pair never meets.",
    )
    title: Text
    phrasing: tuple[Phrasing, ...] = Field(min_length=1, max_length=MAX_PHRASINGS)
    rationale: Text
    sources: tuple[Source, ...] = Field(min_length=1, max_length=MAX_SOURCES)
    replace: bool = Field(
        default=False, description="In a rule pack: replace the built-in rule of the same id."
    )
    effects: Effects = Field(
        default=(),
        description="How the state changes once the agent has carried the rule out.",
    )
    repeats: bool | Literal["each_turn"] = Field(
        default=False,
        description="Advised again after the agent has carried it out: true (always), false "
        '(never) or "each_turn" (again once the customer has spoken again). Default: true '
        "for avoid rules and for attitudes (do rules of the composure phase), false for moves.",
    )
    after_ending: bool = Field(
        default=False,
        description="Still advised once the conversation has ended (what is left to do).",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_repeats(cls, data: Any) -> Any:
        # What not to do, and how to hold oneself, stay true for the whole conversation;
        # a move, once made, is not made again.
        if isinstance(data, Mapping) and "repeats" not in data:
            kind, phase = str(data.get("kind", "")), str(data.get("phase", ""))
            data = {**data, "repeats": kind == Kind.AVOID or phase == Phase.COMPOSURE}
        return data

    # TOML types its values: a "5", a 5.0 or a true where a number or a boolean belongs is a
    # mistake in the pack, which pydantic's lax mode would read as 5, 5 and 1 ("yes" as true).
    @field_validator("priority", "firmness", mode="before")
    @classmethod
    def _whole_number(cls, value: object, info: ValidationInfo) -> object:
        if type(value) is not int:
            low, high = (0, 1000) if info.field_name == "priority" else (0, 3)
            raise ValueError(f"must be an integer from {low} to {high}, not {_written(value)}")
        return value

    @field_validator("replace", "after_ending", mode="before")
    @classmethod
    def _boolean(cls, value: object) -> object:
        if type(value) is not bool:
            raise ValueError(f"must be true or false, not {_written(value)}")
        return value

    @field_validator("repeats", mode="before")
    @classmethod
    def _repeats(cls, value: object) -> object:
        if type(value) is not bool and not (type(value) is str and value == "each_turn"):
            raise ValueError(f'must be true, false or "each_turn", not {_written(value)}')
        return value

    @property
    def additions(self) -> tuple[str, ...]:
        """What the rule's wordings add to the seeds: the project's own advice, if any."""
        return tuple(p.addition for p in self.phrasing if p.addition is not None)

    @property
    def attitude(self) -> bool:
        """A do rule of the composure phase: how to hold oneself, not a move to make."""
        return self.kind is Kind.DO and self.phase is Phase.COMPOSURE

    @field_validator("overrides", "conflicts_with", "tags")
    @classmethod
    def _each_once(cls, overrides: tuple[str, ...]) -> tuple[str, ...]:
        twice = _repeated(overrides)
        if twice is not None:
            raise ValueError(f"{twice!r} is listed twice")
        return overrides

    @model_validator(mode="after")
    def _consistent(self) -> "Rule":
        if self.id in self.overrides:
            raise ValueError("a rule cannot override itself")
        if self.id in self.conflicts_with:
            raise ValueError("a rule cannot conflict with itself")
        if self.effects and self.kind is Kind.AVOID:
            raise ValueError("an avoid rule is not carried out, so it cannot have effects")
        twice = _repeated(p.text for p in self.phrasing)
        if twice is not None:
            raise ValueError(f"phrasing text repeated: {twice!r}")
        fallbacks = [p for p in self.phrasing if not p.requires and p.when is None]
        for channel in Channel:
            if not any(p.fits(channel) for p in fallbacks):
                raise ValueError(
                    f"no phrasing without details for channel {channel.value!r}: end the list "
                    "with an entry that has no channels, no requires and no when"
                )
        return self

    @property
    def sort_key(self) -> tuple[int, int, str]:
        """Phase, then priority, then id: the order advice is given in."""
        return (self.phase.rank, self.priority, self.id)

    def phrasing_for(
        self,
        channel: Channel,
        supplied: frozenset[str],
        values: Mapping[str, object] | None = None,
        *,
        holds: Callable[[int], bool] | None = None,
    ) -> "Phrasing":
        """The first phrasing that fits the channel, the supplied details and the state.

        ``values`` are the state's fields; without them, phrasings with a ``when`` are
        passed over. ``holds(i)``, if given, says whether the ``when`` of the ``i``-th
        phrasing holds for the state, evaluated already (the engine's compiled evaluator
        computes every phrasing's ``when`` with the rules' conditions).

        .. versionchanged:: 0.2 ``holds``.
        """
        for position, phrasing in enumerate(self.phrasing):
            if (
                phrasing.fits(channel)
                and supplied.issuperset(phrasing.requires)
                and (
                    phrasing.applies(values)
                    if holds is None or phrasing.when is None
                    else holds(position)
                )
            ):
                return phrasing
        raise AssertionError("unreachable: validation guarantees a fallback")  # pragma: no cover

    def _repr_html_(self) -> str:
        from ._markup import escape_html as esc  # renderings only: not imported at import

        # Everything but the id, kind and phase (validated patterns and enums) is pack text.
        phrasings = "".join(f"<li>{esc(p.text)}</li>" for p in self.phrasing)
        sources = "".join(
            f"<li><cite>{esc(s.document)}</cite> § {esc(s.section or '(opening)')}: "
            f"<q>{esc(s.quote)}</q></li>"
            for s in self.sources
        )
        return (
            f"<p><code>{self.id}</code> ({self.kind.value}, {self.phase.value}):"
            f" <b>{esc(self.title)}</b></p><dl>"
            f"<dt>when</dt><dd><code>{esc(_one_line(self.when.source))}</code></dd>"
            f"<dt>phrasing</dt><dd><ul>{phrasings}</ul></dd>"
            f"<dt>rationale</dt><dd>{esc(self.rationale)}</dd>"
            f"<dt>sources</dt><dd><ul>{sources}</ul></dd></dl>"
        )

    def messages(self) -> Iterator[str]:
        """Every English source message of the rule (title, phrasing, rationale)."""
        yield self.title
        for phrasing in self.phrasing:
            yield phrasing.text
        yield self.rationale


def _written(value: object) -> str:
    """A value as an error shows it: ``true`` as TOML and JSON write it, the rest as repr."""
    return str(value).lower() if isinstance(value, bool) else repr(value)[:80]


def _repeated(items: Iterable[str]) -> str | None:
    """The first item (in sorted order) that occurs more than once; linear in the items."""
    counts = Counter(items)
    repeated = sorted(item for item, count in counts.items() if count > 1)
    return repeated[0] if repeated else None


class Rulebook:
    """An ordered, validated set of rules with the catalogs that translate them.

    Iterating yields rules in advice order (phase, priority, id); ``rulebook["id"]`` looks one
    up. Build one with :func:`load_rulebook`; the built-in one is :func:`default_rulebook`.

    .. versionadded:: 0.1
    """

    __slots__ = ("__weakref__", "_by_id", "_cache", "_catalogs", "name", "rules")

    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        catalogs: Mapping[str, Mapping[tuple[str, str], str]] | None = None,
        name: str = "custom",
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"a rulebook's name is a string, not {type(name).__name__}")
        problem = _name_problem(name)
        if problem is not None:
            raise RulebookError(f"invalid rulebook name: {problem}", field="name")
        given = tuple(rules)
        for rule in given:
            if not isinstance(rule, Rule):
                raise TypeError(f"a Rulebook holds Rule objects, not {type(rule).__name__}")
        # Lazy catalogs are read when a language is first asked for (and checked then).
        lazy = isinstance(catalogs, LazyCatalogs)
        for locale, catalog in () if lazy else (catalogs or {}).items():
            if not isinstance(catalog, Mapping):
                raise TypeError(f"catalog for {locale!r} must be a mapping, not {catalog!r}")
        ordered = tuple(sorted(given, key=lambda rule: rule.sort_key))
        by_id: dict[str, Rule] = {}
        for rule in ordered:
            if rule.id in by_id:
                raise RulebookError(f"duplicate rule id {rule.id!r}", file=name, rule=rule.id)
            by_id[rule.id] = rule
        _check_overrides(by_id, name)
        self.rules: tuple[Rule, ...] = ordered
        self.name = name
        # Copied and read-only: locales and rendered texts are cached from them, so a
        # catalog changed afterwards would make the cache lie. Lazy catalogs are read-only
        # already, and read a language only when it is first asked for.
        self._catalogs: Mapping[str, Mapping[tuple[str, str], str]] = (
            catalogs
            if lazy and catalogs is not None
            else MappingProxyType(
                {
                    locale: MappingProxyType(dict(catalog))
                    for locale, catalog in (catalogs or {}).items()
                }
            )
        )
        self._by_id = by_id
        # Derived artefacts (compiled evaluator, rendered texts) are stored here by the engine
        # and i18n modules, so that they are built once per rulebook.
        self._cache: dict[str, Any] = {}

    @property
    def catalogs(self) -> Mapping[str, Mapping[tuple[str, str], str]]:
        """``{language: {(rule id or @context, English message): translation}}``, read-only.

        .. versionchanged:: 0.2 read-only mappings (copies of what was passed in).
        """
        return self._catalogs

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling (for multiprocessing) carries the rules and catalogs only; the compiled
        # evaluator and rendered texts are rebuilt on first use. The built-in rulebook
        # unpickles as the receiving process's own, loaded once there.
        if self is _DEFAULT:
            return (default_rulebook, ())
        catalogs = {locale: dict(catalog) for locale, catalog in self._catalogs.items()}
        return (_rebuilt, (self.rules, catalogs, self.name))

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._by_id

    def __getitem__(self, rule_id: str) -> Rule:
        try:
            return self._by_id[rule_id]
        except KeyError:
            close = close_matches(str(rule_id), self._by_id, n=1)
            raise UnknownRuleError(rule_id, suggestion=close[0] if close else None) from None

    def __repr__(self) -> str:
        return f"<Rulebook {self.name!r}: {len(self.rules)} rules>"

    @property
    def ids(self) -> tuple[str, ...]:
        """Rule ids in advice order."""
        return tuple(rule.id for rule in self.rules)

    @property
    def locales(self) -> tuple[str, ...]:
        """Locales in which every message of every rule is translated ("en" is the source)."""
        cached: tuple[str, ...] | None = self._cache.get("locales")
        if cached is None:
            complete = {locale for locale in self.catalogs if not self.missing(locale)}
            cached = tuple(sorted(complete | {"en"}))
            self._cache["locales"] = cached
        return cached

    def _supports(self, language: str) -> bool:
        """``language in self.locales``, reading only that language's catalog."""
        known: tuple[str, ...] | None = self._cache.get("locales")
        if known is not None:
            return language in known
        supported: dict[str, bool] = self._cache.setdefault("supported", {})
        answer = supported.get(language)
        if answer is None:
            answer = language == "en" or (language in self.catalogs and not self.missing(language))
            supported[language] = answer
        return answer

    def missing(self, locale: "str | Locale") -> list[tuple[str, str]]:
        """The ``(rule id, English message)`` pairs that have no translation in a language.

        Args:
            locale: a language (``"fr"``) or a locale of one (``"fr_FR"``, ``"pl-PL"``, a
                Babel ``Locale``), read as :func:`advise` reads it: the catalog of the
                locale if the rulebook has one, else that of its language. A language
                without a catalog misses every message.

        Raises:
            UnsupportedLocaleError: ``locale`` is not a locale at all.

        .. versionadded:: 0.1
        .. versionchanged:: 0.2
           A regional locale is read as its language, as :func:`advise` reads it (it was
           looked up as written, so ``"fr_FR"`` missed every message).
        """
        language = locale if type(locale) is str and locale in self.catalogs else None
        if language is None:
            language = self._catalog_language(locale)
        if language == "en":
            return []
        catalog = self.catalogs.get(language, {})
        return [
            (rule.id, message)
            for rule in self.rules
            for message in rule.messages()
            if (rule.id, message) not in catalog
        ]

    def _catalog_language(self, locale: object) -> str:
        """The catalog :meth:`missing` compares for ``locale``: the locale's, else its
        language's (``"en"`` for English, which needs none)."""
        from .i18n import PLAIN_LANGUAGES, _parse

        if type(locale) is str and locale in PLAIN_LANGUAGES:
            return locale  # no Babel for a plain language code, as in advise()
        parsed = _parse(locale)
        if parsed is None:
            raise UnsupportedLocaleError(locale, self.locales)
        name = str(parsed)
        return name if name in self.catalogs else parsed.language

    def filter(
        self,
        *,
        kind: Kind | str | None = None,
        phase: Phase | str | None = None,
        tag: str | None = None,
        reads: str | None = None,
        document: str | None = None,
    ) -> tuple[Rule, ...]:
        """The rules matching every criterion given, in advice order.

        Args:
            kind: "do" or "avoid".
            phase: a :class:`Phase` name.
            tag: a tag such as "empathy" or "ending", used by some rule of this rulebook.
            reads: a state field the precondition reads, such as "threats".
            document: a seed file some rule of this rulebook cites.

        Raises:
            UnknownFilterValueError: a value matches nothing that exists (a misspelled tag,
                state field or document), with the closest known value; also a
                ``ValueError``.

        .. versionchanged:: 0.2
           Unknown tags, fields and documents are refused instead of selecting nothing.
        """
        kind = _member(Kind, kind, "kind")
        phase = _member(Phase, phase, "phase")
        # A misspelled value would select nothing and look like a real answer: refuse it.
        _known(tag, sorted({t for rule in self.rules for t in rule.tags}), "tag")
        _known(reads, list(ConversationState.model_fields), "field")
        documents = {source.document for rule in self.rules for source in rule.sources}
        _known(document, sorted(documents), "document")
        return tuple(
            rule
            for rule in self.rules
            if (kind is None or rule.kind is kind)
            and (phase is None or rule.phase is phase)
            and (tag is None or tag in rule.tags)
            and (reads is None or reads in rule.when.fields)
            and (document is None or any(s.document == document for s in rule.sources))
        )

    def to_sql(self, dialect: str = "duckdb", *, columns: Iterable[str] | None = None) -> str:
        """The advice as one SQL expression for a SELECT list: ``rule_ids``, per row.

        The array of the ids of the rules in the advice, in advice order, over a table whose
        columns are state fields (``columns``: those it has, the others take their
        defaults; ``None``: all of them). Column types and dialects: ``docs/sql.md``.
        Needs the ``[sql]`` extra (sqlglot).

        >>> print(default_rulebook().to_sql("duckdb")[:30])
        CASE WHEN "abuse_after_warning

        Raises:
            ValueError: an unknown dialect, one whose SQL cannot hold the query (no
                arrays: MySQL, Doris, SingleStore), or a column that is not a state field
                or is named twice.
            TypeError: ``dialect`` is not a string, or ``columns`` is a string or holds
                something other than field names.
            RulebookError: the query would be longer than ``compile.sql.MAX_SQL_LENGTH``.
            ImportError: sqlglot is not installed.

        .. versionadded:: 0.2
        """
        from .compile.sql import rulebook_sql

        return rulebook_sql(self, dialect, columns)

    def _repr_markdown_(self) -> str:
        from ._markup import escape_markdown

        # Pack text is escaped: a name or condition comment must not become markup.
        lines = [
            f"**{escape_markdown(self.name)}**: {len(self.rules)} rules",
            "",
            "| id | kind | phase | when |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{r.id}` | {r.kind.value} | {r.phase.value} | {escape_markdown(r.when.source)} |"
            for r in self.rules
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from ._markup import escape_html

        rows = "".join(
            f"<tr><td><code>{r.id}</code></td><td>{r.kind.value}</td><td>{r.phase.value}</td>"
            f"<td><code>{escape_html(_one_line(r.when.source))}</code></td>"
            f"<td>{escape_html(r.title)}</td></tr>"
            for r in self.rules
        )
        return (
            f"<p><b>{escape_html(self.name)}</b>: {len(self.rules)} rules</p><table>"
            "<tr><th>id</th><th>kind</th><th>phase</th><th>when</th><th>title</th></tr>"
            f"{rows}</table>"
        )


def _rebuilt(
    rules: tuple[Rule, ...], catalogs: Mapping[str, Mapping[tuple[str, str], str]], name: str
) -> Rulebook:
    return Rulebook(rules, catalogs=catalogs, name=name)


_E = TypeVar("_E", Kind, Phase)


def _member(enum: type[_E], value: _E | str | None, name: str) -> _E | None:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = [member.value for member in enum]
        raise UnknownFilterValueError(
            name, value, allowed, suggestion=_closest(value, allowed)
        ) from None


def _known(value: object, known: list[str], name: str) -> None:
    if value is not None and value not in known:
        raise UnknownFilterValueError(name, value, known, suggestion=_closest(value, known))


def _closest(value: object, known: list[str]) -> str | None:
    text = str(value)
    # "004" for "004_5f4e5305fe903518.txt": a unique prefix is the likeliest meaning.
    starting = [name for name in known if text and name.startswith(text)]
    if len(starting) == 1:
        return starting[0]
    close = close_matches(text, known, n=1)
    return close[0] if close else None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check_overrides(by_id: Mapping[str, Rule], name: str) -> None:
    for rule in by_id.values():
        for key in ("overrides", "conflicts_with"):
            for target in getattr(rule, key):
                if target not in by_id:
                    close = close_matches(target, by_id, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise RulebookError(
                        f"{key.replace('_', ' ')} unknown rule {target!r}{hint}",
                        file=name,
                        rule=rule.id,
                        field=key,
                    )
    # A cycle would let rules remove each other and could leave no advice at all. Iterative
    # depth-first search: a pack may chain thousands of overrides.
    done: set[str] = set()
    for root in sorted(by_id):
        if root in done:
            continue
        path = [root]
        on_path = {root: 0}
        pending = [iter(by_id[root].overrides)]
        while pending:
            for target in pending[-1]:
                if target in done:
                    continue
                if target in on_path:
                    cycle = _shorten([*path[on_path[target] :], target])
                    raise RulebookError(
                        f"overrides form a cycle: {cycle}",
                        file=name,
                        rule=target,
                        field="overrides",
                    )
                on_path[target] = len(path)
                path.append(target)
                pending.append(iter(by_id[target].overrides))
                break
            else:
                pending.pop()
                finished = path.pop()
                del on_path[finished]
                done.add(finished)


def _shorten(path: list[str], keep: int = 6) -> str:
    """``a -> b -> ... -> z``, eliding the middle of a long path to keep errors one line."""
    if len(path) <= 2 * keep:
        return " -> ".join(path)
    hidden = len(path) - 2 * keep
    return " -> ".join([*path[:keep], f"... ({hidden} more)", *path[-keep:]])


def _name_problem(name: str) -> str | None:
    """What is wrong with a pack name, or ``None``: it is shown, logged and compiled in."""
    if not name.strip():
        return "must not be empty"
    position = control_character(name)
    if position is not None:
        return describe_control(name[position])
    if len(name) > MAX_PACK_NAME:
        return f"must be at most {MAX_PACK_NAME} characters"
    return None


def _depth_problem(data: object) -> str | None:
    """Refuse nesting deeper than MAX_PACK_NESTING, walking iteratively."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_PACK_NESTING:
            return f"tables and arrays are nested more than {MAX_PACK_NESTING} levels deep"
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return None


_TOP_LEVEL_KEYS = frozenset({"rules", "pack"})
_PACK_KEYS = frozenset({"name", "description", "disable"})


# Plain classes rather than NamedTuples or dataclasses, here and below: records only this
# module builds, and defining either of those costs a fraction of a millisecond at import.
class _Pack:
    """A pack file, read and validated on its own (before it is merged over a base)."""

    __slots__ = ("description", "disable", "name", "rules")

    def __init__(
        self, name: str, description: str | None, disable: tuple[str, ...], rules: list[Rule]
    ) -> None:
        self.name = name
        self.description = description
        self.disable = disable
        self.rules = rules


def _long_integer(text: str) -> int | None:
    """The line of the first integer too long for Python to convert, or ``None``."""
    limit = sys.get_int_max_str_digits()
    if not limit:  # no limit in this interpreter
        return None
    # A value (after "=", "[" or ",") of digits, with TOML's underscores between them.
    value = r"(?:^|[=\[,{])[ \t]*[+-]?([0-9][0-9_]{" + str(limit - 1) + ",})"
    for found in re.finditer(value, text, re.MULTILINE):
        number = found.group(1)
        if len(number) - number.count("_") > limit:
            return text.count("\n", 0, found.start(1)) + 1
    return None


def _read_pack(path: Path) -> _Pack:
    # Here, not at import: the built-in rules usually come prebuilt (see _prebuilt.py).
    import tomllib

    file = str(path)
    text = ""
    try:
        raw = read_regular_file(path, MAX_PACK_BYTES)
        # A byte order mark is no TOML, but Windows editors write one.
        text = raw.decode("utf-8").removeprefix("\ufeff")
        data = tomllib.loads(text)
    except OSError as exc:
        raise RulebookError(
            f"cannot read the rule pack: {exc.strerror or exc}", file=file
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise RulebookError(f"not valid TOML: {exc}", file=file) from None
    except UnicodeDecodeError as exc:
        # Everything before the first bad byte decodes: it gives the line and the column.
        before = raw[: exc.start].decode("utf-8").removeprefix("\ufeff")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        raise RulebookError(
            f"not valid TOML: not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line}, "
            f"column {column})",
            file=file,
        ) from None
    except RecursionError:
        # tomllib descends recursively into nested arrays and inline tables.
        raise RulebookError(
            f"not a rule pack: tables and arrays are nested more than {MAX_PACK_NESTING} "
            "levels deep",
            file=file,
        ) from None
    except ValueError as exc:  # not a regular file, too large, a NUL byte in the path
        long_number = _long_integer(text)
        if long_number is not None:  # tomllib's int() refused it, saying neither where nor why
            raise RulebookError(
                f"not valid TOML: line {long_number}: an integer of more than "
                f"{sys.get_int_max_str_digits():,} digits (no key of a rule pack takes one)",
                file=file,
            ) from None
        raise RulebookError(f"cannot read the rule pack: {exc}", file=file) from None
    problem = _depth_problem(data)
    if problem is not None:
        raise RulebookError(f"not a rule pack: {problem}", file=file)
    unknown = sorted(set(data) - _TOP_LEVEL_KEYS)
    if unknown:
        raise RulebookError(
            f"unknown top-level key {shown(unknown[0])}; allowed: [pack] and [[rules]]", file=file
        )
    pack = data.get("pack", {})
    if not isinstance(pack, dict) or set(pack) - _PACK_KEYS:
        raise RulebookError("[pack] may only hold name, description and disable", file=file)
    name = _pack_name(pack, path)
    description = pack.get("description")
    if description is not None:
        problem = _description_problem(description)
        if problem is not None:
            raise RulebookError(problem, file=file, field="description")
    disable = pack.get("disable", [])
    if not isinstance(disable, list) or not all(isinstance(item, str) for item in disable):
        raise RulebookError(
            "[pack] disable must be a list of rule ids", file=file, field="disable"
        )
    for item in disable:
        if len(item) > 64 or not re.fullmatch(_RULE_ID_PATTERN, item):
            raise RulebookError(
                f"[pack] disable: {item[:64]!r} is not a rule id (kebab-case, at most 64 "
                "characters)",
                file=file,
                field="disable",
            )
    twice = _repeated(disable)
    if twice is not None:
        raise RulebookError(f"{twice!r} is listed twice", file=file, field="disable")
    entries = data.get("rules")
    if not isinstance(entries, list) or not entries:
        raise RulebookError("no [[rules]] found", file=file)
    if len(entries) > MAX_PACK_RULES:
        raise RulebookError(
            f"the pack holds {len(entries)} rules, more than {MAX_PACK_RULES} rules allowed",
            file=file,
        )
    rules = [_build_rule(entry, file, index) for index, entry in enumerate(entries)]
    return _Pack(name, description, tuple(disable), rules)


def _pack_name(pack: Mapping[str, object], path: Path) -> str:
    if "name" not in pack:
        problem = _name_problem(path.stem)
        if problem is not None:
            raise RulebookError(
                f"the file name {path.stem!r} cannot be the pack's name ({problem}); "
                "set [pack] name",
                file=str(path),
                field="name",
            )
        return path.stem
    name = pack["name"]
    if not isinstance(name, str):
        raise RulebookError(
            f"[pack] name must be a string, not {type(name).__name__}",
            file=str(path),
            field="name",
        )
    problem = _name_problem(name)
    if problem is not None:
        raise RulebookError(f"[pack] name: {problem}", file=str(path), field="name")
    return name


def _description_problem(description: object) -> str | None:
    if not isinstance(description, str):
        return f"[pack] description must be a string, not {type(description).__name__}"
    position = control_character(description, line_breaks=True)
    if position is not None:
        return f"[pack] description: {describe_control(description[position], line_breaks=True)}"
    if len(description) > MAX_PACK_DESCRIPTION:
        return f"[pack] description must be at most {MAX_PACK_DESCRIPTION} characters"
    return None


def _read_rules(path: Path) -> tuple[str, list[Rule]]:
    pack = _read_pack(path)
    return pack.name, pack.rules


def _build_rule(entry: object, file: str, index: int) -> Rule:
    if not isinstance(entry, dict):
        raise RulebookError(f"rule #{index + 1} is not a table", file=file)
    rule_id = entry.get("id")
    label = rule_id if isinstance(rule_id, str) else f"#{index + 1}"
    try:
        return Rule.model_validate(entry)
    except ConditionError as exc:
        raise exc.located(file=file, rule=label) from None
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # A misspelled key also shows up as a missing one; the misspelling is the news.
        error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, ConditionError):
            raise cause.located(file=file, rule=label) from None
        location = [str(part) for part in error["loc"]]
        field = location[0] if location else None
        # A nested key of any length may be what is wrong: a long one is shown cut.
        detail = ".".join(part if len(part) <= MAX_SHOWN else shown(part) for part in location[1:])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            close = close_matches(location[-1], Rule.model_fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            message = f"unknown key {shown(location[-1])}{hint}"
        where = f"{detail}: " if detail else ""
        raise RulebookError(f"{where}{message}", file=file, rule=label, field=field) from None


_DEFAULT: Rulebook | None = None
_DEFAULT_LOCK = threading.Lock()


def default_rulebook() -> Rulebook:
    """The built-in rulebook, loaded and validated once, also under concurrent first use.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 threads that ask at once share one load.
    """
    global _DEFAULT
    book = _DEFAULT
    if book is None:
        # functools.cache would let every thread that arrives before the first load ends
        # load its own copy: 16 threads gave up to 16 rulebooks, each with its own caches.
        with _DEFAULT_LOCK:
            book = _DEFAULT
            if book is None:
                name, rules, evaluators = _read_builtin()
                # Each language's catalog is read when first asked for: a process advising
                # in English reads one catalog, not three.
                from . import _prebuilt

                catalogs = LazyCatalogs(
                    builtin_locales_dir(), DOMAIN, prebuilt=_prebuilt.PREBUILT_DIR
                )
                book = Rulebook(rules, catalogs=catalogs, name=name)
                # The fast path's evaluators of exactly these rules, if they came prebuilt.
                book._cache.update(evaluators)
                _DEFAULT = book
    return book


def _read_builtin() -> tuple[str, list[Rule], dict[str, Any]]:
    """The built-in rules: as validated when the package was built, if that is still what
    ``rulebook.toml`` and the validating code give (see _prebuilt.py), else from the TOML;
    and the engine's evaluators for them built then (``{}`` from the TOML)."""
    from ._prebuilt import trusted_rules

    try:
        toml = read_regular_file(BUILTIN_RULEBOOK, MAX_PACK_BYTES)
    except (OSError, ValueError):
        toml = None  # reported by _read_rules, as for any pack
    trusted = None if toml is None else trusted_rules(toml)
    return trusted if trusted is not None else (*_read_rules(BUILTIN_RULEBOOK), {})


def builtin_locales_dir() -> Path:
    """Where the built-in catalogs are: inside the installed wheel, or the repository's top."""
    packaged = Path(__file__).with_name("locales")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "locales"


def load_rulebook(path: str | Path, *, base: Rulebook | None = None) -> Rulebook:
    """Load a rule pack and merge it over a base rulebook (the built-in one by default).

    A pack adds rules, and may replace a built-in rule by reusing its id with
    ``replace = true``, silence one through ``overrides``, or remove one altogether with
    ``[pack] disable = ["rule-id"]``. Its translations, if any, sit beside it in
    ``locales/<lang>/LC_MESSAGES/<pack file stem>.po``; a locale in which some pack message
    is untranslated is not supported by the merged rulebook. A pack's catalog may not change
    a translation the base already has (a built-in rule's, or a heading's) unless the pack
    replaces that rule.

    Args:
        path: the pack's TOML file.
        base: the rulebook to extend; ``None`` for the built-in one. Pass an empty
            ``Rulebook([])`` for a standalone pack.

    Raises:
        RulebookError: naming the file, the rule and the field that is wrong.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2
       ``[pack] disable``; limits on size, nesting and rules (see docs/rule-packs.md).
    """
    return _load(path, base)[0]


class _Merge:
    """What merging a pack did to its base, for ``difficult-customers check``."""

    __slots__ = ("disabled", "lost_locales", "pack_ids", "replaced")

    def __init__(
        self,
        pack_ids: tuple[str, ...],
        replaced: tuple[str, ...],
        disabled: tuple[str, ...],
        lost_locales: tuple[str, ...],
    ) -> None:
        self.pack_ids = pack_ids
        self.replaced = replaced
        self.disabled = disabled
        self.lost_locales = lost_locales


def _load(path: str | Path, base: Rulebook | None) -> tuple[Rulebook, _Merge]:
    path = Path(path)
    base = default_rulebook() if base is None else base
    if not isinstance(base, Rulebook):
        raise TypeError(f"base must be a Rulebook, not {type(base).__name__}")
    file = str(path)
    pack = _read_pack(path)
    by_id = {rule.id: rule for rule in base.rules}
    pack_ids = {rule.id for rule in pack.rules}
    for rule_id in pack.disable:
        if rule_id in pack_ids:
            raise RulebookError(
                f"cannot disable {rule_id!r}: it is defined by the pack itself",
                file=file,
                field="disable",
            )
        if rule_id not in by_id:
            close = close_matches(rule_id, by_id, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RulebookError(
                f"cannot disable {rule_id!r}: no rule has this id{hint}",
                file=file,
                field="disable",
            )
        del by_id[rule_id]
    disabled = frozenset(pack.disable)
    if disabled:
        # A remaining rule that overrode a disabled one has nothing left to silence there.
        by_id = {
            rule_id: rule
            if disabled.isdisjoint(rule.overrides)
            else rule.model_copy(
                update={"overrides": tuple(t for t in rule.overrides if t not in disabled)}
            )
            for rule_id, rule in by_id.items()
        }
    seen: set[str] = set()
    for rule in pack.rules:
        if rule.id in seen:
            raise RulebookError(f"duplicate rule id {rule.id!r}", file=file, rule=rule.id)
        seen.add(rule.id)
        if rule.id in by_id and not rule.replace:
            raise RulebookError(
                "a rule with this id already exists; set replace = true to replace it",
                file=file,
                rule=rule.id,
                field="id",
            )
        if rule.replace and rule.id not in by_id:
            raise RulebookError(
                "replace = true but there is no rule with this id to replace",
                file=file,
                rule=rule.id,
                field="replace",
            )
        for target in rule.overrides:
            if target in disabled:
                raise RulebookError(
                    f"overrides {target!r}, which is disabled by the pack",
                    file=file,
                    rule=rule.id,
                    field="overrides",
                )
        by_id[rule.id] = rule
    replaced = tuple(sorted(rule.id for rule in pack.rules if rule.replace))
    catalogs = _merge_catalogs(path, base, frozenset(replaced))
    try:
        book = Rulebook(by_id.values(), catalogs=catalogs, name=pack.name)
    except RulebookError as exc:
        exc.file = file
        exc.args = (str(exc),)
        raise
    lost = tuple(locale for locale in base.locales if locale not in book.locales)
    merge = _Merge(tuple(rule.id for rule in pack.rules), replaced, pack.disable, lost)
    return book, merge


def _merge_catalogs(
    path: Path, base: Rulebook, replaced: frozenset[str]
) -> dict[str, dict[tuple[str, str], str]]:
    """The base catalogs with the pack's own added; changing a base translation is refused.

    A pack may translate its own rules, the rules it replaces, and the headings of a
    language the built-in catalogs lack; anything else would silently change text the pack
    does not own.
    """
    from .i18n import load_catalog_files

    catalogs: dict[str, dict[tuple[str, str], str]] = {
        locale: dict(catalog) for locale, catalog in base.catalogs.items()
    }
    pack_locales = path.parent / "locales"
    if not pack_locales.is_dir():
        return catalogs
    builtin = default_rulebook().catalogs if base is not default_rulebook() else {}
    for po, lang, catalog in load_catalog_files(pack_locales, path.stem):
        # Compared with the base, not with what the pack added so far: a pack's fr_FR
        # folder may refine its own fr translations.
        existing = base.catalogs.get(lang, {})
        headings = builtin.get(lang, {})
        for key, translation in catalog.items():
            context, message = key
            if context.startswith("@"):
                known = existing.get(key, headings.get(key))
                if known is not None and known != translation:
                    raise RulebookError(
                        f"translates the heading {message!r}, which the built-in {lang} "
                        "catalog already translates; a pack may only translate headings "
                        "for a language the built-in catalogs lack",
                        file=str(po),
                        rule=context,
                        field="msgstr",
                    )
            # "rule-id|feminine" is a variant of the rule's phrasing, owned by the same rule.
            elif (
                context.partition("|")[0] not in replaced
                and existing.get(key, translation) != translation
            ):
                raise RulebookError(
                    f"changes the {lang} translation of {message!r}, a message of a rule the "
                    "pack does not own; only a rule the pack replaces (replace = true) may "
                    "be translated anew",
                    file=str(po),
                    rule=context,
                    field="msgstr",
                )
        catalogs.setdefault(lang, {}).update(catalog)
    return catalogs
