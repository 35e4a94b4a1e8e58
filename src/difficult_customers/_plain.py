"""A faster validation of the plainest valid states, for :func:`~difficult_customers.advise`.

pydantic validates a 25-field state in about 3 µs, most of :func:`advise` on a dict. Nearly
every dict a program passes is plain: known field names, exact ``bool`` and ``int`` values in
range, enum members or their string values, and no step carried out yet. For such a dict the
function generated here builds the very state pydantic would (the same ``__dict__``, value
types and ``model_fields_set``) in about two thirds of the time. Anything else, valid or
not, it declines (returns ``None``) and pydantic validates it as before, with its errors:
it only ever accepts a subset of what pydantic accepts, which ``tests/test_plain.py``
checks against pydantic itself on valid and hostile input.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from annotated_types import Ge, Le
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .state import _EVERY_FIELD, MAX_COUNT, ConversationState

__all__ = ["plain_source", "plain_validator"]

PlainValidator = Callable[[dict[str, Any]], ConversationState | None]


def _strict(info: FieldInfo) -> bool:
    return any(getattr(item, "strict", None) is True for item in info.metadata)


def _count(info: FieldInfo) -> bool:
    """A strict ``int`` of 0 to MAX_COUNT, and nothing else: what the check emitted allows."""
    bounds = {type(item): item for item in info.metadata if isinstance(item, Ge | Le)}
    ge, le = bounds.get(Ge), bounds.get(Le)
    return (
        _strict(info)
        and isinstance(ge, Ge)
        and ge.ge == 0
        and isinstance(le, Le)
        and le.le == MAX_COUNT
        and len(info.metadata) == 3
    )


def _slot(name: str) -> Callable[[object, object], None]:
    """The setter of one of pydantic's slots of a model, as ``_trusted`` uses them."""
    setter: Callable[[object, object], None] = BaseModel.__dict__[name].__set__
    return setter


def plain_source() -> tuple[str, dict[str, Any]]:
    """The source of ``def plain(data):`` and the names it reads, from the state's fields.

    A field whose type or constraints are not one of the plain kinds below is declined
    whenever the dict names it, so a field added to the state without a check here costs
    speed, never correctness.
    """
    fields = ConversationState.model_fields
    namespace: dict[str, Any] = {
        "KNOWN": frozenset(fields),
        "DEFAULTS": {name: info.default for name, info in fields.items()},
        "MAX_COUNT": MAX_COUNT,
        "int": int,
        "str": str,
        "tuple": tuple,
        "list": list,
        "set": set,
        "State": ConversationState,
        "EVERY": _EVERY_FIELD,
        "COUNT": len(fields),
        "len": len,
        "new": object.__new__,
        "set_dict": _slot("__dict__"),
        "set_fields_set": _slot("__pydantic_fields_set__"),
        "set_extra": _slot("__pydantic_extra__"),
        "set_private": _slot("__pydantic_private__"),
    }
    lines = [
        "def plain(data):",
        "    if not KNOWN.issuperset(data):",  # a key that is no field: pydantic says so
        "        return None",
        "    values = DEFAULTS.copy()",
        "    values.update(data)",
        # Every value at once, in field order (the copy's, which update() keeps): one
        # unpacking costs a fraction of reading each key.
        f"    ({', '.join(f'v_{name}' for name in fields)},) = values.values()",
    ]
    for name, info in fields.items():
        annotation = info.annotation
        value = f"v_{name}"
        if annotation is bool and _strict(info) and len(info.metadata) == 1:
            # Identity with the two booleans: a strict bool is one of them.
            lines += [
                f"    if {value} is not True and {value} is not False:",
                "        return None",
            ]
        elif annotation is int and _count(info):
            lines += [
                f"    if {value}.__class__ is not int or not 0 <= {value} <= MAX_COUNT:",
                "        return None",
            ]
        elif isinstance(annotation, type) and issubclass(annotation, Enum) and not info.metadata:
            namespace[f"ENUM_{name}"] = annotation
            namespace[f"MEMBERS_{name}"] = {member.value: member for member in annotation}
            lines += [
                f"    if {value}.__class__ is not ENUM_{name}:",
                f"        if {value}.__class__ is not str:",
                "            return None",
                f"        {value} = MEMBERS_{name}.get({value})",
                f"        if {value} is None:",
                "            return None",
                f"        values[{name!r}] = {value}",
            ]
        elif name == "done":
            # No step carried out: validating rule ids is left to pydantic.
            lines += [
                f"    if {value}.__class__ is not tuple and {value}.__class__ is not list"
                f" or {value}:",
                "        return None",
                f"    values[{name!r}] = ()",
            ]
        else:
            lines += [f"    if {name!r} in data:", "        return None"]
    # The one cross-field rule (ConversationState._consistent): an inconsistent state is
    # reported by pydantic.
    lines += [
        "    if v_abuse_after_warning and not (",
        "        v_warnings_given and (v_offensive_remarks or v_personal_attacks or v_threats)",
        "    ):",
        "        return None",
        # ConversationState._trusted written out, with the fields given as pydantic sets them.
        "    state = new(State)",
        "    set_dict(state, values)",
        # A dict of every field shares the one set _trusted gives such states.
        "    set_fields_set(state, EVERY if len(data) == COUNT else set(data))",
        "    set_extra(state, None)",
        "    set_private(state, None)",
        "    return state",
    ]
    return "\n".join(lines), namespace


def plain_validator() -> PlainValidator:
    """The function of :func:`plain_source`: the state for a plain valid dict, else ``None``."""
    text, namespace = plain_source()
    namespace["__builtins__"] = {}
    # Generated from the state's own field names and types only: no caller text.
    exec(compile(text, "<plain state validator>", "exec"), namespace)
    validator: PlainValidator = namespace["plain"]
    return validator
