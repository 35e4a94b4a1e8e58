"""The invariants the advice must keep, proved for a whole rulebook rather than sampled.

:data:`INVARIANTS` is the one declared list (DESIGN section 6 and the conversation
properties). Each has a Python check over one real :class:`~difficult_customers.Advice`
(:func:`invariant_violations`, used by :mod:`difficult_customers.testing`), and the state
invariants also have an exact encoding for the z3 solver (the ``[verify]`` extra).

How the proof works (see docs/verification.md):

- Every state field becomes a solver variable: a boolean, an integer in
  ``[0, MAX_COUNT]`` for a count (so unbounded comparisons are exact, not sampled), an
  integer index for an enum, and one boolean per rule id for membership of ``done``.
- Every rule's ``when`` is translated from the same whitelisted syntax tree the engine
  compiles, and the engine's decision is encoded as the engine makes it: the ``ended``
  filter, overrides applied in topological order by rules that fire and are not themselves
  overridden, the ``done`` filter for rules that do not always repeat, and the pending moves
  worked out for the same state with the customer silent.
- For each invariant the solver looks for a valid state that breaks it. None: proved for
  every state. One: the solver minimizes the number of fields that differ from the
  defaults, and the counterexample is replayed through the real :func:`advise` before it is
  reported, so a reported violation is never an artefact of the encoding.

Conversation properties are checked by bounded model checking: the fold is encoded event
by event, and for each length from 0 up the solver looks for an event sequence of that
length that breaks one; the first found is thus a shortest, and it is replayed through the
real :func:`~difficult_customers.conversation.fold` before it is reported.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._parser import _OPERATORS, _checked_tree, _ordered_members, _pairs
from .advice import Advice
from .conditions import state_schema
from .conversation import fold
from .engine import _done, _kept, _plan, _topological, advise
from .errors import DifficultCustomersError
from .events import (
    EVENT_TYPES,
    FACT_FIELDS,
    AgentFollowed,
    CustomerInterrupted,
    CustomerMood,
    CustomerStartedSpeaking,
    Event,
    Facts,
    event_json,
    parse_event,
)
from .rules import Kind, Phase, Rule, Rulebook, default_rulebook
from .state import MAX_COUNT, ConversationState, Mood

__all__ = [
    "CONVERSATION_INVARIANTS",
    "DEFAULT_DEPTH",
    "INVARIANTS",
    "MAX_DEPTH",
    "Finding",
    "FindingKind",
    "Invariant",
    "Report",
    "SolverMissingError",
    "Violation",
    "analyse",
    "check_conversations",
    "invariant_violations",
    "prove_states",
    "verify",
]

#: Events in the longest sequence :func:`check_conversations` explores by default.
DEFAULT_DEPTH = 8
#: Most events :func:`check_conversations` accepts as a bound: each event adds a copy of
#: the whole rulebook to the solver's problem.
MAX_DEPTH = 64

_ABUSE = ("offensive_remarks", "personal_attacks", "threats", "abuse_after_warning")
_SILENT_PHASES = frozenset({Phase.SAFETY, Phase.COMPOSURE})
_WHILE_SPEAKING = frozenset({Phase.SAFETY, Phase.LISTEN})
_RESOLVED_PHASES = frozenset({Phase.FOLLOW_UP, Phase.CONCLUDE, Phase.COMPOSURE, Phase.LISTEN})


class SolverMissingError(DifficultCustomersError):
    """The proofs need the z3 solver: ``pip install 'difficult-customers[verify]'``."""

    def __init__(self) -> None:
        super().__init__(
            "proving the invariants needs the z3 solver: install the 'verify' extra "
            "(pip install 'difficult-customers[verify]')"
        )


# ---------------------------------------------------------------------------------------------
# The declared invariants
# ---------------------------------------------------------------------------------------------

Scope = Literal["state", "conversation", "catalog"]


@dataclass(frozen=True)
class Invariant:
    """One property the advice must keep.

    Attributes:
        id: a stable kebab-case name, as printed by ``check``.
        statement: the property in one line.
        passage: the seed passage it protects (document, section).
        scope: ``"state"`` (every state, proved with the solver), ``"conversation"``
            (every event sequence up to a bound) or ``"catalog"`` (every phrase, every
            locale: finite, checked exhaustively).
    """

    id: str
    statement: str
    passage: str
    scope: Scope = "state"


INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "never-empty",
        "a conversation going on, with nothing carried out yet, always gets a next move",
        "002 'Être à l'écoute': the agent always has a way forward",
    ),
    Invariant(
        "no-conflict-pair-together",
        "two rules declared in conflict (overrides or conflicts_with) are never advised "
        "together at the same moment",
        "docs/conflicts.md: where the seeds disagree, one side is chosen",
    ),
    Invariant(
        "warning-before-abuse-ending",
        "no ending that abuse brings about is advised before a warning has been given",
        "004 'Émettre un avertissement': warn before ending the call",
    ),
    Invariant(
        "listen-first",
        "while the customer is speaking (unresolved, nothing done), the first spoken move is "
        "to listen",
        "004 'Traitement silencieux': laissez-les finir ce qu'ils disent",
    ),
    Invariant(
        "silent-while-customer-speaks",
        "while the customer is speaking, no move but safety and listening is advised now "
        "(the others wait in pending)",
        "002 'Être à l'écoute': laisser le client parler jusqu'au bout",
    ),
    Invariant(
        "no-empathy-when-invalid",
        "no empathy is advised for a complaint known to be invalid",
        "004 'Faire preuve d'empathie': si leur plainte est fausse, l'empathie ne sera pas "
        "nécessaire",
    ),
    Invariant(
        "firmness-grows-with-abuse",
        "more abuse never makes the moves less firm (conversation going on, nothing done)",
        "004 'Émettre un avertissement' and 'Mettre fin à la conversation'",
    ),
    Invariant(
        "composure-when-insulted",
        "composure is advised whenever the agent is insulted or attacked",
        "000 'Faites preuve de bon sens': restez calme",
    ),
    Invariant(
        "only-follow-up-once-resolved",
        "once resolved, only follow-up, closure, composure, listening and limits are advised",
        "002 'Suivi avec le client'",
    ),
    Invariant(
        "nothing-done-again",
        "a rule carried out is not advised again unless it always repeats",
        "docs/conversations.md: memory of what the agent has done",
    ),
    Invariant(
        "only-after-ending-once-ended",
        "once ended, only rules marked after_ending are advised, and nothing is pending",
        "004 'Mettre fin à la conversation'",
    ),
    Invariant(
        "renders-everywhere",
        "every phrase renders in every locale, with and without details, no placeholder left",
        "DESIGN 5: languages",
        scope="catalog",
    ),
)

CONVERSATION_INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "warning-before-ending-over-abuse",
        "in every conversation, an ending that abuse brings about is advised only after the "
        "agent has followed a warning",
        "004 'Émettre un avertissement' then 'Mettre fin à la conversation'",
        scope="conversation",
    ),
    Invariant(
        "no-advice-after-ending",
        "once the agent has followed an ending, the conversation is ended and only "
        "after_ending rules are advised",
        "004 'Mettre fin à la conversation'",
        scope="conversation",
    ),
    Invariant(
        "memory-never-re-advises",
        "a step the agent followed is not advised again (each_turn: until the customer speaks "
        "again)",
        "docs/conversations.md: memory",
        scope="conversation",
    ),
)

_BY_ID = {invariant.id: invariant for invariant in (*INVARIANTS, *CONVERSATION_INVARIANTS)}


def _ending(rule: Rule) -> bool:
    """A rule that ends the exchange: tagged ``ending`` or setting ``ended``."""
    return "ending" in rule.tags or any(
        e.field == "ended" and e.value is True and not e.increment for e in rule.effects
    )


def _ends_conversation(rule: Rule) -> bool:
    return any(e.field == "ended" and e.value is True and not e.increment for e in rule.effects)


def _warning(rule: Rule) -> bool:
    return any(e.field == "warnings_given" and e.increment for e in rule.effects)


def _composure_rule(rule: Rule) -> bool:
    return rule.phase is Phase.COMPOSURE and bool(
        rule.when.fields & {"offensive_remarks", "personal_attacks"}
    )


def _resolved_ok(rule: Rule) -> bool:
    return rule.phase in _RESOLVED_PHASES or bool({"ending", "boundary"} & set(rule.tags))


def _firmness(book: Rulebook, advice: Advice) -> int:
    return max((book[r.rule_id].firmness for r in advice.actions), default=0)


def _conflict_pairs(book: Rulebook) -> list[tuple[str, str]]:
    pairs = {
        tuple(sorted((rule.id, other)))
        for rule in book
        for other in (*rule.overrides, *rule.conflicts_with)
    }
    return sorted((a, b) for a, b in pairs)


# ---------------------------------------------------------------------------------------------
# Checking one advice (the reference the proofs are confirmed against)
# ---------------------------------------------------------------------------------------------


def _shown(advice: Advice) -> list[str]:
    return [*advice.rule_ids, *(r.rule_id for r in advice.pending)]


def _live(state: ConversationState) -> bool:
    return not state.ended and not state.done


def _less_abusive(state: ConversationState) -> Iterator[tuple[str, ConversationState]]:
    """The states one step less abusive than ``state``: one remark fewer, one flag off."""
    values = state.model_dump()
    changes = [("one offensive remark fewer", "offensive_remarks", state.offensive_remarks - 1)]
    changes += [(f"{name} false", name, False) for name in _ABUSE[1:]]
    for change, name, milder in changes:
        if values[name] and (name != "offensive_remarks" or milder >= 0):
            try:
                yield change, ConversationState.model_validate({**values, name: milder})
            except ValueError:
                continue  # abuse after a warning with no abuse left: not a state


def _check(invariant_id: str, book: Rulebook, advice: Advice) -> list[str]:
    state = advice.state
    shown = _shown(advice)
    problems: list[str] = []
    if invariant_id == "never-empty":
        if _live(state) and not advice.actions:
            problems.append("no move is advised")
    elif invariant_id == "no-conflict-pair-together":
        # What is advised now; the pending moves belong to the next state, whose advice
        # is settled on its own.
        present = set(advice.rule_ids)
        for a, b in _conflict_pairs(book):
            if a in present and b in present:
                problems.append(f"{a} and {b} are advised together")
    elif invariant_id == "warning-before-abuse-ending":
        if state.warnings_given == 0:
            endings = [i for i in shown if _ending(book[i])]
            if endings:
                calm = ConversationState.model_validate(
                    {
                        **state.model_dump(),
                        "offensive_remarks": 0,
                        "personal_attacks": False,
                        "threats": False,
                    }
                )
                without = set(_shown(advise(calm, rulebook=book)))
                problems += [
                    f"{i} is advised before any warning, because of abuse"
                    for i in endings
                    if i not in without
                ]
    elif invariant_id == "listen-first":
        if _live(state) and state.customer_speaking and not state.resolved:
            spoken = [r for r in advice.actions if r.phase not in _SILENT_PHASES]
            if not spoken:
                problems.append("no listening move while the customer speaks")
            elif spoken[0].phase is not Phase.LISTEN:
                problems.append(f"{spoken[0].rule_id} comes before listening")
    elif invariant_id == "silent-while-customer-speaks":
        if state.customer_speaking and not state.ended:
            problems += [
                f"{r.rule_id} ({r.phase.value}) is advised while the customer speaks"
                for r in advice.actions
                if r.phase not in _WHILE_SPEAKING
            ]
    elif invariant_id == "no-empathy-when-invalid":
        if state.complaint_validity == "invalid":
            problems += [
                f"{i} (empathy) is advised for an invalid complaint"
                for i in shown
                if "empathy" in book[i].tags
            ]
    elif invariant_id == "firmness-grows-with-abuse":
        if _live(state):
            firmness = _firmness(book, advice)
            for change, milder in _less_abusive(state):
                before = _firmness(book, advise(milder, rulebook=book))
                if before > firmness:
                    problems.append(f"firmness {firmness}, but {before} with {change}")
    elif invariant_id == "composure-when-insulted":
        if not state.ended and (state.offensive_remarks or state.personal_attacks):
            kept = [*advice.attitudes, *advice.avoid]
            if not any(_composure_rule(book[r.rule_id]) for r in kept):
                problems.append("no composure rule is advised to an insulted agent")
    elif invariant_id == "only-follow-up-once-resolved":
        if state.resolved:
            groups = (*advice.actions, *advice.avoid, *advice.pending)
            problems += [
                f"{r.rule_id} ({r.phase.value}) is advised once resolved"
                for r in groups
                if not _resolved_ok(book[r.rule_id])
            ]
    elif invariant_id == "nothing-done-again":
        problems += [
            f"{i} is advised again although carried out"
            for i in shown
            if i in state.done and book[i].repeats is not True
        ]
    elif invariant_id == "only-after-ending-once-ended" and state.ended:
        problems += [f"{i} is advised after the end" for i in shown if not book[i].after_ending]
        if advice.pending:
            problems.append("moves are pending after the end")
    return problems


def invariant_violations(
    advice: Advice, rulebook: Rulebook | None = None, *, ignore: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """Every state invariant one advice breaks, as ``(invariant id, what is wrong)`` pairs.

    Args:
        advice: what :func:`~difficult_customers.advise` returned.
        rulebook: the rules it was made with (the built-in ones by default); some checks
            ask the engine about neighbouring states.
        ignore: ids of invariants not to check (say, one a rulebook is known to break).

    Raises:
        ValueError: ``ignore`` names no invariant.

    .. versionadded:: 0.2
    """
    book = default_rulebook() if rulebook is None else rulebook
    skipped = set(ignore)
    unknown = sorted(skipped - {i.id for i in INVARIANTS})
    if unknown:
        raise ValueError(
            f"unknown invariant {unknown[0]!r}; the invariants are: "
            + ", ".join(i.id for i in INVARIANTS)
        )
    found = []
    for invariant in INVARIANTS:
        if invariant.scope == "state" and invariant.id not in skipped:
            found += [(invariant.id, problem) for problem in _check(invariant.id, book, advice)]
    return found


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------

FindingKind = Literal[
    "never-fires",
    "always-overridden",
    "always-true",
    "conflict-always-together",
    "override-never-applies",
]


@dataclass(frozen=True)
class Violation:
    """An invariant broken, with a minimal counterexample.

    Attributes:
        invariant: the invariant's id.
        state: the counterexample: the fields that differ from the defaults, JSON ready for
            ``advise`` (for a conversation: the initial state).
        problem: what the real engine does wrong there.
        events: for a conversation invariant, the shortest event sequence that breaks it.
    """

    invariant: str
    state: Mapping[str, Any]
    problem: str
    events: tuple[Mapping[str, Any], ...] | None = None

    def __str__(self) -> str:
        where = json.dumps(dict(self.state), ensure_ascii=False, sort_keys=True)
        text = f"violated {self.invariant}: {_BY_ID[self.invariant].statement}; "
        if self.events is None:
            return text + f"counterexample: {where}: {self.problem}"
        events = json.dumps(list(self.events), ensure_ascii=False)
        return text + f"from {where}, events {events}: {self.problem}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "invariant": self.invariant,
            "state": dict(self.state),
            "problem": self.problem,
        }
        if self.events is not None:
            data["events"] = [dict(e) for e in self.events]
        return data


@dataclass(frozen=True)
class Finding:
    """Something odd about the rulebook itself; not a broken invariant.

    Attributes:
        kind: the kind of finding (see :data:`FindingKind`).
        rules: the rule ids concerned.
        message: one line.
        example: a state that shows it, where one does.
    """

    kind: FindingKind
    rules: tuple[str, ...]
    message: str
    example: Mapping[str, Any] | None = None

    def __str__(self) -> str:
        text = f"{self.kind}: {self.message}"
        if self.example is not None:
            text += f"; example: {json.dumps(dict(self.example), sort_keys=True)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rules": list(self.rules),
            "message": self.message,
            "example": None if self.example is None else dict(self.example),
        }


@dataclass(frozen=True)
class Report:
    """The outcome of :func:`verify`.

    Attributes:
        violations: invariants broken, each with its counterexample.
        findings: the rulebook analysis.
        proved: ids of the invariants proved (or, for conversations, checked to ``depth``).
        depth: how many events the conversation search covered completely.
        conversation_states: distinct conversation states the search visited.
        seconds: time spent on ``"states"``, ``"analysis"`` and ``"conversations"``.
        inherited: ids of the invariants the base rulebook (see :func:`verify`) already
            breaks on its own: not the pack's doing, so they do not make the report fail.
    """

    violations: tuple[Violation, ...]
    findings: tuple[Finding, ...]
    proved: tuple[str, ...]
    depth: int | None = None
    seconds: Mapping[str, float] = field(default_factory=dict)
    inherited: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        """No invariant is broken, apart from those the base already breaks."""
        return all(v.invariant in self.inherited for v in self.violations)

    def lines(self) -> list[str]:
        """What ``check`` prints: one line per violation, per finding, then a summary."""
        out = [
            str(v)
            + (" (the rules it builds on break it too)" if v.invariant in self.inherited else "")
            for v in self.violations
        ]
        out += [f"finding {f}" for f in self.findings]
        states = sum(1 for i in INVARIANTS if i.id in self.proved)
        conversations = sum(1 for i in CONVERSATION_INVARIANTS if i.id in self.proved)
        summary = f"proved {states} of {len(INVARIANTS)} invariants over every state"
        if self.depth is not None:
            summary += (
                f", {conversations} of {len(CONVERSATION_INVARIANTS)} over every conversation "
                f"of up to {self.depth} events"
            )
        out.append(summary)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "violations": [
                {**v.to_dict(), "inherited": v.invariant in self.inherited}
                for v in self.violations
            ],
            "findings": [f.to_dict() for f in self.findings],
            "proved": list(self.proved),
            "inherited": sorted(self.inherited),
            "conversation_depth": self.depth,
        }


# ---------------------------------------------------------------------------------------------
# The solver encoding
# ---------------------------------------------------------------------------------------------


def _z3() -> Any:
    try:
        import z3  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise SolverMissingError() from None
    return z3


class _Encoding:
    """The state space and the engine's decision, as solver terms."""

    def __init__(self, book: Rulebook) -> None:
        self.z3 = _z3()
        self.book = book
        self.rules = book.rules
        self.schema = state_schema()
        self.defaults = ConversationState()
        self.index = {rule.id: i for i, rule in enumerate(self.rules)}
        self.overrides = tuple(tuple(self.index[t] for t in rule.overrides) for rule in self.rules)
        self.order = _topological(self.overrides)
        self.overriders: list[list[int]] = [[] for _ in self.rules]
        for i, targets in enumerate(self.overrides):
            for target in targets:
                self.overriders[target].append(i)
        self.vars, self.done = self.fresh("")
        self.valid = self.validity(self.vars)

    def fresh(self, suffix: str) -> tuple[dict[str, Any], list[Any]]:
        """New solver variables for one state: its fields and its ``done`` memberships."""
        z3 = self.z3
        env = {
            name: z3.Bool(name + suffix) if kind.kind == "bool" else z3.Int(name + suffix)
            for name, kind in self.schema.items()
        }
        return env, [z3.Bool(f"done:{rule.id}{suffix}") for rule in self.rules]

    def validity(self, env: Mapping[str, Any]) -> list[Any]:
        """What ConversationState's validation requires of the fields."""
        z3 = self.z3
        valid = []
        for name, kind in self.schema.items():
            if kind.kind != "bool":
                upper = MAX_COUNT if kind.kind == "int" else len(kind.values) - 1
                valid.append(z3.And(env[name] >= 0, env[name] <= upper))
        abuse = z3.Or(env["offensive_remarks"] >= 1, env["personal_attacks"], env["threats"])
        valid.append(
            z3.Implies(env["abuse_after_warning"], z3.And(env["warnings_given"] >= 1, abuse))
        )
        return valid

    # -- conditions -------------------------------------------------------------------

    def condition(self, rule: Rule, env: Mapping[str, Any]) -> Any:
        tree, _ = _checked_tree(rule.when.source)
        return self._node(tree.body, env)

    def _node(self, node: ast.AST, env: Mapping[str, Any]) -> Any:
        z3 = self.z3
        if isinstance(node, ast.BoolOp):
            parts = [self._node(value, env) for value in node.values]
            return z3.And(*parts) if isinstance(node.op, ast.And) else z3.Or(*parts)
        if isinstance(node, ast.UnaryOp):
            return z3.Not(self._node(node.operand, env))
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.Constant):
            return z3.BoolVal(bool(node.value))
        if isinstance(node, ast.Compare):
            return z3.And(*(self._pair(a, op, b, env) for a, op, b in _pairs(node)))
        raise AssertionError(f"not a validated condition node: {ast.dump(node)}")

    def _value(self, node: ast.AST, env: Mapping[str, Any], enum_of: str | None) -> Any:
        if isinstance(node, ast.Name):
            return env[node.id]
        assert isinstance(node, ast.Constant)
        if enum_of is not None:
            return self.schema[enum_of].values.index(node.value)
        if isinstance(node.value, bool):
            return self.z3.BoolVal(node.value)
        return node.value

    def _pair(self, left: ast.expr, cmpop: ast.cmpop, right: ast.expr, env: Any) -> Any:
        z3 = self.z3
        op = _OPERATORS[type(cmpop)]
        ordered = _ordered_members(self.schema, left, op, right)
        names = [n.id for n in (left, right) if isinstance(n, ast.Name)]
        enum_of = next((n for n in names if self.schema[n].kind == "enum"), None)
        if ordered is not None:
            name, members = ordered
            values = self.schema[name].values
            return z3.Or(*(env[name] == values.index(m) for m in members), z3.BoolVal(False))
        if op.symbol in ("in", "not in"):
            assert isinstance(right, ast.Tuple | ast.Set | ast.List)
            item = self._value(left, env, enum_of)
            inside = z3.Or(
                *(item == self._value(e, env, enum_of) for e in right.elts), z3.BoolVal(False)
            )
            return inside if op.symbol == "in" else z3.Not(inside)
        a, b = self._value(left, env, enum_of), self._value(right, env, enum_of)
        return {
            "==": lambda: a == b,
            "!=": lambda: a != b,
            "<": lambda: a < b,
            "<=": lambda: a <= b,
            ">": lambda: a > b,
            ">=": lambda: a >= b,
        }[op.symbol]()

    # -- the engine -------------------------------------------------------------------

    def decide(
        self, env: Mapping[str, Any], done: Sequence[Any] | None = None
    ) -> tuple[list[Any], list[Any], list[Any]]:
        """(condition holds and not filtered by ``ended``, overridden, kept) per rule."""
        z3 = self.z3
        done = self.done if done is None else done
        fired = [
            z3.And(self.condition(rule, env), z3.BoolVal(True))
            if rule.after_ending
            else z3.And(self.condition(rule, env), z3.Not(env["ended"]))
            for rule in self.rules
        ]
        overridden: list[Any] = [None] * len(self.rules)
        for j in self.order:
            # Every rule that overrides j comes earlier in the order, so it is settled.
            by = [z3.And(fired[i], z3.Not(overridden[i])) for i in self.overriders[j]]
            overridden[j] = z3.And(fired[j], z3.Or(*by)) if by else z3.BoolVal(False)
        kept = [
            z3.And(
                fired[i],
                z3.Not(overridden[i]),
                z3.BoolVal(True) if rule.repeats is True else z3.Not(done[i]),
            )
            for i, rule in enumerate(self.rules)
        ]
        return fired, overridden, kept

    def advice(
        self, env: Mapping[str, Any], done: Sequence[Any] | None = None
    ) -> dict[str, list[Any]]:
        """Per rule: in ``attitudes``, ``actions``, ``avoid``, ``pending``, ``shown``."""
        z3 = self.z3
        _, _, kept = self.decide(env, done)
        silent = {**env, "customer_speaking": z3.BoolVal(False)}
        _, _, later = self.decide(silent, done)
        talking = z3.And(env["customer_speaking"], z3.Not(env["ended"]))
        groups: dict[str, list[Any]] = {k: [] for k in ("attitudes", "actions", "avoid")}
        pending = []
        for i, rule in enumerate(self.rules):
            groups["attitudes"].append(kept[i] if rule.attitude else z3.BoolVal(False))
            move = rule.kind is Kind.DO and not rule.attitude
            groups["actions"].append(kept[i] if move else z3.BoolVal(False))
            groups["avoid"].append(kept[i] if rule.kind is Kind.AVOID else z3.BoolVal(False))
            pending.append(
                z3.And(talking, later[i], z3.Not(kept[i])) if move else z3.BoolVal(False)
            )
        groups["pending"] = pending
        groups["kept"] = kept
        groups["shown"] = [z3.Or(k, p) for k, p in zip(kept, pending, strict=True)]
        return groups

    # -- counterexamples --------------------------------------------------------------

    def objectives(self) -> list[Any]:
        """What a minimal counterexample minimizes, most important first (lexicographic).

        First the number of fields that differ from the defaults (``done`` counting as one
        field), then which ones (earlier fields and rules are preferred), then each count's
        and enum's value: the optimum is unique, so a counterexample is the same on every
        run.
        """
        z3 = self.z3
        env = self.vars
        differs = [z3.Not(env[name] == self._default(name)) for name in self.schema]
        some_done = z3.Or(*self.done, z3.BoolVal(False))
        count = z3.Sum(*(z3.If(d, 1, 0) for d in [*differs, some_done]))
        flags = [*differs, *self.done]
        which = z3.Sum(*(z3.If(d, 2**k, 0) for k, d in enumerate(flags)))
        values = [env[name] for name, kind in self.schema.items() if kind.kind != "bool"]
        return [count, which, *values]

    def _default(self, name: str) -> Any:
        value = getattr(self.defaults, name)
        kind = self.schema[name]
        if kind.kind == "enum":
            return kind.values.index(value.value)
        if kind.kind == "bool":
            return self.z3.BoolVal(value)
        return value

    def state(self, model: Any, env: Mapping[str, Any] | None = None) -> ConversationState:
        env = self.vars if env is None else env
        values: dict[str, Any] = {}
        for name, kind in self.schema.items():
            term = model.eval(env[name], model_completion=True)
            if kind.kind == "bool":
                values[name] = self.z3.is_true(term)
            elif kind.kind == "int":
                values[name] = term.as_long()
            else:
                values[name] = kind.values[term.as_long()]
        values["done"] = tuple(
            rule.id
            for rule, d in zip(self.rules, self.done, strict=True)
            if self.z3.is_true(model.eval(d, model_completion=True))
        )
        return ConversationState.model_validate(values)

    def minimal(self, violation: Any, extra: Sequence[Any] = ()) -> ConversationState | None:
        """The valid state closest to the defaults where ``violation`` holds, or None."""
        z3 = self.z3
        solver = z3.Solver()
        solver.add(*self.valid, *extra, violation)
        if solver.check() != z3.sat:
            return None
        optimizer = z3.Optimize()
        optimizer.add(*self.valid, *extra, violation)
        for objective in self.objectives():
            optimizer.minimize(objective)
        if optimizer.check() != z3.sat:  # pragma: no cover - satisfiable just above
            return self.state(solver.model())
        return self.state(optimizer.model())

    def satisfiable(self, *constraints: Any) -> Any:
        solver = self.z3.Solver()
        solver.add(*self.valid, *constraints)
        return solver.model() if solver.check() == self.z3.sat else None


