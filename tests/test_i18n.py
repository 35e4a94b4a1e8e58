"""Catalogs, locale negotiation and Babel formatting of details."""

from __future__ import annotations

import string
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.pofile import read_po

from conftest import run_prebuilt
from difficult_customers import (
    Details,
    RulebookError,
    UnsupportedLocaleError,
    advise,
    default_rulebook,
)
from difficult_customers.i18n import (
    DURATION_CONTEXT,
    DURATION_MESSAGES,
    PLAIN_LANGUAGES,
    UI_MESSAGES,
    SafeFormatter,
    format_details,
    load_catalogs,
    negotiate_locale,
    negotiate_rulebook_locale,
    plain_language,
    variant_context,
)
from difficult_customers.rules import builtin_locales_dir

SUPPORTED = ("en", "fr", "pl")


@pytest.mark.parametrize(
    ("requested", "language", "tag"),
    [
        ("en", "en", "en"),
        ("fr_FR", "fr", "fr_FR"),
        ("fr-CA", "fr", "fr_CA"),
        ("pl-PL", "pl", "pl_PL"),
        ("en_GB", "en", "en_GB"),
        ("pl_PL.UTF-8", "pl", "pl_PL"),
        (" FR ", "fr", "fr"),
        (Locale("pl"), "pl", "pl"),
        ("C", "en", "en"),
        ("C.UTF-8", "en", "en"),
        ("POSIX", "en", "en"),
    ],
)
def test_negotiation(requested: str | Locale, language: str, tag: str) -> None:
    locale = negotiate_locale(requested, SUPPORTED)
    assert locale.language == language
    assert str(locale) == tag


@pytest.mark.parametrize("requested", ["de", "de_DE", "xx-!!", "", 42, None])
def test_unsupported(requested: object) -> None:
    with pytest.raises(UnsupportedLocaleError) as info:
        negotiate_locale(requested, SUPPORTED)  # type: ignore[arg-type]
    assert info.value.supported == SUPPORTED
    assert "supported locales: en, fr, pl" in str(info.value)


def test_regional_locale_keeps_the_catalog_and_formats_regionally() -> None:
    advice = advise(locale="fr-CA")
    assert advice.locale == "fr_CA"
    assert advice[0].text == advise(locale="fr")[0].text


def test_every_catalog_has_every_message() -> None:
    book = default_rulebook()
    needed = {(rule.id, m) for rule in book for m in rule.messages()}
    needed |= {(context, message) for _, context, message in UI_MESSAGES}
    for language in ("fr", "pl"):
        catalog = book.catalogs[language]
        assert needed <= catalog.keys(), language
        for key in needed:
            assert catalog[key] != key[1], (language, key)


def test_translations_keep_the_placeholders() -> None:
    formatter = string.Formatter()
    for language in ("fr", "pl"):
        for (_context, source), text in default_rulebook().catalogs[language].items():
            names = {f for _, f, _, _ in formatter.parse(text) if f}
            assert names == {f for _, f, _, _ in formatter.parse(source) if f}


def test_no_slash_forms_to_read_aloud() -> None:
    for language in ("fr", "pl"):
        for text in default_rulebook().catalogs[language].values():
            for slashed in ("Pan/Pani", "Pani/Pan", "(e)", "/a ", "/e "):
                assert slashed not in text, (language, text)


def test_catalogs_are_found_in_the_checkout() -> None:
    assert (builtin_locales_dir() / "fr" / "LC_MESSAGES" / "difficult_customers.po").is_file()


def test_placeholder_mismatch_in_a_catalog_is_refused(tmp_path: Path) -> None:
    po = tmp_path / "fr" / "LC_MESSAGES" / "pack.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgctxt "r"\nmsgid "Back {callback_in}."\nmsgstr "De retour {delai}."\n',
        encoding="utf-8",
    )
    with pytest.raises(RulebookError, match="placeholders") as info:
        load_catalogs(tmp_path, "pack")
    assert info.value.file == str(po)
    assert info.value.rule == "r"


