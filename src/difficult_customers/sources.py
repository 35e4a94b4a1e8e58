"""Reading seed articles into sections, and checking that rules quote them verbatim."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ._files import read_regular_file
from .errors import RulebookError
from .rules import Rule

__all__ = [
    "HEADING_MAX_LENGTH",
    "MAX_SEED_BYTES",
    "builtin_sources_dir",
    "read_sections",
    "uncited_sections",
    "verify_sources",
]

#: Largest seed file read, in bytes; the seed articles are about 10 kB each.
MAX_SEED_BYTES = 1024 * 1024

HEADING_MAX_LENGTH = 60
"""A heading is a short line without closing punctuation; body lines are whole paragraphs."""

FRONT_MATTER = frozenset({"Sommaire"})
"""Page labels that look like headings but title no section.

Seed 002 opens with "Sommaire" (the site's "Summary" label) above its untitled opening
paragraph; that paragraph is cited with ``section`` omitted, like the other openings.
"""

_CLOSING = re.compile(r"[.!?:;»\"”]$")


def _is_heading(line: str) -> bool:
    return (
        0 < len(line) <= HEADING_MAX_LENGTH
        and not _CLOSING.search(line)
        and line not in FRONT_MATTER
    )


def read_sections(text: str) -> dict[str | None, str]:
    """Split a seed into ``{heading: body}``; the untitled opening is under ``None``."""
    sections: dict[str | None, list[str]] = {None: []}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if _is_heading(line):
            current = line
            sections[current] = []
        else:
            sections[current].append(line)
    return {heading: "\n".join(lines) for heading, lines in sections.items()}


def builtin_sources_dir() -> Path:
    """Where the seed articles the built-in rules cite are: inside the installed wheel, or
    the repository's ``sources/`` folder.

    .. versionadded:: 0.2
    """
    packaged = Path(__file__).with_name("sources")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "sources"


def _load(seeds_dir: Path) -> dict[str, dict[str | None, str]]:
    return {path.name: read_sections(_read_seed(path)) for path in sorted(seeds_dir.glob("*.txt"))}


def _read_seed(path: Path) -> str:
    try:
        data = read_regular_file(path, MAX_SEED_BYTES)
    except OSError as exc:
        raise RulebookError(f"cannot read seed: {exc.strerror or exc}", file=str(path)) from None
    except ValueError as exc:
        raise RulebookError(f"cannot read seed: {exc}", file=str(path)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RulebookError(
            f"seed is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})",
            file=str(path),
        ) from None


def verify_sources(
    rules: Iterable[Rule], seeds_dir: Path, *, only_known: bool = False
) -> list[str]:
    """Problems with the rules' citations: unknown document or section, quote not verbatim.

    Args:
        rules: the rules to check.
        seeds_dir: a folder of seed texts, by file name.
        only_known: skip citations of documents that are not in ``seeds_dir`` (for checking
            a pack against the built-in sources when it also cites its own documents).

    Raises:
        RulebookError: a seed file (``*.txt`` in ``seeds_dir``) cannot be read: not a
            regular file, larger than :data:`MAX_SEED_BYTES`, or not UTF-8; it is named.

    .. versionchanged:: 0.2 ``only_known``.
    """
    seeds = _load(seeds_dir)
    problems = []
    for rule in rules:
        for source in rule.sources:
            sections = seeds.get(source.document)
            if sections is None:
                if only_known:
                    continue
                problems.append(f"{rule.id}: unknown document {source.document!r}")
                continue
            body = sections.get(source.section)
            if body is None:
                problems.append(f"{rule.id}: {source.document} has no section {source.section!r}")
            elif source.quote not in body:
                problems.append(
                    f"{rule.id}: quote not found verbatim in {source.document} "
                    f"section {source.section!r}: {source.quote[:60]!r}"
                )
    return problems


def uncited_sections(rules: Iterable[Rule], seeds_dir: Path) -> list[tuple[str, str | None]]:
    """Sections of the seeds that no rule cites (openings without text are ignored)."""
    cited = {(s.document, s.section) for rule in rules for s in rule.sources}
    seeds: Mapping[str, Mapping[str | None, str]] = _load(seeds_dir)
    return [
        (document, section)
        for document, sections in seeds.items()
        for section, body in sections.items()
        if body and (document, section) not in cited
    ]