def _plain_state(state: ConversationState) -> dict[str, Any]:
    """The fields of ``state`` that differ from the defaults, JSON ready."""
    defaults = ConversationState().model_dump(mode="json")
    return {
        name: value
        for name, value in state.model_dump(mode="json").items()
        if value != defaults[name]
    }


def _violation_term(enc: _Encoding, invariant_id: str) -> Any:
    """A solver term true exactly in the states that break the invariant."""
    z3 = enc.z3
    v = enc.vars
    adv = enc.advice(v)
    false = z3.BoolVal(False)
    live = z3.And(z3.Not(v["ended"]), *(z3.Not(d) for d in enc.done))
    rules = enc.rules
    if invariant_id == "never-empty":
        return z3.And(live, z3.Not(z3.Or(*adv["actions"], false)))
    if invariant_id == "no-conflict-pair-together":
        return z3.Or(
            *(
                z3.And(adv["kept"][enc.index[a]], adv["kept"][enc.index[b]])
                for a, b in _conflict_pairs(enc.book)
            ),
            false,
        )
    if invariant_id == "warning-before-abuse-ending":
        calm = {
            **v,
            "offensive_remarks": z3.IntVal(0),
            "personal_attacks": z3.BoolVal(False),
            "threats": z3.BoolVal(False),
        }
        without = enc.advice(calm)["shown"]
        return z3.And(
            v["warnings_given"] == 0,
            z3.Or(
                *(
                    z3.And(adv["shown"][i], z3.Not(without[i]))
                    for i, rule in enumerate(rules)
                    if _ending(rule)
                ),
                false,
            ),
        )
    if invariant_id == "listen-first":
        listening = [
            adv["actions"][i] for i, rule in enumerate(rules) if rule.phase is Phase.LISTEN
        ]
        # Actions come in phase order, and only safety precedes listening among the moves:
        # listening is the first spoken move exactly when some listening move is advised.
        return z3.And(
            live, v["customer_speaking"], z3.Not(v["resolved"]), z3.Not(z3.Or(*listening, false))
        )
    if invariant_id == "silent-while-customer-speaks":
        spoken = [
            adv["actions"][i] for i, rule in enumerate(rules) if rule.phase not in _WHILE_SPEAKING
        ]
        return z3.And(v["customer_speaking"], z3.Not(v["ended"]), z3.Or(*spoken, false))
    if invariant_id == "no-empathy-when-invalid":
        invalid = enc.schema["complaint_validity"].values.index("invalid")
        return z3.And(
            v["complaint_validity"] == invalid,
            z3.Or(*(adv["shown"][i] for i, r in enumerate(rules) if "empathy" in r.tags), false),
        )
    if invariant_id == "composure-when-insulted":
        composure = [
            z3.Or(adv["attitudes"][i], adv["avoid"][i])
            for i, rule in enumerate(rules)
            if _composure_rule(rule)
        ]
        return z3.And(
            z3.Not(v["ended"]),
            z3.Or(v["offensive_remarks"] >= 1, v["personal_attacks"]),
            z3.Not(z3.Or(*composure, false)),
        )
    if invariant_id == "only-follow-up-once-resolved":
        bad = [
            z3.Or(adv["actions"][i], adv["avoid"][i], adv["pending"][i])
            for i, rule in enumerate(rules)
            if not _resolved_ok(rule)
        ]
        return z3.And(v["resolved"], z3.Or(*bad, false))
    if invariant_id == "nothing-done-again":
        return z3.Or(
            *(
                z3.And(enc.done[i], adv["shown"][i])
                for i, rule in enumerate(rules)
                if rule.repeats is not True
            ),
            false,
        )
    if invariant_id == "only-after-ending-once-ended":
        bad = [adv["shown"][i] for i, rule in enumerate(rules) if not rule.after_ending]
        return z3.And(v["ended"], z3.Or(*bad, *adv["pending"], false))
    raise AssertionError(invariant_id)  # pragma: no cover


