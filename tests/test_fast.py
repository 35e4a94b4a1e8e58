"""The fast path of advise() gives exactly the advice of the reference path.

``engine._advise_reference`` is the straightforward code (evaluate, override, filter, render
each rule); ``advise()``, ``advise_many()`` and ``iter_advice()`` go through bitmasks and
caches. Equal means equal ``to_dict()`` (state, locale, every group and every text), equal
``rule_ids`` and equal headings, over random states, every locale, with and without details
(forms of address included), and over random rulebooks.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import tokenize
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from conftest import fresh_python
from difficult_customers import (
    Advice,
    Conversation,
    ConversationState,
    CustomerInsulted,
    Details,
    FormOfAddress,
    Mood,
    Rulebook,
    UnknownRuleError,
    UnsupportedLocaleError,
    Weekday,
    advise,
    advise_many,
    default_rulebook,
    engine,
    parse_condition,
)
from difficult_customers._parser import _needs_token_scan, _scan_tokens, _Source
from difficult_customers.conversation import fold
from difficult_customers.engine import _reference, iter_advice
from difficult_customers.errors import ConditionSyntaxError, RulebookError
from difficult_customers.i18n import LazyCatalogs, load_catalogs
from difficult_customers.rules import DOMAIN, builtin_locales_dir
from difficult_customers.state import MAX_COUNT
from strategies import _consistent, conditions, random_state_rows, state_fields, states

BOOK = default_rulebook()
LOCALES = ("en", "fr", "pl", "fr_FR", "pl-PL", "en_GB")


def details() -> st.SearchStrategy[Details | None]:
    """No details, or any combination of them, each form of address included."""
    given_details = st.builds(
        Details,
        business_name=st.none() | st.sampled_from(["Atelier Durand", "Sklep Kowalski"]),
        callback_in=st.none() | st.sampled_from([timedelta(hours=1), timedelta(minutes=90)]),
        deposit_percent=st.none() | st.sampled_from([Decimal(20), Decimal("12.5")]),
        closed_day=st.none() | st.sampled_from(list(Weekday)),
        form_of_address=st.sampled_from(list(FormOfAddress)),
    )
    return st.none() | given_details


def assert_same(fast: Advice, reference: Advice) -> None:
    assert type(fast) is Advice
    assert fast.to_dict() == reference.to_dict()
    assert fast.rule_ids == reference.rule_ids
    assert fast.labels == reference.labels
    assert fast == reference


def test_fast_advice_is_a_whole_frozen_advice() -> None:
    # Built by filling a same-layout class and then setting __class__: it must be an Advice
    # in every respect, not only equal to one.
    fast = advise(mood="angry", offensive_remarks=2, locale="fr")
    reference = _reference(mood="angry", offensive_remarks=2, locale="fr")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.locale = "en"  # type: ignore[misc]
    assert hash(fast.actions) == hash(reference.actions)
    assert pickle.loads(pickle.dumps(fast)) == reference
    assert dataclasses.replace(fast, locale="pl").locale == "pl"
    assert copy.copy(fast) == fast
    assert [f.name for f in dataclasses.fields(fast)] == [
        f.name for f in dataclasses.fields(reference)
    ]


@given(state=states(), locale=st.sampled_from(LOCALES), extra=details())
def test_advise_on_a_model_equals_the_reference(
    state: ConversationState, locale: str, extra: Details | None
) -> None:
    assert_same(
        advise(state, locale=locale, details=extra),
        _reference(state, locale=locale, details=extra),
    )


@given(fields=state_fields(), locale=st.sampled_from(LOCALES), extra=details())
def test_advise_on_a_dict_equals_the_reference(
    fields: dict[str, Any], locale: str, extra: Details | None
) -> None:
    plain = {name: getattr(value, "value", value) for name, value in _consistent(fields).items()}
    # Details as a mapping take the reference path; as a model, the fast one.
    mapping = None if extra is None else extra.model_dump(exclude_none=True)
    assert_same(
        advise(plain, locale=locale, details=extra),
        _reference(plain, locale=locale, details=mapping),
    )


@given(state=states(), locale=st.sampled_from(LOCALES))
def test_keyword_fields_equal_the_reference(state: ConversationState, locale: str) -> None:
    assert_same(
        advise(state, locale=locale, customer_speaking=True),
        _reference(state, locale=locale, customer_speaking=True),
    )


@settings(max_examples=30)
@given(batch=st.lists(states(), max_size=8), locale=st.sampled_from(LOCALES), extra=details())
def test_batches_equal_the_reference(
    batch: list[ConversationState], locale: str, extra: Details | None
) -> None:
    expected = [_reference(state, locale=locale, details=extra) for state in batch]
    for results in (
        advise_many(batch, locale=locale, details=extra),
        list(iter_advice(batch, locale=locale, details=extra)),
        advise_many([state.model_dump() for state in batch], locale=locale, details=extra),
    ):
        assert len(results) == len(expected)
        for fast, reference in zip(results, expected, strict=True):
            assert_same(fast, reference)


@settings(max_examples=30)
@given(batch=st.lists(states(), min_size=1, max_size=8), locale=st.sampled_from(LOCALES))
def test_states_seen_before_equal_the_reference(
    batch: list[ConversationState], locale: str
) -> None:
    # The second pass finds each state's key by its field values: from an equal state, not
    # the same object, and through advise_many as well as advise.
    book = Rulebook(BOOK.rules, catalogs=BOOK.catalogs, name="seen")
    first = [advise(state, locale=locale, rulebook=book) for state in batch]
    again = [ConversationState.model_validate(state.model_dump()) for state in batch]
    for results in (
        [advise(state, locale=locale, rulebook=book) for state in again],
        advise_many(again, locale=locale, rulebook=book),
    ):
        for state, fast, before in zip(again, results, first, strict=True):
            assert fast.state is state
            assert_same(fast, _reference(state, locale=locale, rulebook=book))
            assert fast == before
    assert len(engine._fast(book).keys) == len(set(batch))


def test_once_full_the_states_kept_stay_and_others_are_evaluated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "MAX_KEPT_STATES", 2)
    book = Rulebook(BOOK.rules, catalogs=BOOK.catalogs, name="full")
    kept = [ConversationState(mood="calm"), ConversationState(offensive_remarks=2)]
    later = [ConversationState(threats=True), ConversationState(channel="email")]
    for state in (*kept, *later, *later, *kept):
        assert_same(advise(state, rulebook=book), _reference(state, rulebook=book))
    fast = engine._fast(book)
    assert list(fast.keys) == [engine._state_values(state.__dict__) for state in kept]


@st.composite
def rulebooks(draw: st.DrawFn) -> Rulebook:
    """The built-in rules with random conditions, endings and repeats; same texts, same
    overrides (so the graph stays acyclic and the catalogs still translate everything)."""
    rules = []
    for rule in BOOK.rules:
        update: dict[str, Any] = {}
        if draw(st.booleans()):
            update["when"] = parse_condition(draw(conditions(depth=2)))
        if draw(st.integers(0, 4)) == 0:
            update["after_ending"] = not rule.after_ending
        if draw(st.integers(0, 4)) == 0:
            update["repeats"] = draw(st.sampled_from([True, False, "each_turn"]))
        # Wordings chosen by the state: any phrasing but the last fallback may get a `when`.
        phrasing = list(rule.phrasing)
        for position, entry in enumerate(phrasing[:-1]):
            if entry.when is not None or draw(st.integers(0, 2)) == 0:
                when = parse_condition(draw(conditions(depth=1)))
                phrasing[position] = entry.model_copy(update={"when": when})
        update["phrasing"] = tuple(phrasing)
        rules.append(rule.model_copy(update=update))
    return Rulebook(rules, catalogs=BOOK.catalogs, name="random")


@settings(max_examples=40)
@given(book=rulebooks(), batch=st.lists(states(), min_size=1, max_size=10), extra=details())
def test_random_rulebooks_equal_the_reference(
    book: Rulebook, batch: list[ConversationState], extra: Details | None
) -> None:
    for state in batch:
        for locale in ("en", "pl"):
            assert_same(
                advise(state, locale=locale, details=extra, rulebook=book),
                _reference(state, locale=locale, details=extra, rulebook=book),
            )


@settings(max_examples=25)
@given(
    books=st.tuples(rulebooks(), rulebooks()),
    batch=st.lists(states(), min_size=1, max_size=6),
    full=st.booleans(),
)
def test_states_seen_under_one_rulebook_are_not_taken_for_another(
    books: tuple[Rulebook, Rulebook], batch: list[ConversationState], full: bool
) -> None:
    # The same states (as equal objects, and through conversations advised with the other
    # rulebook, which pass on their field values) under two rulebooks with the same ids and
    # other conditions: a key kept for one is not the other's, full cache or not.
    with pytest.MonkeyPatch.context() as patch:
        if full:
            patch.setattr(engine, "MAX_FAST_CACHE", 2)
            patch.setattr(engine, "MAX_KEPT_STATES", 2)
            patch.setattr(engine, "MAX_RESOLVED", 2)
        for _ in range(2):
            for state in batch:
                again = ConversationState.model_validate(state.model_dump())
                conv = Conversation(again, rulebook=books[0])
                if not again.ended and again.offensive_remarks < MAX_COUNT:
                    conv = conv.apply(CustomerInsulted())  # which keeps its field values
                for book in books:
                    for given_state in (state, again):
                        fast = advise(given_state, rulebook=book)
                        assert fast.state is given_state
                        assert_same(fast, _reference(given_state, rulebook=book))
                    assert_same(conv.advise(rulebook=book), _reference(conv.state, rulebook=book))


@settings(max_examples=30)
@given(batch=st.lists(states(), min_size=5, max_size=20), locale=st.sampled_from(LOCALES))
def test_flushed_caches_change_nothing(batch: list[ConversationState], locale: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "MAX_FAST_CACHE", 2)
        patch.setattr(engine, "MAX_KEPT_STATES", 2)
        patch.setattr(engine, "MAX_RESOLVED", 2)
        patch.setattr(engine, "MAX_FAST_VOICES", 1)
        for state in batch:
            for lang in (locale, "en"):
                assert_same(advise(state, locale=lang), _reference(state, locale=lang))


def test_caches_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_FAST_CACHE", 3)
    monkeypatch.setattr(engine, "MAX_KEPT_STATES", 3)
    monkeypatch.setattr(engine, "MAX_RESOLVED", 3)
    monkeypatch.setattr(engine, "MAX_FAST_VOICES", 2)
    book = Rulebook(BOOK.rules, catalogs=BOOK.catalogs, name="bounded")
    for remarks in range(5):
        for mood in ("calm", "upset", "angry", "furious"):
            for locale in ("en", "fr", "pl"):
                advise(mood=mood, offensive_remarks=remarks, locale=locale, rulebook=book)
    fast = engine._fast(book)
    assert len(fast.resolved) <= 3
    assert len(fast.voices) <= 2
    assert len(fast.keys) <= 3
    assert all(len(voice.shown) <= 3 for voice in fast.voices.values())
    for voice in fast.voices.values():
        assert all(len(parts) <= 3 for parts in voice.parts.values())
    assert len(fast.whens) <= 3


@pytest.mark.parametrize("channel", ["phone", "chat", "social_media"])
def test_a_wording_chosen_by_the_state_follows_each_state(channel: str) -> None:
    # The same rules are kept in both states; only the wording of one of them differs.
    base = {"channel": channel, "effort_exceeds_value": True, "agent_upset": True}
    for state in ({**base, "offensive_remarks": 1}, base, {**base, "threats": True}, base):
        assert_same(advise(state, locale="fr"), _reference(state, locale="fr"))


def test_cached_groups_share_their_recommendations() -> None:
    # Texts with details are rendered anew by the reference; the groups kept for later
    # calls share one object per distinct rendering, so their memory stays bounded.
    book = Rulebook(BOOK.rules, catalogs=BOOK.catalogs, name="shared")
    extra = Details(callback_in="PT1H", business_name="Atelier Durand")
    for remarks in range(4):
        for channel in ("phone", "chat"):
            advise(
                offensive_remarks=remarks,
                agent_upset=True,
                channel=channel,
                details=extra,
                rulebook=book,
                locale="fr",
            )
    voice = next(iter(engine._fast(book).voices.values()))
    held = [rec for groups in voice.shown.values() for group in groups for rec in group]
    assert len({id(rec) for rec in held}) == len(set(held))


def test_long_done_sets_are_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_CACHED_DONE", 2)
    book = Rulebook(BOOK.rules, catalogs=BOOK.catalogs, name="done")
    short = ConversationState(done=("issue-warning",))
    long = ConversationState(done=("issue-warning", "stay-calm", "show-empathy"))
    for state in (short, long):
        assert_same(advise(state, rulebook=book), _reference(state, rulebook=book))
    fast = engine._fast(book)
    # The values kept for a state would hold every id of a long done set; a key holds
    # only the rules shown, whatever its length.
    done = list(ConversationState.model_fields).index("done")
    assert [values[done] for values in fast.keys] == [short.done]
    keys = [key for voice in fast.voices.values() for key in voice.shown]
    assert keys
    assert all(type(part) is int for key in keys for part in key[:3])


def test_done_sets_leaving_out_the_same_rules_share_a_key() -> None:
    # Rules that repeat are never left out: done sets that differ only by them are
    # different states with one key.
    book = Rulebook(BOOK.rules, catalogs=BOOK.catalogs, name="done-repeats")
    repeating = [rule.id for rule in BOOK.rules if rule.repeats is True][:2]
    sets = [("issue-warning", "show-empathy"), ("issue-warning", "show-empathy", *repeating)]
    sets += [("issue-warning", "show-empathy", repeating[0])]
    for done in sets:
        state = ConversationState(done=done)
        assert_same(advise(state, rulebook=book), _reference(state, rulebook=book))
    fast = engine._fast(book)
    assert len(fast.keys) == len(sets)
    assert len(set(fast.keys.values())) == 1
    assert len(next(iter(fast.voices.values())).shown) == 1


def test_equal_details_written_differently_are_not_confused() -> None:
    # Equal (20 == 20.0) but not the same object: each is formatted as given.
    state = ConversationState(covered_by_contract=True, complaint_validity="invalid")
    for percent in (Decimal(20), Decimal("20.0"), Decimal(20)):
        extra = Details(deposit_percent=percent)
        assert_same(advise(state, details=extra), _reference(state, details=extra))


class TestSameErrors:
    """The fast path checks arguments in the reference's order and raises the same errors."""

    def test_bad_state_before_bad_locale(self) -> None:
        with pytest.raises(ValidationError):
            advise({"mood": "livid"}, locale="xx")

    @pytest.mark.parametrize("locale", ["xx", "de", "", 42, None, ["fr"]])
    def test_unsupported_locales(self, locale: Any) -> None:
        with pytest.raises(UnsupportedLocaleError) as fast:
            advise(locale=locale)
        with pytest.raises(UnsupportedLocaleError) as reference:
            _reference(locale=locale)
        assert str(fast.value) == str(reference.value)

    def test_unknown_done_rule(self) -> None:
        state = ConversationState(done=("issue-warnin",))
        with pytest.raises(UnknownRuleError) as fast:
            advise(state)
        with pytest.raises(UnknownRuleError) as reference:
            _reference(state)
        assert str(fast.value) == str(reference.value)
        # The error names the field that holds the id, not only the id.
        assert str(fast.value) == (
            "no rule with id 'issue-warnin' (in the state's field 'done'; "
            "did you mean 'issue-warning'?)"
        )
        assert fast.value.field == "done"

    def test_an_unknown_done_rule_is_not_kept(self) -> None:
        # The caches hold done ids only once they are known to be the rulebook's own.
        book = Rulebook(BOOK.rules, catalogs=BOOK.catalogs, name="unknown-done")
        state = ConversationState(done=("issue-warnin",))
        for _ in range(2):
            with pytest.raises(UnknownRuleError):
                advise(state, rulebook=book)
        fast = engine._fast(book)
        assert not fast.keys
        assert not any(voice.shown for voice in fast.voices.values())

    def test_iter_advice_checks_the_locale_when_called(self) -> None:
        with pytest.raises(UnsupportedLocaleError):
            iter_advice([], locale="xx")

    def test_iter_advice_names_the_bad_state(self) -> None:
        stream = iter_advice([{}, {"mood": "livid"}])
        next(stream)
        with pytest.raises(ValidationError) as error:
            next(stream)
        assert "in states[1]" in error.value.__notes__

    def test_not_a_rulebook(self) -> None:
        with pytest.raises(TypeError, match="rulebook must be a Rulebook"):
            advise(rulebook="builtin")  # type: ignore[arg-type]


