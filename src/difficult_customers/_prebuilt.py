"""The built-in rulebook and catalogs, checked at build time, for a quick first advise().

Reading ``rulebook.toml`` (TOML parsing, then validating every rule and parsing and checking
its conditions), a ``.po`` catalog (Babel's parser) and generating and compiling the
engine's bitmask evaluators are most of the first ``advise()`` of a process. The wheel
build (``hatch_build.py``) and ``make prebuilt`` in a checkout write what those steps
produce into ``_prebuilt/`` beside this module, as generated Python modules:

- ``rulebook.py``: the rulebook's name, the validated rules and the lowered tree of each of
  their conditions, as one constant (nested tuples in the tagged form below), and the
  evaluator of the engine's fast path, ``fired``, as the very source that
  :func:`~difficult_customers.compile.python.masks_source` generates for these rules;
- ``catalog_<folder>.py``: the entries of ``locales/<folder>/LC_MESSAGES/<domain>.po``
  as the checked reader returns them, one constant tuple of string triples.

Python modules, not JSON, so that Python's own bytecode cache makes loading them nearly
free: pip compiles every ``.py`` of a wheel into ``__pycache__`` at install (a checkout's
are compiled on first use), the constants then come back from ``marshal`` in one piece,
and the evaluators need no code generation and no ``compile()`` at run time.

Each is keyed by a SHA-256 of what it was made from: the rulebook by the bytes of
``rulebook.toml`` and of the modules whose code validates, lowers, encodes and decodes it
and generates the evaluators, a catalog by the bytes of its ``.po``. A content hash, not a
modification time: git checkouts, wheels and copies do not keep mtimes faithfully, and
hashing these files costs a fraction of a millisecond. The key is checked before anything
is executed: the module's first line must be exactly ``# difficult_customers prebuilt
format N key <sha256>`` for the expected format and key; only then is its code taken from
the bytecode cache (or compiled from the file), checked to carry that same key, and
executed with no builtins. An artifact that is missing, not a regular file, too large,
unreadable, of another format or key, not valid Python or of the wrong shape is ignored
and the sources are read as before, so an artifact can make the load quicker but never
different (``tests/test_prebuilt.py`` checks both ways give equal objects and equal
advice).

The data are constants only; the rules are rebuilt from the tags of a fixed set of
classes, and the lowered trees are checked against the state's fields again before they
are remembered for generating code from them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from enum import Enum
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import FunctionType
from typing import Any

from pydantic import BaseModel

from . import _seeds
from ._detail_values import FormOfAddress, Weekday
from ._files import read_regular_file
from .conditions import Condition, FieldType, state_schema
from .rules import Effect, Kind, Phase, Phrasing, Rule, Source
from .state import Channel, ComplaintValidity, CustomerValue, Mood

__all__ = [
    "FORMAT",
    "PREBUILT_DIR",
    "RULEBOOK_FILE",
    "build",
    "catalog_entries",
    "catalog_key",
    "main",
    "rulebook_key",
    "status",
    "trusted_rules",
]

#: Bumped whenever the layout of the modules changes: an artifact of another format is
#: ignored. Format 1 was JSON.
FORMAT = 2
PREBUILT_DIR = Path(__file__).with_name("_prebuilt")
RULEBOOK_FILE = "rulebook.py"

# The modules whose code decides what validating rulebook.toml gives and what evaluators
# are generated for it, and this one, which encodes and decodes it: an edit to any of them
# makes the rulebook artifact stale, as an edit to the TOML does.
_VALIDATING = (
    "_prebuilt.py",
    "rules.py",
    "conditions.py",
    "_parser.py",
    "state.py",
    "details.py",
    "_detail_values.py",
    "_text.py",
    "compile/_tree.py",
    "compile/python.py",
)
_HERE = Path(__file__).parent
# The largest artifact read; the built-in ones are under 200 kB.
_MAX_ARTIFACT_BYTES = 8 * 1024 * 1024
# The names the generated modules define, and the evaluators' names in the engine's cache.
_EVALUATORS = ("fired",)

_MODELS: Mapping[str, type[BaseModel]] = {
    cls.__name__: cls for cls in (Rule, Phrasing, Source, Effect)
}
_ENUMS: Mapping[str, type[Enum]] = {
    cls.__name__: cls
    for cls in (Kind, Phase, Channel, Mood, ComplaintValidity, CustomerValue, Weekday,
                FormOfAddress)
}  # fmt: skip


@functools.cache
def _nodes() -> Mapping[str, type[Any]]:
    """The lowered tree's node classes by name; the compiler is imported only when needed."""
    from .compile import _tree

    return {
        cls.__name__: cls
        for cls in (
            _tree.Constant,
            _tree.Flag,
            _tree.Compare,
            _tree.Fields,
            _tree.Member,
            _tree.Not,
            _tree.AllOf,
            _tree.AnyOf,
        )
    }


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        # Length-prefixed, so that moving bytes from one part to the next changes the key.
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def rulebook_key(toml: bytes) -> str | None:
    """The key of the rulebook artifact for this TOML and the installed validating code.

    ``None`` when a validating module's source cannot be read (an installation without
    sources): then no artifact can be trusted, and the TOML is read.
    """
    try:
        sources = [(_HERE / name).read_bytes() for name in _VALIDATING]
    except OSError:
        return None
    return _sha256(str(FORMAT).encode(), toml, *sources)