def _firmness_violation(enc: _Encoding) -> ConversationState | None:
    """A state whose moves are less firm than those of a state one step less abusive.

    Any more abusive state is reached from a milder one by single steps (one more remark,
    one flag turned on), so monotony along every step is monotony overall.
    """
    z3 = enc.z3
    v = enc.vars
    milder = dict(v)
    step = z3.Int("abuse step")
    m_remarks = z3.Int("milder offensive_remarks")
    milder["offensive_remarks"] = m_remarks
    flags = {name: z3.Bool(f"milder {name}") for name in _ABUSE[1:]}
    milder.update(flags)
    same = [
        z3.Implies(step != 0, m_remarks == v["offensive_remarks"]),
        z3.Implies(
            step == 0, z3.And(v["offensive_remarks"] >= 1, m_remarks == v["offensive_remarks"] - 1)
        ),
    ]
    for k, name in enumerate(_ABUSE[1:], start=1):
        same.append(z3.Implies(step != k, flags[name] == v[name]))
        same.append(z3.Implies(step == k, z3.And(v[name], z3.Not(flags[name]))))
    live = z3.And(z3.Not(v["ended"]), *(z3.Not(d) for d in enc.done))

    def firmness(env: Mapping[str, Any]) -> Any:
        actions = enc.advice(env)["actions"]
        level: Any = z3.IntVal(0)
        for i, rule in enumerate(enc.rules):
            if rule.firmness:
                level = z3.If(z3.And(actions[i], level < rule.firmness), rule.firmness, level)
        return level

    violation = z3.And(
        live,
        step >= 0,
        step <= len(_ABUSE) - 1,
        *same,
        *enc.validity(milder),
        firmness(milder) > firmness(v),
    )
    return enc.minimal(violation)


