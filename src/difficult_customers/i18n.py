"""Catalogs, locale negotiation, and rendering phrases with Babel's formatters."""

from __future__ import annotations

import functools
import io
import os
import string
import threading
import warnings
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._detail_values import FormOfAddress
from ._files import read_regular_file
from ._text import control_character, describe_control
from .errors import RulebookError, UnsupportedLocaleError
from .state import Channel

if TYPE_CHECKING:
    from babel import Locale
    from babel.support import Translations

    from .details import Details
    from .rules import Rulebook

# Babel is imported where it is used: negotiating a locale, reading a catalog, formatting
# details. A process needs it from its first advice on, not at ``import difficult_customers``,
# which stays quick (benchmarks/, "import"; Babel's core and its pickled data cost 3 ms).

__all__ = [
    "DURATION_CONTEXT",
    "DURATION_MESSAGES",
    "MAX_CATALOG_BYTES",
    "MAX_LOCALE_LENGTH",
    "PLAIN_LANGUAGES",
    "SPOKEN_CHANNELS",
    "UI_MESSAGES",
    "LazyCatalogs",
    "SafeFormatter",
    "format_details",
    "format_duration",
    "load_catalog_files",
    "load_catalogs",
    "negotiate_locale",
    "negotiate_rulebook_locale",
    "plain_language",
    "spoken_form",
    "variant_context",
]

Catalog = dict[tuple[str, str], str]

#: Largest catalog (.po file) read, in bytes; the built-in ones are under 50 kB.
MAX_CATALOG_BYTES = 4 * 1024 * 1024
#: Longest locale string accepted, padding included; real ones ("ca_ES_VALENCIA.UTF-8@euro")
#: stay under 30 characters. Longer text is refused before it reaches the negotiation cache.
MAX_LOCALE_LENGTH = 64

#: Language codes read without Babel when written exactly so ("fr", not "fr_FR" or "FR"), as
#: a catalog folder or a requested locale: the built-in languages, for which Babel's parser
#: gives back the code itself as the language and the locale's name (tests/test_i18n.py
#: checks it). Loading Babel and its locale data is then left until a locale needs it
#: (a region, details to format): it was half of the first advice of a process.
PLAIN_LANGUAGES = frozenset({"en", "fr", "pl"})


def load_catalogs(locales_dir: Path, domain: str) -> dict[str, Catalog]:
    """Read every ``<lang>/LC_MESSAGES/<domain>.po`` under ``locales_dir`` with Babel.

    Returns ``{lang: {(msgctxt, msgid): msgstr}}``, keyed by language: a regional folder
    such as ``fr_FR`` adds to ``fr`` (after ``fr`` itself, so it wins where both translate a
    message). Untranslated and fuzzy entries are left out, so a catalog that misses a
    message makes its locale unsupported rather than silently falling back to English.

    Raises:
        RulebookError: a catalog does not parse, its folder is not a locale, or a
            translation's placeholders differ from its source message's.
    """
    catalogs: dict[str, Catalog] = {}
    for _, lang, entries in load_catalog_files(locales_dir, domain):
        catalogs.setdefault(lang, {}).update(entries)
    return catalogs


