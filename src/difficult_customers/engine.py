"""Deciding: which rules fire for a state, which overrides apply, and in what order.

The engine knows no tactic by name. Everything that makes one rule win over another is in
the rulebook data: preconditions, ``overrides`` and the (phase, priority, id) order.
"""

from __future__ import annotations

import importlib
import operator
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, overload

from pydantic import ValidationError

from ._text import close_matches
from .errors import UnknownRuleError, _short_validation_error
from .i18n import (
    FORMATTER,
    SPOKEN_CHANNELS,
    UI_MESSAGES,
    format_details,
    negotiate_rulebook_locale,
    plain_language,
    spoken_form,
    variant_context,
)
from .rules import Kind, Phase, Rule, Rulebook, Source, default_rulebook
from .state import Channel, ConversationState

__all__ = ["Explanation", "advise", "advise_many", "explain", "iter_advice"]

# The rules module, whose _DEFAULT advise() reads: looked up by name, since the package's
# own ``rules`` attribute is the rules() function, and mypy takes one for the other here.
_rules = importlib.import_module(".rules", __package__)

if TYPE_CHECKING:
    from babel import Locale

    from ._explanation import Explanation
    from ._plain import PlainValidator
    from .advice import Advice, Recommendation
    from .compile.python import Evaluator, MaskEvaluator
    from .details import Details

    DetailsInput = Details | Mapping[str, Any] | None


def __getattr__(name: str) -> Any:
    # Explanation is defined in _explanation.py, loaded on first use (it was defined here).
    if name == "Explanation":
        import difficult_customers

        return difficult_customers.Explanation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


StateInput = ConversationState | Mapping[str, Any] | None


class _Plan:
    """Everything about a rulebook that advise() needs, computed once (by :func:`_plan`).

    A plain class rather than a dataclass: one of those costs about a millisecond of every
    import, for a record only this module builds.
    """

    __slots__ = (
        "after_ending",
        "attitudes",
        "book",
        "compiled",
        "index",
        "labels",
        "overriders",
        "overrides",
        "rendered",
        "repeats",
        "rules",
        "situational",
        "when_bits",
    )

    def __init__(self, book: Rulebook) -> None:
        rules = book.rules
        index = {rule.id: i for i, rule in enumerate(rules)}
        overrides = tuple(tuple(index[target] for target in rule.overrides) for rule in rules)
        self.book = book
        self.rules: tuple[Rule, ...] = rules
        self.index: Mapping[str, int] = index
        self.overrides: tuple[tuple[int, ...], ...] = overrides
        #: Rules that override others, each after every rule that could override it.
        self.overriders = tuple(i for i in _topological(overrides) if overrides[i])
        #: Rules still advised once the conversation has ended.
        self.after_ending = frozenset(i for i, r in enumerate(rules) if r.after_ending)
        #: Rules advised again after they were carried out.
        self.repeats = frozenset(i for i, r in enumerate(rules) if r.repeats is True)
        #: Do rules of the composure phase: grouped apart from the moves.
        self.attitudes = frozenset(i for i, r in enumerate(rules) if r.attitude)
        #: Rules with a phrasing chosen by the state (a phrasing ``when``).
        self.situational = frozenset(
            i for i, r in enumerate(rules) if any(p.when is not None for p in r.phrasing)
        )
        #: Per rule, the bit of each phrasing's ``when`` in what compile_masks' function
        #: returns (above the rules' bits, in rule then phrasing order; 0 for no ``when``).
        bit = len(rules)
        when_bits: list[tuple[int, ...]] = []
        for rule in rules:
            bits = []
            for phrasing in rule.phrasing:
                bits.append(0 if phrasing.when is None else 1 << bit)
                bit += phrasing.when is not None
            when_bits.append(tuple(bits))
        self.when_bits = tuple(when_bits)
        self.rendered: dict[tuple[int, object, str, str | None], Recommendation] = {}
        self.labels: dict[str, tuple[tuple[str, str], ...]] = {}
        self.compiled: list[Evaluator] = []

    def evaluate(self, values: Mapping[str, Any]) -> list[int]:
        """The indices of the rules whose condition holds, in advice order."""
        # Compiled when first needed: advise() takes the fast path, which has its own.
        if not self.compiled:
            from .compile.python import compile_rulebook

            self.compiled.append(compile_rulebook(self.book))
        return self.compiled[0](values)


def _plan(rulebook: Rulebook) -> _Plan:
    plan: _Plan | None = rulebook._cache.get("plan")
    if plan is None:
        plan = _Plan(rulebook)
        rulebook._cache["plan"] = plan
    return plan


def _topological(overrides: tuple[tuple[int, ...], ...]) -> list[int]:
    """Rule indices ordered so that every rule comes after all the rules that override it.

    The rulebook loader refuses cycles, so the order exists; ties go by index, so it is
    deterministic.
    """
    incoming = [0] * len(overrides)
    for targets in overrides:
        for target in targets:
            incoming[target] += 1
    ready = [i for i, count in enumerate(incoming) if count == 0]
    order: list[int] = []
    while ready:
        ready.sort(reverse=True)
        current = ready.pop()
        order.append(current)
        for target in overrides[current]:
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
    return order