def prove_states(
    rulebook: Rulebook | None = None, invariants: Sequence[str] | None = None
) -> tuple[list[Violation], list[str]]:
    """Prove the state invariants over every valid state with the solver.

    Returns:
        The violations (each confirmed by the real engine) and the ids proved.

    Raises:
        SolverMissingError: z3 is not installed (the ``[verify]`` extra).

    .. versionadded:: 0.2
    """
    book = default_rulebook() if rulebook is None else rulebook
    enc = _Encoding(book)
    violations: list[Violation] = []
    proved: list[str] = []
    for invariant in INVARIANTS:
        if invariants is not None and invariant.id not in invariants:
            continue
        if invariant.scope == "catalog":
            problems = _render_problems(book)
            if problems:
                violations.append(Violation(invariant.id, {}, problems[0]))
            else:
                proved.append(invariant.id)
            continue
        if invariant.scope != "state":
            continue
        if invariant.id == "firmness-grows-with-abuse":
            state = _firmness_violation(enc)
        else:
            state = enc.minimal(_violation_term(enc, invariant.id))
        if state is None:
            proved.append(invariant.id)
            continue
        problems = _check(invariant.id, book, advise(state, rulebook=book))
        if not problems:
            raise AssertionError(  # pragma: no cover - the encoding must match the engine
                f"encoding disagrees with the engine on {invariant.id} at {_plain_state(state)}"
            )
        violations.append(Violation(invariant.id, _plain_state(state), "; ".join(problems)))
    return violations, proved