class LazyCatalogs(Mapping[str, Mapping[tuple[str, str], str]]):
    """:func:`load_catalogs` read one language at a time, when that language is first asked for.

    The languages are known at once (from the folder names, checked as
    :func:`load_catalog_files` checks them); a language's files are read, merged and checked
    on first access, once, also under threads. A process advising in one language reads
    one catalog. Pickled, it becomes the plain dictionary :func:`load_catalogs` returns.

    Raises:
        RulebookError: as :func:`load_catalogs`, for a folder when created, for a file when
            its language is first read.

    .. versionadded:: 0.2
    """

    __slots__ = ("_domain", "_files", "_loaded", "_lock", "_prebuilt")

    def __init__(self, locales_dir: Path, domain: str, *, prebuilt: Path | None = None) -> None:
        self._domain = domain
        # The built-in catalogs' folder of artifacts (see _prebuilt.py); None for a pack's.
        self._prebuilt = prebuilt
        self._files: dict[str, list[Path]] = {}
        for po, lang in _catalog_paths(locales_dir, domain):
            self._files.setdefault(lang, []).append(po)
        self._loaded: dict[str, Mapping[tuple[str, str], str]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, lang: str) -> Mapping[tuple[str, str], str]:
        try:
            return self._loaded[lang]
        except KeyError:
            pass
        files = self._files[lang]  # KeyError for a language without a catalog
        with self._lock:
            if lang not in self._loaded:
                entries: Catalog = {}
                for po in files:
                    entries.update(_read_catalog(po, lang, self._domain, self._prebuilt))
                # Read-only, as a Rulebook's catalogs are: rendered texts are cached from it.
                self._loaded[lang] = MappingProxyType(entries)
        return self._loaded[lang]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, lang: object) -> bool:
        return lang in self._files

    def loaded(self) -> tuple[str, ...]:
        """The languages read so far."""
        return tuple(self._loaded)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, ({lang: dict(catalog) for lang, catalog in self.items()},))

    def __repr__(self) -> str:
        return f"<LazyCatalogs {list(self._files)}, read: {list(self._loaded)}>"


SPOKEN_CHANNELS: frozenset[Channel] = frozenset({Channel.PHONE, Channel.IN_PERSON})
"""Channels on which the agent speaks to one person, so a form of address applies."""

_VARIANT_FORMS = tuple(form.value for form in FormOfAddress if form is not FormOfAddress.NEUTRAL)


def variant_context(rule_id: str, form: FormOfAddress | str) -> str:
    """The msgctxt of a phrasing's variant for a form of address: ``"rule-id|feminine"``.

    A variant is an optional catalog entry with the same msgid as the rule's phrasing; it is
    used on spoken channels when the caller gives that form, and the rule's own entry
    otherwise. Rule ids cannot contain "|", so a variant never clashes with a rule.
    """
    return f"{rule_id}|{FormOfAddress(form).value}"


def spoken_form(details: Details | None) -> str | None:
    """The form of address whose variants apply on spoken channels, or None for neutral."""
    if details is None or details.form_of_address is FormOfAddress.NEUTRAL:
        return None
    return details.form_of_address.value


def _check_variant(context: str, file: str) -> None:
    rule_id, bar, form = context.partition("|")
    if bar and (form not in _VARIANT_FORMS or not rule_id or rule_id.startswith("@")):
        raise RulebookError(
            f"msgctxt {context!r} is not a rule id or a variant of one: a variant's msgctxt is "
            f"the rule id, '|' and a form of address ({' or '.join(_VARIANT_FORMS)})",
            file=file,
            rule=rule_id or None,
            field="msgctxt",
        )


def load_catalog_files(locales_dir: Path, domain: str) -> list[tuple[Path, str, Catalog]]:
    """Each catalog file under ``locales_dir`` with its language and entries, in path order.

    The files :func:`load_catalogs` merges, for a caller that must say which file an entry
    comes from. A catalog must be a regular file of at most :data:`MAX_CATALOG_BYTES`; a
    broken link is reported rather than skipped.

    Raises:
        RulebookError: as :func:`load_catalogs`, naming the file.
    """
    return [
        (po, lang, _read_catalog(po, lang, domain))
        for po, lang in _catalog_paths(locales_dir, domain)
    ]


def _catalog_paths(locales_dir: Path, domain: str) -> Iterator[tuple[Path, str]]:
    """Each catalog file under ``locales_dir`` with its language, in path order, unread."""
    try:
        folders = sorted(entry for entry in locales_dir.iterdir() if entry.is_dir())
    except OSError as exc:
        raise RulebookError(
            f"cannot read the catalogs folder: {exc.strerror or exc}", file=str(locales_dir)
        ) from None
    for folder in folders:
        po = folder / "LC_MESSAGES" / f"{domain}.po"
        # lexists: a link to nowhere is a mistake to report, not a missing translation.
        if not os.path.lexists(po):
            continue
        if folder.name in PLAIN_LANGUAGES:
            yield po, folder.name
            continue
        from babel import Locale, UnknownLocaleError

        try:
            lang = Locale.parse(folder.name.split(".", 1)[0].replace("-", "_")).language
        except (ValueError, TypeError, UnknownLocaleError):
            raise RulebookError(
                f"catalog folder {folder.name!r} is not a locale such as fr or pl_PL",
                file=str(po),
            ) from None
        yield po, lang


