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
        """The advice as JSON; non-ASCII text is kept as is."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

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

    def to_text(self) -> str:
        """A plain-text rendering, as printed by the command line."""
        lines: list[str] = []
        number = 0
        for key, recs in self._sections():
            if lines:
                lines.append("")
            lines.append(self._label(key))
            for rec in recs:
                if key in ("do", "pending"):
                    number += 1
                    lines.append(f"{number:2}. [{self._label(rec.phase.value)}] {rec.title}")
                    lines.append(f"    {rec.text}")
                    lines.append(f"    {self._label('why')} {rec.rationale}")
                else:
                    lines.append(f"  - {rec.title} — {rec.text}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A Markdown rendering, with each recommendation's sources as footnote-style lines."""
        lines: list[str] = []
        number = 0
        for key, recs in self._sections():
            if lines:
                lines.append("")
            lines += [f"### {self._label(key)}", ""]
            for rec in recs:
                if key in ("do", "pending"):
                    number += 1
                    lines.append(f"{number}. **{rec.title}** _({self._label(rec.phase.value)})_  ")
                    lines.append(f"   {rec.text}  ")
                    lines.append(f"   _{self._label('why')} {rec.rationale}_")
                else:
                    lines.append(f"- **{rec.title}** — {rec.text}")
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

        parts = []
        number = 1
        for key, recs in self._sections():
            parts.append(f"<h4>{html.escape(self._label(key))}</h4>")
            if key in ("do", "pending"):
                parts.append(f'<ol start="{number}">')
                number += len(recs)
            else:
                parts.append("<ul>")
            parts += [item(rec) for rec in recs]
            parts.append("</ol>" if key in ("do", "pending") else "</ul>")
        return "".join(parts)
