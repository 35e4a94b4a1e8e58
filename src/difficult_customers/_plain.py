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
from pydantic.fields import FieldInfo

from .state import MAX_COUNT, ConversationState

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
        "bool": bool,
        "int": int,
        "str": str,
        "tuple": tuple,
        "list": list,
        "set": set,
        "build": ConversationState._trusted,
    }
    lines = [
        "def plain(data):",
        "    if not KNOWN.issuperset(data):",  # a key that is no field: pydantic says so
        "        return None",
        "    values = DEFAULTS.copy()",
        "    values.update(data)",
    ]
    for name, info in fields.items():
        annotation = info.annotation
        read = f"    value = values[{name!r}]"
        if annotation is bool and _strict(info) and len(info.metadata) == 1:
            lines += [read, "    if value.__class__ is not bool:", "        return None"]
        elif annotation is int and _count(info):
            lines += [
                read,
                "    if value.__class__ is not int or not 0 <= value <= MAX_COUNT:",
                "        return None",
            ]
        elif isinstance(annotation, type) and issubclass(annotation, Enum) and not info.metadata:
            namespace[f"ENUM_{name}"] = annotation
            namespace[f"MEMBERS_{name}"] = {member.value: member for member in annotation}
            lines += [
                read,
                f"    if value.__class__ is not ENUM_{name}:",
                "        if value.__class__ is not str:",
                "            return None",
                f"        value = MEMBERS_{name}.get(value)",
                "        if value is None:",
                "            return None",
                f"        values[{name!r}] = value",
            ]
        elif name == "done":
            # No step carried out: validating rule ids is left to pydantic.
            lines += [
                read,
                "    if value.__class__ is not tuple and value.__class__ is not list or value:",
                "        return None",
                f"    values[{name!r}] = ()",
            ]
        else:
            lines += [f"    if {name!r} in data:", "        return None"]
    # The one cross-field rule (ConversationState._consistent): an inconsistent state is
    # reported by pydantic.
    lines += [
        "    if values['abuse_after_warning'] and not (",
        "        values['warnings_given']",
        "        and (values['offensive_remarks'] or values['personal_attacks']"
        " or values['threats'])",
        "    ):",
        "        return None",
        "    return build(values, set(data))",
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