def catalog_key(po: bytes) -> str:
    """The key of a catalog artifact made from a ``.po`` file of these bytes."""
    return _sha256(str(FORMAT).encode(), po)


def _header(key: str) -> str:
    return f"# difficult_customers prebuilt format {FORMAT} key {key}\n"


# --- encoding ---------------------------------------------------------------------------
# A small tagged form, of tuples only, so that the compiler folds the whole of it into one
# constant: ("T", ...) a tuple, ("E", enum, value) an enum member, ("C", text, fields,
# python) a condition, ("M", model, ((field, value), ...)) a model built from exactly the
# fields validation set, ("N", node, ...fields) a lowered tree node. Everything else is a
# string, an integer, a boolean or None.


def _encode(value: object) -> Any:
    if isinstance(value, BaseModel):
        name = type(value).__name__
        if _MODELS.get(name) is not type(value):
            raise TypeError(f"cannot prebuild a {name}")
        fields = tuple((f, _encode(getattr(value, f))) for f in sorted(value.model_fields_set))
        return ("M", name, fields)
    if isinstance(value, Enum):
        name = type(value).__name__
        if _ENUMS.get(name) is not type(value):
            raise TypeError(f"cannot prebuild a {name}")
        return ("E", name, value.value)
    if isinstance(value, Condition):
        if value._schema is not None:
            raise TypeError("only conditions over the state's own fields are prebuilt")
        return ("C", value.source, tuple(sorted(value.fields)), value.python)
    from .compile import _tree  # building only: loading needs no compiler

    if isinstance(value, _tree._Node) and type(value) in _nodes().values():
        parts = (_encode(getattr(value, name)) for name in value.__match_args__)
        return ("N", type(value).__name__, *parts)
    if isinstance(value, tuple):
        return ("T", *map(_encode, value))
    if value is None or type(value) in (bool, int, str):
        return value
    raise TypeError(f"cannot prebuild {value!r}")


def _decode(value: Any) -> Any:
    # Written for speed (the first advise() decodes some 1000 values): scalars are passed
    # through where they are met, rather than in a call each.
    if type(value) is not tuple:
        return value
    tag = value[0]
    if tag == "T":
        return tuple([_decode(v) if type(v) is tuple else v for v in value[1:]])
    if tag == "M":
        # Built around validation: the artifact holds what validating the TOML gave, and
        # tests/test_prebuilt.py checks that this gives equal rules, field for field.
        given = {n: _decode(v) if type(v) is tuple else v for n, v in value[2]}
        return _construct(_MODELS[value[1]], given)
    if tag == "E":
        return _MEMBERS[value[1]][value[2]]
    if tag == "C":
        if type(value[2]) is not tuple:
            raise TypeError("a condition's fields are a tuple")
        return Condition(source=value[1], fields=frozenset(value[2]), python=value[3])
    if tag == "N":
        return _nodes()[value[1]](*[_decode(v) if type(v) is tuple else v for v in value[2:]])
    raise ValueError(f"unknown tag {tag!r}")


# Each enum's members by value: a dictionary look-up, where calling the enum costs ten.
_MEMBERS: Mapping[str, Mapping[object, Enum]] = {
    name: {member.value: member for member in enum} for name, enum in _ENUMS.items()
}


