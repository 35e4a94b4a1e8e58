"""The conversation state: what an agent-assist tool knows about the exchange right now."""

# Annotations are not postponed (no ``from __future__ import annotations``) in the modules
# that define models: pydantic would compile and evaluate each field's annotation string,
# which doubles what defining a model costs at import.

import warnings
from collections.abc import Mapping
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from ._text import close_matches
from .errors import StateValidationError

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "MAX_COUNT",
    "MAX_NUMBER_DIGITS",
    "MAX_SUGGESTIONS",
    "STATE_SCHEMA_ID",
    "Channel",
    "ComplaintValidity",
    "ConversationState",
    "CustomerValue",
    "Mood",
    "loads_state",
]

#: The largest count a state holds; a conversation with more insults than this is not one.
MAX_COUNT = 10_000
#: Most digits a number in state JSON may have before it is refused without being converted:
#: Python refuses to convert more than 4,300 digits anyway, and says so without naming the field.
MAX_NUMBER_DIGITS = 100
#: Most unknown fields of one state that get a "did you mean" suggestion; the others are
#: reported without one. Each is a difflib search, and a state may hold thousands of keys.
MAX_SUGGESTIONS = 16
#: The ``$id`` of the published state schema; a state file may name it in ``"$schema"``.
STATE_SCHEMA_ID = "urn:difficult-customers:conversation-state"
#: The JSON Schema dialect the published state schema is written in.
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _RankedEnum(StrEnum):
    """A string enum whose declaration order is a rank, from lowest to highest.

    Members compare by rank (``<``, ``<=``, ``>``, ``>=``, so ``sorted`` and ``max`` too),
    against members of the same enum or against strings that are one of its values;
    ordering against any other string or another enum raises ``TypeError``, because an
    alphabetical answer would be silently wrong. Equality and hashing stay those of ``str``:
    ``Mood.ANGRY == "angry"``, and JSON gets the plain value.
    """

    @property
    def rank(self) -> int:
        """Position in the declaration order, 0 for the lowest."""
        return type(self)._member_names_.index(self._name_)

    def _rank_of(self, other: object) -> int | None:
        cls = type(self)
        if isinstance(other, cls):
            return other.rank
        if isinstance(other, Enum):
            raise TypeError(f"cannot order {cls.__name__} against {type(other).__name__}")
        if isinstance(other, str):
            try:
                return cls(other).rank
            except ValueError:
                allowed = ", ".join(repr(member.value) for member in cls)
                raise TypeError(
                    f"cannot order {cls.__name__} against {other!r}: not one of {allowed}"
                ) from None
        return None

    # Python tries these first even for ``"calm" < Mood.ANGRY``: the right operand's type is
    # a subclass of the left's, so its reflected method takes precedence over str's.
    def __lt__(self, other: object) -> bool:
        rank = self._rank_of(other)
        return NotImplemented if rank is None else self.rank < rank

    def __le__(self, other: object) -> bool:
        rank = self._rank_of(other)
        return NotImplemented if rank is None else self.rank <= rank

    def __gt__(self, other: object) -> bool:
        rank = self._rank_of(other)
        return NotImplemented if rank is None else self.rank > rank

    def __ge__(self, other: object) -> bool:
        rank = self._rank_of(other)
        return NotImplemented if rank is None else self.rank >= rank


class Channel(StrEnum):
    """Where the exchange happens."""

    PHONE = "phone"
    IN_PERSON = "in_person"
    EMAIL = "email"
    CHAT = "chat"
    SOCIAL_MEDIA = "social_media"


class Mood(_RankedEnum):
    """The customer's temper now, from mildest to worst.

    The order is part of the contract: conditions may write ``mood >= "angry"``, and in
    Python ``Mood.ANGRY > Mood.UPSET``, ``max(moods)`` and ``sorted(moods)`` follow it.
    """

    CALM = "calm"
    UPSET = "upset"
    ANGRY = "angry"
    FURIOUS = "furious"


class ComplaintValidity(StrEnum):
    """Whether the complaint is founded, as far as the agent knows."""

    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"


class CustomerValue(_RankedEnum):
    """What the account is worth to the business, from least to most.

    Ordered like :class:`Mood`, so ``customer_value >= "normal"`` is allowed in conditions
    and ``CustomerValue.HIGH > CustomerValue.NORMAL`` in Python.
    """

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