def _read_catalog(po: Path, lang: str, domain: str, prebuilt: Path | None = None) -> Catalog:
    try:
        data = read_regular_file(po, MAX_CATALOG_BYTES)
    except OSError as exc:
        raise RulebookError(f"cannot read catalog: {exc.strerror or exc}", file=str(po)) from None
    except ValueError as exc:
        raise RulebookError(f"cannot read catalog: {exc}", file=str(po)) from None
    entries: list[tuple[str, str, str]] | None = None
    if prebuilt is not None:
        # The built-in catalogs: their entries as read at build time, if made from exactly
        # these bytes (see _prebuilt.py); checked below all the same.
        from ._prebuilt import catalog_entries

        entries = catalog_entries(po, data, prebuilt)
    if entries is None:
        entries = _read_po(po, data, lang, domain)
    return _checked_entries(entries, po)


def _undecodable(data: bytes, exc: UnicodeDecodeError) -> str:
    """``not UTF-8 text (byte 0xe9 at line 3, column 23)``, for the first byte of ``data``
    that its charset cannot decode."""
    try:
        data.decode(exc.encoding)
    except UnicodeDecodeError as whole:
        before = data[: whole.start].decode(exc.encoding)
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        charset = "UTF-8" if exc.encoding.replace("-", "").lower() == "utf8" else exc.encoding
        return (
            f"not {charset} text (byte 0x{data[whole.start]:02x} at line {line}, column {column})"
        )
    except LookupError:  # pragma: no cover - Babel found the codec
        pass
    return str(exc)


def _read_po(po: Path, data: bytes, lang: str, domain: str) -> list[tuple[str, str, str]]:
    """The translated entries of a ``.po`` file's content, ``(msgctxt, msgid, msgstr)``."""
    from babel.messages.pofile import PoFileError, read_po

    # Windows editors open a file with a byte order mark, which Babel takes for a keyword.
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        # abort_invalid: Babel would otherwise print its complaints and read on.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            catalog = read_po(io.BytesIO(data), locale=lang, domain=domain, abort_invalid=True)
    except PoFileError as exc:
        reason = str(exc).rsplit(" on ", 1)[0]
        raise RulebookError(
            f"not a valid catalog: {reason} on line {exc.lineno + 1}", file=str(po)
        ) from None
    except UnicodeDecodeError as exc:
        # Babel decodes line by line, and its error gives a position within a line unnamed.
        raise RulebookError(
            f"not a valid catalog: {_undecodable(data, exc)}", file=str(po)
        ) from None
    except Exception as exc:  # Babel raises several types for a malformed file
        raise RulebookError(f"cannot read catalog: {exc}", file=str(po)) from None
    _check_po_lines(po, data)
    entries: list[tuple[str, str, str]] = []
    for message in catalog:
        if not message.id or message.fuzzy or not message.string:
            continue
        if not isinstance(message.id, str) or not isinstance(message.string, str):
            continue  # plural entries are not used by rules
        entries.append((message.context or "", message.id, message.string))
    return entries


# A line of a .po file that is not blank or a comment: a keyword and a quoted string, or a
# quoted string that continues the previous one. Babel reads others without a word: it
# takes the first and last characters of `msgstr Vous asseoir` for quotes, and drops the
# entry of a string that is not closed.
_PO_LINE = r'\s*(?:(msgctxt|msgid_plural|msgid|msgstr(?:\[[0-9]+\])?)\s+)?("(?:[^"\\]|\\.)*")\s*'


