"""Text hygiene for what rule packs and catalogs supply: no terminal controls, no bidi tricks.

Pack text ends up on terminals, in logs and in markdown. A control character there can move
the cursor, rewrite the screen or write to the clipboard (OSC 52), and a bidi override can
make text read differently from what it is. Such characters are refused when a pack loads,
rather than escaped at every place that prints, so that a loaded rulebook is safe to show.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "MAX_SHOWN",
    "MAX_SHOWN_PATH",
    "close_matches",
    "control_character",
    "describe_control",
    "shown",
    "shown_path",
]


MAX_SHOWN = 80
"""The longest repr of a caller's string that an error message repeats whole, in characters.

A longer one is shown by its start and its length: a rule id, key, tag, column or locale
of 100,000 characters would otherwise bury the message that names it (and its field).
"""


MAX_SHOWN_PATH = 4_096
"""The longest file path an error message repeats whole (Linux's ``PATH_MAX``): a longer
one cannot name a file, and is shown by its start and its length."""


def shown_path(path: str) -> str:
    """``path`` as it is, or for one longer than :data:`MAX_SHOWN_PATH` its first 40
    characters, ``...`` and its length."""
    if len(path) <= MAX_SHOWN_PATH:
        return path
    return f"{path[:40]}... ({len(path):,} characters)"


def shown(value: object) -> str:
    """``repr(value)``, or for a long one its first 40 characters, ``...`` and its length:
    ``'xxxxxxxx... (100,000 characters)'``."""
    text = repr(value)
    if len(text) <= MAX_SHOWN:
        return text
    # A string's own length: its repr adds quotes and escapes.
    length = len(value) if isinstance(value, str) else len(text)
    return f"{text[:40]}... ({length:,} characters)"


def close_matches(word: str, possibilities: Iterable[str], n: int = 1) -> list[str]:
    """:func:`difflib.get_close_matches`, importing difflib only when a suggestion is made:
    only error messages need it, and most processes never build one."""
    import difflib

    return difflib.get_close_matches(word, possibilities, n=n)


# C0 controls but tab, line feed and carriage return (handled below), DEL, C1 controls, the
# line and paragraph separators U+2028 and U+2029 (line breaks to str.splitlines and to
# JavaScript, where only \n is one here), the bidi embeddings and overrides U+202A-U+202E
# and the bidi isolates U+2066-U+2069.
_ALWAYS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069"
# Where line breaks are allowed, they are \n or \r\n; a lone \r returns the cursor to the
# start of the line, so it could hide what precedes it. Pattern texts: the re module compiles
# and caches each when first used (checking a catalog or a rule pack), not at import.
_MULTI_LINE = f"[{_ALWAYS}]|\r(?!\n)"
_ONE_LINE = f"[{_ALWAYS}\t\n\r]"


def control_character(text: str, *, line_breaks: bool = False) -> int | None:
    """The offset of the first character ``text`` may not hold, or ``None``.

    Args:
        line_breaks: allow tabs, line feeds and ``\\r\\n``, for multi-line fields.
    """
    # Every character either pattern refuses is one str.isprintable() rejects, so a printable
    # text needs no regular expression (the built-in rulebook's name is checked at every
    # load, and compiling the pattern was a tenth of the first advice).
    if text.isprintable():
        return None
    found = re.search(_MULTI_LINE if line_breaks else _ONE_LINE, text)
    return None if found is None else found.start()


def describe_control(character: str, *, line_breaks: bool = False) -> str:
    """``'control character U+001B is not allowed'``, with a word on line breaks."""
    description = f"control character U+{ord(character):04X}"
    if character in "\t\r\n" and not line_breaks:
        description += " (a tab or line break: this field is one line)"
    elif character in "\u2028\u2029":
        description += " (a Unicode line or paragraph separator)"
    elif character == "\r":
        description += " (a carriage return not followed by a line feed)"
    return description + " is not allowed"