def test_fuzzy_and_empty_entries_are_not_translations(tmp_path: Path) -> None:
    po = tmp_path / "pl" / "LC_MESSAGES" / "pack.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        '#, fuzzy\nmsgctxt "r"\nmsgid "Hello."\nmsgstr "Dzień dobry."\n\n'
        'msgctxt "r"\nmsgid "Bye."\nmsgstr ""\n',
        encoding="utf-8",
    )
    assert load_catalogs(tmp_path, "pack") == {"pl": {}}


DETAILS = Details(
    business_name="Atelier Durand", callback_in="PT1H", deposit_percent=20, closed_day="sunday"
)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "en",
            {"callback_in": "in an hour", "deposit_percent": "20%", "closed_day": "Sunday"},
        ),
        (
            "fr",
            {
                "callback_in": "dans une heure",
                "deposit_percent": "20\xa0%",
                "closed_day": "dimanche",
            },
        ),
        (
            "pl",
            {"callback_in": "za godzinę", "deposit_percent": "20%", "closed_day": "niedziela"},
        ),
    ],
)
def test_details_are_formatted_by_babel(locale: str, expected: dict[str, str]) -> None:
    values = format_details(DETAILS, Locale.parse(locale))
    assert values["business_name"] == "Atelier Durand"
    for name, text in expected.items():
        assert values[name] == text


def test_fractional_percentages_are_not_rounded() -> None:
    values = format_details(Details(deposit_percent=Decimal("12.5")), Locale("en"))
    assert values["deposit_percent"] == "12.5%"


@pytest.mark.parametrize("template", ["{x.__class__}", "{x[0]}", "{0}", "{}", "{x!r}", "{x:>10}"])
def test_safe_formatter_allows_plain_names_only(template: str) -> None:
    with pytest.raises((ValueError, IndexError, KeyError)):
        SafeFormatter().format(template, "a", x="value")


def test_safe_formatter_formats_plain_names() -> None:
    assert SafeFormatter().format("in {x}!", x="1 hour") == "in 1 hour!"


@pytest.mark.parametrize(
    ("locale", "fragment"),
    [("en", "Sunday"), ("fr", "le dimanche"), ("pl", "niedziela to u nas dzień wolny")],
)
def test_closed_day_reads_naturally(locale: str, fragment: str) -> None:
    advice = advise(request_within_policy=False, locale=locale, details=DETAILS)
    hold_firm = next(r for r in advice if r.rule_id == "hold-firm-on-policy")
    assert fragment in hold_firm.text


def test_phrases_without_the_detail_read_naturally() -> None:
    advice = advise(request_within_policy=False, locale="fr")
    hold_firm = next(r for r in advice if r.rule_id == "hold-firm-on-policy")
    assert "dimanche" not in hold_firm.text
    assert "{" not in hold_firm.text


def _po(path: Path, entries: dict[str, str], context: str = "r") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(
        f'msgctxt "{context}"\nmsgid "{k}"\nmsgstr "{v}"\n\n' for k, v in entries.items()
    )
    path.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n' + body,
        encoding="utf-8",
    )


def test_regional_catalog_folders_add_to_their_language(tmp_path: Path) -> None:
    _po(tmp_path / "fr" / "LC_MESSAGES" / "p.po", {"Hello.": "Bonjour.", "Bye.": "Salut."})
    _po(tmp_path / "fr_FR" / "LC_MESSAGES" / "p.po", {"Bye.": "Au revoir."})
    assert load_catalogs(tmp_path, "p") == {
        "fr": {("r", "Hello."): "Bonjour.", ("r", "Bye."): "Au revoir."}
    }


def test_catalog_folder_must_be_a_locale(tmp_path: Path) -> None:
    _po(tmp_path / "french" / "LC_MESSAGES" / "p.po", {"Hello.": "Bonjour."})
    with pytest.raises(RulebookError, match="'french' is not a locale"):
        load_catalogs(tmp_path, "p")


def test_domains_with_glob_characters(tmp_path: Path) -> None:
    _po(tmp_path / "pl" / "LC_MESSAGES" / "coffee[v2].po", {"Hello.": "Dzień dobry."})
    assert load_catalogs(tmp_path, "coffee[v2]") == {"pl": {("r", "Hello."): "Dzień dobry."}}