def _decide(plan: _Plan, values: Mapping[str, Any]) -> tuple[list[int], dict[int, list[int]]]:
    """Indices of the rules that fire, and for each overridden one, who overrode it.

    Only a rule that fires and is itself kept overrides others: a pause that gives way to a
    warning no longer silences the reminder not to postpone. Once the conversation has
    ended, only the rules marked ``after_ending`` take part at all.
    """
    fired = plan.evaluate(values)
    if values["ended"]:
        fired = [i for i in fired if i in plan.after_ending]
    overridden: dict[int, list[int]] = {}
    fired_set = set(fired)
    for i in plan.overriders:
        if i in fired_set and i not in overridden:
            for target in plan.overrides[i]:
                if target in fired_set:
                    overridden.setdefault(target, []).append(i)
    return fired, overridden


def _rulebook(rulebook: Rulebook | None) -> Rulebook:
    if rulebook is None:
        return default_rulebook()
    if not isinstance(rulebook, Rulebook):
        raise TypeError(
            f"rulebook must be a Rulebook (see load_rulebook), not {type(rulebook).__name__}"
        )
    return rulebook


def _coerce_state(state: StateInput, fields: Mapping[str, Any]) -> ConversationState:
    if isinstance(state, ConversationState):
        if not fields and _as_declared(type(state)):
            return state
        # A subclass that redefines a field (or validates one its own way) may hold values
        # a state does not allow: it is read as the state of its fields.
        values = {name: state.__dict__[name] for name in ConversationState.model_fields}
        return ConversationState.model_validate({**values, **fields})
    if state is None:
        return ConversationState.model_validate(dict(fields))
    if isinstance(state, Mapping):
        return ConversationState.model_validate({**state, **fields})
    # Anything else is rejected by pydantic with a ValidationError saying what is expected.
    return ConversationState.model_validate(state)


# By subclass of ConversationState: whether its instances hold what a state would.
_DECLARED: dict[type, bool] = {ConversationState: True}


def _as_declared(kind: type[ConversationState]) -> bool:
    """The subclass has the state's fields as the state declares them, and no validators of
    its own: its instances are states with more behaviour."""
    declared = _DECLARED.get(kind)
    if declared is None:
        base = ConversationState.model_fields
        fields = kind.model_fields
        mine, theirs = ConversationState.__pydantic_decorators__, kind.__pydantic_decorators__
        declared = all(
            (fields[name].annotation, fields[name].metadata, fields[name].default)
            == (field.annotation, field.metadata, field.default)
            for name, field in base.items()
        ) and all(
            getattr(mine, part).keys() == getattr(theirs, part).keys()
            for part in ("validators", "field_validators", "root_validators", "model_validators")
        )
        _DECLARED[kind] = declared
    return declared


_DETAILS: type[Details] | None = None


def _details_class() -> type[Details]:
    """The Details model, imported on first use and then kept: an import statement in
    advise() would cost more than the rest of its check on every call with details."""
    global _DETAILS
    from .details import Details

    _DETAILS = Details
    return Details


def _coerce_details(details: DetailsInput) -> Details | None:
    model = _DETAILS or _details_class()
    if details is None or isinstance(details, model):
        return details
    try:
        return model.model_validate(details)
    except ValidationError as exc:
        # pydantic repeats each key of a location whole: a huge one is shown cut.
        raise _short_validation_error(exc) from None


