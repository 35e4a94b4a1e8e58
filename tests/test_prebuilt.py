"""The prebuilt rulebook and catalogs: equal to what the sources give, and never used stale."""

from __future__ import annotations

import ast
import importlib
import os
import py_compile
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib.util import cache_from_source
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from pydantic import BaseModel

from conftest import fresh_python
from difficult_customers import (
    Condition,
    ConversationState,
    Rulebook,
    advise,
    default_rulebook,
    load_rulebook,
)
from difficult_customers import _prebuilt as prebuilt
from difficult_customers.compile import _tree
from difficult_customers.compile.python import (
    compile_masks,
    field_values,
    masks_source,
)
from difficult_customers.conditions import state_schema
from difficult_customers.engine import _fast
from difficult_customers.i18n import LazyCatalogs, _read_catalog
from strategies import states

rules_module = importlib.import_module("difficult_customers.rules")
TOML = rules_module.BUILTIN_RULEBOOK.read_bytes()
LOCALES = rules_module.builtin_locales_dir()
PO = {
    po.parents[1].name: po for po in sorted(LOCALES.glob("*/LC_MESSAGES/difficult_customers.po"))
}


KEY = prebuilt.rulebook_key(TOML)
EXAMPLE_PACK = Path(__file__).parents[1] / "examples" / "packs" / "always-true.toml"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prebuilt")
    assert prebuilt.main([str(folder)]) == 0
    return folder


def rulebook_data(folder: Path) -> tuple[Any, ...]:
    """The DATA constant of a rulebook artifact: (name, rules, lowered trees)."""
    namespace = prebuilt._load(folder / "rulebook.py", KEY)
    assert namespace is not None
    data: tuple[Any, ...] = namespace["DATA"]
    return data


def validated_book() -> Rulebook:
    """The built-in rulebook as the TOML gives it, without any artifact."""
    name, rules = rules_module._read_rules(rules_module.BUILTIN_RULEBOOK)
    return Rulebook(rules, name=name)


def assert_same(a: object, b: object, path: str) -> None:
    """Equal, of the same types all the way down, with the same fields set."""
    assert type(a) is type(b), (path, type(a), type(b))
    if isinstance(a, BaseModel):
        assert isinstance(b, BaseModel)
        assert a.model_fields_set == b.model_fields_set, path
        assert list(a.__dict__) == list(b.__dict__), path
        assert a.__pydantic_extra__ == b.__pydantic_extra__, path
        assert a.__pydantic_private__ == b.__pydantic_private__, path
        for name in type(a).model_fields:
            assert_same(getattr(a, name), getattr(b, name), f"{path}.{name}")
    elif isinstance(a, tuple):
        assert isinstance(b, tuple)
        assert len(a) == len(b), path
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{index}]")
    elif isinstance(a, Condition):
        assert isinstance(b, Condition)
        assert (a.source, a.fields, a.python, a._schema) == (
            b.source,
            b.fields,
            b.python,
            b._schema,
        )
    else:
        assert a == b, path


def test_the_prebuilt_rules_are_the_validated_rules(artifacts: Path) -> None:
    trusted = prebuilt.trusted_rules(TOML, artifacts)
    assert trusted is not None
    name, rules, _ = trusted
    validated_name, validated = rules_module._read_rules(rules_module.BUILTIN_RULEBOOK)
    assert name == validated_name
    assert len(rules) == len(validated)
    for rule, expected in zip(rules, validated, strict=True):
        assert_same(rule, expected, rule.id)
        assert rule.model_dump_json() == expected.model_dump_json()
        assert hash(rule) == hash(expected)


def test_the_prebuilt_lowered_trees_are_the_lowered_conditions(artifacts: Path) -> None:
    lowered = rulebook_data(artifacts)[2]
    texts = [text for text, _ in lowered]
    conditions = {
        condition.source
        for rule in default_rulebook()
        for condition in (rule.when, *(p.when for p in rule.phrasing))
        if condition is not None
    }
    assert len(texts) == len(set(texts))
    assert set(texts) == conditions
    for text, node in lowered:
        assert prebuilt._decode(node) == _tree._lower(text, state_schema()), text


def test_the_lowered_trees_are_seeded_when_first_needed(artifacts: Path) -> None:
    text = rulebook_data(artifacts)[2][0][0]
    _tree._LOWERED.pop(text, None)
    assert prebuilt.trusted_rules(TOML, artifacts) is not None
    assert text not in _tree._LOWERED  # nothing decoded for a first advise()
    assert _tree._LATER
    assert _tree.lower(text) == _tree._lower(text, state_schema())
    assert not _tree._LATER


