"""The exceptions difficult_customers raises on purpose.

The hierarchy::

    DifficultCustomersError            base of everything below
    ├── RulebookError                  a rule pack could not be loaded (file, rule, field)
    │   └── ConditionError             a precondition is not valid in the language
    │       ├── ConditionSyntaxError   not parseable, or uses a construct outside the whitelist
    │       └── ConditionTypeError     unknown field, wrong type, value outside an enum
    ├── ConversationEndedError         an event came after the end of the conversation
    ├── StateValidationError           a conversation state is invalid (also pydantic's
    │                                  ValidationError, hence a ValueError)
    ├── FrameError                     a frame's columns do not hold valid states (a ValueError)
    ├── UnknownRuleError               no rule has this id (also a KeyError)
    ├── UnknownFilterValueError        a rule filter names no known value (also a ValueError)
    ├── UnsupportedLocaleError         no catalog for the locale (also a LookupError)
    └── verify.SolverMissingError      the proofs need z3, the ``verify`` extra (defined in
                                       difficult_customers.verify, with the proofs)

A bad conversation state raises :class:`StateValidationError`, which *is* a
``pydantic.ValidationError`` (same ``errors()``, field locations and messages), so code that
catches either one keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ._text import MAX_SHOWN, shown, shown_path

__all__ = [
    "ColumnProblem",
    "ConditionError",
    "ConditionSyntaxError",
    "ConditionTypeError",
    "ConversationEndedError",
    "DifficultCustomersError",
    "FrameError",
    "RulebookError",
    "StateValidationError",
    "UnknownFilterValueError",
    "UnknownRuleError",
    "UnsupportedLocaleError",
]

if TYPE_CHECKING:
    from pydantic_core import InitErrorDetails

    from ._columns import ColumnProblem


def __getattr__(name: str) -> Any:
    # ColumnProblem is defined in _columns.py, loaded with the frame and Parquet readers
    # that report it: advise() never does, and the dataclass cost 0.6 ms at import.
    if name == "ColumnProblem":
        from ._columns import ColumnProblem

        return ColumnProblem
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class DifficultCustomersError(Exception):
    """Base class of every error this library raises on purpose."""


class RulebookError(DifficultCustomersError):
    """A rule pack is malformed.

    Attributes:
        message: what is wrong, without the location.
        file: the rule pack's path, when known.
        rule: the id of the offending rule, when known.
        field: the offending key of the rule (``when``, ``sources``...), when known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        rule: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.rule = rule
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        prefix = ", ".join(self._where())
        return f"{prefix}: {self.message}" if prefix else self.message

    def _where(self) -> list[str]:
        where = []
        if self.file is not None:
            where.append(shown_path(self.file))
        # A pack's own strings: a rule id or key of any length may be what is wrong.
        if self.rule is not None:
            where.append(f"rule {shown(self.rule)}")
        if self.field is not None:
            where.append(f"field {shown(self.field)}")
        return where

    def located(
        self, *, file: str | None = None, rule: str | None = None, field: str | None = None
    ) -> RulebookError:
        """Fill in location details the raiser did not know; returns ``self``."""
        self.file = self.file if self.file is not None else file
        self.rule = self.rule if self.rule is not None else rule
        self.field = self.field if self.field is not None else field
        self.args = (str(self),)
        return self