def _construct(model: type[BaseModel], given: dict[str, Any]) -> BaseModel:
    """``model.model_construct(**given)``, without its per-call work on the model's fields.

    The same object: the fields in declaration order, the defaults of those not given, the
    names given as the fields set, no extra and no private values (these models have
    neither). About five times faster, for the 190 models of the built-in rules that the
    first advice of a process builds.
    """
    spec = _SPECS.get(model)
    if spec is None:
        if model.__private_attributes__ or model.model_config.get("extra") != "forbid":
            return model.model_construct(**given)
        fields = model.model_fields
        # Only defaults that are shared safely: immutable values, no factories.
        spec = _SPECS[model] = (
            tuple(fields),
            {
                name: field.default
                for name, field in fields.items()
                if field.default_factory is None and _immutable(field.default)
            },
        )
    names, defaults = spec
    values = {}
    for name in names:
        if name in given:
            values[name] = given[name]
        elif name in defaults:
            values[name] = defaults[name]
        else:  # a default that must be made anew: pydantic's own way
            return model.model_construct(**given)
    built = _new(model)
    _set(built, "__dict__", values)
    _set(built, "__pydantic_fields_set__", set(given))
    _set(built, "__pydantic_extra__", None)
    _set(built, "__pydantic_private__", None)
    return built


def _immutable(value: object) -> bool:
    if isinstance(value, tuple):
        return all(map(_immutable, value))
    return value is None or isinstance(value, bool | int | str | Enum | frozenset)


_SPECS: dict[type[BaseModel], tuple[tuple[str, ...], dict[str, Any]]] = {}
_new = object.__new__
_set = object.__setattr__


def _rulebook_module(name: str, rules: tuple[Rule, ...], key: str) -> str:
    from .compile import _tree
    from .compile.python import masks_source
    from .rules import Rulebook

    texts = dict.fromkeys(
        condition.source
        for rule in rules
        for condition in (rule.when, *(p.when for p in rule.phrasing))
        if condition is not None
    )
    # The evaluators of the rulebook as default_rulebook() builds it (rules in advice
    # order), from the one generator that compile_masks() uses.
    book = Rulebook(rules, name=name)
    schema = state_schema()
    lines = [
        _header(key).rstrip("\n"),
        "# Generated by `python -m difficult_customers._prebuilt` from rulebook.toml: do not",
        "# edit. DATA is (name, rules, lowered condition trees) in the tagged form of",
        "# _prebuilt.py, constants only; fired() is the source that",
        "# compile.python.masks_source() generates for these rules.",
        f"KEY = {key!r}",
        "DATA = (",
        f"    {name!r},",
        "    (",
        *(f"        {_encode(rule)!r}," for rule in rules),
        "    ),",
        "    (",
        *(f"        {(text, _encode(_tree._lower(text, schema)))!r}," for text in texts),
        "    ),",
        ")",
        "",
        "",
        masks_source(book),
    ]
    return "\n".join(lines) + "\n"


def _catalog_module(po: Path, data: bytes, entries: Sequence[tuple[str, str, str]]) -> str:
    where = "/".join(po.parts[-4:])
    lines = [
        _header(catalog_key(data)).rstrip("\n"),
        "# Generated by `python -m difficult_customers._prebuilt` from the catalog",
        f"# {where}: do not edit. ENTRIES are its (msgctxt, msgid, msgstr) entries, as the",
        "# checked reader returns them.",
        f"KEY = {catalog_key(data)!r}",
        "ENTRIES = (",
        *(f"    {entry!r}," for entry in entries),
        ")",
    ]
    return "\n".join(lines) + "\n"


def _load(path: Path, key: str | None) -> dict[str, Any] | None:
    """The names a generated module defines, if it is the artifact keyed ``key``; else None.

    Nothing of the module runs unless its first line names this format and key. Its code
    comes from Python's bytecode cache (written there if it was not), as an import's
    would, and must carry the key too: a cached file is matched to its source by
    modification time and size only, and a rewritten artifact keeps the size.
    """
    if key is None:
        return None
    expected = _header(key).encode()
    try:
        if read_regular_file(path, _MAX_ARTIFACT_BYTES, head=len(expected)) != expected:
            return None
    except (OSError, ValueError):  # missing, not a regular file, too large
        return None
    name = f"{__name__}.{path.stem}"
    try:
        code = SourceFileLoader(name, str(path)).get_code(name)
    except Exception:  # unreadable, not Python (SyntaxError, ValueError), a damaged cache
        return None
    if code is None or key not in code.co_consts:
        return None
    namespace: dict[str, Any] = {"__builtins__": {}}
    try:
        # The package's own module, generated by build() below, under the expected key.
        exec(code, namespace)
    except Exception:  # a module of another shape (it has no builtins to call)
        return None
    return namespace