@pytest.mark.parametrize("field", ["{callback_in!r}", "{callback_in:>999}", "{callback_in.x}"])
def test_translations_may_not_add_conversions_or_specs(tmp_path: Path, field: str) -> None:
    _po(tmp_path / "fr" / "LC_MESSAGES" / "p.po", {"Back {callback_in}.": f"Retour {field}."})
    with pytest.raises(RulebookError, match="placeholders"):
        load_catalogs(tmp_path, "p")


@pytest.mark.parametrize(
    ("delay", "english", "french", "polish"),
    [
        ("PT30M", "in 30 minutes", "dans 30 minutes", "za 30 minut"),
        ("PT1H", "in an hour", "dans une heure", "za godzinę"),
        ("PT90M", "in 90 minutes", "dans 90 minutes", "za 90 minut"),
        ("PT2H", "in 2 hours", "dans 2 heures", "za 2 godziny"),
        ("P1D", "tomorrow", "demain", "jutro"),
        ("P2D", "in 2 days", "dans 2 jours", "za 2 dni"),
        ("P7D", "in a week", "dans une semaine", "za tydzień"),
        ("PT1M", "in a minute", "dans une minute", "za minutę"),
        ("PT5H", "in 5 hours", "dans 5 heures", "za 5 godzin"),
        ("PT22H", "in 22 hours", "dans 22 heures", "za 22 godziny"),
        ("PT21M", "in 21 minutes", "dans 21 minutes", "za 21 minut"),
        ("PT36H", "in 36 hours", "dans 36 heures", "za 36 godzin"),
        ("P10D", "in 10 days", "dans 10 jours", "za 10 dni"),
        ("P14D", "in 2 weeks", "dans 2 semaines", "za 2 tygodnie"),
        ("P30D", "in 30 days", "dans 30 jours", "za 30 dni"),
        ("PT150S", "in 150 seconds", "dans 150 secondes", "za 150 sekund"),
    ],
)
def test_callback_delays_are_said_exactly_and_naturally(
    delay: str, english: str, french: str, polish: str
) -> None:
    # Exact: Babel would round 90 minutes to "in 2 hours", a promise the agent could not keep.
    # Natural: a person says "in an hour", "za godzinę", "demain", not "in 1 hour", "za 1 dzień".
    details = Details(callback_in=delay)
    assert format_details(details, Locale("en"))["callback_in"] == english
    assert format_details(details, Locale("fr"))["callback_in"] == french
    assert format_details(details, Locale("pl"))["callback_in"] == polish


def test_large_counts_are_formatted_for_the_locale() -> None:
    details = Details(callback_in=timedelta(days=30) - timedelta(minutes=1))
    assert format_details(details, Locale("en"))["callback_in"] == "in 43,199 minutes"
    assert format_details(details, Locale("fr"))["callback_in"] == "dans 43\u202f199 minutes"


def test_every_duration_message_has_every_plural_form() -> None:
    # Polish needs three forms (1, 2-4, 5+); a missing form would fall back to English.
    for language, forms in (("fr", 2), ("pl", 3)):
        path = builtin_locales_dir() / language / "LC_MESSAGES" / "difficult_customers.po"
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        assert catalog.num_plurals == forms
        for _unit, _size, singular, plural in DURATION_MESSAGES:
            message = catalog.get((singular, plural), context=DURATION_CONTEXT)
            assert message is not None, (language, singular)
            assert len(message.string) == forms, (language, singular)
            assert all(message.string), (language, singular)


def test_variant_entries_are_read_under_their_own_context(tmp_path: Path) -> None:
    _po(tmp_path / "pl" / "LC_MESSAGES" / "p.po", {"Hello.": "Dzień dobry Pani."}, "r|feminine")
    assert load_catalogs(tmp_path, "p") == {"pl": {("r|feminine", "Hello."): "Dzień dobry Pani."}}


@pytest.mark.parametrize("context", ["r|pani", "r|neutral", "r|", "|feminine", "@ui|feminine"])
def test_a_variant_with_an_unknown_form_is_refused(tmp_path: Path, context: str) -> None:
    _po(tmp_path / "pl" / "LC_MESSAGES" / "p.po", {"Hello.": "Dzień dobry."}, context)
    with pytest.raises(RulebookError, match="masculine or feminine") as info:
        load_catalogs(tmp_path, "p")
    assert info.value.field == "msgctxt"


