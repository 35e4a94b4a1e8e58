"""The built-in rulebook and catalogs, checked at build time, for a quick first advise().

Reading ``rulebook.toml`` (TOML parsing, then validating every rule and parsing and checking
its conditions) and a ``.po`` catalog (Babel's parser) is most of the first ``advise()`` of a
process. The wheel build (``hatch_build.py``) and ``make prebuilt`` in a checkout write
what those steps produce into ``_prebuilt/`` beside this module, as JSON:

- ``rulebook.json``: the validated rules, and the lowered tree of each of their conditions;
- ``catalog.<folder>.json``: the entries of ``locales/<folder>/LC_MESSAGES/<domain>.po``
  as the checked reader returns them.

Each is keyed by a SHA-256 of what it was made from: the rulebook by the bytes of
``rulebook.toml`` and of the modules whose code validates and lowers it, a catalog by the
bytes of its ``.po``. A content hash, not a modification time: git checkouts, wheels and
copies do not keep mtimes faithfully, and hashing these files costs a fraction of a
millisecond. An artifact that is missing, unreadable, of another format or whose key differs
is ignored and the sources are read as before, so an artifact can make the load quicker but
never different (``tests/test_prebuilt.py`` checks both ways give equal objects).

Nothing here is executed: the JSON holds strings, numbers and tags naming one of a fixed
set of classes, and lowered trees are checked against the state's fields again before any
code is generated from them.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ._detail_values import FormOfAddress, Weekday
from ._files import read_regular_file
from .compile import _tree
from .conditions import Condition, FieldType, state_schema
from .rules import Effect, Kind, Phase, Phrasing, Rule, Source
from .state import Channel, ComplaintValidity, CustomerValue, Mood

__all__ = [
    "FORMAT",
    "PREBUILT_DIR",
    "build",
    "catalog_entries",
    "main",
    "rulebook_key",
    "status",
    "trusted_rules",
]

#: Bumped whenever the layout of the JSON changes: an artifact of another format is ignored.
FORMAT = 1
PREBUILT_DIR = Path(__file__).with_name("_prebuilt")

# The modules whose code decides what validating rulebook.toml gives, and this one, which
# encodes and decodes it: an edit to any of them makes the rulebook artifact stale, as an
# edit to the TOML does.
_VALIDATING = (
    "_prebuilt.py",
    "rules.py",
    "conditions.py",
    "state.py",
    "details.py",
    "_detail_values.py",
    "_text.py",
    "compile/_tree.py",
)
_HERE = Path(__file__).parent
# The largest artifact read; the built-in ones are under 200 kB.
_MAX_ARTIFACT_BYTES = 8 * 1024 * 1024

_MODELS: Mapping[str, type[BaseModel]] = {
    cls.__name__: cls for cls in (Rule, Phrasing, Source, Effect)
}
_ENUMS: Mapping[str, type[Enum]] = {
    cls.__name__: cls
    for cls in (Kind, Phase, Channel, Mood, ComplaintValidity, CustomerValue, Weekday,
                FormOfAddress)
}  # fmt: skip
_NODES: Mapping[str, type[Any]] = {
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


# --- encoding ---------------------------------------------------------------------------
# A small tagged form: ["T", ...] a tuple, ["E", enum, value] an enum member, ["C", text,
# fields, python] a condition, ["M", model, {field: value}] a model built from exactly the
# fields validation set, ["N", node, ...fields] a lowered tree node. Everything else is a
# JSON scalar.


def _encode(value: object) -> Any:
    if isinstance(value, BaseModel):
        name = type(value).__name__
        if _MODELS.get(name) is not type(value):
            raise TypeError(f"cannot prebuild a {name}")
        return ["M", name, {f: _encode(getattr(value, f)) for f in sorted(value.model_fields_set)}]
    if isinstance(value, Enum):
        name = type(value).__name__
        if _ENUMS.get(name) is not type(value):
            raise TypeError(f"cannot prebuild a {name}")
        return ["E", name, value.value]
    if isinstance(value, Condition):
        if value._schema is not None:
            raise TypeError("only conditions over the state's own fields are prebuilt")
        return ["C", value.source, sorted(value.fields), value.python]
    if isinstance(value, _tree._Node) and type(value) in _NODES.values():
        parts = (_encode(getattr(value, name)) for name in value.__match_args__)
        return ["N", type(value).__name__, *parts]
    if isinstance(value, tuple):
        return ["T", *map(_encode, value)]
    if value is None or type(value) in (bool, int, str):
        return value
    raise TypeError(f"cannot prebuild {value!r}")


def _decode(value: Any) -> Any:
    if type(value) is not list:
        return value
    tag = value[0]
    if tag == "T":
        return tuple(_decode(item) for item in value[1:])
    if tag == "M":
        # Built around validation: the artifact holds what validating the TOML gave, and
        # tests/test_prebuilt.py checks that this gives equal rules, field for field.
        return _construct(_MODELS[value[1]], {n: _decode(v) for n, v in value[2].items()})
    if tag == "E":
        return _ENUMS[value[1]](value[2])
    if tag == "C":
        return Condition(source=value[1], fields=frozenset(value[2]), python=value[3])
    if tag == "N":
        return _NODES[value[1]](*(_decode(item) for item in value[2:]))
    raise ValueError(f"unknown tag {tag!r}")


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


def _rulebook_artifact(name: str, rules: tuple[Rule, ...], key: str) -> dict[str, Any]:
    texts = dict.fromkeys(
        condition.source
        for rule in rules
        for condition in (rule.when, *(p.when for p in rule.phrasing))
        if condition is not None
    )
    return {
        "format": FORMAT,
        "key": key,
        "name": name,
        "rules": [_encode(rule) for rule in rules],
        "lowered": [[text, _encode(_tree.lower(text))] for text in texts],
    }


def _read_json(path: Path) -> Any:
    try:
        return json.loads(read_regular_file(path, _MAX_ARTIFACT_BYTES))
    except (OSError, ValueError):  # missing, not a regular file, too large, not JSON
        return None


def trusted_rules(toml: bytes, directory: Path | None = None) -> tuple[str, list[Rule]] | None:
    """The name and rules of the built-in rulebook from its artifact, if it is fresh.

    ``None`` when there is no artifact for exactly this TOML and code: read the TOML then.
    The lowered trees of the conditions are handed to :mod:`compile._tree`, checked again.
    """
    data = _read_json((directory or PREBUILT_DIR) / "rulebook.json")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    key = rulebook_key(toml)
    if key is None or data.get("key") != key:
        return None
    try:
        rules = [_decode(entry) for entry in data["rules"]]
        lowered = [(text, _decode(node)) for text, node in data["lowered"]]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if not all(type(rule) is Rule for rule in rules):
        return None
    schema = state_schema()
    for text, node in lowered:
        if isinstance(text, str) and _valid_node(node, schema):
            _tree.seed(text, node)
    return str(data["name"]), rules


def _valid_node(node: object, schema: Mapping[str, FieldType]) -> bool:
    """What the generated code may rely on: fields of the schema, values of their types."""

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


def catalog_entries(
    po: Path, data: bytes, directory: Path | None = None
) -> list[tuple[str, str, str]] | None:
    """The ``(msgctxt, msgid, msgstr)`` entries of a catalog from its artifact, if fresh.

    ``data`` is the ``.po`` file's content: the artifact is used only if it was made from
    exactly these bytes. ``None``: read the ``.po`` itself.
    """
    artifact = _read_json((directory or PREBUILT_DIR) / f"catalog.{po.parents[1].name}.json")
    if (
        not isinstance(artifact, dict)
        or artifact.get("format") != FORMAT
        or artifact.get("po") != _sha256(data)
    ):
        return None
    entries = artifact.get("entries")
    if not isinstance(entries, list) or not all(
        type(entry) is list and len(entry) == 3 and all(type(part) is str for part in entry)
        for entry in entries
    ):
        return None
    return [(context, message, translation) for context, message, translation in entries]


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
    files = {"rulebook.json": _dumps(_rulebook_artifact(name, tuple(rules), key))}
    for po, lang in _catalog_paths(builtin_locales_dir(), DOMAIN):
        data = po.read_bytes()
        entries = _checked_entries(_read_po(po, data, lang, DOMAIN), po)
        files[f"catalog.{po.parents[1].name}.json"] = _dumps(
            {
                "format": FORMAT,
                "po": _sha256(data),
                "entries": [
                    [context, message, text] for (context, message), text in entries.items()
                ],
            }
        )
    return files


def _dumps(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def status(directory: Path | None = None) -> dict[str, str]:
    """``{artifact: "fresh" | "stale" | "missing"}``, for the benchmark and ``make``."""
    from .i18n import _catalog_paths
    from .rules import BUILTIN_RULEBOOK, DOMAIN, builtin_locales_dir

    folder = directory or PREBUILT_DIR

    def state(name: str, field: str, expected: str | None) -> str:
        path = folder / name
        if not path.exists():
            return "missing"
        data = _read_json(path)
        fresh = (
            isinstance(data, dict)
            and data.get("format") == FORMAT
            and expected is not None
            and data.get(field) == expected
        )
        return "fresh" if fresh else "stale"

    result = {
        "rulebook.json": state("rulebook.json", "key", rulebook_key(BUILTIN_RULEBOOK.read_bytes()))
    }
    for po, _ in _catalog_paths(builtin_locales_dir(), DOMAIN):
        name = f"catalog.{po.parents[1].name}.json"
        result[name] = state(name, "po", _sha256(po.read_bytes()))
    return result


def _write(directory: Path) -> Iterator[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in build().items():
        path = directory / name
        path.write_bytes(content)
        yield path


def main(argv: list[str] | None = None) -> int:
    """``python -m difficult_customers._prebuilt [--check] [DIRECTORY]``.

    Writes the artifacts into DIRECTORY (by default ``_prebuilt/`` beside this module);
    with ``--check``, only reports whether they are fresh (exit status 1 if not).
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
