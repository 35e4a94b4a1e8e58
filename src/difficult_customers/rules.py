"""Rules, their sources and phrasing, and loading a rulebook from TOML."""

from __future__ import annotations

import difflib
import functools
import string
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from .conditions import Condition, parse_condition, state_schema
from .details import DETAIL_NAMES
from .errors import ConditionError, RulebookError, UnknownRuleError
from .state import Channel

__all__ = [
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

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=600)]


class Source(BaseModel):
    """The seed passage a rule comes from.

    >>> Source(document="004_5f4e5305fe903518.txt", section="Manière",
    ...        quote="Maintenez toujours une manière polie").section
    'Manière'

    .. versionadded:: 0.1
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    document: Annotated[str, StringConstraints(pattern=r"^[^/\\]+$", max_length=200)] = Field(
        description="The seed file's name."
    )
    section: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="The seed's heading exactly as written; null for the untitled opening.",
    )
    quote: Annotated[str, StringConstraints(min_length=10, max_length=2000)] = Field(
        description="A verbatim excerpt of that section."
    )


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


WhenCondition = Annotated[
    Condition,
    BeforeValidator(_parse_when),
    PlainSerializer(lambda condition: condition.source, return_type=str),
    WithJsonSchema({"type": "string", "description": "A precondition over the state."}),
]


class Phrasing(BaseModel):
    """One way of saying a rule, for some channels, details supplied or situations."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

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
    def _placeholders_match(self) -> Phrasing:
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

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    value: bool | int | str
    increment: bool = False

    @classmethod
    def parse(cls, name: str, value: object) -> Effect:
        """Validate ``name = value`` against the fields of the conversation state.

        Raises:
            ValueError: unknown field (with the closest one), or a value of the wrong type.
        """
        schema = state_schema()
        field_type = schema.get(name)
        if field_type is None:
            close = difflib.get_close_matches(name, list(schema), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown state field {name!r}{hint}")
        if field_type.kind == "bool":
            if type(value) is not bool:
                raise ValueError(f"{name} is a boolean: set it to true or false, not {value!r}")
            return cls(field=name, value=value)
        if field_type.kind == "enum":
            if not isinstance(value, str) or value not in field_type.values:
                raise ValueError(f"{name} must be {field_type.describe()}, not {value!r}")
            return cls(field=name, value=value)
        if type(value) is int and 0 <= value <= 10_000:
            return cls(field=name, value=value)
        if isinstance(value, str) and value.startswith("+") and value[1:].isdecimal():
            step = int(value[1:])
            if 1 <= step <= MAX_INCREMENT:
                return cls(field=name, value=step, increment=True)
        raise ValueError(
            f"{name} is a count: set it to an integer or add to it with a string such as "
            f'"+1" (at most +{MAX_INCREMENT}), not {value!r}'
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


Effects = Annotated[
    tuple[Effect, ...],
    BeforeValidator(_parse_effects),
    PlainSerializer(
        lambda effects: {effect.field: effect.written() for effect in effects}, return_type=dict
    ),
    WithJsonSchema({"type": "object", "description": "State changes once the rule is followed."}),
]


class Rule(BaseModel):
    """One tactic from the seeds: when it applies, what to say, and where it comes from.

    >>> rule = default_rulebook()["stay-calm"]
    >>> rule.phase, sorted(rule.when.fields)[:2]
    (<Phase.COMPOSURE: 'composure'>, ['agent_upset', 'mood'])

    .. versionadded:: 0.1
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    id: RuleId
    kind: Kind
    phase: Phase
    priority: int = Field(default=50, ge=0, le=1000)
    firmness: int = Field(default=0, ge=0, le=3)
    tags: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")], ...] = ()
    when: WhenCondition
    overrides: tuple[RuleId, ...] = ()
    title: Text
    phrasing: tuple[Phrasing, ...] = Field(min_length=1)
    rationale: Text
    sources: tuple[Source, ...] = Field(min_length=1)
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

    @property
    def additions(self) -> tuple[str, ...]:
        """What the rule's wordings add to the seeds: the project's own advice, if any."""
        return tuple(p.addition for p in self.phrasing if p.addition is not None)

    @property
    def attitude(self) -> bool:
        """A do rule of the composure phase: how to hold oneself, not a move to make."""
        return self.kind is Kind.DO and self.phase is Phase.COMPOSURE

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.id in self.overrides:
            raise ValueError("a rule cannot override itself")
        if self.effects and self.kind is Kind.AVOID:
            raise ValueError("an avoid rule is not carried out, so it cannot have effects")
        texts = [p.text for p in self.phrasing]
        duplicates = {t for t in texts if texts.count(t) > 1}
        if duplicates:
            raise ValueError(f"phrasing text repeated: {sorted(duplicates)[0]!r}")
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
    ) -> Phrasing:
        """The first phrasing that fits the channel, the supplied details and the state.

        ``values`` are the state's fields; without them, phrasings with a ``when`` are
        passed over.
        """
        for phrasing in self.phrasing:
            if (
                phrasing.fits(channel)
                and supplied.issuperset(phrasing.requires)
                and phrasing.applies(values)
            ):
                return phrasing
        raise AssertionError("unreachable: validation guarantees a fallback")  # pragma: no cover

    def messages(self) -> Iterator[str]:
        """Every English source message of the rule (title, phrasing, rationale)."""
        yield self.title
        for phrasing in self.phrasing:
            yield phrasing.text
        yield self.rationale


class Rulebook:
    """An ordered, validated set of rules with the catalogs that translate them.

    Iterating yields rules in advice order (phase, priority, id); ``rulebook["id"]`` looks one
    up. Build one with :func:`load_rulebook`; the built-in one is :func:`default_rulebook`.

    .. versionadded:: 0.1
    """

    __slots__ = ("__weakref__", "_by_id", "_cache", "catalogs", "name", "rules")

    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        catalogs: Mapping[str, Mapping[tuple[str, str], str]] | None = None,
        name: str = "custom",
    ) -> None:
        given = tuple(rules)
        for rule in given:
            if not isinstance(rule, Rule):
                raise TypeError(f"a Rulebook holds Rule objects, not {type(rule).__name__}")
        for locale, catalog in (catalogs or {}).items():
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
        self.catalogs: Mapping[str, Mapping[tuple[str, str], str]] = dict(catalogs or {})
        self._by_id = by_id
        # Derived artefacts (compiled evaluator, rendered texts) are stored here by the engine
        # and i18n modules, so that they are built once per rulebook.
        self._cache: dict[str, Any] = {}

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
            close = difflib.get_close_matches(str(rule_id), self._by_id, n=1)
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

    def missing(self, locale: str) -> list[tuple[str, str]]:
        """The ``(rule id, English message)`` pairs that have no translation in a language.

        .. versionadded:: 0.1
        """
        if locale == "en":
            return []
        catalog = self.catalogs.get(locale, {})
        return [
            (rule.id, message)
            for rule in self.rules
            for message in rule.messages()
            if (rule.id, message) not in catalog
        ]

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
            tag: a tag such as "empathy" or "ending".
            reads: a state field the precondition reads, such as "threats".
            document: a seed file the rule cites.
        """
        kind = _member(Kind, kind, "kind")
        phase = _member(Phase, phase, "phase")
        return tuple(
            rule
            for rule in self.rules
            if (kind is None or rule.kind is kind)
            and (phase is None or rule.phase is phase)
            and (tag is None or tag in rule.tags)
            and (reads is None or reads in rule.when.fields)
            and (document is None or any(s.document == document for s in rule.sources))
        )

    def _repr_markdown_(self) -> str:
        lines = [
            f"**{self.name}**: {len(self.rules)} rules",
            "",
            "| id | kind | phase | when |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{r.id}` | {r.kind.value} | {r.phase.value} | `{_one_line(r.when.source)}` |"
            for r in self.rules
        ]
        return "\n".join(lines)


_E = TypeVar("_E", Kind, Phase)


def _member(enum: type[_E], value: _E | str | None, name: str) -> _E | None:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValueError(f"unknown {name} {value!r}; expected one of: {allowed}") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check_overrides(by_id: Mapping[str, Rule], name: str) -> None:
    for rule in by_id.values():
        for target in rule.overrides:
            if target not in by_id:
                close = difflib.get_close_matches(target, by_id, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise RulebookError(
                    f"overrides unknown rule {target!r}{hint}",
                    file=name,
                    rule=rule.id,
                    field="overrides",
                )
    # A cycle would let rules remove each other and could leave no advice at all.
    state: dict[str, int] = {}

    def visit(rule_id: str, path: tuple[str, ...]) -> None:
        if state.get(rule_id) == 2:
            return
        if state.get(rule_id) == 1:
            cycle = " -> ".join((*path[path.index(rule_id) :], rule_id))
            raise RulebookError(
                f"overrides form a cycle: {cycle}", file=name, rule=rule_id, field="overrides"
            )
        state[rule_id] = 1
        for target in by_id[rule_id].overrides:
            visit(target, (*path, rule_id))
        state[rule_id] = 2

    for rule_id in sorted(by_id):
        visit(rule_id, ())


_TOP_LEVEL_KEYS = frozenset({"rules", "pack"})
_PACK_KEYS = frozenset({"name", "description"})


def _read_rules(path: Path) -> tuple[str, list[Rule]]:
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulebookError(
            f"cannot read the rule pack: {exc.strerror or exc}", file=file
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulebookError(f"not valid TOML: {exc}", file=file) from None
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise RulebookError(f"cannot read the rule pack: {exc}", file=file) from None
    unknown = sorted(set(data) - _TOP_LEVEL_KEYS)
    if unknown:
        raise RulebookError(
            f"unknown top-level key {unknown[0]!r}; allowed: [pack] and [[rules]]", file=file
        )
    pack = data.get("pack", {})
    if not isinstance(pack, dict) or set(pack) - _PACK_KEYS:
        raise RulebookError("[pack] may only hold name and description", file=file)
    name = str(pack.get("name", path.stem))
    entries = data.get("rules")
    if not isinstance(entries, list) or not entries:
        raise RulebookError("no [[rules]] found", file=file)
    rules = [_build_rule(entry, file, index) for index, entry in enumerate(entries)]
    return name, rules


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
        detail = ".".join(location[1:])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(location[-1], Rule.model_fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            message = f"unknown key {location[-1]!r}{hint}"
        where = f"{detail}: " if detail else ""
        raise RulebookError(f"{where}{message}", file=file, rule=label, field=field) from None


@functools.cache
def default_rulebook() -> Rulebook:
    """The built-in rulebook, loaded and validated once.

    .. versionadded:: 0.1
    """
    from .i18n import load_catalogs  # i18n imports this module; import late to avoid a cycle

    name, rules = _read_rules(BUILTIN_RULEBOOK)
    return Rulebook(rules, catalogs=load_catalogs(builtin_locales_dir(), DOMAIN), name=name)


def builtin_locales_dir() -> Path:
    """Where the built-in catalogs are: inside the installed wheel, or the repository's top."""
    packaged = Path(__file__).with_name("locales")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "locales"


def load_rulebook(path: str | Path, *, base: Rulebook | None = None) -> Rulebook:
    """Load a rule pack and merge it over a base rulebook (the built-in one by default).

    A pack adds rules, and may replace a built-in rule by reusing its id with
    ``replace = true``, or silence one through ``overrides``. Its translations, if any, sit
    beside it in ``locales/<lang>/LC_MESSAGES/<pack file stem>.po``; a locale in which some
    pack message is untranslated is not supported by the merged rulebook.

    Args:
        path: the pack's TOML file.
        base: the rulebook to extend; ``None`` for the built-in one. Pass an empty
            ``Rulebook([])`` for a standalone pack.

    Raises:
        RulebookError: naming the file, the rule and the field that is wrong.

    .. versionadded:: 0.1
    """
    from .i18n import load_catalogs

    path = Path(path)
    base = default_rulebook() if base is None else base
    if not isinstance(base, Rulebook):
        raise TypeError(f"base must be a Rulebook, not {type(base).__name__}")
    name, pack_rules = _read_rules(path)
    by_id = {rule.id: rule for rule in base.rules}
    seen: set[str] = set()
    for rule in pack_rules:
        if rule.id in seen:
            raise RulebookError(f"duplicate rule id {rule.id!r}", file=str(path), rule=rule.id)
        seen.add(rule.id)
        if rule.id in by_id and not rule.replace:
            raise RulebookError(
                "a rule with this id already exists; set replace = true to replace it",
                file=str(path),
                rule=rule.id,
                field="id",
            )
        if rule.replace and rule.id not in by_id:
            raise RulebookError(
                "replace = true but there is no rule with this id to replace",
                file=str(path),
                rule=rule.id,
                field="replace",
            )
        by_id[rule.id] = rule
    catalogs: dict[str, dict[tuple[str, str], str]] = {
        locale: dict(catalog) for locale, catalog in base.catalogs.items()
    }
    pack_locales = path.parent / "locales"
    if pack_locales.is_dir():
        for locale, catalog in load_catalogs(pack_locales, path.stem).items():
            catalogs.setdefault(locale, {}).update(catalog)
    try:
        return Rulebook(by_id.values(), catalogs=catalogs, name=name)
    except RulebookError as exc:
        exc.file = str(path)
        exc.args = (str(exc),)
        raise