class _Renderer:
    """Renders recommendations for one rulebook and locale; placeholder-free text is cached."""

    __slots__ = ("catalog", "form", "lang", "plan", "supplied", "tag", "values")

    def __init__(
        self, rulebook: Rulebook, plan: _Plan, locale: Locale | str, details: Details | None
    ) -> None:
        # A plain language code (see i18n.plain_language) is its own name and language.
        self.plan = plan
        self.tag = str(locale)
        self.lang = locale if isinstance(locale, str) else locale.language
        self.catalog = rulebook.catalogs.get(self.lang, {})
        self.values: Mapping[str, str] = {}
        if details is not None:
            if isinstance(locale, str):  # formatting numbers and dates needs Babel's locale
                from babel import Locale

                locale = Locale.parse(locale)
            self.values = format_details(details, locale)
        self.supplied = frozenset(self.values)
        self.form = spoken_form(details)

    def translate(self, context: str, message: str) -> str:
        # Rulebook.locales guarantees every message exists outside English; English may
        # leave msgstr empty, meaning the source text is the English text.
        return self.catalog.get((context, message), message)

    def render(
        self,
        index: int,
        channel: Channel,
        values: Mapping[str, Any] | None = None,
        bits: int | None = None,
    ) -> Recommendation:
        """The rule's recommendation for a state on ``channel``, whose phrasing is chosen by
        the state's field ``values`` or, if given, by ``bits``: what the rulebook's mask
        function returned for the state, which says already which phrasing ``when`` holds.
        """
        # A form of address changes only what is said aloud; written channels keep the
        # company voice.
        form = self.form if channel in SPOKEN_CHANNELS else None
        # Without details, the text depends only on (rule, channel, locale, form): the hot
        # path is one dictionary lookup.
        situational = index in self.plan.situational
        if not self.values and not situational:
            cached = self.plan.rendered.get((index, channel, self.tag, form))
            if cached is not None:
                return cached
        rule = self.plan.rules[index]
        if situational and bits is not None:
            when_bits = self.plan.when_bits[index]
            phrasing = rule.phrasing_for(
                channel, self.supplied, holds=lambda i: bool(bits & when_bits[i])
            )
        else:
            phrasing = rule.phrasing_for(channel, self.supplied, values if situational else None)
        key: tuple[int, object, str, str | None] = (
            (index, channel, self.tag, form)
            if not self.values and not situational
            else (index, phrasing, self.tag, form)
        )
        if not phrasing.requires:
            cached = self.plan.rendered.get(key)
            if cached is not None:
                return cached
        text = self.translate(rule.id, phrasing.text)
        if form is not None:
            text = self.catalog.get((variant_context(rule.id, form), phrasing.text), text)
        # Every phrasing is a format string, with or without placeholders, so "{{" renders
        # as "{" whichever phrasing the details select.
        text = FORMATTER.format(text, **{name: self.values[name] for name in phrasing.requires})
        recommendation = _recommendation(
            rule,
            self.translate(rule.id, rule.title),
            text,
            self.translate(rule.id, rule.rationale),
        )
        if not phrasing.requires:
            self.plan.rendered[key] = recommendation
        return recommendation

    def labels(self) -> tuple[tuple[str, str], ...]:
        labels = self.plan.labels.get(self.tag)
        if labels is None:
            # A rule pack need not translate the headings: the built-in catalogs have them.
            builtin = default_rulebook().catalogs.get(self.lang, {})
            labels = tuple(
                (
                    key,
                    self.catalog.get((context, message))
                    or builtin.get((context, message), message),
                )
                for key, context, message in UI_MESSAGES
            )
            self.plan.labels[self.tag] = labels
        return labels


def _recommendation(rule: Rule, title: str, text: str, rationale: str) -> Recommendation:
    """The recommendation of a rule, with its texts rendered.

    Built without validating again when every part already has exactly the type validation
    would give (any validated rule, and catalog text), which spares building the model's
    schema at the first advice; otherwise validated, for the same result and errors.
    """
    from .advice import Recommendation

    sources = rule.sources
    fields: dict[str, Any] = {
        "rule_id": rule.id,
        "kind": rule.kind,
        "phase": rule.phase,
        "title": title,
        "text": text,
        "rationale": rationale,
        "sources": sources,
    }
    if (
        type(rule.id) is str
        and type(rule.kind) is Kind
        and type(rule.phase) is Phase
        and type(title) is str
        and type(text) is str
        and type(rationale) is str
        and type(sources) is tuple
        and all(type(source) is Source for source in sources)
    ):
        return Recommendation.model_construct(**fields)
    return Recommendation(**fields)


# --- the fast path --------------------------------------------------------------------------
# advise() is called on every turn of a live conversation, so its cost is mostly overhead:
# which rules fire is one generated function over bitmasks, and everything that depends only
# on (which rules are kept, which are pending, the channel, the locale, the details) is built
# once and looked up. _advise_reference above is the specification; tests/test_fast.py
# checks that both give equal advice over random states, locales, details and rule packs.

#: Most entries each fast-path cache holds (per rulebook, and per locale and details for the
#: rendered groups). A full cache is emptied and refilled: memory stays bounded however many
#: distinct states a process sees, at the cost of re-rendering after a flush.
MAX_FAST_CACHE = 4096
#: Most states whose key is kept by their field values, per rulebook (about 450 bytes each).
MAX_KEPT_STATES = 16384
#: Most sets of fired rules (those that override or are overridden) whose overrides are kept
#: resolved, per rulebook: two integers each.
MAX_RESOLVED = 16384
#: Most (locale, details) combinations whose rendering the fast path keeps per rulebook.
MAX_FAST_VOICES = 16
#: Longest ``done`` set of a state whose key is kept by its field values: a real
#: conversation carries out a few dozen steps, and the kept values hold its rule ids alive.
MAX_CACHED_DONE = 64


_new = object.__new__
# A state's field values, in field order: its key (see _Fast.key) is a function of them.
_state_values = operator.itemgetter(*ConversationState.model_fields)
# Advice, and a class of the same slots to fill one in (advice._Building): set by the first
# _Fast, which every call of _advise_fast follows.
_ADVICE: type[Advice]
_BUILDING: type[Any]


def _bits(mask: int) -> list[int]:
    """The indices of the set bits, lowest first (advice order)."""
    indices = []
    while mask:
        low = mask & -mask
        indices.append(low.bit_length() - 1)
        mask ^= low
    return indices


def _mask(indices: Iterable[int]) -> int:
    mask = 0
    for index in indices:
        mask |= 1 << index
    return mask


def _mask_of(masks: Iterable[int]) -> int:
    """The union of ``masks``."""
    union = 0
    for mask in masks:
        union |= mask
    return union


if TYPE_CHECKING:
    # The attitudes, actions, things to avoid and pending moves of one advice.
    Groups = tuple[
        tuple[Recommendation, ...],
        tuple[Recommendation, ...],
        tuple[Recommendation, ...],
        tuple[Recommendation, ...],
    ]

