"""Keep the gettext catalogs in step with the rulebook.

    python tools/catalogs.py extract   # write locales/difficult_customers.pot
    python tools/catalogs.py update    # extract, then merge the template into every .po
    python tools/catalogs.py check     # fail if the committed .pot is out of date

The template lists, for every rule, its title, each phrasing and its rationale, with the
rule id as msgctxt, so two rules may share an English sentence yet be translated apart.
Translator comments carry the rule's phase and, for phrasing, whether it is said aloud to
the customer (formal address required) and which placeholders it takes.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from difficult_customers.i18n import (  # noqa: E402
    DURATION_CONTEXT,
    DURATION_MESSAGES,
    UI_MESSAGES,
)
from difficult_customers.rules import BUILTIN_RULEBOOK, DOMAIN, _read_rules  # noqa: E402

LOCALES = ROOT / "locales"
POT = LOCALES / f"{DOMAIN}.pot"
LANGUAGES = ("en", "fr", "pl")


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
            catalog.add(phrasing.text, context=rule.id, auto_comments=notes, locations=where)
        catalog.add(
            rule.rationale,
            context=rule.id,
            auto_comments=["Rationale: one line on why."],
            locations=where,
        )
    for key, context, message in UI_MESSAGES:
        catalog.add(message, context=context, auto_comments=[f"Heading ({key})."])
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
        # No fuzzy matching: a guessed translation of a changed sentence is worse than none.
        catalog.update(fresh, no_fuzzy_matching=True, update_header_comment=False)
        catalog.fuzzy = False
        path.write_bytes(render(catalog))
        print(f"updated {path.relative_to(ROOT)}")


def check() -> int:
    if not POT.exists() or POT.read_bytes() != render(template()):
        print(f"{POT.relative_to(ROOT)} is out of date: run python tools/catalogs.py update")
        return 1
    print(f"{POT.relative_to(ROOT)} is up to date")
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