class TestLazyCatalogs:
    """A language's catalog is read when first asked for; nothing else changes."""

    def fresh(self) -> Rulebook:
        return Rulebook(
            BOOK.rules, catalogs=LazyCatalogs(builtin_locales_dir(), DOMAIN), name="fresh"
        )

    def test_advice_in_one_language_reads_one_catalog(self) -> None:
        book = self.fresh()
        assert isinstance(book.catalogs, LazyCatalogs)
        assert book.catalogs.loaded() == ()
        assert sorted(book.catalogs) == ["en", "fr", "pl"]
        advise(mood="angry", locale="fr_FR", rulebook=book)
        assert book.catalogs.loaded() == ("fr",)
        assert_same(
            advise(mood="angry", locale="fr", rulebook=book),
            _reference(mood="angry", locale="fr", rulebook=BOOK),
        )

    def test_locales_and_missing_are_unchanged(self) -> None:
        book = self.fresh()
        assert book.missing("pl") == BOOK.missing("pl") == []
        assert book.catalogs.loaded() == ("pl",)
        assert book.locales == BOOK.locales == ("en", "fr", "pl")
        assert dict(book.catalogs) == load_catalogs(builtin_locales_dir(), DOMAIN)

    def test_a_fresh_process_reads_only_the_catalog_it_advises_in(self) -> None:
        code = (
            "import difficult_customers as dc; dc.advise(mood='angry'); "
            "print(dc.default_rulebook().catalogs.loaded())"
        )
        assert fresh_python(code).strip() == "('en',)"

    def test_pickles_as_the_plain_catalogs(self) -> None:
        book = self.fresh()
        assert pickle.loads(pickle.dumps(book.catalogs)) == dict(BOOK.catalogs)

    def test_a_broken_catalog_is_reported_when_its_language_is_read(self, tmp_path: Path) -> None:
        for lang, text in (
            ("fr", 'msgid "a"\nmsgstr "b"\n'),
            ("pl", 'msgid "a {x}"\nmsgstr "b"\n'),
        ):
            folder = tmp_path / lang / "LC_MESSAGES"
            folder.mkdir(parents=True)
            (folder / f"{DOMAIN}.po").write_text(text, encoding="utf-8")
        catalogs = LazyCatalogs(tmp_path, DOMAIN)
        assert catalogs["fr"] == {("", "a"): "b"}
        with pytest.raises(RulebookError, match="placeholders") as error:
            catalogs["pl"]
        assert error.value.file is not None
        assert error.value.file.endswith(f"pl/LC_MESSAGES/{DOMAIN}.po")
        with pytest.raises(KeyError):
            catalogs["de"]

    def test_a_folder_that_is_not_a_locale_is_reported_at_once(self, tmp_path: Path) -> None:
        folder = tmp_path / "xx-not-a-locale" / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / f"{DOMAIN}.po").write_text("", encoding="utf-8")
        with pytest.raises(RulebookError, match="is not a locale"):
            LazyCatalogs(tmp_path, DOMAIN)


