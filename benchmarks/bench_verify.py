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
from difficult_customers.verify import verify

STATE_TARGET = 10.0
CONVERSATION_TARGET = 60.0
MUTATION_TARGET = 0.90


def mutants(book: Rulebook) -> Iterator[tuple[str, Rulebook]]:
    for rule in book.rules:
        negated = parse_condition(f"not ({rule.when.source})")
        yield f"negate when of {rule.id}", _replace(book, rule.id, when=negated)
    for rule in book.rules:
        for target in rule.overrides:
            kept = tuple(t for t in rule.overrides if t != target)
            yield f"drop {rule.id} overrides {target}", _replace(book, rule.id, overrides=kept)


def _replace(book: Rulebook, rule_id: str, **update: object) -> Rulebook:
    rules = [r.model_copy(update=update) if r.id == rule_id else r for r in book.rules]
    return Rulebook(rules, catalogs=book.catalogs, name="mutant")


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
    caught = 0
    survivors = []
    all_mutants = list(mutants(book))
    if args.quick:
        all_mutants = all_mutants[:20]
    began = time.perf_counter()
    for name, mutant in all_mutants:
        result = verify(mutant)
        new_violations = [v for v in result.violations if v.invariant not in broken]
        new_findings = [f for f in result.findings if (f.kind, f.rules) not in known]
        if new_violations or new_findings:
            caught += 1
        else:
            survivors.append(name)
    share = caught / len(all_mutants)
    print(
        f"(b) mutants caught: {caught} of {len(all_mutants)} ({share:.1%}, target "
        f">= {MUTATION_TARGET:.0%}) in {time.perf_counter() - began:.0f} s"
    )
    for name in survivors:
        print(f"    survived: {name}")
    failed |= share < MUTATION_TARGET
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