def _render_problems(book: Rulebook) -> list[str]:
    """Every (rule, phrasing, locale, form) rendered: finite, so checked exhaustively."""
    from .details import Details, FormOfAddress
    from .i18n import FORMATTER, format_details, negotiate_rulebook_locale, variant_context

    sample = Details(
        business_name="Atelier", callback_in="PT1H", deposit_percent=20, closed_day="sunday"
    )
    problems = []
    for locale_name in book.locales:
        locale = negotiate_rulebook_locale(locale_name, book)
        catalog = book.catalogs.get(locale.language, {})
        values = format_details(sample, locale)
        for rule in book:
            texts = [rule.title, rule.rationale]
            for phrasing in rule.phrasing:
                text = catalog.get((rule.id, phrasing.text), phrasing.text)
                variants = [text] + [
                    catalog.get((variant_context(rule.id, form), phrasing.text), text)
                    for form in FormOfAddress
                ]
                for variant in variants:
                    try:
                        texts.append(
                            FORMATTER.format(variant, **{n: values[n] for n in phrasing.requires})
                        )
                    except (KeyError, ValueError, IndexError) as exc:
                        problems.append(f"{rule.id} in {locale_name}: cannot render ({exc})")
            for text in texts:
                shown = (
                    catalog.get((rule.id, text), text)
                    if text in (rule.title, rule.rationale)
                    else text
                )
                if not shown.strip() or "{" in shown or "}" in shown:
                    problems.append(f"{rule.id} in {locale_name}: {shown!r}")
    return problems