def _check_po_lines(po: Path, data: bytes) -> None:
    """Refuse what Babel's reader lets through: a string that is not quoted or not closed,
    and a message given twice (Babel keeps the first translation; msgfmt refuses the file).

    Raises:
        RulebookError: naming the file and the line.
    """
    import re

    pattern = re.compile(_PO_LINE)
    # Latin-1 maps each byte to one character: quotes and backslashes are found in any
    # charset Babel reads, and splitting at line feeds only matches Babel's line numbers.
    lines = data.decode("latin-1").split("\n")
    seen: dict[tuple[str | None, str], int] = {}
    entry: dict[str, str] = {}
    start = 0
    last: str | None = None

    def finish() -> None:
        message = entry.get("msgid")
        if not message:  # the header, or nothing yet
            return
        key = (entry.get("msgctxt"), message)
        if key in seen:
            raise RulebookError(
                f"not a valid catalog: the message {message[:80]!r} is given twice, on lines "
                f"{seen[key]} and {start}; give each msgctxt and msgid once",
                file=str(po),
                rule=key[0],
            )
        seen[key] = start

    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        found = pattern.fullmatch(line)
        if found is None or (found.group(1) is None and last is None):
            shown = stripped[:60] + ("..." if len(stripped) > 60 else "")
            raise RulebookError(
                f"not a valid catalog: {shown!r} on line {number} is neither a keyword with a "
                'quoted string (msgstr "...") nor a quoted string continuing one',
                file=str(po),
            )
        keyword, text = found.groups()
        if keyword is None:
            entry[last or ""] += text[1:-1]
            continue
        if keyword in ("msgctxt", "msgid") and any(k.startswith("msgstr") for k in entry):
            finish()
            entry = {}
        if not entry:
            start = number
        entry[keyword] = text[1:-1]
        last = keyword
    finish()


def _checked_entries(entries: list[tuple[str, str, str]], po: Path) -> Catalog:
    checked: Catalog = {}
    for context, message, translation in entries:
        _check_variant(context, str(po))
        position = control_character(translation)
        if position is not None:
            raise RulebookError(
                f"the translation of {message!r}: {describe_control(translation[position])}",
                file=str(po),
                rule=context or None,
                field="msgstr",
            )
        if _fields(translation) != _fields(message):
            raise RulebookError(
                f"placeholders of the translation of {message!r} differ from the source",
                file=str(po),
                rule=context or None,
                field="msgstr",
            )
        checked[(context, message)] = translation
    return checked


def _fields(text: str) -> set[str]:
    """The placeholders of a message; anything but plain ``{name}`` fields counts as malformed,
    so that a translation cannot smuggle in ``{x!r}`` or ``{x:>99999}``."""
    try:
        parsed = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(text)
            if name is not None
        ]
    except ValueError:
        return {"<malformed>"}
    if any(spec or conversion or not name.isidentifier() for name, spec, conversion in parsed):
        return {"<malformed>"}
    return {name for name, _, _ in parsed}


def negotiate_locale(requested: str | Locale, supported: tuple[str, ...]) -> Locale:
    """Map a locale such as ``fr_FR``, ``fr-CA``, ``pl-PL`` or ``en_GB`` to a supported one.

    The language picks the catalog; the full locale (region included) is kept for number,
    date and duration formatting.

    Raises:
        UnsupportedLocaleError: the language has no catalog, or the text is not a locale.
    """
    if isinstance(requested, str):
        if len(requested) > MAX_LOCALE_LENGTH:
            raise UnsupportedLocaleError(requested, supported)
        try:
            return _negotiate_text(_tag(requested), supported)
        except UnsupportedLocaleError:
            # Named as the caller spelled it, not as normalized for the cache.
            raise UnsupportedLocaleError(requested, supported) from None
    return _negotiate(requested, supported)


def _tag(text: str) -> str:
    """``" pl-PL.UTF-8 "`` as ``pl_PL``: the part of a locale string that picks a locale."""
    if text.isalpha():  # "en", "fr", "C": the usual spelling, with nothing to cut off
        return "en" if text in {"C", "POSIX"} else str(text)
    tag = str(text).strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    # The C/POSIX locale of a bare environment means "no localization": English.
    return "en" if tag in {"C", "POSIX"} else tag


