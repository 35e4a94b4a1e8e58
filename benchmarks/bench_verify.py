"""How long the proofs take, and how many rulebook mutants they catch (not a test).

    python benchmarks/bench_verify.py              # timings, then every mutant
    python benchmarks/bench_verify.py --quick      # timings and the first 20 mutants

(a) ``check --with-builtin`` in a fresh interpreter, its parts timed by ``verify()``:
    every state invariant (target: under 10 s) and every conversation invariant over every
    sequence of up to 8 events (target: under 60 s), on a 2-core machine.
(b) Mutation testing: every single condition of the built-in rulebook negated, and every
    single override removed, in turn. A mutant is caught when the proof finds a violation,
    or the analysis a finding the unmutated rulebook does not have. Target: at least 90%.
    The survivors are listed: each is a change the invariants do not pin down.

Exits with status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator

from difficult_customers import Rulebook, default_rulebook, parse_condition
from difficult_customers.verify import (
    INVARIANTS,
    _Encoding,
    _violation_term,
    check_conversations,
    verify,
)

STATE_TARGET = 10.0
CONVERSATION_TARGET = 60.0
MUTATION_TARGET = 0.90
# The state invariants with a single-state solver term (firmness compares two states).
_STATE_TERMS = {
    i.id for i in INVARIANTS if i.scope == "state" and i.id != "firmness-grows-with-abuse"
}


def mutants(book: Rulebook) -> Iterator[tuple[str, Rulebook]]:
    for rule in book.rules:
        negated = parse_condition(f"not ({rule.when.source})")
        yield f"negate when of {rule.id}", _replace(book, rule.id, when=negated)
    for rule in book.rules:
        for target in rule.overrides:
            kept = tuple(t for t in rule.overrides if t != target)
            # The override is the implementation; that the two rules contradict each other
            # is the specification, and stays declared (conflicts_with) in the mutant.
            conflicts = (*rule.conflicts_with, target)
            yield (
                f"drop {rule.id} overrides {target}",
                _replace(book, rule.id, overrides=kept, conflicts_with=conflicts),
            )


def _replace(book: Rulebook, rule_id: str, **update: object) -> Rulebook:
    rules = [r.model_copy(update=update) if r.id == rule_id else r for r in book.rules]
    return Rulebook(rules, catalogs=book.catalogs, name="mutant")


def breaks_elsewhere(book: Rulebook, mutant: Rulebook, invariant_id: str) -> bool:
    """The mutant breaks an invariant the rulebook breaks too, but in a state it keeps it.

    Needed while the rulebook itself breaks an invariant: a mutant is caught when its
    violations are not all the rulebook's own.
    """
    if invariant_id not in _STATE_TERMS:
        return False
    original, changed = _Encoding(book), _Encoding(mutant)
    both = _violation_term(changed, invariant_id), _violation_term(original, invariant_id)
    import z3

    return original.satisfiable(both[0], z3.Not(both[1])) is not None


def equivalent(book: Rulebook, mutant: Rulebook) -> bool:
    """The mutant advises exactly as the rulebook in every valid state (proved)."""
    import z3

    original, changed = _Encoding(book), _Encoding(mutant)
    # Both encodings name their variables alike, so they speak of the same states.
    a, b = original.advice(original.vars), changed.advice(changed.vars)
    index = {rule.id: i for i, rule in enumerate(mutant.rules)}
    differ = [
        a[group][i] != b[group][index[rule.id]]
        for group in ("attitudes", "actions", "avoid", "pending")
        for i, rule in enumerate(book.rules)
    ]
    return original.satisfiable(z3.Or(*differ)) is None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failed = False

    began = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "difficult_customers", "check", "--with-builtin"],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    print(f"(a) check --with-builtin: {wall:.1f} s in a fresh interpreter (exit {run.returncode})")
    report = verify(default_rulebook())
    states = report.seconds["states"]
    conversations = report.seconds["conversations"]
    print(f"    state invariants: {states:.2f} s (target < {STATE_TARGET:.0f} s)")
    print(f"    analysis: {report.seconds['analysis']:.2f} s")
    print(
        f"    conversation invariants, every sequence of up to {report.depth} events: "
        f"{conversations:.2f} s (target < {CONVERSATION_TARGET:.0f} s)"
    )
    failed |= states >= STATE_TARGET or conversations >= CONVERSATION_TARGET
    for depth in (12, 16):
        began = time.perf_counter()
        deeper = verify(default_rulebook(), depth=depth)
        print(
            f"    up to {depth} events: {time.perf_counter() - began:.1f} s in all, "
            f"{deeper.seconds['conversations']:.1f} s for conversations"
        )

    book = default_rulebook()
    baseline = verify(book)
    known = {(f.kind, f.rules) for f in baseline.findings}
    broken = {v.invariant for v in baseline.violations}
    caught, same, survivors = [], [], []
    all_mutants = list(mutants(book))
    if args.quick:
        all_mutants = all_mutants[:20]
    began = time.perf_counter()
    for name, mutant in all_mutants:
        # States and analysis first; the conversation search only for what they miss.
        result = verify(mutant, conversations=False)
        new = [v for v in result.violations if v.invariant not in broken]
        new += [i for i in broken if breaks_elsewhere(book, mutant, i)]  # type: ignore[misc]
        new += [f for f in result.findings if (f.kind, f.rules) not in known]  # type: ignore[misc]
        if not new:
            new = check_conversations(mutant)[0]  # type: ignore[assignment]
        if new:
            caught.append(name)
        elif equivalent(book, mutant):
            same.append(name)
        else:
            survivors.append(name)
    relevant = len(caught) + len(survivors)
    share = len(caught) / relevant if relevant else 1.0
    print(
        f"(b) {len(all_mutants)} mutants, {len(same)} equivalent (advice identical in every "
        f"state, proved), caught {len(caught)} of the other {relevant} ({share:.1%}, target "
        f">= {MUTATION_TARGET:.0%}) in {time.perf_counter() - began:.0f} s"
    )
    for name in same:
        print(f"    equivalent: {name}")
    for name in survivors:
        print(f"    survived: {name}")
    failed |= share < MUTATION_TARGET
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