Key = tuple[int, int, int, Channel]
"""What the advice of a state shows: see :meth:`_Fast.key`."""

Seen = tuple[object, ...]
"""A state's field values, in field order (``_state_values``)."""


class _Voice:
    """One locale and details of one rulebook: its renderer, labels and rendered groups."""

    __slots__ = ("details", "interned", "labels", "parts", "renderer", "shown", "tag")

    def __init__(
        self, book: Rulebook, plan: _Plan, locale: Locale | str, details: Details | None
    ) -> None:
        self.renderer = _Renderer(book, plan, locale, details)
        self.tag = self.renderer.tag
        self.labels = self.renderer.labels()
        self.details = details
        # Per key (what a state shows, see _Fast.key), and per channel and part of it (the
        # rules of one group, with the phrasing bits that word them; see _Fast.assemble).
        self.shown: dict[Key, Groups] = {}
        self.parts: dict[Channel, dict[int, tuple[Recommendation, ...]]] = {}
        # One object per distinct rendering, shared by every part that holds it: texts with
        # details are rendered anew by the reference, and each cached part would otherwise
        # keep its own copies.
        self.interned: dict[Recommendation, Recommendation] = {}


class _Fast:
    """The fast path's view of one rulebook: masks, generated evaluators and bounded caches."""

    __slots__ = (
        "actions",
        "after_ending",
        "attitudes",
        "avoid",
        "book",
        "done_bits",
        "fired",
        "involved",
        "keys",
        "moves",
        "overriders",
        "phrasing_bits",
        "plan",
        "quiet_shift",
        "resolved",
        "rule_bits",
        "situational",
        "speaking",
        "voices",
        "whens",
        "width",
    )

    def __init__(self, book: Rulebook) -> None:
        # The result classes are imported with the first rulebook's fast path, not at import
        # (see _advise_fast): module globals, as cheap to read on every call as before.
        global _ADVICE, _BUILDING
        from .advice import Advice, _Building

        _ADVICE, _BUILDING = Advice, _Building
        plan = _plan(book)
        rules = plan.rules
        self.book = book
        self.plan = plan
        # One call gives the rules that hold and, above their bits, the phrasings' whens.
        # The built-in rulebook's evaluators come prebuilt (see _prebuilt.py): the code
        # generator is imported only for another rulebook.
        fired = book._cache.get("fired")
        if fired is None:
            from .compile.python import compile_masks

            fired = compile_masks(book)
        self.fired: MaskEvaluator = fired
        self.width = len(rules)
        self.rule_bits = (1 << len(rules)) - 1
        # Above the rules' and phrasings' bits, the rules as if the customer had stopped
        # speaking: compile.python.quiet_shift, counted from the plan so that a prebuilt
        # rulebook imports no code generator.
        self.quiet_shift = len(rules) + sum(1 for bits in plan.when_bits for bit in bits if bit)
        self.speaking = _mask(
            i for i, r in enumerate(rules) if "customer_speaking" in r.when.fields
        )
        self.after_ending = _mask(plan.after_ending)
        self.situational = _mask(plan.situational)
        self.moves = _mask(
            i for i, r in enumerate(rules) if r.kind is Kind.DO and i not in plan.attitudes
        )
        # The parts of an advice, as _advise_reference sorts the kept rules into them.
        self.avoid = _mask(i for i, r in enumerate(rules) if r.kind is Kind.AVOID)
        self.attitudes = _mask(plan.attitudes) & ~self.avoid
        self.actions = self.rule_bits & ~self.avoid & ~self.attitudes
        # Per situational rule, the bits of its phrasings' whens in what fired() returns.
        self.phrasing_bits = {1 << i: _mask_of(plan.when_bits[i]) for i in plan.situational}
        self.whens: dict[int, int] = {}
        # In the order of _decide: each overrider after every rule that could override it.
        self.overriders = tuple((1 << i, _mask(plan.overrides[i])) for i in plan.overriders)
        # Which rules are overridden depends only on which of these fired.
        self.involved = 0
        for bit, targets in self.overriders:
            self.involved |= bit | targets
        self.resolved: dict[int, int] = {}
        # A rule carried out is left out of the advice unless it repeats (see _done).
        self.done_bits = {
            rule.id: 0 if i in plan.repeats else 1 << i for i, rule in enumerate(rules)
        }
        self.keys: dict[Seen, Key] = {}
        self.voices: dict[object, _Voice] = {}

    def key(self, seen: Seen, state: ConversationState) -> Key:
        """The key of a state whose field values (``seen``) are not in :attr:`keys`: what
        its advice shows.

        That is the rules kept (those that hold, still apply once the conversation has
        ended, are not overridden and not already carried out), the moves pending while the
        customer speaks (kept once they stop, not now), the phrasing bits that word those
        rules whose wording the state chooses, and the channel (which phrasing, which form
        of address). Many states show the same: each voice renders a key once.

        States recur, in one conversation and across many: finding the key of one seen
        before costs less than evaluating the rules. The first states seen are kept, up to
        :data:`MAX_KEPT_STATES`; once it is full, a state not in it is evaluated each time
        (flushing it would let a stream of new states, each seen once, push out the ones
        that recur).
        """
        # The lookups of overridden() and whens_of() written out: this runs for every state
        # not seen before.
        values = state.__dict__
        ids = values["done"]
        bits = self.fired(seen)
        # An unknown id raises here, before a key is kept.
        done = self.done(ids) if ids else 0
        fired = bits & self.rule_bits
        ended = values["ended"]
        if ended:
            fired &= self.after_ending
        resolved = self.resolved
        involved = fired & self.involved
        overridden = resolved.get(involved)
        if overridden is None:
            overridden = self.overridden(involved)
        kept = fired & ~overridden & ~done
        pending = 0
        if values["customer_speaking"] and not ended:
            # What would be kept once the customer stops speaking, and is not kept now.
            later = (fired & ~self.speaking) | (bits >> self.quiet_shift)
            involved = later & self.involved
            overridden = resolved.get(involved)
            if overridden is None:
                overridden = self.overridden(involved)
            pending = later & ~overridden & ~done & ~kept & self.moves
        words = 0
        situational = (kept | pending) & self.situational
        if situational:
            whens = self.whens.get(situational)
            words = bits & (self.whens_of(situational) if whens is None else whens)
        key = (kept, pending, words, values["channel"])
        if len(self.keys) < MAX_KEPT_STATES and len(ids) <= MAX_CACHED_DONE:
            self.keys[seen] = key
        return key

    def overridden(self, involved: int) -> int:
        """The rules overridden when those of ``involved`` fire (those that override or are
        overridden: nothing else changes the outcome), as :func:`_decide` resolves them,
        kept in :attr:`resolved`.
        """
        overridden = 0
        for bit, targets in self.overriders:
            if involved & bit and not overridden & bit:
                overridden |= targets & involved
        if len(self.resolved) >= MAX_RESOLVED:
            self.resolved.clear()
        self.resolved[involved] = overridden
        return overridden

    def done(self, ids: tuple[str, ...]) -> int:
        """:func:`_done` as a mask (raising the same error for an unknown rule id).

        Worked out each time rather than kept by ``ids``: a few lookups cost less than
        hashing the tuple, and there are as many ``done`` sets as orders of carrying out.
        """
        bits = self.done_bits
        mask = 0
        try:
            for rule_id in ids:
                mask |= bits[rule_id]
        except KeyError:
            _unknown_done(self.plan, ids)
        return mask

    def voice(self, locale: str | Locale, details: Details | None) -> _Voice:
        """The voice for a locale as the caller wrote it, negotiating it on first use.

        A voice with details is kept while the caller's :class:`Details` object is: the key
        holds the object itself, compared by identity, since equal details may still be
        written differently (``20`` and ``20.0`` percent).
        """
        key: object = locale if details is None else (locale, id(details))
        try:
            voice = self.voices.get(key)
        except TypeError:  # not a locale at all: negotiation says so
            voice = None
        if voice is None or voice.details is not details:
            # "fr" is taken as the negotiated locale would be, without Babel.
            negotiated: Locale | str | None = (
                plain_language(locale, self.book) if details is None else None
            )
            if negotiated is None:
                negotiated = negotiate_rulebook_locale(locale, self.book)
            voice = _Voice(self.book, self.plan, negotiated, details)
            if isinstance(locale, str) or _is_locale(locale):
                if len(self.voices) >= MAX_FAST_VOICES:
                    self.voices.clear()
                self.voices[key] = voice
        return voice

    def groups(self, voice: _Voice, key: Key) -> Groups:
        """The rendered groups of a key (see :meth:`key`) the voice has not shown yet, kept
        in its :attr:`_Voice.shown`.
        """
        kept, pending, words, channel = key
        groups = self.assemble(voice, channel, kept, pending, words)
        if len(voice.shown) >= MAX_FAST_CACHE:
            voice.shown.clear()
        voice.shown[key] = groups
        return groups

    def assemble(
        self, voice: _Voice, channel: Channel, kept: int, pending: int, words: int
    ) -> Groups:
        """The groups of the rules ``kept`` and ``pending``, worded by the phrasing bits
        ``words``, each part looked up on its own.

        There are far fewer distinct attitudes, actions, things to avoid and pending moves
        than combinations of them: a stream of random states shows thousands of
        combinations, more than :data:`MAX_FAST_CACHE`, and a few hundred of each part.
        """
        parts = voice.parts.get(channel)
        if parts is None:
            parts = voice.parts[channel] = {}
        found: list[tuple[Recommendation, ...]] = []
        for rules in (kept & self.attitudes, kept & self.actions, kept & self.avoid, pending):
            if not rules:
                found.append(())
                continue
            # The rules and the phrasing bits that word them, in one integer: the phrasing
            # bits lie above the rules' bits.
            situational = rules & self.situational
            part_of = rules | words & self.whens_of(situational) if situational else rules
            part = parts.get(part_of)
            if part is None:
                part = self.render(voice, rules, channel, words)
                if len(parts) >= MAX_FAST_CACHE:
                    parts.clear()
                parts[part_of] = part
            found.append(part)
        groups: Groups = tuple(found)  # type: ignore[assignment]
        return groups

    def whens_of(self, situational: int) -> int:
        """The phrasing bits that choose the wording of the rules of ``situational``."""
        whens = self.whens.get(situational)
        if whens is None:
            whens = _mask_of(self.phrasing_bits[1 << index] for index in _bits(situational))
            if len(self.whens) >= MAX_FAST_CACHE:
                self.whens.clear()
            self.whens[situational] = whens
        return whens

    def render(
        self, voice: _Voice, rules: int, channel: Channel, bits: int
    ) -> tuple[Recommendation, ...]:
        """The recommendations of ``rules`` rendered as the reference does (phrasings picked
        by the ``when`` bits of ``bits``, rather than by evaluating each ``when``).
        """
        rendered = voice.renderer.render
        interned = voice.interned.setdefault
        part = []
        for index in _bits(rules):
            recommendation = rendered(index, channel, bits=bits)
            part.append(interned(recommendation, recommendation))
        return tuple(part)