class ConditionError(RulebookError):
    """A precondition is invalid.

    Attributes:
        condition: the condition's source text.
        span: ``(start, end)`` character offsets of the offending part, when known.
        suggestion: the closest valid name, for a misspelled field or value.
    """

    def __init__(
        self,
        message: str,
        *,
        condition: str,
        span: tuple[int, int] | None = None,
        suggestion: str | None = None,
        file: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.condition = condition
        self.span = span
        self.suggestion = suggestion
        super().__init__(message, file=file, rule=rule, field="when")

    def _where(self) -> list[str]:
        # Outside a rule (parse_condition called directly), "field 'when'" would name a key
        # the caller never wrote.
        if self.file is None and self.rule is None:
            return []
        return super()._where()

    def __str__(self) -> str:
        text = super().__str__()
        if self.suggestion is not None:
            text += f" (did you mean {self.suggestion!r}?)"
        if self.span is not None:
            start, end = self.span
            text += f" at {self._position(start)}: {self.condition[start:end]!r}"
        return text

    def _position(self, offset: int) -> str:
        """``column 9``, or ``line 2, column 12`` in a condition written on several lines."""
        before = self.condition[:offset]
        line_start = before.rfind("\n") + 1
        column = f"column {offset - line_start + 1}"
        if not line_start:
            return column
        line = before.count("\n") + 1
        return f"line {line}, {column}"


class ConditionSyntaxError(ConditionError):
    """The condition does not parse, or uses a construct the language does not allow."""


class ConditionTypeError(ConditionError):
    """The condition names an unknown field or compares a field with a value of the wrong type."""


def _long(part: object) -> bool:
    return isinstance(part, str) and len(part) > MAX_SHOWN


def _cut(part: Any) -> Any:
    return f"{part[:40]}... ({len(part):,} characters)" if _long(part) else part


def _needs_cut(errors: list[Any]) -> bool:
    """Whether pydantic's text of these errors would repeat a long key or event type whole."""
    return any(
        any(_long(part) for part in error["loc"])
        or (error["type"] == "union_tag_invalid" and _long(error.get("ctx", {}).get("tag")))
        for error in errors
    )


def _details(errors: list[Any], *, cut: bool) -> list[InitErrorDetails]:
    """The errors as they were made, each long key of a location (and a long unknown event
    type) cut if ``cut``."""
    from pydantic_core import PydanticCustomError

    details: list[InitErrorDetails] = []
    for error in errors:
        # pydantic's own error types are rebuilt from their type and context; a custom one
        # (without a documentation address) from its final message.
        kind: Any = error["type"]
        if "url" not in error:
            kind = PydanticCustomError(kind, error["msg"])
        elif cut and kind == "union_tag_invalid" and _long(error["ctx"]["tag"]):
            tag = error["ctx"]["tag"]
            kind = PydanticCustomError(kind, error["msg"].replace(f"'{tag}'", shown(tag), 1))
        loc = tuple(_cut(part) for part in error["loc"]) if cut else error["loc"]
        detail: InitErrorDetails = {"type": kind, "loc": loc, "input": error["input"]}
        if "ctx" in error and isinstance(kind, str):
            detail["ctx"] = error["ctx"]
        details.append(detail)
    return details


def _short_text(exc: ValidationError) -> str | None:
    """pydantic's text of ``exc`` with each long key of a location cut (``errors()`` keeps
    it whole), or ``None`` when nothing is long."""
    errors = exc.errors()
    if not _needs_cut(errors):
        return None
    return str(ValidationError.from_exception_data(exc.title, _details(errors, cut=True)))


def _short_validation_error(exc: ValidationError) -> ValidationError:
    """``exc``, or the same errors as a ValidationError whose text cuts a long key or event
    type to its start and length (its ``errors()`` are the same)."""
    if isinstance(exc, _ShortLocations):
        return exc
    errors = exc.errors()
    if not _needs_cut(errors):
        return exc
    return _ShortValidationError.from_exception_data(exc.title, _details(errors, cut=False))


class _ShortLocations:
    """The ``str()`` of a ValidationError, with a key of 100,000 characters in a location
    cut to its start and length: pydantic repeats each location whole."""

    def __str__(self) -> str:
        assert isinstance(self, ValidationError)
        text = _short_text(self)
        return ValidationError.__str__(self) if text is None else text

    __repr__ = __str__


class _ShortValidationError(_ShortLocations, ValidationError):
    """A plain ``pydantic.ValidationError`` (an event's) whose text cuts long keys."""


class StateValidationError(_ShortLocations, ValidationError, DifficultCustomersError):
    """A conversation state is invalid: a ``pydantic.ValidationError`` that is also ours.

    ``errors()`` names each wrong field in ``loc`` and says what is allowed; an unknown field
    gets the closest real one as a suggestion. Raised by every way of building a
    :class:`~difficult_customers.ConversationState` (constructor, ``model_validate``,
    ``model_validate_json``, ``model_copy(update=...)``, ``model_construct``) and so by
    ``advise()`` and ``explain()``.

    .. versionadded:: 0.2
    """


class UnsupportedLocaleError(DifficultCustomersError, LookupError):
    """No catalog matches the requested locale.

    Attributes:
        locale: what the caller asked for.
        supported: the locales that are available, sorted.
        language: the language asked for, when the rulebook has a catalog for it that is
            incomplete; ``None`` otherwise.
        missing: for such a language, the ``(rule id, English message)`` pairs it lacks.
    """

    def __init__(
        self,
        locale: object,
        supported: Iterable[str],
        *,
        missing: Iterable[tuple[str, str]] = (),
        language: str | None = None,
    ) -> None:
        self.locale = locale
        self.supported = tuple(sorted(supported))
        self.missing = tuple(missing)
        self.language = language
        super().__init__(str(self))

    def __str__(self) -> str:
        # A padded or hostile string is shown by its start and length, not repeated.
        asked = shown(self.locale)
        text = f"unsupported locale {asked}; supported locales: {', '.join(self.supported)}"
        if self.missing:
            rule_id, message = self.missing[0]
            rules = sorted({rule for rule, _ in self.missing})
            listed = ", ".join(map(repr, rules[:3])) + (", ..." if len(rules) > 3 else "")
            text += (
                f"; {self.language} lacks {len(self.missing)} translation(s) of rule "
                f"message(s), such as {message!r} of rule {rule_id!r} (rules: {listed}); "
                f"see Rulebook.missing({self.language!r})"
            )
        return text


class ConversationEndedError(DifficultCustomersError):
    """An event was applied to a conversation that has ended.

    Attributes:
        event: the refused event.
        allowed: the rules that may still be followed after an ending (what is left to do).
    """

    def __init__(self, event: object, *, allowed: Iterable[str] = ()) -> None:
        self.event = event
        self.allowed = tuple(allowed)
        super().__init__(str(self))

    def __str__(self) -> str:
        kind = getattr(self.event, "type", type(self.event).__name__)
        rule = getattr(self.event, "rule", None)
        what = f"{kind} {shown(rule)}" if rule is not None else str(kind)
        after = (
            "; only these rules may still be followed: " + ", ".join(self.allowed)
            if self.allowed
            else ""
        )
        return f"the conversation has ended: {what} cannot be applied{after}"


class UnknownRuleError(DifficultCustomersError, KeyError):
    """No rule has the requested id.

    Attributes:
        rule_id: the id asked for.
        suggestion: the closest existing id, if any is close.
        field: the state field that named it (``"done"``), or ``None`` when the id was
            asked for directly.

    .. versionchanged:: 0.2 ``field``.
    """

    def __init__(
        self, rule_id: object, *, suggestion: str | None = None, field: str | None = None
    ) -> None:
        self.rule_id = rule_id
        self.suggestion = suggestion
        self.field = field
        super().__init__(rule_id)

    def __str__(self) -> str:
        notes = [f"in the state's field {self.field!r}"] if self.field else []
        if self.suggestion:
            notes.append(f"did you mean {self.suggestion!r}?")
        said = f" ({'; '.join(notes)})" if notes else ""
        return f"no rule with id {shown(self.rule_id)}{said}"


class UnknownFilterValueError(DifficultCustomersError, ValueError):
    """A rule filter was given a value no rule could match: a misspelled tag, field or seed.

    Attributes:
        criterion: what was filtered on: "kind", "phase", "tag", "field" or "document".
        value: the value given.
        known: the values that exist, in order.
        suggestion: the closest known value, if any is close.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        criterion: str,
        value: object,
        known: Iterable[str],
        *,
        suggestion: str | None = None,
    ) -> None:
        self.criterion = criterion
        self.value = value
        self.known = tuple(known)
        self.suggestion = suggestion
        super().__init__(str(self))

    def __str__(self) -> str:
        hint = f" (did you mean {self.suggestion!r}?)" if self.suggestion else ""
        expected = ", ".join(self.known) or "none in this rulebook"
        return f"unknown {self.criterion} {shown(self.value)}{hint}; expected one of: {expected}"


class FrameError(DifficultCustomersError, ValueError):
    """A frame of states holds values that are not valid states; nothing was coerced.

    Attributes:
        problems: every column that breaks a rule, in column order.
        source: the file the states were read from (a Parquet file), or ``None`` for a
            frame passed in.

    .. versionchanged:: 0.2 ``source``.
    """

    def __init__(self, problems: Iterable[ColumnProblem], *, source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = "the frame" if self.source is None else shown_path(self.source)
        return f"invalid states in {where}: " + "; ".join(map(str, self.problems))