# ---------------------------------------------------------------------------------------------
# Rulebook analysis
# ---------------------------------------------------------------------------------------------


def analyse(rulebook: Rulebook | None = None) -> list[Finding]:
    """The rulebook analysis: rules that never fire or never win, conditions always true,
    declared conflicts that cannot be told apart, overrides that never remove anything.

    Raises:
        SolverMissingError: z3 is not installed (the ``[verify]`` extra).

    .. versionadded:: 0.2
    """
    book = default_rulebook() if rulebook is None else rulebook
    enc = _Encoding(book)
    z3 = enc.z3
    v = enc.vars
    fired, overridden, _ = enc.decide(v)
    conditions = [enc.condition(rule, v) for rule in enc.rules]
    findings: list[Finding] = []
    for i, rule in enumerate(enc.rules):
        if enc.satisfiable(fired[i]) is None:
            findings.append(
                Finding("never-fires", (rule.id,), f"{rule.id} fires in no valid state")
            )
            continue
        if enc.satisfiable(z3.Not(conditions[i])) is None:
            findings.append(
                Finding(
                    "always-true",
                    (rule.id,),
                    f"the condition of {rule.id} holds in every valid state: {rule.when.source}",
                )
            )
        if enc.satisfiable(fired[i], z3.Not(overridden[i])) is None:
            example = enc.minimal(fired[i])
            by = sorted({book.rules[j].id for j in enc.overriders[i]})
            findings.append(
                Finding(
                    "always-overridden",
                    (rule.id,),
                    f"{rule.id} is overridden whenever it fires (by {', '.join(by)})",
                    None if example is None else _plain_state(example),
                )
            )
    for i, rule in enumerate(enc.rules):
        for j in enc.overrides[i]:
            target = enc.rules[j].id
            if enc.satisfiable(fired[i], z3.Not(overridden[i]), fired[j]) is None:
                findings.append(
                    Finding(
                        "override-never-applies",
                        (rule.id, target),
                        f"{rule.id} overrides {target}, but never while both fire",
                    )
                )
        for other in rule.conflicts_with:
            j = enc.index[other]
            apart = z3.Xor(fired[i], fired[j])
            if enc.satisfiable(z3.Or(fired[i], fired[j])) is not None and (
                enc.satisfiable(apart) is None
            ):
                example = enc.minimal(fired[i])
                findings.append(
                    Finding(
                        "conflict-always-together",
                        (rule.id, other),
                        f"{rule.id} conflicts with {other}, yet they fire in exactly the same "
                        "states: only an override can settle it",
                        None if example is None else _plain_state(example),
                    )
                )
    return findings


# ---------------------------------------------------------------------------------------------
# Conversations
# ---------------------------------------------------------------------------------------------


@dataclass
class _Node:
    """A conversation replayed by the real fold, with the history the properties read."""

    state: ConversationState
    warned: bool
    followed: frozenset[str]  # followed and not due again: what memory must keep out
    ending_followed: bool
    parent: _Node | None
    event: Event | None


# The event kinds of the symbolic search, in the order of the event union.
_KINDS = EVENT_TYPES
_K = {name: number for number, name in enumerate(_KINDS)}


@dataclass
class _Step:
    """One state of a symbolic conversation, and what its history says."""

    env: dict[str, Any]
    done: list[Any]
    warned: Any
    ending: Any
    followed: list[Any]
    kind: Any = None
    mood: Any = None
    rule: Any = None