def _is_locale(value: object) -> bool:
    """``value`` is a Babel ``Locale`` (Babel is loaded already if a caller made one)."""
    babel = sys.modules.get("babel")
    return babel is not None and isinstance(value, babel.Locale)


def _fast(book: Rulebook) -> _Fast:
    try:
        fast: _Fast = book._cache["fast"]
    except KeyError:
        fast = book._cache["fast"] = _Fast(book)
    return fast


def _advise_fast(
    fast: _Fast, voice: _Voice, state: ConversationState, seen: Seen | None = None
) -> Advice:
    """:func:`_advise_reference` with bitmasks and caches: equal advice, a fraction of the cost.

    A state's key (see :meth:`_Fast.key`), then the rendered groups of that key. ``seen``
    is the state's field values, if the caller has them already.
    """
    if seen is None:
        seen = _state_values(state.__dict__)
    key = fast.keys.get(seen)
    if key is None:
        key = fast.key(seen, state)
    groups = voice.shown.get(key)
    if groups is None:
        groups = fast.groups(voice, key)
    advice: Any = _new(_BUILDING)
    advice.attitudes, advice.actions, advice.avoid, advice.pending = groups
    advice.locale = voice.tag
    advice.state = state
    advice.labels = voice.labels
    advice.__class__ = _ADVICE
    return advice  # type: ignore[no-any-return]


