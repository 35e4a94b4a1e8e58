"""Keep the gettext catalogs in step with the rulebook.

    python tools/catalogs.py extract   # write locales/difficult_customers.pot
    python tools/catalogs.py update    # extract, then merge the template into every .po
    python tools/catalogs.py check     # fail if the committed .pot is out of date

The template lists, for every rule, its title, each phrasing and its rationale, with the
rule id as msgctxt, so two rules may share an English sentence yet be translated apart.
Translator comments carry the rule's phase and, for phrasing, whether it is said aloud to
the customer (formal address required) and which placeholders it takes.

A .po may also hold variants of a phrasing for a form of address (Details.form_of_address):
the same msgid with msgctxt "<rule id>|masculine" or "<rule id>|feminine", written by the
translator where the language says it differently to a man or a woman on the phone or in
person (Polish Pan/Pani, French Monsieur/Madame). They are optional, so they are not in the
template; `update` keeps them next to their phrasing, and `check` fails on a variant whose
form is unknown or whose phrasing is gone or never said aloud.
"""

from __future__ import annotations

import io
import sys
from itertools import combinations
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from difficult_customers.details import DETAIL_NAMES, FormOfAddress  # noqa: E402
from difficult_customers.i18n import (  # noqa: E402
    DURATION_CONTEXT,
    DURATION_MESSAGES,
    SPOKEN_CHANNELS,
    UI_MESSAGES,
)
from difficult_customers.rules import BUILTIN_RULEBOOK, DOMAIN, _read_rules  # noqa: E402

LOCALES = ROOT / "locales"
POT = LOCALES / f"{DOMAIN}.pot"
LANGUAGES = ("en", "fr", "pl")


# What a UI message that is not a heading is, for translators.
_UI_NOTES = {
    "opening": "Stands for a section title, in a list of sources: the untitled opening paragraph.",
    "nothing": "A whole sentence, shown instead of the advice when there is nothing to advise.",
}


def template() -> Catalog:
    catalog = Catalog(
        domain=DOMAIN,
        project="difficult_customers",
        version="0.1",
        copyright_holder="difficult_customers developers",
        msgid_bugs_address="",
        fuzzy=False,
    )
    _, rules = _read_rules(BUILTIN_RULEBOOK)
    location = BUILTIN_RULEBOOK.relative_to(ROOT).as_posix()
    for rule in rules:
        where = [(location, 0)]
        catalog.add(
            rule.title,
            context=rule.id,
            auto_comments=[
                f"Title of a {rule.kind.value!r} rule ({rule.phase.value}): a short label."
            ],
            locations=where,
        )
        for phrasing in rule.phrasing:
            notes = ["Phrasing: what the agent says or does."]
            if phrasing.channels:
                names = ", ".join(channel.value for channel in phrasing.channels)
                notes.append(f"Only for these channels: {names}.")
            if phrasing.requires:
                notes.append("Placeholders: " + ", ".join(f"{{{n}}}" for n in phrasing.requires))
            if phrasing.when is not None:
                notes.append("Only when: " + " ".join(phrasing.when.source.split()))
            catalog.add(phrasing.text, context=rule.id, auto_comments=notes, locations=where)
        catalog.add(
            rule.rationale,
            context=rule.id,
            auto_comments=["Rationale: one line on why."],
            locations=where,
        )
    for key, context, message in UI_MESSAGES:
        note = _UI_NOTES.get(key, f"Heading ({key}).")
        catalog.add(message, context=context, auto_comments=[note])
    for unit, _, singular, plural in DURATION_MESSAGES:
        catalog.add(
            (singular, plural),
            context=DURATION_CONTEXT,
            auto_comments=[
                f"A callback delay from now, in {unit}s; it fills {{callback_in}} in phrasing.",
                "The first form is said for exactly one, as a person would say it; it need not",
                "show the number. The other forms take {count}, already formatted.",
            ],
        )
    return catalog


FORMS = tuple(form.value for form in FormOfAddress if form is not FormOfAddress.NEUTRAL)


def spoken_phrasings() -> set[tuple[str, str]]:
    """(rule id, msgid) of every built-in phrasing said on the phone or in person, for some
    choice of supplied details."""
    _, rules = _read_rules(BUILTIN_RULEBOOK)
    names = sorted(DETAIL_NAMES)
    supplied = [frozenset(c) for n in range(len(names) + 1) for c in combinations(names, n)]
    chosen = {
        (rule.id, rule.phrasing_for(channel, given).text)
        for rule in rules
        for channel in SPOKEN_CHANNELS
        for given in supplied
    }
    # A phrasing chosen by the state (`when`) is said whenever its condition holds.
    situational = {
        (rule.id, phrasing.text)
        for rule in rules
        for phrasing in rule.phrasing
        if phrasing.when is not None and any(phrasing.fits(c) for c in SPOKEN_CHANNELS)
    }
    return chosen | situational