_PIECES = st.sampled_from(
    ["(", ")", "[", "]", "{", "}", '"', "'", "#", "\\", "\n", " ", "x", "or", '")"', "'('"]
)


@given(
    text=st.one_of(
        conditions(),
        st.lists(_PIECES, max_size=12).map("".join),
        st.text(alphabet="()[]{}\"'#\\\n xy", max_size=16),
    )
)
def test_the_token_scan_is_skipped_only_when_it_would_find_nothing(text: str) -> None:
    # The shortcut that spares the first advice Python's tokenizer must never change what
    # the scan reports: comments and unmatched closing brackets.
    source = _Source(text)
    try:
        _scan_tokens(source)
    except (tokenize.TokenError, SyntaxError):
        return  # left for ast.parse to report, with or without the scan
    except ConditionSyntaxError:
        assert _needs_token_scan(text)
        return
    if source.comments:
        assert _needs_token_scan(text)


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per part of an advice the fast path renders (rather than looks up)."""
    calls: list[int] = []
    render = engine._Fast.render

    def counted(self: Any, *args: Any) -> Any:
        calls.append(1)
        return render(self, *args)

    monkeypatch.setattr(engine._Fast, "render", counted)
    return calls


def test_states_showing_the_same_advice_share_one_rendering(renders: list[int]) -> None:
    # A state never seen before is rendered only if what it shows is new: random states
    # would otherwise each be rendered anew, many times slower than a lookup.
    book = Rulebook(BOOK.rules, catalogs=BOOK.catalogs, name="shared rendering")
    calm = ConversationState(channel="email", mood="calm")
    # issue-warning does not apply to a calm customer: having done it changes nothing shown.
    assert_same(advise(calm, rulebook=book), _reference(calm, rulebook=book))
    assert renders  # one rendering per part of the advice (attitudes, actions...)
    first = len(renders)
    again = calm.model_copy(update={"done": ("issue-warning",)})
    assert_same(advise(again, rulebook=book), _reference(again, rulebook=book))
    assert len(renders) == first


def test_parts_of_advice_are_rendered_once_each(renders: list[int]) -> None:
    # Attitudes, actions, things to avoid and pending moves are looked up part by part:
    # distinct advices share their parts, so fewer parts are rendered than there are
    # distinct advices (rendering each combination as one whole renders at least one each).
    book = Rulebook(BOOK.rules, catalogs=BOOK.catalogs, name="parts")
    shown = set()
    for row in random_state_rows(5000, seed=3):
        advice = advise(row, rulebook=book, locale="pl")
        parts = (advice.attitudes, advice.actions, advice.avoid, advice.pending)
        shown.add(tuple(tuple((r.rule_id, r.text) for r in part) for part in parts))
    assert len(renders) < len(shown)


class _WithAMethod(ConversationState):
    def abusive(self) -> bool:
        return self.offensive_remarks > 0


class _LooseMood(ConversationState):
    mood: str = "upset"  # type: ignore[assignment]


def test_a_subclass_that_redefines_a_field_is_read_as_a_state() -> None:
    # Its values may be what the state does not allow: read as the state of its fields,
    # the same advice on every call, whatever was advised before, and an invalid value is
    # reported at its field.
    for book in (Rulebook(BOOK.rules, catalogs=BOOK.catalogs, name=f"sub{i}") for i in (1, 2)):
        if book.name == "sub2":
            advise(ConversationState(mood="angry"), rulebook=book)
        for _ in range(2):
            advice = advise(_LooseMood(mood="angry"), rulebook=book)
            assert type(advice.state) is ConversationState
            assert_same(advice, _reference(ConversationState(mood="angry"), rulebook=book))
    with pytest.raises(ValidationError, match="mood"):
        advise(_LooseMood(mood="livid"))
    with pytest.raises(ValidationError, match="mood"):
        Conversation(_LooseMood(mood="livid"))
    folded = fold(_LooseMood(mood="angry"), CustomerInsulted(), BOOK)
    assert folded == fold(ConversationState(mood="angry"), CustomerInsulted(), BOOK)
    assert folded.mood is Mood.ANGRY
    # A subclass that only adds behaviour is taken as it is.
    state = _WithAMethod(offensive_remarks=1)
    assert advise(state).state is state
    assert advise(state).to_dict() == _reference(ConversationState(offensive_remarks=1)).to_dict()