# The validator of plain dicts (see _plain.py): generated when a dict is first advised.
_plain_state: PlainValidator | None = None


def _validate_state(data: dict[str, Any]) -> ConversationState:
    global _plain_state
    if _plain_state is None:
        from ._plain import plain_validator

        _plain_state = plain_validator()
    plain = _plain_state(data)
    if plain is not None:
        return plain
    try:
        # The bare validator: model_validate's layers above it cost a third of validating.
        state: ConversationState = ConversationState.__pydantic_validator__.validate_python(data)
    except ValidationError:
        # model_validate again, for the errors it reports (naming the field, saying what
        # is allowed) and the input it accepts on a second look (a "$schema" key).
        return ConversationState.model_validate(data)
    return state


def advise(
    state: StateInput = None,
    /,
    *,
    locale: str | Locale = "en",
    details: DetailsInput = None,
    rulebook: Rulebook | None = None,
    **fields: Any,
) -> Advice:
    """Advise an agent on what to do now, and what to avoid, for a conversation state.

    Args:
        state: a :class:`ConversationState`, a mapping of its fields, or ``None``; keyword
            ``fields`` are applied on top (the caller's objects are never modified).
        locale: ``en``, ``fr`` or ``pl``, or a regional variant such as ``fr_FR`` or
            ``pl-PL``.
        details: optional :class:`Details` (business name, callback delay, deposit, closed
            day) that phrases weave in, formatted for the locale.
        rulebook: rules to use instead of the built-in ones (see :func:`load_rulebook`).

    Returns:
        The :class:`Advice`: actions in order (phase, priority, id) and things to avoid.

    Raises:
        pydantic.ValidationError: a field is unknown, of the wrong type or out of range, or
            ``details`` is invalid.
        UnknownRuleError: an id in the state's ``done`` names no rule of the rulebook.
        UnsupportedLocaleError: no catalog for the locale.
        TypeError: ``rulebook`` is not a :class:`Rulebook`.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2
       A fast path (bitmasks, bounded caches) gives the same advice in a fraction of the
       time; see docs/performance.md.
    """
    # The loaded built-in rulebook, read without the call to default_rulebook().
    book = (_rules._DEFAULT or default_rulebook()) if rulebook is None else _rulebook(rulebook)
    # The common cases first, in the same order of checks (and so of errors) as the
    # reference: rulebook, state, locale, details.
    valid_state: ConversationState
    if type(state) is ConversationState and not fields:
        valid_state = state
    elif type(state) is dict and not fields:
        valid_state = _validate_state(state)
    else:
        valid_state = _coerce_state(state, fields)
    try:
        fast: _Fast = book._cache["fast"]
    except KeyError:
        fast = _fast(book)
    if details is None:
        # advise_valid() written out: a call less on the path of nearly every call.
        try:
            voice = fast.voices[locale]
        except (KeyError, TypeError):  # first use, or not a locale (negotiation says so)
            voice = fast.voice(locale, None)
        return _advise_fast(fast, voice, valid_state)
    if isinstance(details, _DETAILS or _details_class()):
        return _advise_fast(fast, fast.voice(locale, details), valid_state)
    negotiated = negotiate_rulebook_locale(locale, book)
    return _advise_reference(book, valid_state, negotiated, _coerce_details(details))


