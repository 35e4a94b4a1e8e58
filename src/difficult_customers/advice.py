"""What advise() returns: an ordered, immutable list of localized recommendations."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, overload

from pydantic import BaseModel, ConfigDict

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

    model_config = ConfigDict(frozen=True, extra="forbid")

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

    Iterating, indexing and ``len()`` cover the recommended actions, first thing to do
    first; :attr:`avoid` lists what not to do now.

    >>> from difficult_customers import advise
    >>> advice = advise(mood="angry", offensive_remarks=2)
    >>> advice[0].rule_id, advice[3].rule_id
    ('stay-calm', 'issue-warning')

    .. versionadded:: 0.1
    """

    actions: tuple[Recommendation, ...]
    avoid: tuple[Recommendation, ...]
    locale: str
    state: ConversationState
    labels: tuple[tuple[str, str], ...] = ()
    """Localized headings for the text and markdown renderings (key, label)."""

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
        return (
            f"<Advice {self.locale}: do {[r.rule_id for r in self.actions]}, "
            f"avoid {[r.rule_id for r in self.avoid]}>"
        )

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Ids of the actions, then of the things to avoid: the decision, without the text."""
        return tuple(r.rule_id for r in self.actions) + tuple(r.rule_id for r in self.avoid)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (enums as their values)."""
        return {
            "locale": self.locale,
            "state": self.state.model_dump(mode="json"),
            "actions": [r.model_dump(mode="json") for r in self.actions],
            "avoid": [r.model_dump(mode="json") for r in self.avoid],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The advice as JSON; non-ASCII text is kept as is."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def _label(self, key: str) -> str:
        return dict(self.labels).get(key, key)

    def to_text(self) -> str:
        """A plain-text rendering, as printed by the command line."""
        lines = [self._label("do")]
        for number, rec in enumerate(self.actions, 1):
            lines.append(f"{number:2}. [{self._label(rec.phase.value)}] {rec.title}")
            lines.append(f"    {rec.text}")
            lines.append(f"    {self._label('why')} {rec.rationale}")
        if self.avoid:
            lines += ["", self._label("avoid")]
            for rec in self.avoid:
                lines.append(f"  - {rec.title} — {rec.text}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A Markdown rendering, with each recommendation's sources as footnote-style lines."""
        lines = [f"### {self._label('do')}", ""]
        for number, rec in enumerate(self.actions, 1):
            lines.append(f"{number}. **{rec.title}** _({self._label(rec.phase.value)})_  ")
            lines.append(f"   {rec.text}  ")
            lines.append(f"   _{self._label('why')} {rec.rationale}_")
        if self.avoid:
            lines += ["", f"### {self._label('avoid')}", ""]
            lines += [f"- **{rec.title}** — {rec.text}" for rec in self.avoid]
        return "\n".join(lines) + "\n"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        def item(rec: Recommendation) -> str:
            cites = "; ".join(
                html.escape(f"{s.document} § {s.section or '(opening)'}") for s in rec.sources
            )
            return (
                f"<li><b>{html.escape(rec.title)}</b> <i>({html.escape(rec.rule_id)})</i>"
                f"<br>{html.escape(rec.text)}<br><small>{html.escape(rec.rationale)}"
                f" — {cites}</small></li>"
            )

        parts = [f"<h4>{html.escape(self._label('do'))}</h4><ol>"]
        parts += [item(rec) for rec in self.actions]
        parts.append("</ol>")
        if self.avoid:
            parts.append(f"<h4>{html.escape(self._label('avoid'))}</h4><ul>")
            parts += [item(rec) for rec in self.avoid]
            parts.append("</ul>")
        return "".join(parts)
