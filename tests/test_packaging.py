"""Packaging: the declared dependency floor is the one CI tests, and the data files ship."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _pyproject() -> dict[str, object]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_declared_minimums_are_the_tested_floor() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    declared = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement)
        assert match, f"declare a plain minimum: {requirement!r}"
        declared[match[1].lower()] = match[2]
    pinned = {}
    for line in (REPO / ".ci" / "floor.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[name.strip().lower()] = version.strip()
    # "babel>=2.11" is tested as babel==2.11.0: compare release numbers padded with zeros.
    assert {name: _padded(v) for name, v in declared.items()} == {
        name: _padded(v) for name, v in pinned.items()
    }


def _padded(version: str) -> tuple[int, ...]:
    parts = tuple(int(part) for part in version.split("."))
    return parts + (0,) * (3 - len(parts))


def test_the_wheel_ships_the_catalogs_and_the_sources() -> None:
    wheel = _pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]  # type: ignore[index]
    assert wheel["force-include"] == {
        "locales": "difficult_customers/locales",
        "sources": "difficult_customers/sources",
    }
    sdist = _pyproject()["tool"]["hatch"]["build"]["targets"]["sdist"]  # type: ignore[index]
    assert {"sources", "locales", "SECURITY.md"} <= set(sdist["include"])
