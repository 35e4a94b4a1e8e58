"""The conversation state: what an agent-assist tool knows about the exchange right now."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

__all__ = [
    "Channel",
    "ComplaintValidity",
    "ConversationState",
    "CustomerValue",
    "Mood",
]


class Channel(StrEnum):
    """Where the exchange happens."""

    PHONE = "phone"
    IN_PERSON = "in_person"
    EMAIL = "email"
    CHAT = "chat"
    SOCIAL_MEDIA = "social_media"


class Mood(StrEnum):
    """The customer's temper now, from mildest to worst.

    The order is part of the contract: conditions may write ``mood >= "angry"``.
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


class CustomerValue(StrEnum):
    """What the account is worth to the business, from least to most.

    Ordered like :class:`Mood`, so ``customer_value >= "normal"`` is allowed in conditions.
    """

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


#: The largest count a state holds; a conversation with more insults than this is not one.
MAX_COUNT = 10_000

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
        # The schema is published (``difficult-customers schema``): a plain description
        # rather than the docstring with its doctest and Sphinx markup.
        json_schema_extra={
            "description": "The state of a conversation with a customer, as advise() reads it."
        },
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
        "The counts above are cumulative and cannot tell old abuse from new. Default: false.",
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
    def _abuse_after_a_warning_needs_a_warning(self) -> ConversationState:
        if self.abuse_after_warning and self.warnings_given == 0:
            raise ValueError(
                "abuse_after_warning is true but warnings_given is 0: "
                "record the warning first (warnings_given >= 1)"
            )
        return self