def advise_valid(
    state: ConversationState, locale: str | Locale, book: Rulebook, seen: Seen | None = None
) -> Advice:
    """:func:`advise` without details for a state already validated, without its dispatch.

    For library code that holds a :class:`ConversationState` it made itself, such as
    :meth:`Conversation.advise` on every turn; ``seen``, its field values if known.
    """
    try:
        fast: _Fast = book._cache["fast"]
    except KeyError:
        fast = _fast(book)
    try:
        voice = fast.voices[locale]
    except (KeyError, TypeError):  # first use, or not a locale (negotiation says so)
        voice = fast.voice(locale, None)
    return _advise_fast(fast, voice, state, seen)


def _reference(
    state: StateInput = None,
    /,
    *,
    locale: str | Locale = "en",
    details: DetailsInput = None,
    rulebook: Rulebook | None = None,
    **fields: Any,
) -> Advice:
    """:func:`advise` by the reference path alone, for tests and benchmarks."""
    book = _rulebook(rulebook)
    valid_state = _coerce_state(state, fields)
    negotiated = negotiate_rulebook_locale(locale, book)
    return _advise_reference(book, valid_state, negotiated, _coerce_details(details))


def _done(plan: _Plan, done: tuple[str, ...]) -> frozenset[int]:
    """The rules carried out already (``done``) that do not repeat: kept out of the advice."""
    if not done:
        return frozenset()
    try:
        return frozenset(plan.index[i] for i in done) - plan.repeats
    except KeyError:
        _unknown_done(plan, done)


def _unknown_done(plan: _Plan, done: tuple[str, ...]) -> NoReturn:
    """The error for ``done`` naming a rule the rulebook does not have."""
    unknown = next(i for i in done if i not in plan.index)
    close = close_matches(unknown, list(plan.index), n=1)
    raise UnknownRuleError(unknown, suggestion=close[0] if close else None, field="done") from None


def _kept(plan: _Plan, values: Mapping[str, Any], done: frozenset[int]) -> list[int]:
    """The rules in the advice, in advice order.

    A step already carried out still settles conflicts (a final position, once stated,
    still rules out the apology, restating the request and settling now); it is only not
    advised again.
    """
    fired, overridden = _decide(plan, values)
    return [i for i in fired if i not in overridden and i not in done]


def decided_ids(book: Rulebook, state: ConversationState) -> frozenset[str]:
    """The ids advised now for a validated state (attitudes, actions, avoid), without text."""
    plan = _plan(book)
    return frozenset(
        plan.rules[i].id for i in _kept(plan, state.__dict__, _done(plan, state.done))
    )


def _advise_reference(
    book: Rulebook, state: ConversationState, locale: Locale, details: Details | None
) -> Advice:
    """The straightforward advice: what the fast path (:func:`_advise_fast`) must equal.

    Kept as the specification the fast path is tested against (tests/test_fast.py), and used
    where the fast path would gain nothing (details given as a mapping, on every call anew).
    """
    from .advice import Advice

    plan = _plan(book)
    renderer = _Renderer(book, plan, locale, details)
    done = _done(plan, state.done)
    values = state.__dict__
    kept = _kept(plan, values, done)
    attitudes: list[Recommendation] = []
    actions: list[Recommendation] = []
    avoid: list[Recommendation] = []
    for index in kept:
        recommendation = renderer.render(index, state.channel, state.__dict__)
        if recommendation.kind is Kind.AVOID:
            avoid.append(recommendation)
        elif index in plan.attitudes:
            attitudes.append(recommendation)
        else:
            actions.append(recommendation)
    pending: list[Recommendation] = []
    if values["customer_speaking"] and not values["ended"]:
        # What the same state would call for once the customer stops: the next moves,
        # announced now so that the agent is ready ("let them finish; then warn").
        now = set(kept)
        later = _kept(plan, {**values, "customer_speaking": False}, done)
        pending = [
            renderer.render(index, state.channel, state.__dict__)
            for index in later
            if index not in now
            and index not in plan.attitudes
            and plan.rules[index].kind is Kind.DO
        ]
    return Advice(
        actions=tuple(actions),
        avoid=tuple(avoid),
        locale=renderer.tag,
        state=state,
        labels=renderer.labels(),
        attitudes=tuple(attitudes),
        pending=tuple(pending),
    )


def advise_many(
    states: Iterable[StateInput],
    *,
    locale: str | Locale = "en",
    details: DetailsInput = None,
    rulebook: Rulebook | None = None,
) -> list[Advice]:
    """:func:`advise` for many states, negotiating the locale and details only once.

    Raises:
        pydantic.ValidationError: for the first invalid state, with a note naming its
            position (``in states[3]``), or invalid ``details``.
        UnknownRuleError: an id in a state's ``done`` names no rule of the rulebook.
        UnsupportedLocaleError: no catalog for the locale.
        TypeError: ``states`` is one state (a dict or a :class:`ConversationState`), a
            string, or not iterable; or ``rulebook`` is not a :class:`Rulebook`.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 no slower per state than :func:`advise`; see :func:`iter_advice`.
    """
    return list(iter_advice(states, locale=locale, details=details, rulebook=rulebook))


