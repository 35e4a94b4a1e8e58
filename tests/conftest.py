"""Shared test configuration: hypothesis profiles and the seed articles' location."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from difficult_customers.sources import builtin_sources_dir

# Timing-based deadlines make property tests flaky on a loaded 2-core CI machine; speed is
# measured in benchmarks/, never in tests.
settings.register_profile("default", deadline=None)
settings.register_profile(
    "ci", deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow]
)
# A long run before a release: HYPOTHESIS_PROFILE=thorough make test
settings.register_profile(
    "thorough", deadline=None, max_examples=5000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
)

REPO = Path(__file__).resolve().parents[1]


def fresh_python(code: str) -> str:
    """The standard output of ``code`` run in a fresh interpreter (failing if it fails)."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout


def run_shell(command: str, folder: Path, path: str) -> subprocess.CompletedProcess[str]:
    """A documented shell recipe, run as written by bash (``pipefail``) in ``folder``, with
    ``path`` ahead of the PATH and nothing on stdin; text is UTF-8."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env["PATH"] = os.pathsep.join([path, env.get("PATH", "")])
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=folder,
        env=env,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def run_prebuilt(code: str, folder: Path) -> str:
    """The output of ``code`` run in a fresh interpreter whose built-in rulebook and catalogs
    come from artifacts built into ``folder``, as an installed wheel has them (a checkout
    may have none, or stale ones)."""
    from difficult_customers import _prebuilt

    assert _prebuilt.main([str(folder)]) == 0
    setup = (
        "import pathlib, sys\n"
        "from difficult_customers import _prebuilt\n"
        "_prebuilt.PREBUILT_DIR = pathlib.Path(sys.argv[1])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", setup + code, str(folder)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def one_rule_pack(folder: Path, when: str, rule_id: str = "one-rule", quote: str = "'") -> Path:
    """A rule pack file in ``folder`` of one rule, ``rule_id``, applying ``when`` (written
    between ``quote`` marks in the TOML, ``'`` or ``"``) and citing a built-in source."""
    from difficult_customers import default_rulebook

    source = default_rulebook()["stay-calm"].sources[0]
    pack = folder / "one-rule.toml"
    pack.write_text(
        f"""
[pack]
name = "one-rule"

[[rules]]
id = "{rule_id}"
kind = "do"
phase = "listen"
when = {quote}{when}{quote}
title = "One rule"
rationale = "A rule of a pack."
phrasing = [{{ text = "One rule." }}]
sources = [{{ document = "{source.document}", quote = "{source.quote[:40]}" }}]
""",
        encoding="utf-8",
    )
    return pack


def seeds_dir() -> Path:
    """The seed articles: ``$DIFFICULT_CUSTOMERS_SEEDS``, else the project's own ``sources/``
    (inside the installed package, else at the repository's top)."""
    configured = os.environ.get("DIFFICULT_CUSTOMERS_SEEDS")
    return Path(configured) if configured else builtin_sources_dir()


@pytest.fixture(scope="session")
def seeds() -> Path:
    path = seeds_dir()
    if not path.is_dir():
        pytest.fail(
            f"seed articles not found at {path}: they ship in sources/ (or set "
            "DIFFICULT_CUSTOMERS_SEEDS)"
        )
    return path
