"""What every back-end reproduces of the engine for a rulebook: :class:`RulebookLogic`.

A module of its own, loaded by the back-ends that need it (polars, SQL, frames): the fast
path of :func:`difficult_customers.advise` does not, and defining the dataclass costs most
of a millisecond of every import.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._tree import RULE_ID, Node, lower

__all__ = ["RulebookLogic", "rulebook_logic"]


@dataclass(frozen=True, slots=True)
class RulebookLogic:
    """What every back-end reproduces of the engine, for one rulebook, rules in advice order.

    A rule fires when its condition holds and, once the state's ``ended`` is true, only if
    it is an ``after_ending`` rule. Rules in :attr:`overriders` order (each after every rule
    that could override it) remove the fired rules they override, if they fired and were not
    removed themselves. A fired, not overridden rule is kept unless the state's ``done``
    lists it and it does not repeat: a rule carried out still overrides, it is only not
    advised again.
    """

    ids: tuple[str, ...]
    conditions: tuple[Node, ...]
    overrides: tuple[tuple[int, ...], ...]
    overriders: tuple[int, ...]
    after_ending: frozenset[int]
    repeats: frozenset[int]

    def decide(self, fired: list[bool], ended: bool, done: frozenset[str]) -> list[int]:
        """The kept rule indices in advice order, from each rule's condition outcome.

        A plain-Python statement of the logic above, used by the tests and the docs.
        """
        on = [f and (not ended or i in self.after_ending) for i, f in enumerate(fired)]
        out = [False] * len(on)
        for i in self.overriders:
            if on[i] and not out[i]:
                for target in self.overrides[i]:
                    out[target] = out[target] or on[target]
        return [
            i
            for i, f in enumerate(on)
            if f and not out[i] and (i in self.repeats or self.ids[i] not in done)
        ]


def rulebook_logic(rulebook: object) -> RulebookLogic:
    """The :class:`RulebookLogic` of a rulebook, computed once and cached on it.

    Raises:
        ValueError: a rule id does not have the shape of a rule id (a rule built around
            validation); no generated code would be safe with it.
    """
    from ..engine import _topological
    from ..rules import Rulebook

    if not isinstance(rulebook, Rulebook):
        raise TypeError(
            f"rulebook must be a Rulebook (see load_rulebook), not {type(rulebook).__name__}"
        )
    cached: RulebookLogic | None = rulebook._cache.get("logic")
    if cached is not None:
        return cached
    rules = rulebook.rules
    for rule in rules:
        for rule_id in (rule.id, *rule.overrides):
            if not isinstance(rule_id, str) or RULE_ID.fullmatch(rule_id) is None:
                raise ValueError(f"{rule_id!r} is not a rule id: refusing to compile it")
    index = {rule.id: i for i, rule in enumerate(rules)}
    overrides = tuple(tuple(index[target] for target in rule.overrides) for rule in rules)
    logic = RulebookLogic(
        ids=tuple(rule.id for rule in rules),
        conditions=tuple(lower(rule.when) for rule in rules),
        overrides=overrides,
        overriders=tuple(i for i in _topological(overrides) if overrides[i]),
        after_ending=frozenset(i for i, rule in enumerate(rules) if rule.after_ending),
        repeats=frozenset(i for i, rule in enumerate(rules) if rule.repeats is True),
    )
    rulebook._cache["logic"] = logic
    return logic
