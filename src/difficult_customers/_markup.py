"""Escaping caller and rule-pack text for the Markdown and HTML renderings.

Titles, phrasings, rationales, sources, pack names and the business name come from callers
and rule packs, so a rendering must show them as text and never let them become markup: a
``<img onerror=...>`` in a business name must not run in a notebook.
"""

from __future__ import annotations

import re

__all__ = ["escape_html", "escape_markdown"]

# Pattern texts, not compiled patterns: the re module compiles and caches each on first use,
# and most processes never render Markdown (compiling all three cost 0.4 ms at import).
# Backslash escapes for the characters that start inline Markdown (emphasis, code, links,
# tables, strikethrough, notebook math); "<", ">" and "&" become entities below.
_INLINE = r"([\\`*_\[\]|~$])"
_LINE_BREAK = r"[ \t]*(?:(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])[ \t]*)+"
# What would open a block (heading, list, quote, setext underline) at the start of a line.
_BLOCK = r"^([#+\-=]|\d+(?=[.)]))"


def escape_markdown(text: str) -> str:
    """``text`` as literal Markdown on one line: no markup, no raw HTML, no line breaks."""
    # Only line breaks are folded: other spaces (French U+00A0 before ":") are kept.
    one_line = re.sub(_LINE_BREAK, " ", text.strip())
    escaped = re.sub(_INLINE, r"\\\1", one_line)
    escaped = re.sub(_BLOCK, lambda match: _escape_block(match.group()), escaped, count=1)
    import html  # only for renderings, which most processes never make

    return html.escape(escaped, quote=False)


def _escape_block(start: str) -> str:
    # "12." is escaped as "12\." (CommonMark escapes the delimiter, not the digits).
    return start + "\\" if start[0].isdigit() else "\\" + start


def escape_html(text: str) -> str:
    """``text`` as literal HTML, safe in element content and in quoted attributes."""
    import html

    return html.escape(text, quote=True)