class _Unrolling:
    """Conversations of up to ``depth`` events from any valid state, as solver terms.

    The fold is encoded as :func:`~difficult_customers.conversation.fold` applies it
    (tests compare the two on random states and events); the agent follows only what the
    advice holds at that moment (a move or an attitude), as an agent using the advice does.
    """

    def __init__(self, enc: _Encoding) -> None:
        self.enc = enc
        z3 = enc.z3
        rules = enc.rules
        first = _Step(
            enc.vars,
            enc.done,
            enc.vars["warnings_given"] >= 1,
            enc.vars["ended"],
            [
                z3.And(d, z3.BoolVal(rule.repeats is not True))
                for d, rule in zip(enc.done, rules, strict=True)
            ],
        )
        self.steps = [first]
        self.path: list[Any] = []
        self.sizes = [0]  # len(path) once each number of events is unrolled

    def extend(self) -> None:
        enc, z3 = self.enc, self.enc.z3
        rules = enc.rules
        cur = self.steps[-1]
        t = len(self.steps)
        kind, mood, rule = z3.Int(f"event@{t}"), z3.Int(f"mood@{t}"), z3.Int(f"rule@{t}")
        cur.kind, cur.mood, cur.rule = kind, mood, rule
        env, done = enc.fresh(f"@{t}")
        adv = enc.advice(cur.env, cur.done)
        c = cur.env
        schema = enc.schema
        speaks = z3.Or(kind == _K["customer_started_speaking"], kind == _K["customer_interrupted"])
        abuse = z3.Or(*(kind == _K[k] for k in _KINDS[3:6]))
        followed = kind == _K["agent_followed"]
        calm = schema["mood"].values.index("calm")
        constraints = [
            kind >= 0,
            kind < len(_KINDS),
            mood >= 0,
            mood < len(schema["mood"].values),
            rule >= 0,
            rule < len(rules),
            *enc.validity(env),
            # After the end, only an agent move that may follow an ending.
            z3.Implies(
                c["ended"],
                z3.And(
                    followed,
                    z3.Or(*(rule == i for i, r in enumerate(rules) if r.after_ending), False),
                ),
            ),
            # The agent follows what is advised now.
            z3.Implies(
                followed,
                z3.Or(
                    *(
                        z3.And(rule == i, z3.Or(adv["actions"][i], adv["attitudes"][i]))
                        for i in range(len(rules))
                    ),
                    False,
                ),
            ),
        ]
        customer = {
            "customer_speaking": z3.If(
                speaks,
                True,
                z3.If(kind == _K["customer_finished_speaking"], False, c["customer_speaking"]),
            ),
            "customer_interrupts": z3.Or(
                c["customer_interrupts"], kind == _K["customer_interrupted"]
            ),
            "offensive_remarks": z3.If(
                kind == _K["customer_insulted"], c["offensive_remarks"] + 1, c["offensive_remarks"]
            ),
            "personal_attacks": z3.Or(
                c["personal_attacks"], kind == _K["customer_attacked_agent"]
            ),
            "threats": z3.Or(c["threats"], kind == _K["customer_threatened"]),
            "abuse_after_warning": z3.If(
                z3.And(abuse, c["warnings_given"] >= 1),
                True,
                z3.If(
                    z3.And(kind == _K["customer_mood"], mood == calm),
                    False,
                    c["abuse_after_warning"],
                ),
            ),
            "mood": z3.If(kind == _K["customer_mood"], mood, c["mood"]),
            # A new turn of the customer's: the agent has not answered it yet.
            "agent_replied": z3.If(speaks, False, c["agent_replied"]),
        }
        moves = [rule == i for i, r in enumerate(rules) if r.kind is Kind.DO]
        for name in schema:
            effect_value: Any = c[name]
            for i, r in enumerate(rules):
                for effect in r.effects:
                    if effect.field != name:
                        continue
                    if effect.increment:
                        value: Any = c[name] + effect.value
                    elif schema[name].kind == "enum":
                        value = schema[name].values.index(effect.value)
                    else:
                        value = effect.value
                    effect_value = z3.If(rule == i, value, effect_value)
            if name == "agent_replied":
                # Carrying out a do rule is a reply, whatever its effects say.
                effect_value = z3.If(z3.Or(*moves, False), True, effect_value)
            after_customer = customer.get(name, c[name])
            if name in FACT_FIELDS:
                constraints.append(
                    z3.Implies(
                        kind != _K["facts"],
                        env[name] == z3.If(followed, effect_value, after_customer),
                    )
                )
            else:
                constraints.append(env[name] == z3.If(followed, effect_value, after_customer))
        for i, r in enumerate(rules):
            each_turn = r.repeats == "each_turn"
            constraints.append(
                done[i]
                == z3.If(
                    z3.And(followed, rule == i),
                    True,
                    z3.And(cur.done[i], z3.Not(z3.And(speaks, z3.BoolVal(each_turn)))),
                )
            )
        chosen = [z3.And(followed, rule == i) for i in range(len(rules))]
        nxt = _Step(
            env,
            done,
            z3.Or(cur.warned, *(chosen[i] for i, r in enumerate(rules) if _warning(r))),
            z3.Or(cur.ending, *(chosen[i] for i, r in enumerate(rules) if _ends_conversation(r))),
            [
                z3.If(
                    chosen[i],
                    z3.BoolVal(r.repeats is not True),
                    z3.And(
                        cur.followed[i],
                        z3.Not(z3.And(speaks, z3.BoolVal(r.repeats == "each_turn"))),
                    ),
                )
                for i, r in enumerate(rules)
            ],
        )
        self.path += constraints
        self.sizes.append(len(self.path))
        self.steps.append(nxt)

    def path_to(self, length: int) -> list[Any]:
        """The constraints of the first ``length`` events."""
        return self.path[: self.sizes[length]]

    def violation(self, invariant_id: str, length: int) -> Any:
        enc, z3 = self.enc, self.enc.z3
        step = self.steps[length]
        rules = enc.rules
        shown = enc.advice(step.env, step.done)["shown"]
        if invariant_id == "warning-before-ending-over-abuse":
            calm = {
                **step.env,
                "offensive_remarks": z3.IntVal(0),
                "personal_attacks": z3.BoolVal(False),
                "threats": z3.BoolVal(False),
                "abuse_after_warning": z3.BoolVal(False),
            }
            without = enc.advice(calm, step.done)["shown"]
            endings = [
                z3.And(shown[i], z3.Not(without[i])) for i, r in enumerate(rules) if _ending(r)
            ]
            return z3.And(z3.Not(step.warned), z3.Or(*endings, False))
        if invariant_id == "no-advice-after-ending":
            late = [shown[i] for i, r in enumerate(rules) if not r.after_ending]
            return z3.And(step.ending, z3.Or(z3.Not(step.env["ended"]), *late))
        assert invariant_id == "memory-never-re-advises"
        return z3.Or(*(z3.And(f, s) for f, s in zip(step.followed, shown, strict=True)), False)

    def events(self, model: Any, length: int) -> list[Event]:
        events: list[Event] = []
        for t, step in enumerate(self.steps[:length]):
            kind = _KINDS[model.eval(step.kind, model_completion=True).as_long()]
            if kind == "customer_mood":
                number = model.eval(step.mood, model_completion=True).as_long()
                events.append(CustomerMood(mood=list(Mood)[number]))
            elif kind == "agent_followed":
                number = model.eval(step.rule, model_completion=True).as_long()
                events.append(AgentFollowed(rule=self.enc.rules[number].id))
            elif kind == "facts":
                before = self.enc.state(model, step.env)
                after = self.enc.state(model, self.steps[t + 1].env)
                values = {
                    name: getattr(after, name)
                    for name in FACT_FIELDS
                    if getattr(after, name) != getattr(before, name)
                } or {FACT_FIELDS[0]: getattr(after, FACT_FIELDS[0])}
                events.append(Facts(values=values))
            else:
                events.append(parse_event({"type": kind}))
        return events


def check_conversations(
    rulebook: Rulebook | None = None,
    *,
    depth: int = DEFAULT_DEPTH,
    time_budget: float | None = None,
) -> tuple[list[Violation], int]:
    """Check the conversation invariants over every event sequence up to ``depth`` events.

    Every valid initial state and every sequence of events is covered: customer events,
    mood changes, facts (any of them, in one event), and the agent following any move or
    attitude advised at that moment. The search is bounded model checking: for each length
    from 0 up, the solver looks for a sequence of that length that breaks an invariant, so
    the first one found is a shortest; its initial state is then the one closest to the
    defaults. Each counterexample is replayed through the real fold and engine.

    Returns:
        The violations (one per invariant at most) and the length checked completely.

    Raises:
        SolverMissingError: z3 is not installed (the ``[verify]`` extra).

    .. versionadded:: 0.2
    """
    if not 0 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be from 0 to {MAX_DEPTH} events, not {depth}")
    book = default_rulebook() if rulebook is None else rulebook
    enc = _Encoding(book)
    z3 = enc.z3
    unrolling = _Unrolling(enc)
    pending = [i.id for i in CONVERSATION_INVARIANTS]
    found: list[Violation] = []
    deadline = None if time_budget is None else time.perf_counter() + time_budget
    defaults = [
        *(enc.vars[name] == enc._default(name) for name in enc.schema),
        *(z3.Not(d) for d in enc.done),
    ]
    reached = depth
    # First from the defaults, where a counterexample is only events; then from any state.
    for start in (defaults, []):
        solver = z3.Solver()
        solver.add(*enc.valid, *start)
        added = 0
        for length in range(depth + 1):
            while len(unrolling.steps) <= length:
                unrolling.extend()
            solver.add(*unrolling.path[added:])
            added = len(unrolling.path)
            for invariant_id in list(pending):
                violation = unrolling.violation(invariant_id, length)
                solver.push()
                solver.add(violation)
                outcome = solver.check()
                solver.pop()
                if outcome == z3.sat:
                    found.append(
                        _conversation_counterexample(
                            enc, unrolling, invariant_id, length, [*start, violation]
                        )
                    )
                    pending.remove(invariant_id)
            if not pending:
                return found, depth
            if deadline is not None and time.perf_counter() > deadline:
                reached = min(reached, length)
                break
    return found, reached


