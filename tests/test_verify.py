"""verify: the solver's encoding against the real engine and fold, proofs, findings, `check`."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import z3
from hypothesis import assume, given, settings

from difficult_customers import (
    ConversationState,
    Effect,
    Rulebook,
    advise,
    default_rulebook,
    parse_condition,
)
from difficult_customers.__main__ import main
from difficult_customers.conversation import fold
from difficult_customers.events import FACT_FIELDS, AgentFollowed, Event, Facts
from difficult_customers.testing import events, states
from difficult_customers.verify import (
    _K,
    CONVERSATION_INVARIANTS,
    INVARIANTS,
    _Encoding,
    _Unrolling,
    analyse,
    check_conversations,
    invariant_violations,
    prove_states,
)

BOOK = default_rulebook()
ROOT = Path(__file__).resolve().parents[1]
PACKS = ROOT / "examples" / "packs"

# Invariants the built-in rulebook is known to break: none since preserve-valuable-relationship
# became an attitude (it was advised while the customer was still speaking).
KNOWN_BUILTIN_VIOLATIONS: set[str] = set()


def with_rule(rule_id: str, **update: Any) -> Rulebook:
    rules = [r.model_copy(update=update) if r.id == rule_id else r for r in BOOK.rules]
    return Rulebook(rules, catalogs=BOOK.catalogs, name="mutant")


def _assign(enc: _Encoding, env: dict[str, Any], done: list[Any], state: ConversationState):
    out = []
    for name, kind in enc.schema.items():
        value = getattr(state, name)
        if kind.kind == "enum":
            out.append(env[name] == kind.values.index(value.value))
        else:
            out.append(env[name] == value)
    out += [d == (rule.id in state.done) for d, rule in zip(done, enc.rules, strict=True)]
    return out


ENC = _Encoding(BOOK)
ADVICE = ENC.advice(ENC.vars)


@settings(max_examples=150)
@given(states())
def test_the_encoding_decides_as_the_engine(state: ConversationState) -> None:
    solver = z3.Solver()
    solver.add(*_assign(ENC, ENC.vars, ENC.done, state))
    assert solver.check() == z3.sat
    model = solver.model()
    advice = advise(state)

    def ids(group: str) -> list[str]:
        return [
            rule.id
            for rule, term in zip(ENC.rules, ADVICE[group], strict=True)
            if z3.is_true(model.eval(term, model_completion=True))
        ]

    assert ids("attitudes") == [r.rule_id for r in advice.attitudes]
    assert ids("actions") == [r.rule_id for r in advice.actions]
    assert ids("avoid") == [r.rule_id for r in advice.avoid]
    assert ids("pending") == [r.rule_id for r in advice.pending]


UNROLLED = _Unrolling(ENC)
UNROLLED.extend()


def _event_constraints(event: Event, state: ConversationState) -> list[Any]:
    step, after = UNROLLED.steps[0], UNROLLED.steps[1]
    out = [step.kind == _K[event.type]]
    if event.type == "customer_mood":
        out.append(step.mood == list(type(event.mood)).index(event.mood))  # type: ignore[attr-defined]
    if isinstance(event, AgentFollowed):
        out.append(step.rule == ENC.index[event.rule])
    if isinstance(event, Facts):
        for name in FACT_FIELDS:
            value = event.values.get(name, getattr(state, name))
            kind = ENC.schema[name]
            value = kind.values.index(value.value) if kind.kind == "enum" else value
            out.append(after.env[name] == value)
    return out


@settings(max_examples=150)
@given(states(), events())
def test_the_encoding_folds_as_the_conversation(state: ConversationState, event: Event) -> None:
    state = state.model_copy(update={"offensive_remarks": min(state.offensive_remarks, 50)})
    if isinstance(event, AgentFollowed):
        # The search lets the agent follow only what is advised.
        advice = advise(state)
        assume(event.rule in {r.rule_id for r in (*advice.actions, *advice.attitudes)})
    try:
        expected: ConversationState | None = fold(state, event, BOOK)
    except Exception:
        expected = None
    solver = z3.Solver()
    solver.add(*ENC.valid, *UNROLLED.path, *_assign(ENC, ENC.vars, ENC.done, state))
    solver.add(*_event_constraints(event, state))
    outcome = solver.check()
    if expected is None:
        assert outcome == z3.unsat, event
        return
    assert outcome == z3.sat, event
    got = ENC.state(solver.model(), UNROLLED.steps[1].env)
    done = tuple(
        sorted(
            rule.id
            for rule, d in zip(ENC.rules, UNROLLED.steps[1].done, strict=True)
            if z3.is_true(solver.model().eval(d, model_completion=True))
        )
    )
    assert got.model_copy(update={"done": done}) == expected


def test_the_built_in_rulebook_keeps_every_invariant_but_the_known_ones() -> None:
    violations, proved = prove_states()
    assert {v.invariant for v in violations} == KNOWN_BUILTIN_VIOLATIONS
    assert set(proved) | KNOWN_BUILTIN_VIOLATIONS == {i.id for i in INVARIANTS}
    for violation in violations:
        # Every counterexample is one the real engine gets wrong.
        problems = invariant_violations(advise(violation.state))
        assert violation.invariant in {i for i, _ in problems}


def test_the_firmness_defect_the_proof_found_is_caught() -> None:
    # The rule data before the fix: the warning overrode letting the customer go.
    warning = BOOK["issue-warning"]
    book = with_rule("issue-warning", overrides=(*warning.overrides, "let-the-customer-go"))
    violations, _ = prove_states(book, invariants=["firmness-grows-with-abuse"])
    assert [v.invariant for v in violations] == ["firmness-grows-with-abuse"]


def test_every_conversation_of_eight_events_keeps_the_order_invariants() -> None:
    found, depth = check_conversations(depth=8)
    assert found == []
    assert depth == 8


@pytest.mark.parametrize(
    ("book", "invariant", "events"),
    [
        pytest.param(
            with_rule("restate-the-request", effects=(Effect.parse("warnings_given", 1),)),
            "warning-before-ending-over-abuse",
            [
                {"type": "agent_followed", "rule": "restate-the-request"},
                {"type": "customer_insulted"},
            ],
            id="a count set by an effect is no warning",
        ),
        pytest.param(
            with_rule("debrief-with-colleagues", effects=(Effect.parse("ended", False),)),
            "no-advice-after-ending",
            None,
            id="an after-ending rule that reopens the conversation",
        ),
    ],
)
def test_conversation_violations_come_with_a_shortest_sequence(
    book: Rulebook, invariant: str, events: list[dict[str, Any]] | None
) -> None:
    found, _ = check_conversations(book, depth=8)
    assert [v.invariant for v in found] == [invariant]
    assert found[0].state == {}
    if events is not None:
        assert [dict(e) for e in found[0].events or ()] == events


def test_a_mutated_condition_is_caught_with_its_counterexample() -> None:
    book = with_rule(
        "end-the-conversation",
        when=parse_condition("not customer_speaking and offensive_remarks >= 1"),
    )
    violations, _ = prove_states(book, invariants=["warning-before-abuse-ending"])
    assert [(v.invariant, v.state) for v in violations] == [
        ("warning-before-abuse-ending", {"offensive_remarks": 1})
    ]


def test_findings_of_the_built_in_rulebook() -> None:
    findings = analyse()
    # Every built-in rule can be advised; some overrides only document who would win.
    assert {f.kind for f in findings} == {"override-never-applies"}
    assert ("no-empathy-for-invalid-complaint", "show-empathy") in {f.rules for f in findings}


def test_invariants_are_declared_once_with_a_passage() -> None:
    ids = [i.id for i in (*INVARIANTS, *CONVERSATION_INVARIANTS)]
    assert len(ids) == len(set(ids))
    for invariant in (*INVARIANTS, *CONVERSATION_INVARIANTS):
        assert invariant.statement, invariant.id
        assert invariant.passage, invariant.id


# -- check ---------------------------------------------------------------------------------


@functools.cache
def check_output(command: str) -> tuple[int, tuple[str, ...]]:
    """Exit status and stdout lines of ``difficult-customers ARGS``, run once per command."""
    run = subprocess.run(
        [sys.executable, "-m", "difficult_customers", *command.split()],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    return run.returncode, tuple(run.stdout.splitlines())


FINDING_KINDS = (
    "always-overridden",
    "always-true",
    "conflict-always-together",
    "never-fires",
    "override-never-applies",
)


@pytest.mark.parametrize("kind", FINDING_KINDS)
def test_each_broken_pack_shows_its_finding(kind: str) -> None:
    status, lines = check_output(f"check examples/packs/{kind}.toml --with-builtin")
    assert status == (1 if kind in ("always-true", "conflict-always-together") else 0)
    pack_rules = {r["id"] for r in _pack_rules(PACKS / f"{kind}.toml")}
    mine = [
        line.split(":")[0]
        for line in lines
        if line.startswith("finding ") and any(rule in line for rule in pack_rules)
    ]
    assert mine == [f"finding {kind}"]


def test_a_pack_ending_before_a_warning_is_refused() -> None:
    status, lines = check_output("check examples/packs/ending-before-warning.toml --with-builtin")
    assert status == 1
    assert (
        "violated warning-before-abuse-ending: no ending that abuse brings about is advised "
        'before a warning has been given; counterexample: {"offensive_remarks": 3}: '
        "hang-up-on-insults is advised before any warning, because of abuse"
    ) in lines


def _pack_rules(path: Path) -> list[dict[str, Any]]:
    import tomllib

    rules: list[dict[str, Any]] = tomllib.loads(path.read_text())["rules"]
    return rules


def test_every_shown_check_output_in_the_docs_is_what_check_prints() -> None:
    text = (ROOT / "docs" / "verification.md").read_text(encoding="utf-8")
    blocks = text.split("```console\n")[1:]
    assert len(blocks) >= 6
    for block in blocks:
        body = block.split("```", 1)[0].splitlines()
        command, shown = body[0], body[1:]
        assert command.startswith("$ difficult-customers check "), command
        _, printed = check_output(command.removeprefix("$ difficult-customers "))
        for line in shown:
            if line and line != "...":
                assert line in printed, (command, line)


def test_check_without_the_solver_names_the_extra() -> None:
    script = (
        "import sys; sys.modules['z3'] = None; "
        "from difficult_customers.__main__ import main; "
        "sys.exit(main(['check', '--with-builtin']))"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 2
    assert "[verify]" in run.stderr
    assert "Traceback" not in run.stderr


def test_check_needs_a_pack_or_the_built_in_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 2  # a usage error
    assert "--with-builtin" in capsys.readouterr().err


def test_the_package_imports_without_hypothesis_or_z3() -> None:
    script = (
        "import sys; sys.modules['hypothesis'] = None; sys.modules['z3'] = None\n"
        "import difficult_customers, difficult_customers.verify\n"
        "print(len(difficult_customers.advise({})))\n"
        "try:\n    import difficult_customers.testing\nexcept ImportError as e:\n"
        "    print(e)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "'testing' extra" in run.stdout


def test_conflicts_with_names_known_rules() -> None:
    from difficult_customers import RulebookError

    rule = BOOK["stay-calm"].model_copy(update={"conflicts_with": ("stay-calmm",)})
    with pytest.raises(RulebookError, match="conflicts with unknown rule 'stay-calmm'"):
        Rulebook([rule])
