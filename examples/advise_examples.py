"""Print the advice for every example state in examples/states/, in each locale.

python examples/advise_examples.py                       # all states, en fr pl
python examples/advise_examples.py --locale fr           # one locale
python examples/advise_examples.py --only threat_in_person --details
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from difficult_customers import SUPPORTED_LOCALES, Details, advise

STATES = Path(__file__).with_name("states")

# The values the seeds' own examples use: an update "in one hour", a 20% deposit,
# closed on Sunday.
EXAMPLE_DETAILS = Details(
    business_name="Atelier Durand",
    callback_in="PT1H",
    deposit_percent=20,
    closed_day="sunday",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locale", action="append", choices=SUPPORTED_LOCALES)
    parser.add_argument("--only", action="append", help="a state's file name without .json")
    parser.add_argument("--details", action="store_true", help="supply the example details")
    args = parser.parse_args()
    locales = args.locale or list(SUPPORTED_LOCALES)
    paths = sorted(STATES.glob("*.json"))
    if args.only:
        paths = [p for p in paths if p.stem in args.only]
        missing = set(args.only) - {p.stem for p in paths}
        if missing:
            parser.error(f"no example state named {sorted(missing)[0]!r}")
    for path in paths:
        state = json.loads(path.read_text(encoding="utf-8"))
        for locale in locales:
            advice = advise(
                state, locale=locale, details=EXAMPLE_DETAILS if args.details else None
            )
            print(f"=== {path.stem} [{locale}]")
            print(advice.to_text())
            print()


if __name__ == "__main__":
    main()
