"""The examples in the README, the docs and the docstrings run as written."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import difficult_customers

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_document_examples(path: Path) -> None:
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS)
    assert result.failed == 0


def docstring_tests() -> list[doctest.DocTest]:
    # The package relabels exports' __module__, which hides them from doctest.testmod;
    # collect the docstrings of every object each module exports directly instead.
    finder = doctest.DocTestFinder(exclude_empty=True)
    globs = vars(difficult_customers).copy()
    tests = list(finder.find(difficult_customers, "difficult_customers", globs=globs))
    seen: set[int] = set()
    for module_name in ("conditions", "rules", "details", "advice", "state", "engine"):
        module = importlib.import_module(f"difficult_customers.{module_name}")
        for name in module.__all__:
            obj = getattr(module, name)
            if id(obj) in seen or not (callable(obj) or isinstance(obj, type)):
                continue
            seen.add(id(obj))
            tests += finder.find(obj, f"{module_name}.{name}", module=False, globs=globs)
    return [test for test in tests if test.examples]


@pytest.mark.parametrize("test", docstring_tests(), ids=lambda t: t.name)
def test_docstring_examples(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test)
    assert runner.failures == 0