@functools.lru_cache(maxsize=256)
def _negotiate_text(tag: str, supported: tuple[str, ...]) -> Locale:
    # Parsing a locale costs a few microseconds; callers ask for the same few every turn.
    # Keyed on the normalized, length-bounded tag, so padded spellings share one entry and
    # the cache holds at most 256 short strings.
    return _negotiate(tag, supported)


def _negotiate(requested: object, supported: tuple[str, ...]) -> Locale:
    from babel import Locale, UnknownLocaleError

    if isinstance(requested, Locale):
        locale = requested
    elif isinstance(requested, str):
        try:
            locale = Locale.parse(_tag(requested))
        except (ValueError, TypeError, UnknownLocaleError):
            raise UnsupportedLocaleError(requested, supported) from None
    else:
        raise UnsupportedLocaleError(requested, supported)
    if locale.language not in supported:
        raise UnsupportedLocaleError(requested, supported)
    return locale


@functools.lru_cache(maxsize=256)
def _parse_tag(tag: str) -> Locale | None:
    # Keyed on the normalized, length-bounded tag, as _negotiate_text is.
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(tag)
    except (ValueError, TypeError, UnknownLocaleError):
        return None


def _parse(requested: object) -> Locale | None:
    """The locale a caller means, or ``None`` if what they passed is not one (as
    :func:`negotiate_locale` reads it, without checking it against supported languages)."""
    from babel import Locale

    if isinstance(requested, Locale):
        return requested
    if not isinstance(requested, str) or len(requested) > MAX_LOCALE_LENGTH:
        return None
    return _parse_tag(_tag(requested))


def plain_language(requested: object, rulebook: Rulebook) -> str | None:
    """``requested`` itself if it is one of :data:`PLAIN_LANGUAGES` that ``rulebook``
    supports: the language and locale name :func:`negotiate_rulebook_locale` would give,
    without Babel. ``None`` otherwise: negotiate then.
    """
    if type(requested) is str and requested in PLAIN_LANGUAGES and rulebook._supports(requested):
        return requested
    return None


def negotiate_rulebook_locale(requested: str | Locale, rulebook: Rulebook) -> Locale:
    """:func:`negotiate_locale` over a rulebook's locales, saying why a language is missing.

    A language whose catalog exists but misses some rule messages (say, a pack added an
    English-only rule) is refused with those messages in the error. Only the requested
    language's catalog is read (see :class:`LazyCatalogs`), unless the locale is refused.

    Raises:
        UnsupportedLocaleError: with ``missing`` set when the language is incomplete.
    """
    parsed = _parse(requested)
    if parsed is not None and rulebook._supports(parsed.language):
        return parsed
    try:
        return negotiate_locale(requested, rulebook.locales)
    except UnsupportedLocaleError as error:
        try:
            language = negotiate_locale(requested, tuple(rulebook.catalogs)).language
        except UnsupportedLocaleError:
            raise error from None
        raise UnsupportedLocaleError(
            requested,
            rulebook.locales,
            missing=rulebook.missing(language),
            language=language,
        ) from None


class SafeFormatter(string.Formatter):
    """``str.format`` restricted to plain names: no ``{x.attr}``, ``{x[0]}``, ``{0}`` or ``{}``.

    Values are pre-formatted strings, so format specs and conversions are refused too.
    """

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        if not field_name.isidentifier():
            raise ValueError(f"placeholder {{{field_name}}} is not a plain name")
        return self.get_value(field_name, args, kwargs), field_name

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec:
            raise ValueError("format specs are not allowed in phrases")
        return str(value)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion:
            raise ValueError("conversions are not allowed in phrases")
        return value


FORMATTER = SafeFormatter()


def format_details(details: Details, locale: Locale) -> Mapping[str, str]:
    """Each supplied detail, formatted for the locale with Babel."""
    from babel.dates import get_day_names
    from babel.numbers import format_percent

    values: dict[str, str] = {}
    if details.business_name is not None:
        values["business_name"] = details.business_name
    if details.callback_in is not None:
        values["callback_in"] = format_duration(details.callback_in, locale)
    if details.deposit_percent is not None:
        values["deposit_percent"] = format_percent(
            details.deposit_percent / 100, locale=locale, decimal_quantization=False
        )
    if details.closed_day is not None:
        values["closed_day"] = get_day_names("wide", locale=locale)[details.closed_day.number]
    return values


