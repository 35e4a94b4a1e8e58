"""What advise() returns: an ordered, immutable list of localized recommendations."""

# Annotations not postponed, for a quicker import: see state.py.

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, overload

from pydantic import BaseModel, ConfigDict

from ._markup import escape_html, escape_markdown
from .rules import Kind, Phase, Source
from .state import ConversationState

__all__ = ["Advice", "Recommendation"]


class Recommendation(BaseModel):
    """One thing to do (or not to do) now, rendered in the advice's locale.

    Attributes:
        rule_id: the rule it comes from; stable across locales and versions.
        kind: "do" or "avoid".
        phase: its step in the de-escalation ladder.
        title: a short imperative label.
        text: what to say (ready to read out) or what to do.
        rationale: one line on why.
        sources: the seed passages behind it.

    .. versionadded:: 0.1
    """

    # Built when first rendered, not at import (docs/performance.md, "Cold start").
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    rule_id: str
    kind: Kind
    phase: Phase
    title: str
    text: str
    rationale: str
    sources: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class Advice:
    """The advice for one conversation state, in one locale.

    Iterating, indexing and ``len()`` cover the recommended actions, the next move first;
    :attr:`attitudes` says how to hold oneself meanwhile (stay calm, stay professional),
    :attr:`pending` what comes once the customer has finished speaking, and :attr:`avoid`
    what not to do now.

    >>> from difficult_customers import advise
    >>> advice = advise(mood="angry", offensive_remarks=2)
    >>> [r.rule_id for r in advice.attitudes], [r.rule_id for r in advice[:2]]
    (['stay-calm', 'stay-professional'], ['pause-before-responding', 'issue-warning'])
    >>> mid_rant = advise(mood="angry", offensive_remarks=2, customer_speaking=True)
    >>> mid_rant[0].rule_id, [r.rule_id for r in mid_rant.pending[:2]]
    ('listen-without-interrupting', ['pause-before-responding', 'issue-warning'])

    .. versionadded:: 0.1
    .. versionchanged:: 0.2
       Attitudes moved out of :attr:`actions` into :attr:`attitudes`; :attr:`pending` added.
    """

    actions: tuple[Recommendation, ...]
    avoid: tuple[Recommendation, ...]
    locale: str
    state: ConversationState
    labels: tuple[tuple[str, str], ...] = ()
    """Localized headings for the text and markdown renderings (key, label)."""
    attitudes: tuple[Recommendation, ...] = ()
    """How to hold oneself while doing the actions: the composure tactics."""
    pending: tuple[Recommendation, ...] = ()
    """Moves that wait only for the customer to finish speaking, in the order they will come."""

    def __iter__(self) -> Iterator[Recommendation]:
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    @overload
    def __getitem__(self, index: int) -> Recommendation: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Recommendation, ...]: ...
    def __getitem__(self, index: int | slice) -> Recommendation | tuple[Recommendation, ...]:
        return self.actions[index]

    def __repr__(self) -> str:
        pending = f", then {[r.rule_id for r in self.pending]}" if self.pending else ""
        return (
            f"<Advice {self.locale}: attitudes {[r.rule_id for r in self.attitudes]}, "
            f"do {[r.rule_id for r in self.actions]}{pending}, "
            f"avoid {[r.rule_id for r in self.avoid]}>"
        )

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Ids of the attitudes, the actions, then the things to avoid: what is advised now.

        :attr:`pending` is left out: it is what the next state will call for.
        """
        groups = (self.attitudes, self.actions, self.avoid)
        return tuple(r.rule_id for group in groups for r in group)

    @property
    def empty(self) -> bool:
        """Nothing is advised now, and nothing waits for the customer."""
        return not (self.attitudes or self.actions or self.pending or self.avoid)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (enums as their values)."""
        return {
            "locale": self.locale,
            "state": self.state.model_dump(mode="json"),
            "attitudes": [r.model_dump(mode="json") for r in self.attitudes],
            "actions": [r.model_dump(mode="json") for r in self.actions],
            "pending": [r.model_dump(mode="json") for r in self.pending],
            "avoid": [r.model_dump(mode="json") for r in self.avoid],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The advice as JSON; non-ASCII text is kept as is.

        The text of ``json.dumps(advice.to_dict(), ensure_ascii=False, indent=indent)``,
        written from each recommendation's JSON, kept from its first use: advice from the
        same rulebook shares its recommendation objects, and writing them is most of the
        cost of a batch's JSON Lines.
        """
        import json  # here: most processes never write JSON, and json costs 1.5 ms to import

        if indent is not None and (type(indent) is not int or indent < 0):
            return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)
        state = json.dumps(self.state.model_dump(mode="json"), ensure_ascii=False, indent=indent)
        members = [("locale", json.dumps(self.locale, ensure_ascii=False)), ("state", state)]
        for name, group in (
            ("attitudes", self.attitudes),
            ("actions", self.actions),
            ("pending", self.pending),
            ("avoid", self.avoid),
        ):
            items = [_json_of(recommendation, indent) for recommendation in group]
            members.append((name, _json_list(items, indent)))
        return _json_object(members, indent)

    def _label(self, key: str) -> str:
        return dict(self.labels).get(key, key)

    def _sections(self) -> list[tuple[str, tuple[Recommendation, ...]]]:
        # Attitudes first, so that the numbered list starts with the next move.
        sections = [
            ("attitudes", self.attitudes),
            ("do", self.actions),
            ("pending", self.pending),
            ("avoid", self.avoid),
        ]
        return [(key, recs) for key, recs in sections if recs]

    def _cite(self, source: Source) -> tuple[str, str, str]:
        """A source's document, section (or the opening paragraph's label) and quote."""
        return source.document, source.section or self._label("opening"), source.quote

    def to_text(self, *, sources: bool = False) -> str:
        """A plain-text rendering, as printed by the command line.

        Args:
            sources: also cite each recommendation's sources (document, section, quote).

        .. versionchanged:: 0.2
           ``sources``; advice with nothing in it says so instead of printing a bare heading.
        """
        lines: list[str] = []
        number = 0
        for key, recs in self._sections():
            if lines:
                lines.append("")
            lines.append(self._label(key))
            for rec in recs:
                if key in _NUMBERED:
                    number += 1
                    lines.append(f"{number:2}. [{self._label(rec.phase.value)}] {rec.title}")
                    lines.append(f"    {rec.text}")
                    lines.append(f"    {self._label('why')} {rec.rationale}")
                else:
                    lines.append(f"  - {rec.title} — {rec.text}")
                if sources:
                    lines.append(f"    {self._label('sources')}")
                    lines += [
                        f'      {document} § {section}: "{quote}"'
                        for document, section, quote in map(self._cite, rec.sources)
                    ]
        return "\n".join(lines) if lines else self._label("nothing")

    def to_markdown(self) -> str:
        """A Markdown rendering, with each recommendation's sources as numbered footnotes.

        Every piece of text is escaped, so that rule-pack or caller text (a title, the
        business name) shows as written and never becomes markup or raw HTML.

        .. versionchanged:: 0.2
           Sources as footnotes (document, section, quote); text escaped; advice with
           nothing in it says so.
        """
        md = escape_markdown
        cited: list[Source] = []

        def notes(rec: Recommendation) -> str:
            # One footnote per distinct source, numbered in reading order.
            for source in rec.sources:
                if source not in cited:
                    cited.append(source)
            return "".join(f"[^{cited.index(source) + 1}]" for source in rec.sources)

        lines: list[str] = []
        number = 0
        for key, recs in self._sections():
            if lines:
                lines.append("")
            lines += [f"### {md(self._label(key))}", ""]
            for rec in recs:
                if key in _NUMBERED:
                    number += 1
                    phase = md(self._label(rec.phase.value))
                    lines.append(f"{number}. **{md(rec.title)}** _({phase})_  ")
                    lines.append(f"   {md(rec.text)}  ")
                    lines.append(f"   _{md(self._label('why'))} {md(rec.rationale)}_{notes(rec)}")
                else:
                    lines.append(f"- **{md(rec.title)}** — {md(rec.text)}{notes(rec)}")
        if not lines:
            return md(self._label("nothing")) + "\n"
        lines.append("")
        for index, source in enumerate(cited, 1):
            document, section, quote = (md(part) for part in self._cite(source))
            lines.append(f'[^{index}]: {document} § {section}: "{quote}"')
        return "\n".join(lines) + "\n"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        esc = escape_html

        def item(rec: Recommendation) -> str:
            cites = "; ".join(
                f"<cite>{esc(document)}</cite> § {esc(section)}: <q>{esc(quote)}</q>"
                for document, section, quote in map(self._cite, rec.sources)
            )
            return (
                f'<li title="{esc(rec.rule_id)}"><b>{esc(rec.title)}</b>'
                f" <i>({esc(self._label(rec.phase.value))})</i><br>{esc(rec.text)}"
                f"<br><small>{esc(self._label('why'))} {esc(rec.rationale)}</small>"
                f"<br><small>{esc(self._label('sources'))} {cites}</small></li>"
            )

        parts = []
        number = 1
        for key, recs in self._sections():
            parts.append(f"<h4>{esc(self._label(key))}</h4>")
            if key in _NUMBERED:
                parts.append(f'<ol start="{number}">')
                number += len(recs)
            else:
                parts.append("<ul>")
            parts += [item(rec) for rec in recs]
            parts.append("</ol>" if key in _NUMBERED else "</ul>")
        return "".join(parts) or f"<p>{esc(self._label('nothing'))}</p>"


_NUMBERED = frozenset({"do", "pending"})
"""Groups numbered as one list: the moves now, then those once the customer has finished."""


class _Building:
    """An :class:`Advice` being filled in: the same slots, without the frozen ``__setattr__``.

    Filling these slots and then setting ``__class__`` (which CPython allows between classes
    of the same layout) builds an Advice in half the time of its generated ``__init__``,
    whose seven ``object.__setattr__`` calls are most of the cost of a cached answer (see
    ``engine._advise_fast``).
    """

    __slots__ = Advice.__slots__


#: Most recommendations whose JSON :meth:`Advice.to_json` keeps, per indentation; emptied
#: when full.
MAX_KEPT_JSON = 4096

# By the id of the recommendation, kept with it so that the id stays its own.
_kept_json: dict[tuple[int, int | None], tuple[Recommendation, str]] = {}


def _json_of(recommendation: Recommendation, indent: int | None) -> str:
    """``json.dumps`` of the recommendation's JSON-ready dictionary, as if at the top level."""
    key = (id(recommendation), indent)
    kept = _kept_json.get(key)
    if kept is not None and kept[0] is recommendation:
        return kept[1]
    import json

    text = json.dumps(recommendation.model_dump(mode="json"), ensure_ascii=False, indent=indent)
    if len(_kept_json) >= MAX_KEPT_JSON:
        _kept_json.clear()
    _kept_json[key] = (recommendation, text)
    return text


# json.dumps's layout, for values already written at the top level: with an indentation,
# each line of a member or item moves right by one level (a line break can only be the
# layout's, since json.dumps escapes it inside strings).
def _json_list(items: list[str], indent: int | None) -> str:
    if not items:
        return "[]"
    if indent is None:
        return "[" + ", ".join(items) + "]"
    pad = "\n" + " " * indent
    return "[" + pad + ("," + pad).join(item.replace("\n", pad) for item in items) + "\n]"


def _json_object(members: list[tuple[str, str]], indent: int | None) -> str:
    import json

    pairs = [json.dumps(name) + ": " + value for name, value in members]
    if indent is None:
        return "{" + ", ".join(pairs) + "}"
    pad = "\n" + " " * indent
    return "{" + pad + ("," + pad).join(pair.replace("\n", pad) for pair in pairs) + "\n}"
