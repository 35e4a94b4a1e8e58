"""The examples in the README, the docs and the docstrings run as written."""

from __future__ import annotations

import doctest
import importlib
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

import difficult_customers
from conftest import run_shell

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


# Documents and docstrings whose examples need an optional extra: without it (as in the CI
# run against the lowest dependency versions, which installs no extra) they are skipped;
# the main run installs every extra and runs them.
NEEDS = {"frames.md": ("polars", "pyarrow"), "sql.md": ("sqlglot", "duckdb")}
DOCSTRING_NEEDS = {"rules.Rulebook.to_sql": ("sqlglot",)}


def require(modules: tuple[str, ...]) -> None:
    for module in modules:
        pytest.importorskip(module)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_document_examples(path: Path) -> None:
    require(NEEDS.get(path.name, ()))
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS)
    assert result.failed == 0


def test_rule_pack_example_loads_advises_and_passes_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # docs/rule-packs.md shows a pack, Python that loads it from front_desk.toml, and says
    # to validate it with `check --with-builtin`: all three, as written, in one folder.
    require(("z3",))
    from difficult_customers.__main__ import main

    text = (ROOT / "docs" / "rule-packs.md").read_text(encoding="utf-8")
    pack = re.search(r"^```toml\n(.*?)^```", text, re.M | re.S)
    code = re.search(r"^```python\n(.*?)^```", text, re.M | re.S)
    assert pack is not None
    assert code is not None
    (tmp_path / "front_desk.toml").write_text(pack.group(1), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "rule-packs.md", "exec"), namespace)
    advice = namespace["advice"]
    assert isinstance(advice, difficult_customers.Advice)
    assert "offer-a-seat" in advice.rule_ids
    status = main(["check", "front_desk.toml", "--with-builtin"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "proved 12 of 12 invariants" in out


def test_passages_quoted_in_conflicts_are_verbatim() -> None:
    # docs/conflicts.md quotes the seeds to show what each side of a conflict says: every
    # quotation must be in a seed as written, apostrophes and capitals included, once line
    # breaks are undone; or else be the rules' own English wording (in any case).
    seeds = [
        " ".join(path.read_text(encoding="utf-8").split())
        for path in sorted((ROOT / "sources").glob("*.txt"))
    ]
    english = [
        " ".join(text.split()).casefold()
        for rule in difficult_customers.default_rulebook()
        for text in (rule.title, rule.rationale, *(p.text for p in rule.phrasing))
    ]
    text = (ROOT / "docs" / "conflicts.md").read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    quotes = [" ".join(q.split()) for q in re.findall(r'"([^"]+)"', prose)]
    # Short strings in quotes are field values and tags ("unknown", "avoid"), not passages.
    passages = [q for q in quotes if len(q) >= 12]
    assert len(passages) >= 30
    for passage in passages:
        wording = passage.removesuffix("...")
        assert any(wording in seed for seed in seeds) or any(
            wording.casefold() in phrase for phrase in english
        ), passage


def shell_commands(path: Path) -> list[str]:
    """The command lines of a document's ``sh`` blocks that run the command line tool."""
    text = path.read_text(encoding="utf-8")
    lines = [
        line.split("  #")[0].strip()
        for block in re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)
        for line in block.splitlines()
    ]
    return [line for line in lines if "difficult-customers " in line]


SHELL_DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "conversations.md"]


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(command, id=f"{path.name}: {command[:60]}")
        for path in SHELL_DOCUMENTS
        for command in shell_commands(path)
    ],
)
def test_shell_examples_run(command: str, tmp_path: Path) -> None:
    # The commands as a reader types them, in a folder holding the files they name: the
    # examples, and a state per line, a Parquet table, an event log and a pack of their own.
    require(("pyarrow", "duckdb", "sqlglot", "z3"))
    import pyarrow as pa
    import pyarrow.parquet as pq

    script = shutil.which("difficult-customers", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the package is not installed, so there is no console script")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "states.jsonl").write_text('{"mood": "angry"}\n{"channel": "chat"}\n')
    pq.write_table(
        pa.table({"turn_id": [1, 2], "mood": ["angry", "calm"]}), tmp_path / "turns.parquet"
    )
    log = ROOT / "examples" / "conversations" / "escalation_phone.jsonl"
    shutil.copy(log, tmp_path / "events.jsonl")
    pack = re.search(
        r"^```toml\n(.*?)^```",
        (ROOT / "docs" / "rule-packs.md").read_text(encoding="utf-8"),
        re.M | re.S,
    )
    assert pack is not None
    (tmp_path / "my_pack.toml").write_text(pack.group(1), encoding="utf-8")
    result = run_shell(command, tmp_path, str(Path(script).parent))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def docstring_tests() -> list[doctest.DocTest]:
    # The package relabels exports' __module__, which hides them from doctest.testmod;
    # collect the docstrings of every object each module exports directly instead.
    finder = doctest.DocTestFinder(exclude_empty=True)
    # Every export, also those the package loads on first access (conversations, events).
    globs = {
        **vars(difficult_customers),
        **{name: getattr(difficult_customers, name) for name in difficult_customers.__all__},
    }
    tests = list(finder.find(difficult_customers, "difficult_customers", globs=globs))
    seen: set[int] = set()
    for module_name in (
        "conditions",
        "rules",
        "details",
        "advice",
        "state",
        "engine",
        "events",
        "conversation",
    ):
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
    require(DOCSTRING_NEEDS.get(test.name, ()))
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test)
    assert runner.failures == 0


def test_notebook_cells_run(capsys: pytest.CaptureFixture[str]) -> None:
    notebook = json.loads((ROOT / "examples" / "explore.ipynb").read_text(encoding="utf-8"))
    namespace: dict[str, object] = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "explore.ipynb", "exec"), namespace)
    assert "za godzinę" in capsys.readouterr().out


def test_example_script_prints_every_state_in_every_locale(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    script = ROOT / "examples" / "advise_examples.py"
    monkeypatch.setattr("sys.argv", [str(script), "--details"])
    namespace = {"__name__": "__main__", "__file__": str(script)}
    exec(compile(script.read_text(encoding="utf-8"), str(script), "exec"), namespace)
    out = capsys.readouterr().out
    states = sorted((ROOT / "examples" / "states").glob("*.json"))
    assert len(states) >= 6
    for path in states:
        for locale in ("en", "fr", "pl"):
            assert f"=== {path.stem} [{locale}]" in out
    assert "{" not in out