DURATION_CONTEXT = "@duration"

DURATION_MESSAGES: tuple[tuple[str, int, str, str], ...] = (
    ("week", 7 * 86400, "in a week", "in {count} weeks"),
    ("day", 86400, "tomorrow", "in {count} days"),
    ("hour", 3600, "in an hour", "in {count} hours"),
    ("minute", 60, "in a minute", "in {count} minutes"),
    ("second", 1, "in a second", "in {count} seconds"),
)
"""Durations from now as a person says them: (unit, seconds, msgid, msgid_plural).

Plural gettext messages (msgctxt ``@duration``), so each language says a count its own way
("za 2 godziny", "za 5 godzin") and one of a unit as people do ("in an hour", "demain",
"za godzinę"). The singular form has no number: it is used for exactly one, which in French
and Polish is the only count (of at least one) that plural form 0 covers.
"""


def format_duration(delta: timedelta, locale: Locale) -> str:
    """``delta`` from now ("in an hour", "in 90 minutes", "tomorrow"), in the largest unit
    that divides it exactly.

    Exact, because the text is a promise: 90 minutes is never rounded to "in 2 hours".
    Months and years are not used (30 days is not "in a month"). ``delta`` is a positive
    whole number of seconds, as :class:`Details` guarantees.
    """
    from babel.numbers import format_decimal

    seconds = round(delta.total_seconds())
    for _unit, size, singular, plural in DURATION_MESSAGES:
        if seconds % size == 0:
            count = seconds // size
            text = _plurals(locale.language).npgettext(DURATION_CONTEXT, singular, plural, count)
            return FORMATTER.format(text, count=format_decimal(count, locale=locale))
    raise AssertionError("unreachable: a second divides any whole duration")  # pragma: no cover


@functools.cache
def _plurals(language: str) -> Translations:
    """The built-in ``@duration`` messages of a language, as gettext translations.

    Only complete entries are kept, so a missing form means English, never an empty string;
    tests and lint-catalogs make sure every form is there for fr and pl.
    """
    from babel.messages.catalog import Catalog as BabelCatalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    from .rules import DOMAIN, builtin_locales_dir  # rules imports this module

    po = builtin_locales_dir() / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    kept = BabelCatalog(locale=language, domain=DOMAIN)
    if po.is_file():
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=language, domain=DOMAIN)
        kept = BabelCatalog(locale=catalog.locale, domain=DOMAIN)
        kept.mime_headers = catalog.mime_headers
        for message in catalog:
            forms = message.string
            complete = isinstance(forms, tuple) and all(forms) and not message.fuzzy
            if message.context == DURATION_CONTEXT and complete:
                kept[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, kept)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


UI_MESSAGES: tuple[tuple[str, str, str], ...] = (
    ("attitudes", "@ui", "Throughout the conversation:"),
    ("do", "@ui", "Do now, in this order:"),
    ("pending", "@ui", "Once the customer has finished:"),
    ("avoid", "@ui", "Avoid:"),
    ("why", "@ui", "Why:"),
    ("sources", "@ui", "Sources:"),
    ("opening", "@ui", "opening paragraph"),
    ("nothing", "@ui", "Nothing to advise right now."),
    ("safety", "@phase", "safety"),
    ("composure", "@phase", "composure"),
    ("listen", "@phase", "listen"),
    ("de_escalate", "@phase", "de-escalate"),
    ("acknowledge", "@phase", "acknowledge"),
    ("resolve", "@phase", "resolve"),
    ("escalate", "@phase", "escalate"),
    ("conclude", "@phase", "conclude"),
    ("follow_up", "@phase", "follow up"),
)
"""Headings used when advice is printed: (key, msgctxt, English msgid).

Their contexts start with "@", which no rule id can, so they never clash with rule messages.
"""