def trusted_rules(
    toml: bytes, directory: Path | None = None
) -> tuple[str, list[Rule], dict[str, Any]] | None:
    """The name, rules and fast-path evaluators of the built-in rulebook, if fresh.

    ``None`` when there is no artifact for exactly this TOML and code: read the TOML then.
    The lowered trees of the conditions are handed to :mod:`compile._tree`, checked again,
    when a condition is first lowered; the evaluators are ``{"fired": ...}``,
    for the engine's fast path of the rulebook made of exactly these rules.
    """
    trusted = _trusted(toml, directory or PREBUILT_DIR)
    if trusted is None:
        return None
    name, rules, evaluators, lowered = trusted
    _seeds.LATER.append(lambda: _seed(lowered))
    return name, rules, evaluators


def _trusted(
    toml: bytes, directory: Path
) -> tuple[str, list[Rule], dict[str, Any], tuple[Any, ...]] | None:
    namespace = _load(directory / RULEBOOK_FILE, rulebook_key(toml))
    if namespace is None:
        return None
    # Not kept in the evaluators' globals: the rules are rebuilt from it once.
    data = namespace.pop("DATA", None)
    evaluators = {name: namespace.get(name) for name in _EVALUATORS}
    if type(data) is not tuple or len(data) != 3 or type(data[0]) is not str:
        return None
    if not all(type(function) is FunctionType for function in evaluators.values()):
        return None
    try:
        rules = [_decode(entry) for entry in data[1]]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if not all(type(rule) is Rule for rule in rules) or type(data[2]) is not tuple:
        return None
    return data[0], rules, evaluators, data[2]


def _seed(lowered: tuple[Any, ...]) -> None:
    """Hands the artifact's lowered trees to :mod:`compile._tree`, those the schema allows.

    When a condition is first lowered, not before: the prebuilt evaluators need none.
    """
    from .compile import _tree

    schema = state_schema()
    for pair in lowered:
        try:
            text, node = pair
            node = _decode(node)
        except (KeyError, IndexError, TypeError, ValueError):
            continue  # lowered from its text then, as any other
        if isinstance(text, str) and _valid_node(node, schema):
            _tree.seed(text, node)


def _valid_node(node: object, schema: Mapping[str, FieldType]) -> bool:
    """What the generated code may rely on: fields of the schema, values of their types."""
    from .compile import _tree

    def value_ok(field: str, value: object) -> bool:
        kind = schema[field].kind
        if kind == "bool":
            return type(value) is bool
        if kind == "int":
            return type(value) is int
        return type(value) is str and value in schema[field].values

    if isinstance(node, _tree.Constant):
        return type(node.value) is bool
    if isinstance(node, _tree.Flag):
        return node.name in schema and schema[node.name].kind == "bool"
    if isinstance(node, _tree.Compare):
        return (
            node.name in schema and node.op in _tree.OPERATORS and value_ok(node.name, node.value)
        )
    if isinstance(node, _tree.Fields):
        return (
            node.left in schema
            and node.right in schema
            and node.op in _tree.OPERATORS
            and schema[node.left].kind == schema[node.right].kind == "int"
        )
    if isinstance(node, _tree.Member):
        return (
            node.name in schema
            and type(node.values) is tuple
            and bool(node.values)
            and all(value_ok(node.name, value) for value in node.values)
            and type(node.negated) is bool
        )
    if isinstance(node, _tree.Not):
        return _valid_node(node.operand, schema)
    if isinstance(node, _tree.AllOf | _tree.AnyOf):
        return type(node.operands) is tuple and all(
            _valid_node(operand, schema) for operand in node.operands
        )
    return False


def _catalog_file(po: Path) -> str:
    return f"catalog_{po.parents[1].name}.py"


def catalog_entries(
    po: Path, data: bytes, directory: Path | None = None
) -> list[tuple[str, str, str]] | None:
    """The ``(msgctxt, msgid, msgstr)`` entries of a catalog from its artifact, if fresh.

    ``data`` is the ``.po`` file's content: the artifact is used only if it was made from
    exactly these bytes. ``None``: read the ``.po`` itself.
    """
    namespace = _load((directory or PREBUILT_DIR) / _catalog_file(po), catalog_key(data))
    entries = None if namespace is None else namespace.get("ENTRIES")
    if type(entries) is not tuple or not all(
        type(entry) is tuple and len(entry) == 3 and all(type(part) is str for part in entry)
        for entry in entries
    ):
        return None
    return list(entries)