def iter_advice(
    states: Iterable[StateInput],
    *,
    locale: str | Locale = "en",
    details: DetailsInput = None,
    rulebook: Rulebook | None = None,
) -> Iterator[Advice]:
    """:func:`advise_many` one advice at a time, for a stream of states too long to keep.

    The locale, details and rulebook are checked at once, when it is called; each state is
    validated as it is reached.

    Raises:
        pydantic.ValidationError: while iterating, for an invalid state, with a note naming
            its position (``in states[3]``); invalid ``details`` (when called).
        UnknownRuleError: while iterating, an id in a state's ``done`` names no rule.
        TypeError: ``states`` is one state, a string, or not iterable, or ``rulebook`` is
            not a :class:`Rulebook` (when called).
        UnsupportedLocaleError: no catalog for the locale (when called).

    .. versionadded:: 0.2
    """
    book = _rulebook(rulebook)
    _check_states(states)
    fast = _fast(book)
    negotiated = negotiate_rulebook_locale(locale, book)
    voice = fast.voice(negotiated, _coerce_details(details))
    return _iter_advice(fast, voice, states)


def _check_states(states: object) -> None:
    """Refuses what is one state, text, or not iterable at all, as ``states``.

    Each is iterable but none is a sequence of states: a dict would give its keys, a
    ConversationState its (field, value) pairs, a string its characters, and the error
    would then be about one of those not being a state.
    """
    if isinstance(states, Mapping | ConversationState):
        what = f"one state (a {type(states).__name__}): for one state, call advise()"
    elif isinstance(states, str | bytes | bytearray) or not isinstance(states, Iterable):
        what = type(states).__name__
    else:
        return
    raise TypeError(
        f"states must be an iterable of states (dicts or ConversationState objects), not {what}"
    )


def _iter_advice(fast: _Fast, voice: _Voice, states: Iterable[StateInput]) -> Iterator[Advice]:
    for position, state in enumerate(states):
        if type(state) is ConversationState:
            valid_state = state
        else:
            try:
                valid_state = (
                    _validate_state(state) if type(state) is dict else _coerce_state(state, {})
                )
            except ValidationError as exc:
                exc.add_note(f"in states[{position}]")
                raise
        yield _advise_fast(fast, voice, valid_state)


@overload
def explain(
    state: StateInput = None,
    /,
    rule_id: None = None,
    *,
    rulebook: Rulebook | None = None,
    **fields: Any,
) -> tuple[Explanation, ...]: ...
@overload
def explain(
    state: StateInput, /, rule_id: str, *, rulebook: Rulebook | None = None, **fields: Any
) -> Explanation: ...
@overload
def explain(
    state: StateInput = None, /, *, rule_id: str, rulebook: Rulebook | None = None, **fields: Any
) -> Explanation: ...
def explain(
    state: StateInput = None,
    /,
    rule_id: str | None = None,
    *,
    rulebook: Rulebook | None = None,
    **fields: Any,
) -> tuple[Explanation, ...] | Explanation:
    """Explain, for every rule (or the one named), whether and why it fired for a state.

    Raises:
        pydantic.ValidationError: the state is invalid.
        UnknownRuleError: ``rule_id``, or an id in the state's ``done``, names no rule (the
            closest id is suggested).
        TypeError: ``rulebook`` is not a :class:`Rulebook`.

    .. versionadded:: 0.1
    """
    from ._explanation import Explanation

    book = _rulebook(rulebook)
    valid_state = _coerce_state(state, fields)
    if rule_id is not None:
        book[rule_id]  # raises UnknownRuleError with a suggestion
    plan = _plan(book)
    done = _done(plan, valid_state.done)
    fired, overridden = _decide(plan, valid_state.__dict__)
    fired_set = set(fired)
    values = {name: _plain(value) for name, value in valid_state.__dict__.items()}
    explanations = []
    for index, rule in enumerate(plan.rules):
        if rule_id is not None and rule.id != rule_id:
            continue
        read = {name: values[name] for name in sorted(rule.when.fields)}
        if valid_state.ended and index not in plan.after_ending:
            explanations.append(Explanation(rule.id, "ended", (), None, read))
        elif index in overridden:
            by = tuple(plan.rules[i].id for i in sorted(overridden[index]))
            explanations.append(Explanation(rule.id, "overridden", by, None, read))
        elif index in fired_set and index in done:
            explanations.append(Explanation(rule.id, "done", (), None, read))
        elif index in fired_set:
            explanations.append(Explanation(rule.id, "fired", (), None, read))
        else:
            failure = rule.when.explain(values)
            explanations.append(Explanation(rule.id, "not_fired", (), failure, read))
    if rule_id is not None:
        return explanations[0]
    return tuple(explanations)


def _plain(value: object) -> object:
    """Enum members as their plain values, for explanations that print and compare simply."""
    return getattr(value, "value", value)
