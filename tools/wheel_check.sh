#!/usr/bin/env bash
# Build the wheel, install it into a fresh venv outside the checkout, and use it in Polish:
# the classic way a package with data files breaks for its users.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m build --wheel --outdir "$work/dist" >/dev/null
# pip builds a wheel from the sdist in an isolated environment of its own, which it reaches
# through PYTHONPATH: the build hook's child process must keep it (it lost it once, and no
# install from the sdist worked).
.venv/bin/python -m build --sdist --outdir "$work/sdist" >/dev/null
python3 -m pip wheel --quiet --no-deps --wheel-dir "$work/from-sdist" "$work"/sdist/*.tar.gz
python3 - "$work"/from-sdist/*.whl <<'PY'
import sys, zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
prebuilt = sorted(n for n in names if n.startswith("difficult_customers/_prebuilt/"))
assert len(prebuilt) == 4, prebuilt
PY
python3 -m venv "$work/venv"
# With the [verify] extra: `check` proves the invariants, which needs the solver.
wheel=$(ls "$work"/dist/*.whl)
"$work/venv/bin/python" -m pip install --quiet "$wheel[verify]"
cd "$work"
"$work/venv/bin/python" - "$root" <<'PY'
import sys
from pathlib import Path

import difficult_customers as dc

root = Path(sys.argv[1]).resolve()
assert root not in Path(dc.__file__).resolve().parents, f"imported from the checkout: {dc.__file__}"
advice = dc.advise({"channel": "phone", "mood": "angry", "offensive_remarks": 2}, locale="pl")
# The wheel carries the prebuilt rulebook and catalogs, fresh: the first advice in Polish
# parsed neither the TOML nor a .po file, nor compiled the evaluators; and pip compiled the
# artifacts into the bytecode cache at install, as every module of the wheel.
from importlib.util import cache_from_source

from difficult_customers._prebuilt import PREBUILT_DIR, status
from difficult_customers.engine import _fast

artifacts = sorted(PREBUILT_DIR.glob("*.py"))
assert [p.name for p in artifacts] == [
    "catalog_en.py", "catalog_fr.py", "catalog_pl.py", "rulebook.py"
], artifacts
assert all(Path(cache_from_source(str(p))).is_file() for p in artifacts), "no .pyc after install"
assert "tomllib" not in sys.modules and "babel.messages" not in sys.modules, "prebuilt unused"
fired = _fast(dc.default_rulebook()).fired
assert fired.__code__.co_filename == str(PREBUILT_DIR / "rulebook.py"), "evaluator compiled"
assert set(status().values()) == {"fresh"}, status()
assert advice.locale == "pl" and len(advice) > 0
assert advice[0].text != dc.advise(advice.state, locale="en")[0].text, "Polish text missing"
# Durations and forms of address are read from the packaged catalogs too.
state = {"channel": "phone", "offensive_remarks": 1, "agent_upset": True}
details = {"callback_in": "PT1H", "form_of_address": "feminine"}
spoken = [r.text for r in dc.advise(state, locale="pl", details=details)]
assert any("z Panią za godzinę" in text for text in spoken), spoken
print("wheel OK:", advice[0].title, "|", advice[0].text)

# The seed articles ship in the wheel: every quote is verified from the installed package.
from difficult_customers.sources import builtin_sources_dir, uncited_sections, verify_sources

sources = builtin_sources_dir()
assert root not in sources.resolve().parents, f"sources read from the checkout: {sources}"
assert len(list(sources.glob("*.txt"))) == 5, sorted(sources.iterdir())
assert verify_sources(dc.default_rulebook(), sources) == []
assert uncited_sections(dc.default_rulebook(), sources) == []
print("wheel sources OK:", sources)
PY
"$work/venv/bin/difficult-customers" advise --set mood='"furious"' --locale pl-PL --format json >/dev/null
# check --with-builtin verifies quotes against the packaged sources: a misquote must fail.
sed -e 's/^quote = .*/quote = "Restez calme et criez plus fort que le client."/' \
  -e 's/^document = .*/document = "000_7657c944a5bc606c.txt"/' \
  -e 's/^section = .*/section = "Faites preuve de bon sens"/' \
  "$root/tools/wheel_check_pack.toml" > "$work/misquote.toml"
"$work/venv/bin/difficult-customers" check "$root/tools/wheel_check_pack.toml" --with-builtin >/dev/null
if "$work/venv/bin/difficult-customers" check "$work/misquote.toml" --with-builtin 2>/dev/null; then
  echo "check --with-builtin accepted a misquote of a built-in source" >&2
  exit 1
fi
echo "wheel CLI OK"