def variant_problems(catalog: Catalog) -> list[str]:
    """What is wrong with the form-of-address variants of a catalog (empty if nothing)."""
    spoken = spoken_phrasings()
    problems = []
    for message in catalog:
        context = message.context or ""
        if "|" not in context:
            continue
        rule_id, _, form = context.partition("|")
        where = f"{catalog.locale}: msgctxt {context!r}"
        if form not in FORMS:
            allowed = " or ".join(FORMS)
            problems.append(f"{where}: unknown form of address {form!r} (use {allowed})")
        elif (rule_id, message.id) not in spoken:
            problems.append(
                f"{where}: no phrasing of {rule_id!r} said on the phone or in person has this "
                f"msgid: {message.id!r}"
            )
        elif not message.string:
            problems.append(f"{where}: empty translation; delete the variant or translate it")
    return problems


def variant_comments(form: str) -> list[str]:
    return [
        f"Variant for a customer addressed as {form} (Details.form_of_address), said on the",
        "phone or in person; optional: without it, the entry without '|' is used.",
    ]


def merge(catalog: Catalog, fresh: Catalog) -> list[str]:
    """Update ``catalog`` from the template ``fresh``, keeping each variant after its phrasing.

    Returns a note for each variant dropped because its phrasing is no longer in the rules.
    """
    variants: dict[tuple[str, object], list[Message]] = {}
    for message in catalog:
        rule_id, bar, form = (message.context or "").partition("|")
        if bar:
            message.auto_comments = variant_comments(form)
            variants.setdefault((rule_id, message.id), []).append(message)
    # No fuzzy matching: a guessed translation of a changed sentence is worse than none.
    catalog.update(fresh, no_fuzzy_matching=True, update_header_comment=False)
    catalog.fuzzy = False
    ordered = [message for message in catalog if message.id]
    for message in ordered:
        catalog.delete(message.id, context=message.context)
    for message in ordered:
        catalog[message.id] = message
        for variant in variants.pop((message.context or "", message.id), []):
            variant.locations = message.locations
            variant.flags = set(message.flags)
            catalog.obsolete.pop((variant.id, variant.context), None)
            catalog[variant.id] = variant
    return [
        f"{catalog.locale}: dropped variant {variant.context!r} of a phrasing no longer in the "
        f"rules: {variant.id!r}"
        for kept in variants.values()
        for variant in kept
    ]


def render(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    # Obsolete (#~) entries are dropped: git keeps the history, translators want a clean file.
    write_po(buffer, catalog, width=99, omit_header=False, sort_output=False, ignore_obsolete=True)
    # The creation date would make every extraction a diff; pin it.
    lines = [
        line
        for line in buffer.getvalue().decode("utf-8").splitlines(keepends=True)
        if not line.startswith('"POT-Creation-Date:') and not line.startswith('"PO-Revision-Date:')
    ]
    return "".join(lines).encode("utf-8")


def extract() -> None:
    POT.parent.mkdir(parents=True, exist_ok=True)
    POT.write_bytes(render(template()))
    print(f"wrote {POT.relative_to(ROOT)}")


def update() -> None:
    extract()
    fresh = template()
    for lang in LANGUAGES:
        path = LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=lang, domain=DOMAIN)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(
                locale=lang, domain=DOMAIN, project="difficult_customers", fuzzy=False
            )
        for note in merge(catalog, fresh):
            print(note)
        path.write_bytes(render(catalog))
        print(f"updated {path.relative_to(ROOT)}")


def check() -> int:
    if not POT.exists() or POT.read_bytes() != render(template()):
        print(f"{POT.relative_to(ROOT)} is out of date: run python tools/catalogs.py update")
        return 1
    problems = []
    for lang in LANGUAGES:
        path = LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.exists():
            with path.open("rb") as handle:
                problems += variant_problems(read_po(handle, locale=lang, domain=DOMAIN))
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{POT.relative_to(ROOT)} is up to date; form-of-address variants are sound")
    return 0


def main(argv: list[str]) -> int:
    commands = {"extract": extract, "update": update}
    if len(argv) == 1 and argv[0] == "check":
        return check()
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    commands[argv[0]]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
