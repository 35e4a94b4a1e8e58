"""Time and peak memory of loading a large generated rule pack (not part of the test suite).

    python benchmarks/bench_pack_load.py              # 5,000 rules (MAX_PACK_RULES)
    python benchmarks/bench_pack_load.py --rules 2000

Each generated rule has a realistic condition, three phrasings and one source, so that the
pack is a few megabytes: what an untrusted pack near the limits looks like. Loading must stay
linear in the pack and its peak memory a small multiple of the file size. The time is of a
load on its own; the memory, of a second load under tracemalloc.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from pathlib import Path

from difficult_customers import Rulebook, load_rulebook

RULE = """
[[rules]]
id = "generated-{i}"
kind = "do"
phase = "resolve"
priority = {priority}
when = '''
not resolved and not customer_speaking  # the case is open
and warnings_given >= 1 and (offensive_remarks >= {threshold} or threats)
and mood >= "angry" and channel in ("phone", "in_person", "email")
'''
title = "Generated rule number {i}"
rationale = "A generated rationale, long enough to look like a real one, for rule {i}."

[[rules.phrasing]]
text = "On the phone, rule {i} says this."
channels = ["phone"]

[[rules.phrasing]]
text = "In person, rule {i} says that."
channels = ["in_person"]

[[rules.phrasing]]
text = "Otherwise rule {i} says something else, in a sentence of ordinary length."

[[rules.sources]]
document = "generated.txt"
section = "Generated section"
quote = "A quote of a generated section, verbatim, for rule {i}."
"""


def generate(count: int, folder: Path) -> Path:
    path = folder / "generated.toml"
    path.write_text(
        "".join(RULE.format(i=i, priority=i % 1000, threshold=i % 5) for i in range(count)),
        encoding="utf-8",
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = generate(args.rules, Path(folder))
        size = path.stat().st_size
        # Timed on its own first: tracemalloc records every allocation, which makes the
        # load several times slower. Then loaded again for the memory.
        gc.collect()
        started = time.perf_counter()
        book = load_rulebook(path, base=Rulebook([]))
        elapsed = time.perf_counter() - started
        del book
        gc.collect()
        tracemalloc.start()
        book = load_rulebook(path, base=Rulebook([]))
        retained, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"rules: {len(book)}; pack: {size / 1e6:.2f} MB; load: {elapsed:.2f} s")
    ratio = peak / size
    print(f"peak: {peak / 1e6:.1f} MB ({ratio:.0f}x the pack); kept: {retained / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