NonNegativeCount = Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)]
StrictBool = Annotated[bool, Field(strict=True)]

#: Most rule ids :attr:`ConversationState.done` may hold; a rulebook has far fewer rules.
MAX_DONE = 500

_RuleId = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=64)
]


def _as_set(ids: tuple[str, ...]) -> tuple[str, ...]:
    # Memory is a set: the order the steps were taken in is the event log's business, and
    # one spelling per set keeps equal states equal (and their JSON identical).
    return tuple(sorted(set(ids)))


DoneIds = Annotated[tuple[_RuleId, ...], Field(max_length=MAX_DONE), AfterValidator(_as_set)]


class ConversationState(BaseModel):
    """Everything :func:`~difficult_customers.advise` looks at, at one moment of a conversation.

    The defaults describe an ordinary upset customer on the phone, with a complaint nobody
    has judged yet and nothing abusive said, so ``ConversationState()`` is a sensible start
    and a caller only sets what differs.

    >>> ConversationState(channel="email", mood="angry").mood
    <Mood.ANGRY: 'angry'>

    Counts and booleans are strict: ``"2"`` or ``1`` for a boolean are rejected rather than
    guessed at, since a wrong guess here changes the advice silently.

    .. versionadded:: 0.1
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_default=False,
        json_schema_extra=lambda schema: _publish(schema),
    )

    channel: Channel = Field(
        default=Channel.PHONE,
        description="Where the exchange happens. Default: phone, the seeds' most common case.",
    )
    mood: Mood = Field(
        default=Mood.UPSET,
        description="The customer's temper now. Default: upset, i.e. a complaint, not a rant.",
    )
    customer_speaking: StrictBool = Field(
        default=False,
        description="The customer is mid-speech or mid-rant. Default: false (it is the "
        "agent's turn).",
    )
    customer_interrupts: StrictBool = Field(
        default=False,
        description="The customer keeps cutting the agent off. Default: false.",
    )
    offensive_remarks: NonNegativeCount = Field(
        default=0,
        description="Insults or vulgar remarks so far in this conversation. Default: 0.",
    )
    personal_attacks: StrictBool = Field(
        default=False,
        description="The customer has attacked the agent as a person. Default: false.",
    )
    threats: StrictBool = Field(
        default=False,
        description="The customer has threatened the agent or the business. Default: false.",
    )
    warnings_given: NonNegativeCount = Field(
        default=0,
        description="Warnings about the customer's behaviour the agent has already issued. "
        "Default: 0.",
    )
    abuse_after_warning: StrictBool = Field(
        default=False,
        description="The customer has insulted or threatened again since the last warning. "
        "The counts above are cumulative and cannot tell old abuse from new. True only with "
        "warnings_given >= 1 and some abuse recorded (offensive_remarks >= 1, "
        "personal_attacks or threats). Default: false.",
    )
    complaint_validity: ComplaintValidity = Field(
        default=ComplaintValidity.UNKNOWN,
        description="Whether the complaint is founded. Default: unknown (not yet judged).",
    )
    covered_by_contract: StrictBool = Field(
        default=False,
        description="A contract clause or written policy governs the issue. Default: false.",
    )
    request_within_policy: StrictBool = Field(
        default=True,
        description="What the customer asks for is something the business offers. Default: true.",
    )
    agent_knows_resolution: StrictBool = Field(
        default=True,
        description="The agent knows how to resolve the complaint. Default: true.",
    )
    agent_can_handle: StrictBool = Field(
        default=True,
        description="The agent can still handle this customer effectively. Default: true.",
    )
    solution_available: StrictBool = Field(
        default=True,
        description="A fix that serves both sides exists. Default: true.",
    )
    resolved: StrictBool = Field(
        default=False,
        description="The problem has been solved. Default: false.",
    )
    discussion_stalled: StrictBool = Field(
        default=False,
        description="The discussion is going nowhere. Default: false.",
    )
    customer_value: CustomerValue = Field(
        default=CustomerValue.NORMAL,
        description="What the account is worth to the business. Default: normal.",
    )
    effort_exceeds_value: StrictBool = Field(
        default=False,
        description="The account costs more effort than it brings. Default: false.",
    )
    unsatisfiable: StrictBool = Field(
        default=False,
        description="Every reasonable effort has failed to satisfy the customer. Default: false.",
    )
    agent_upset: StrictBool = Field(
        default=False,
        description="The agent feels provoked or rattled. Default: false.",
    )
    position_stated: StrictBool = Field(
        default=False,
        description="The agent has stated a final position and the way to appeal (004, "
        "'Énoncez votre position'). Default: false.",
    )
    agent_replied: StrictBool = Field(
        default=False,
        description="The agent has already said or done something since the customer last "
        "spoke: the moment for a silent pause has passed. Default: false.",
    )
    done: DoneIds = Field(
        default=(),
        description="Ids of the rules the agent has already carried out in this conversation, "
        "sorted. A rule listed here is not advised again unless the rule repeats. "
        "Default: none.",
    )
    ended: StrictBool = Field(
        default=False,
        description="The conversation is over: a rule that ends it has been carried out. Only "
        "what is left to do after an ending is advised. Default: false.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # conversation.fold relies on consistent() below for its fast path: a new cross-field
        # rule belongs in both.
        if self.abuse_after_warning:
            missing = []
            if self.warnings_given == 0:
                missing.append("no warning is recorded (warnings_given is 0)")
            if not (self.offensive_remarks or self.personal_attacks or self.threats):
                missing.append(
                    "no abuse is recorded (offensive_remarks is 0, personal_attacks and "
                    "threats are false)"
                )
            if missing:
                raise _error(
                    "abuse_after_warning",
                    "state_contradiction",
                    "abuse_after_warning is true but "
                    + " and ".join(missing)
                    + ": it needs warnings_given >= 1 and offensive_remarks >= 1, "
                    "personal_attacks or threats",
                    True,
                )
        return self

    @staticmethod
    def _is_consistent(values: Mapping[str, Any]) -> bool:
        """Internal: whether field values that are each valid also agree with each other."""
        abuse = values["offensive_remarks"] or values["personal_attacks"] or values["threats"]
        return not values["abuse_after_warning"] or (values["warnings_given"] >= 1 and bool(abuse))

    # Every way of making a state validates it, and a bad state raises StateValidationError
    # (a pydantic ValidationError that is also a DifficultCustomersError), so that no
    # unvalidated state can reach advise().

    if not TYPE_CHECKING:  # keeps the pydantic mypy plugin's typed __init__ for callers

        def __init__(self, /, **data: Any) -> None:
            try:
                super().__init__(**data)
                return
            except ValidationError as exc:
                retry = _retry(data, exc)
            try:
                super().__init__(**retry)
            except ValidationError as exc:
                raise _state_error(exc) from None

        # Marked as pydantic's own __init__ (as RootModel's is): otherwise pydantic routes
        # every model_validate() through it as keyword arguments, which is slower and fails
        # with a TypeError, not a validation error, on a mapping with non-string keys.
        __init__.__pydantic_base_init__ = True

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The JSON Schema of a state, with ``$schema`` and ``$id`` first.

        The cross-field rule on ``abuse_after_warning`` is expressed in its ``allOf``, so a
        document the schema accepts is a state the validator accepts.

        .. versionchanged:: 0.2 ``$schema``, ``$id``, the ``"$schema"`` key of state files
           and the cross-field rule.
        """
        schema = super().model_json_schema(*args, **kwargs)
        return {"$schema": JSON_SCHEMA_DIALECT, "$id": STATE_SCHEMA_ID, **schema}

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """Validate a mapping (or a state) into a state.

        Raises:
            StateValidationError: naming each wrong field and what is allowed.
        """
        try:
            return super().model_validate(obj, **options)
        except ValidationError as exc:
            retry = _retry(obj, exc)
        try:
            return super().model_validate(retry, **options)
        except ValidationError as exc:
            raise _state_error(exc) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        """Validate a JSON document into a state.

        Raises:
            StateValidationError: naming each wrong field and what is allowed; a number
                too long to convert is reported at its field too.
        """
        try:
            return super().model_validate_json(json_data, **options)
        except ValidationError as exc:
            # Read again with the standard parser, which keeps a number pydantic's parser
            # rejects without naming its field (and a "$schema" key) for model_validate.
            try:
                data = loads_state(json_data)
            except (ValueError, RecursionError):
                raise _state_error(exc) from None
        return cls.model_validate(data, **options)

    @classmethod
    def model_validate_strings(cls, obj: Any, **options: Any) -> Self:
        """Validate string values (as from a form) into a state."""
        try:
            return super().model_validate_strings(obj, **options)
        except ValidationError as exc:
            raise _state_error(exc) from None

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied, validated like a new state.

        pydantic's own ``model_copy`` skips validation, which would let ``{"mood": "livid"}``
        into the engine; all fields are immutable, so ``deep`` changes nothing.

        Raises:
            StateValidationError: the update makes the state invalid.

        .. versionchanged:: 0.2 validates the update.
        """
        if not update:
            return self
        return self.model_validate({**self.__dict__, **update})

    def copy(
        self,
        *,
        include: Any = None,
        exclude: Any = None,
        update: Mapping[str, Any] | None = None,
        deep: bool = False,
    ) -> Self:
        """Deprecated pydantic v1 spelling of :meth:`model_copy`; validates the same way.

        Raises:
            TypeError: ``include`` or ``exclude`` is given; a state always has every field.
        """
        warnings.warn(
            "ConversationState.copy is deprecated; use model_copy", DeprecationWarning, 2
        )
        if include is not None or exclude is not None:
            raise TypeError("a state has every field: copy(include=, exclude=) is not supported")
        return self.model_copy(update=update)

    if not TYPE_CHECKING:  # the plugin types model_construct from the fields, as __init__

        @classmethod
        def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:
            """Validates like the constructor: a state is never built from unchecked values.

            .. versionchanged:: 0.2 validates.
            """
            return cls.model_validate(values)

    @classmethod
    def _trusted(cls, values: dict[str, Any], fields_set: set[str] | None = None) -> Self:
        """Internal: a state from values derived from a validated state, without validating.

        For library code only (such as folding an event into a state), where ``values``
        holds every field, each already of its field's type, and the cross-field rules are
        known to hold; anything from a caller goes through :meth:`model_validate`.
        ``values`` becomes the state's own ``__dict__``: pass a dict nobody else holds.

        Builds what pydantic's ``model_construct`` does (the same four slots), without its
        Python loop over the fields and their defaults: a conversation turn builds one
        state, and should cost about what its advice does. Every field is set, so the
        states built here share one set of every field name rather than copying it (a
        tenth of a turn): pydantic only ever adds names to a model's set, and never to a
        frozen model's, and its copies (``copy``, ``deepcopy``, pickling) get their own.
        ``fields_set``, if given, is the state's set of fields given instead (its own).
        """
        state = _new(cls)
        # Through pydantic's slot descriptors, which object.__setattr__ would look up by
        # name each time.
        _set_dict(state, values)
        _set_fields_set(state, _EVERY_FIELD if fields_set is None else fields_set)
        _set_extra(state, None)
        _set_private(state, None)
        return state


_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_EVERY_FIELD: set[str] = set(ConversationState.model_fields)  # shared: see _trusted


def _retry(data: object, exc: ValidationError) -> Mapping[Any, Any]:
    """What to validate again after ``exc``, or raise ``exc`` as a StateValidationError.

    Handled here rather than in a before-validator, so that valid states (nearly all of
    them) pay nothing: a state file may say which schema it follows in a top-level
    ``"$schema"`` string, as editors expect, which is no field; and a key that is not valid
    Unicode (a lone surrogate from JSON ``"\\ud800"``) makes pydantic report an error without
    a location, so it is validated again under its escaped spelling, which is no field either.
    """
    if isinstance(data, Mapping):
        odd = {key for key in data if isinstance(key, str) and not _is_text(key)}
        if "$schema" in data or odd:
            schema = data.get("$schema", "")
            if not isinstance(schema, str):
                raise _state_error(
                    _error("$schema", "schema_type", "$schema must be a string (a URI)", schema)
                )
            return {
                (_escaped(key) if key in odd else key): value
                for key, value in data.items()
                if key != "$schema"
            }
    raise _state_error(exc) from None


def _is_text(key: str) -> bool:
    if key.isascii():
        return True
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _escaped(key: str) -> str:
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _error(field: str, kind: str, message: str, value: object) -> ValidationError:
    """A validation error located at ``field`` (a plain ValueError would be at the model)."""
    return ValidationError.from_exception_data(
        "ConversationState",
        [{"type": PydanticCustomError(kind, message), "loc": (field,), "input": value}],
    )


class _LongNumber:
    """An integer from JSON with too many digits to convert safely; only its length is kept."""

    __slots__ = ("digits",)

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))

    def __repr__(self) -> str:
        return f"<number of {self.digits} digits>"


def _parse_int(text: str) -> int | _LongNumber:
    if len(text) > MAX_NUMBER_DIGITS + 1:  # + 1 for a minus sign
        return _LongNumber(text)
    return int(text)


def loads_state(text: str | bytes | bytearray) -> Any:
    """Parse state JSON like :func:`json.loads`, but keep a number too long to convert as a
    marker that validation then reports at its field, rather than failing on the document.

    Raises:
        json.JSONDecodeError: the text is not JSON.
        RecursionError: the document is nested too deeply.

    .. versionadded:: 0.2
    """
    import json  # here: advise() on a dict or a model never parses JSON

    return json.loads(text, parse_int=_parse_int)


_NO_SUCH_FIELD = "Extra inputs are not permitted: no such field"


def _state_error(exc: ValidationError) -> StateValidationError:
    """The same errors as a :class:`StateValidationError`, with what pydantic leaves out."""
    if isinstance(exc, StateValidationError):
        return exc
    details: list[InitErrorDetails] = []
    suggestions = MAX_SUGGESTIONS
    unknown = PydanticCustomError("extra_forbidden", _NO_SUCH_FIELD)  # shared by the rest
    for error in exc.errors():
        loc = error["loc"]
        if error["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            kind: Any = unknown
            if suggestions:
                suggestions -= 1
                close = close_matches(loc[-1], ConversationState.model_fields, n=1)
                if close:
                    message = f"{_NO_SUCH_FIELD} (did you mean {close[0]!r}?)"
                    kind = PydanticCustomError("extra_forbidden", message)
        elif isinstance(error["input"], _LongNumber):
            kind = PydanticCustomError(
                "number_too_long",
                f"a number of {error['input'].digits} digits is out of range"
                + _expected(str(loc[0]) if loc else ""),
            )
        elif "url" in error:  # one of pydantic's own error types, rebuilt as it was
            kind = error["type"]
        else:  # a custom error: its message is final
            kind = PydanticCustomError(error["type"], error["msg"])
        detail: InitErrorDetails = {"type": kind, "loc": loc, "input": error["input"]}
        if "ctx" in error and isinstance(kind, str):
            detail["ctx"] = error["ctx"]
        details.append(detail)
    return StateValidationError.from_exception_data(exc.title, details)


def _expected(name: str) -> str:
    field = ConversationState.model_fields.get(name)
    annotation = field.annotation if field is not None else None
    if annotation is int:
        return f": expected a count from 0 to {MAX_COUNT}"
    if annotation is bool:
        return ": expected true or false"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return ": expected one of " + ", ".join(repr(member.value) for member in annotation)
    return ""


def _publish(schema: dict[str, Any]) -> None:
    """The published JSON Schema's description and cross-field rule (see model_json_schema)."""
    schema["description"] = (
        "The state of a conversation with a customer, as advise() reads it. "
        "abuse_after_warning may be true only with warnings_given >= 1 and some abuse "
        "recorded (offensive_remarks >= 1, personal_attacks or threats), as the allOf "
        "below says. A state file may name this schema in a top-level $schema key."
    )
    schema["properties"] = {
        "$schema": {"type": "string", "description": "The schema the file follows; ignored."},
        **schema["properties"],
    }
    schema["allOf"] = [
        {
            "if": {
                "properties": {"abuse_after_warning": {"const": True}},
                "required": ["abuse_after_warning"],
            },
            "then": {
                "properties": {"warnings_given": {"minimum": 1}},
                "required": ["warnings_given"],
                "anyOf": [
                    {
                        "properties": {"offensive_remarks": {"minimum": 1}},
                        "required": ["offensive_remarks"],
                    },
                    {
                        "properties": {"personal_attacks": {"const": True}},
                        "required": ["personal_attacks"],
                    },
                    {"properties": {"threats": {"const": True}}, "required": ["threats"]},
                ],
            },
        }
    ]