def test_the_prebuilt_evaluators_are_the_generated_source(artifacts: Path) -> None:
    # Exactly the text compile_masks() compiles for the built-in rules.
    text = (artifacts / "rulebook.py").read_text(encoding="utf-8")
    functions = {
        node.name: ast.get_source_segment(text, node)
        for node in ast.parse(text).body
        if isinstance(node, ast.FunctionDef)
    }
    book = validated_book()
    assert functions == {"fired": masks_source(book)}
    # Only assignments of constants besides them: the data part runs no code.
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign):
            ast.literal_eval(node.value)
        else:
            assert isinstance(node, ast.FunctionDef), ast.dump(node)


@pytest.fixture(scope="module")
def evaluators(artifacts: Path) -> tuple[Callable[..., int], ...]:
    trusted = prebuilt.trusted_rules(TOML, artifacts)
    assert trusted is not None
    book = validated_book()
    return trusted[2]["fired"], compile_masks(book)


@settings(max_examples=300, deadline=None)
@given(state=states())
def test_the_prebuilt_evaluators_give_the_compiled_bits(
    evaluators: tuple[Callable[..., int], ...], state: ConversationState
) -> None:
    fired, compiled_fired = evaluators
    values = field_values(state.__dict__)
    assert fired(values) == compiled_fired(values)


def test_the_default_rulebook_runs_the_prebuilt_evaluators(
    artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prebuilt, "PREBUILT_DIR", artifacts)
    monkeypatch.setattr(rules_module, "_DEFAULT", None)
    book = default_rulebook()
    monkeypatch.undo()
    fast = _fast(book)
    assert fast.fired is book._cache["fired"]
    assert fast.fired.__code__.co_filename == str(artifacts / "rulebook.py")
    advise({"customer_speaking": True}, rulebook=book)
    assert fast.fired is book._cache["fired"]
    # Any other rulebook compiles its own, a merged one included.
    for other in (Rulebook(book.rules, name="copy"), load_rulebook(EXAMPLE_PACK, base=book)):
        assert "fired" not in other._cache
        own = _fast(other)
        assert own.fired.__code__.co_filename == f"<rulebook {other.name} (fired)>"
        advise({"customer_speaking": True}, rulebook=other)