# --- building -----------------------------------------------------------------------------


def build() -> dict[str, bytes]:
    """Every artifact for the installed rulebook and catalogs: ``{file name: content}``.

    Raises:
        RulebookError: the rulebook or a catalog is invalid (the build must fail then).
    """
    from .i18n import _catalog_paths, _checked_entries, _read_po
    from .rules import BUILTIN_RULEBOOK, DOMAIN, _read_rules, builtin_locales_dir

    toml = BUILTIN_RULEBOOK.read_bytes()
    key = rulebook_key(toml)
    if key is None:  # pragma: no cover - the build runs from the sources
        raise RuntimeError("the validating modules' sources are missing")
    name, rules = _read_rules(BUILTIN_RULEBOOK)
    files = {RULEBOOK_FILE: _rulebook_module(name, tuple(rules), key).encode("utf-8")}
    for po, lang in _catalog_paths(builtin_locales_dir(), DOMAIN):
        data = po.read_bytes()
        entries = _checked_entries(_read_po(po, data, lang, DOMAIN), po)
        triples = [(context, message, text) for (context, message), text in entries.items()]
        files[_catalog_file(po)] = _catalog_module(po, data, triples).encode("utf-8")
    return files


def status(directory: Path | None = None) -> dict[str, str]:
    """``{artifact: "fresh" | "stale" | "missing"}``, for the benchmark and ``make``.

    Fresh: the artifact would be used, as it is. Loading it writes its bytecode cache.
    """
    from .i18n import _catalog_paths
    from .rules import BUILTIN_RULEBOOK, DOMAIN, builtin_locales_dir

    folder = directory or PREBUILT_DIR

    def state(name: str, fresh: bool) -> str:
        if not os.path.lexists(folder / name):
            return "missing"
        return "fresh" if fresh else "stale"

    toml = BUILTIN_RULEBOOK.read_bytes()
    result = {RULEBOOK_FILE: state(RULEBOOK_FILE, _trusted(toml, folder) is not None)}
    for po, _ in _catalog_paths(builtin_locales_dir(), DOMAIN):
        name = _catalog_file(po)
        result[name] = state(name, catalog_entries(po, po.read_bytes(), folder) is not None)
    return result


def _owned(name: str) -> bool:
    """An artifact of this module, of this layout or of the JSON one before it."""
    return (
        name == RULEBOOK_FILE
        or (name.startswith("catalog_") and name.endswith(".py"))
        or name == "rulebook.json"
        or (name.startswith("catalog.") and name.endswith(".json"))
    )


def _write(directory: Path) -> Iterator[Path]:
    """Writes the artifacts into ``directory``, and removes the others it owns there."""
    from importlib.util import cache_from_source

    files = build()
    directory.mkdir(parents=True, exist_ok=True)
    for old in sorted(directory.iterdir()):
        if _owned(old.name) and old.name not in files and not old.is_dir():
            old.unlink()
    for name, content in files.items():
        path = directory / name
        if not (path.is_file() and path.read_bytes() == content):
            # Whole or not at all for a process reading it meanwhile; and a bytecode cache
            # of the file it replaces, which could pass for this one's, goes with it.
            temporary = directory / f".{name}.tmp"
            temporary.write_bytes(content)
            os.replace(temporary, path)
            Path(cache_from_source(str(path))).unlink(missing_ok=True)
        yield path


def main(argv: list[str] | None = None) -> int:
    """``python -m difficult_customers._prebuilt [--check] [DIRECTORY]``.

    Writes the artifacts into DIRECTORY (by default ``_prebuilt/`` beside this module),
    removing the stale ones and those of an older layout; with ``--check``, only reports
    whether they are fresh (exit status 1 if not).
    """
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    rest = [arg for arg in args if arg != "--check"]
    directory = Path(rest[0]) if rest else PREBUILT_DIR
    if check:
        report = status(directory)
        for name, state in report.items():
            print(f"{name}: {state}")
        return 0 if set(report.values()) == {"fresh"} else 1
    for path in _write(directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