def _conversation_counterexample(
    enc: _Encoding, unrolling: _Unrolling, invariant_id: str, length: int, extra: list[Any]
) -> Violation:
    z3 = enc.z3
    optimizer = z3.Optimize()
    optimizer.add(*enc.valid, *unrolling.path_to(length), *extra)
    changes = [
        z3.If(before.env[name] == after.env[name], 0, 1)
        for before, after in zip(
            unrolling.steps[:length], unrolling.steps[1 : length + 1], strict=True
        )
        for name in FACT_FIELDS
    ]
    objectives = enc.objectives()
    # Facts that change nothing the counterexample needs are left out of it.
    # Then the earliest event kinds, rules and moods: one counterexample on every run.
    choices = [
        term for step in unrolling.steps[:length] for term in (step.kind, step.rule, step.mood)
    ]
    for objective in [objectives[0], z3.Sum(*changes, 0), *objectives[1:], *choices]:
        optimizer.minimize(objective)
    assert optimizer.check() == z3.sat
    model = optimizer.model()
    initial = enc.state(model)
    events = unrolling.events(model, length)
    node = _Node(
        initial,
        initial.warnings_given >= 1,
        frozenset(i for i in initial.done if enc.book[i].repeats is not True),
        initial.ended,
        None,
        None,
    )
    for event in events:
        node = _step(enc.book, node, event)
    shown = _shown_ids(_plan(enc.book), node.state)
    problems = [p for i, p in _conversation_problems(enc.book, node, shown) if i == invariant_id]
    if not problems:
        raise AssertionError(  # pragma: no cover - the encoding must match the fold
            f"encoding disagrees with the fold on {invariant_id}: {_plain_state(initial)}, "
            f"{[event_json(e) for e in events]}"
        )
    return Violation(
        invariant_id, _plain_state(initial), problems[0], tuple(event_json(e) for e in events)
    )


def _shown_ids(plan: Any, state: ConversationState) -> dict[str, list[str]]:
    done = _done(plan, state.done)
    values = state.__dict__
    kept = _kept(plan, values, done)
    pending: list[int] = []
    if values["customer_speaking"] and not values["ended"]:
        now = set(kept)
        later = _kept(plan, {**values, "customer_speaking": False}, done)
        pending = [
            i
            for i in later
            if i not in now and not plan.rules[i].attitude and plan.rules[i].kind is Kind.DO
        ]
    return {
        "kept": [plan.rules[i].id for i in kept],
        "pending": [plan.rules[i].id for i in pending],
        "do": [plan.rules[i].id for i in kept if plan.rules[i].kind is Kind.DO],
    }


def _step(book: Rulebook, node: _Node, event: Event) -> _Node:
    state = fold(node.state, event, book)
    followed = node.followed
    warned, ending = node.warned, node.ending_followed
    if isinstance(event, AgentFollowed):
        rule = book[event.rule]
        if rule.repeats is not True:
            followed = followed | {rule.id}
        warned = warned or _warning(rule)
        ending = ending or _ends_conversation(rule)
    elif isinstance(event, CustomerStartedSpeaking | CustomerInterrupted):
        followed = frozenset(i for i in followed if book[i].repeats != "each_turn")
    return _Node(state, warned, followed, ending, node, event)


def _conversation_problems(
    book: Rulebook, node: _Node, shown: dict[str, list[str]]
) -> Iterator[tuple[str, str]]:
    state = node.state
    ids = [*shown["kept"], *shown["pending"]]
    if not node.warned:
        endings = [i for i in ids if _ending(book[i])]
        if endings:
            calm = state.model_copy(
                update={
                    "offensive_remarks": 0,
                    "personal_attacks": False,
                    "threats": False,
                    "abuse_after_warning": False,
                }
            )
            without = _shown_ids(_plan(book), calm)
            also = {*without["kept"], *without["pending"]}
            for i in endings:
                if i not in also:
                    yield (
                        "warning-before-ending-over-abuse",
                        f"{i} is advised over abuse, and no warning was followed",
                    )
    if node.ending_followed:
        if not state.ended:
            yield "no-advice-after-ending", "an ending was followed, but the state is not ended"
        late = [i for i in ids if not book[i].after_ending]
        if late:
            yield "no-advice-after-ending", f"{late[0]} is advised after the ending"
    again = [i for i in ids if i in node.followed]
    if again:
        yield "memory-never-re-advises", f"{again[0]} is advised again after it was followed"


# ---------------------------------------------------------------------------------------------
# Everything at once
# ---------------------------------------------------------------------------------------------


def verify(
    rulebook: Rulebook | None = None,
    *,
    depth: int = DEFAULT_DEPTH,
    conversations: bool = True,
    time_budget: float | None = None,
    base: Rulebook | None = None,
) -> Report:
    """Prove the state invariants, analyse the rulebook and search the conversations.

    Args:
        rulebook: the rules to verify (the built-in ones by default).
        depth: events in the longest conversation searched.
        conversations: whether to search conversations at all.
        time_budget: seconds the conversation search may take; it stops at the end of the
            level it is in and the report says how deep it got.
        base: the rules a pack builds on (for ``check --with-builtin``, the built-in
            ones): the invariants they already break are reported, but as inherited.

    Raises:
        SolverMissingError: z3 is not installed (the ``[verify]`` extra).

    .. versionadded:: 0.2
    """
    book = default_rulebook() if rulebook is None else rulebook
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    violations, proved = prove_states(book)
    seconds["states"] = time.perf_counter() - began
    began = time.perf_counter()
    findings = analyse(book)
    seconds["analysis"] = time.perf_counter() - began
    reached: int | None = None
    if conversations:
        began = time.perf_counter()
        found, reached = check_conversations(book, depth=depth, time_budget=time_budget)
        seconds["conversations"] = time.perf_counter() - began
        violations += found
        broken = {v.invariant for v in found}
        proved += [i.id for i in CONVERSATION_INVARIANTS if i.id not in broken]
    inherited: frozenset[str] = frozenset()
    if violations and base is not None and base is not book and len(base):
        # Kept with the base: checking several packs over the built-in rules in one
        # process proves the built-in rules once.
        key = f"verify-inherited-{depth}-{conversations}"
        cached: frozenset[str] | None = base._cache.get(key)
        if cached is None:
            cached = frozenset(
                v.invariant
                for v in verify(base, depth=depth, conversations=conversations).violations
            )
            base._cache[key] = cached
        inherited = cached
    return Report(tuple(violations), tuple(findings), tuple(proved), reached, seconds, inherited)