def test_the_default_rulebook_advises_alike_from_either_source(
    artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    states: list[dict[str, Any]] = [
        {"mood": "angry", "offensive_remarks": 2},
        {"channel": "email", "complaint_validity": "invalid"},
        {"mood": "furious", "customer_speaking": True, "threats": True},
        {"resolved": True, "channel": "chat"},
    ]
    books = []
    for folder in (artifacts, artifacts / "missing"):
        monkeypatch.setattr(prebuilt, "PREBUILT_DIR", folder)
        monkeypatch.setattr(rules_module, "_DEFAULT", None)
        books.append(default_rulebook())
    monkeypatch.undo()
    from_artifacts, from_sources = books
    assert from_artifacts.rules == from_sources.rules
    for lang in ("en", "fr", "pl"):
        assert dict(from_artifacts.catalogs[lang]) == dict(from_sources.catalogs[lang])
    assert from_artifacts.locales == from_sources.locales
    for state in states:
        for locale in ("en", "fr", "pl"):
            assert advise(state, locale=locale, rulebook=from_artifacts) == advise(
                state, locale=locale, rulebook=from_sources
            )


@pytest.mark.parametrize("lang", ["en", "fr", "pl"])
def test_a_prebuilt_catalog_is_the_catalog(artifacts: Path, lang: str) -> None:
    po = PO[lang]
    assert _read_catalog(po, lang, "difficult_customers", artifacts) == _read_catalog(
        po, lang, "difficult_customers"
    )
    assert prebuilt.catalog_entries(po, po.read_bytes(), artifacts) is not None


def test_a_catalog_changed_since_the_build_is_read_from_its_po(
    artifacts: Path, tmp_path: Path
) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(LOCALES, locales)
    po = locales / "fr" / "LC_MESSAGES" / "difficult_customers.po"
    text = po.read_text(encoding="utf-8")
    assert 'msgstr "Donnez un avertissement clair"' in text
    po.write_text(
        text.replace('msgstr "Donnez un avertissement clair"', 'msgstr "Avertissez clairement"'),
        encoding="utf-8",
    )
    assert prebuilt.catalog_entries(po, po.read_bytes(), artifacts) is None
    catalogs = LazyCatalogs(locales, "difficult_customers", prebuilt=artifacts)
    assert catalogs["fr"][("issue-warning", "Give a clear warning")] == "Avertissez clairement"
    assert prebuilt.status(artifacts)["catalog_fr.py"] == "fresh"  # for the shipped .po


def test_a_rulebook_changed_since_the_build_is_read_from_its_toml(artifacts: Path) -> None:
    changed = TOML.replace(b'title = "Give a clear warning"', b'title = "Warn clearly"')
    assert changed != TOML
    assert prebuilt.trusted_rules(changed, artifacts) is None


def test_validating_code_changed_since_the_build_makes_the_rules_stale(
    artifacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A copy of the package's sources with one validator edited: same TOML, other code.
    package = Path(prebuilt.__file__).parent
    copy = tmp_path / "package"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "_prebuilt"))
    rules_py = copy / "rules.py"
    rules_py.write_text(rules_py.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    monkeypatch.setattr(prebuilt, "_HERE", copy)
    assert prebuilt.trusted_rules(TOML, artifacts) is None
    (copy / "compile" / "_tree.py").unlink()
    assert prebuilt.rulebook_key(TOML) is None  # sources missing: nothing is trusted


def _replace(old: str, new: str) -> Callable[[str], str]:
    def damage(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return damage


@pytest.mark.parametrize(
    "damage",
    [
        _replace(f"format {prebuilt.FORMAT} key", f"format {prebuilt.FORMAT + 1} key"),
        _replace(f"key {KEY}", "key " + "0" * 64),
        _replace(f"KEY = {KEY!r}", repr("0" * 64)),  # the code does not carry the key
        _replace("('M', 'Rule',", "('X', 'Rule',"),
        _replace("('M', 'Rule',", "('M', 'Details',"),
        _replace("('E', 'Kind', 'do')", "('E', 'Kind', 'maybe')"),
        _replace("\nDATA = (", "\nOTHER = ("),
        _replace("\ndef fired(values):", "\ndef louder(values):"),
        _replace("\nDATA = (", "\nDATA = 3\nOTHER = ("),
        _replace("\ndef fired(values):", "\nfired = 3\ndef other(values):"),
        lambda text: text + "\n)\n",
        lambda text: text.replace("\nKEY = ", "\nimport os\nKEY = ", 1),  # no builtins
        lambda text: text.replace("\nKEY = ", "\nopen('x')\nKEY = ", 1),
        lambda text: text + "\0",
        lambda text: text[: len(text) // 2],
    ],
    ids=[
        "format",
        "key",
        "code-key",
        "tag",
        "model",
        "enum",
        "missing",
        "no-fired",
        "data-shape",
        "function-shape",
        "syntax",
        "import",
        "builtin",
        "nul",
        "truncated",
    ],
)
def test_a_damaged_rulebook_artifact_is_ignored(
    artifacts: Path, tmp_path: Path, damage: Callable[[str], str]
) -> None:
    text = (artifacts / "rulebook.py").read_text(encoding="utf-8")
    (tmp_path / "rulebook.py").write_text(damage(text), encoding="utf-8")
    assert prebuilt.trusted_rules(TOML, tmp_path) is None
    assert prebuilt.status(tmp_path)["rulebook.py"] == "stale"


def test_an_unreadable_or_odd_rulebook_artifact_is_ignored(
    artifacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rulebook.py"
    data = (artifacts / "rulebook.py").read_bytes()
    path.write_bytes(data.replace(b"'rulebook'", b"'\xff'", 1))  # not UTF-8
    assert prebuilt.trusted_rules(TOML, tmp_path) is None
    path.unlink()
    path.mkdir()  # not a regular file
    assert prebuilt.trusted_rules(TOML, tmp_path) is None
    assert prebuilt.status(tmp_path)["rulebook.py"] == "stale"
    path.rmdir()
    if hasattr(os, "mkfifo"):
        os.mkfifo(path)  # a FIFO: refused without waiting for a writer
        assert prebuilt.trusted_rules(TOML, tmp_path) is None
        path.unlink()
    path.write_bytes(data)
    assert prebuilt.trusted_rules(TOML, tmp_path) is not None
    monkeypatch.setattr(prebuilt, "_MAX_ARTIFACT_BYTES", len(data) - 1)
    assert prebuilt.trusted_rules(TOML, tmp_path) is None


def test_a_bytecode_cache_of_other_code_is_not_run(artifacts: Path, tmp_path: Path) -> None:
    # Python matches a cached .pyc to its source by mtime and size only: a module rewritten
    # in the same second with the same size would run the old code, were the key not
    # checked in the code itself.
    path = tmp_path / "rulebook.py"
    fresh = (artifacts / "rulebook.py").read_text(encoding="utf-8")
    other = fresh.replace(f"KEY = {KEY!r}", f"KEY = {'0' * 64!r}")
    assert len(other) == len(fresh)
    path.write_text(other, encoding="utf-8")
    py_compile.compile(str(path), cfile=cache_from_source(str(path)), doraise=True)
    stat = path.stat()
    path.write_text(fresh, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert prebuilt.trusted_rules(TOML, tmp_path) is None
    Path(cache_from_source(str(path))).unlink()
    assert prebuilt.trusted_rules(TOML, tmp_path) is not None


def test_a_damaged_catalog_artifact_is_ignored(artifacts: Path, tmp_path: Path) -> None:
    po = PO["fr"]
    text = (artifacts / "catalog_fr.py").read_text(encoding="utf-8")
    key = prebuilt.catalog_key(po.read_bytes())
    for damaged in (
        text.replace(f"format {prebuilt.FORMAT} key", "format 0 key"),
        text.replace(key, "0" * 64),
        text.replace("'Donnez un avertissement clair')", "3)"),
        text.replace("'Donnez un avertissement clair')", "'a', 'b')"),
        text.replace("\nENTRIES = (", "\nENTRIES = 'nothing'\nOTHER = ("),
        text.replace("\nENTRIES = (", "\nENTRIES = ["),
    ):
        assert damaged != text
        (tmp_path / "catalog_fr.py").write_text(damaged, encoding="utf-8")
        assert prebuilt.catalog_entries(po, po.read_bytes(), tmp_path) is None
    assert prebuilt.catalog_entries(po, po.read_bytes(), artifacts) is not None


def test_a_prebuilt_translation_is_checked_as_a_po_translation_is(
    artifacts: Path, tmp_path: Path
) -> None:
    from difficult_customers import RulebookError

    po = PO["fr"]
    text = (artifacts / "catalog_fr.py").read_text(encoding="utf-8")
    damaged = text.replace("'Donnez un avertissement clair')", "'{x.__class__}')")
    assert damaged != text
    (tmp_path / "catalog_fr.py").write_text(damaged, encoding="utf-8")
    with pytest.raises(RulebookError, match="placeholders"):
        _read_catalog(po, "fr", "difficult_customers", tmp_path)


def test_reading_the_artifacts_imports_no_json(artifacts: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from difficult_customers import _prebuilt\n"
        "from difficult_customers.rules import BUILTIN_RULEBOOK, builtin_locales_dir\n"
        "sys.modules['json'] = None  # importing it now fails\n"
        f"folder = Path({str(artifacts)!r})\n"
        "assert _prebuilt.trusted_rules(BUILTIN_RULEBOOK.read_bytes(), folder) is not None\n"
        "po = builtin_locales_dir() / 'fr' / 'LC_MESSAGES' / 'difficult_customers.po'\n"
        "assert _prebuilt.catalog_entries(po, po.read_bytes(), folder) is not None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_writing_removes_stale_and_old_artifacts_only(artifacts: Path, tmp_path: Path) -> None:
    owned = ["rulebook.json", "catalog.fr.json", "catalog_xx.py", "rulebook.py"]
    others = ["notes.txt", "other.json", "catalog.txt", "helper.py"]
    for name in owned + others:
        (tmp_path / name).write_text("old", encoding="utf-8")
    assert prebuilt.main([str(tmp_path)]) == 0
    built = sorted(path.name for path in artifacts.iterdir() if path.is_file())
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(built + others)
    for name in built:
        assert (tmp_path / name).read_bytes() == (artifacts / name).read_bytes(), name
    # Unchanged artifacts are left as they are, and their bytecode cache with them.
    before = (tmp_path / "rulebook.py").stat().st_mtime_ns
    os.utime(tmp_path / "rulebook.py", ns=(before - 10**9, before - 10**9))
    assert prebuilt.main([str(tmp_path)]) == 0
    assert (tmp_path / "rulebook.py").stat().st_mtime_ns == before - 10**9


@pytest.mark.parametrize(
    "node",
    [
        _tree.Flag("__import__('os').system('true')"),
        _tree.Flag("offensive_remarks"),  # a count, not a flag
        _tree.Compare("mood", "==", "livid"),
        _tree.Compare("offensive_remarks", "==", "1"),
        _tree.Compare("offensive_remarks", "=", 1),  # type: ignore[arg-type]
        _tree.Member("mood", ()),
        _tree.Fields("offensive_remarks", "<", "threats"),
        _tree.AllOf((_tree.Flag("threats"), _tree.Flag("nope"))),
        _tree.Not(_tree.Constant(1)),  # type: ignore[arg-type]
        "threats",
    ],
)
def test_a_lowered_tree_that_the_schema_does_not_allow_is_not_seeded(node: object) -> None:
    assert not prebuilt._valid_node(node, state_schema())


def test_the_seeded_trees_of_the_rulebook_are_valid(artifacts: Path) -> None:
    for _, node in rulebook_data(artifacts)[2]:
        assert prebuilt._valid_node(prebuilt._decode(node), state_schema())


def test_the_lowered_cache_stays_bounded() -> None:
    for count in range(_tree.LOWERED_CACHE_SIZE + 10):
        _tree.lower(f"offensive_remarks >= {count}")
    assert len(_tree._LOWERED) <= _tree.LOWERED_CACHE_SIZE
    # A seed does not replace what lowering the text gave.
    text = "offensive_remarks >= 3"
    lowered = _tree.lower(text)
    _tree.seed(text, _tree.Constant(True))
    assert _tree.lower(text) == lowered


def test_the_status_and_check_of_a_folder(artifacts: Path, tmp_path: Path) -> None:
    assert set(prebuilt.status(artifacts).values()) == {"fresh"}
    assert set(prebuilt.status(tmp_path).values()) == {"missing"}
    assert prebuilt.main(["--check", str(artifacts)]) == 0
    assert prebuilt.main(["--check", str(tmp_path)]) == 1


def test_a_first_advice_from_fresh_artifacts_parses_no_source(artifacts: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from difficult_customers import _prebuilt\n"
        f"_prebuilt.PREBUILT_DIR = Path({str(artifacts)!r})\n"
        "import difficult_customers as dc\n"
        "advice = dc.advise({'mood': 'angry', 'offensive_remarks': 2}, locale='pl')\n"
        "assert advice.locale == 'pl' and len(advice) > 0\n"
        "assert 'tomllib' not in sys.modules, 'the TOML was parsed'\n"
        "assert 'babel.messages' not in sys.modules, 'a .po file was parsed'\n"
        # Nor were the evaluators generated and compiled: they came with the rules.
        "from difficult_customers.engine import _fast\n"
        "fired = _fast(dc.default_rulebook()).fired\n"
        f"assert fired.__code__.co_filename == {str(artifacts / 'rulebook.py')!r}\n"
        # Deferred models were built on this first use, and validate as usual.
        "assert not dc.Details.__pydantic_complete__\n"
        "try:\n"
        "    dc.Details(deposit_percent=150)\n"
        "except Exception as exc:\n"
        "    print(exc)\n"
    )
    output = fresh_python(code)
    from pydantic import ValidationError

    from difficult_customers import Details

    with pytest.raises(ValidationError) as expected:
        Details(deposit_percent=150)  # type: ignore[arg-type]
    assert output.strip() == str(expected.value).strip()


def test_a_hand_built_condition_is_still_checked_once_trees_are_seeded() -> None:
    # Seeding remembers trees by text, checked: a forged text is lowered, and refused.
    from difficult_customers import ConditionTypeError

    default_rulebook()  # the built-in rules, from the artifacts when they are fresh
    rule = default_rulebook()["stay-calm"]
    forged = Condition(source='channel == "x\' OR 1=1 --"', fields=frozenset(), python="True")
    book = Rulebook([rule.model_copy(update={"when": forged, "overrides": ()})])
    with pytest.raises(ConditionTypeError, match="not a value of field 'channel'"):
        advise({}, rulebook=book)


def test_the_artifacts_are_the_same_on_any_hash_seed(tmp_path: Path) -> None:
    for seed in ("1", "4242"):
        subprocess.run(
            [sys.executable, "-m", "difficult_customers._prebuilt", str(tmp_path / seed)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            capture_output=True,
            timeout=120,
        )
    first, second = (sorted((tmp_path / seed).iterdir()) for seed in ("1", "4242"))
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