def test_variant_context() -> None:
    assert variant_context("show-empathy", "feminine") == "show-empathy|feminine"
    with pytest.raises(ValueError, match="pan"):
        variant_context("show-empathy", "pan")


# --- issue 7, item 23: the negotiation cache is bounded ---------------------------------


def test_an_absurdly_long_locale_is_refused_before_caching() -> None:
    from difficult_customers import i18n

    before = i18n._negotiate_text.cache_info().currsize
    padded = "fr" + " " * 2_000_000
    with pytest.raises(UnsupportedLocaleError) as info:
        negotiate_locale(padded, SUPPORTED)
    assert i18n._negotiate_text.cache_info().currsize == before
    assert len(str(info.value)) < 300, "the message does not repeat the whole input"
    assert info.value.locale is padded


@pytest.mark.parametrize(
    ("locale", "length"),
    [("x" * 1_000, "1,000"), ("\x1b" * 100, "100"), ("é" * 90, "90")],
    ids=["plain", "escaped", "accented"],
)
def test_a_long_locale_is_said_to_be_as_long_as_it_is(locale: str, length: str) -> None:
    # Its repr was counted: quotes and escapes made "x" * 1000 1,002 characters long.
    with pytest.raises(UnsupportedLocaleError) as info:
        negotiate_locale(locale, SUPPORTED)
    assert f"... ({length} characters);" in str(info.value)


def test_padded_spellings_share_one_cache_entry() -> None:
    from difficult_customers import i18n

    negotiate_locale("pl_PL", SUPPORTED)
    before = i18n._negotiate_text.cache_info().currsize
    for padding in range(1, 25):
        spelled = " " * padding + "pl-PL" + " " * padding
        assert str(negotiate_locale(spelled, SUPPORTED)) == "pl_PL"
        assert str(negotiate_locale("pl_PL.UTF-8" + " " * padding, SUPPORTED)) == "pl_PL"
    assert i18n._negotiate_text.cache_info().currsize == before


def test_the_longest_accepted_locale() -> None:
    from difficult_customers.i18n import MAX_LOCALE_LENGTH

    assert negotiate_locale("fr_FR.UTF-8".ljust(MAX_LOCALE_LENGTH), SUPPORTED).language == "fr"
    with pytest.raises(UnsupportedLocaleError):
        negotiate_locale("fr_FR.UTF-8".ljust(MAX_LOCALE_LENGTH + 1), SUPPORTED)


# --- plain language codes, read without Babel ------------------------------------------------


@pytest.mark.parametrize("code", sorted(PLAIN_LANGUAGES))
def test_babel_reads_a_plain_language_code_as_itself(code: str) -> None:
    locale = Locale.parse(code)
    assert (locale.language, str(locale)) == (code, code)


def test_the_builtin_catalog_folders_are_plain_language_codes() -> None:
    folders = {path.name for path in builtin_locales_dir().iterdir() if path.is_dir()}
    assert folders <= PLAIN_LANGUAGES


@pytest.mark.parametrize("code", sorted(PLAIN_LANGUAGES))
def test_a_plain_language_code_advises_as_its_negotiated_locale(code: str) -> None:
    state = {"mood": "furious", "customer_speaking": True, "threats": True}
    book = default_rulebook()
    assert advise(state, locale=code) == advise(state, locale=Locale.parse(code))
    assert plain_language(code, book) == code
    assert negotiate_rulebook_locale(code, book) == Locale.parse(code)


@pytest.mark.parametrize("requested", ["fr_FR", "FR", "fr-FR", " fr", "C", "de", 3, None])
def test_other_spellings_are_negotiated_by_babel(requested: object) -> None:
    assert plain_language(requested, default_rulebook()) is None


def test_a_first_advice_in_a_plain_language_loads_no_babel(tmp_path: Path) -> None:
    # With the prebuilt catalogs, as an installed wheel has them: reading a .po needs Babel.
    code = (
        "import difficult_customers as dc\n"
        "assert dc.advise({'mood': 'angry'}, locale='pl').locale == 'pl'\n"
        "assert 'babel' not in sys.modules, 'babel loaded'\n"
        "assert dc.advise({'mood': 'angry'}, locale='pl_PL').locale == 'pl_PL'\n"
        "print('babel' in sys.modules)\n"
    )
    assert run_prebuilt(code, tmp_path).split() == ["True"]
