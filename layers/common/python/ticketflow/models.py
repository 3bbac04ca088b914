"""The ticket and everything recorded about it, as pydantic models.

A ticket is the 5W1H record of one customer request: who (customer), through which channel,
when, what (subject, description, order, attachments), what they want (desired resolution),
and how it is being handled (status, team, assignee, timestamps). Its history is an
append-only list of entries: who did what, when, and why.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ticketflow.clock import Timestamp
from ticketflow.sla import SlaState


class Status(StrEnum):
    NEW = "new"
    CLASSIFIED = "classified"  # 待分派: classified, waiting for an agent
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"  # 处理中
    PENDING_CUSTOMER = "pending_customer"
    RESOLVED = "resolved"  # 已解决
    CLOSED = "closed"  # 归档


OPEN_STATUSES = frozenset({Status.NEW, Status.CLASSIFIED, Status.ASSIGNED, Status.IN_PROGRESS, Status.PENDING_CUSTOMER})


class Channel(StrEnum):
    WEB = "web"
    CHAT = "chat"
    EMAIL = "email"
    APP = "app"
    PHONE = "phone"
    SMS = "sms"
    SOCIAL = "social"
    API = "api"


class Tier(StrEnum):
    STANDARD = "standard"
    VIP = "vip"


class CloseReason(StrEnum):
    RESOLVED = "resolved"
    CUSTOMER_CAUSE = "customer_cause"  # the customer withdrew, or the cause was on their side
    DUPLICATE = "duplicate"


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$"
_PHONE = r"^\+?[0-9][0-9 ()-]{4,19}$"


class _Input(BaseModel):
    # Unknown fields are an error that names them: a typo never silently drops data.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Customer(_Input):
    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    email: Annotated[str, StringConstraints(max_length=254, pattern=_EMAIL)] | None = None
    phone: Annotated[str, StringConstraints(pattern=_PHONE)] | None = None
    tier: Tier = Tier.STANDARD


class Attachment(_Input):
    """A reference to a file the channel stored (we never take file bytes in the API)."""

    url: Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=r"^(https://|s3://)")]
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    content_type: Annotated[str, StringConstraints(max_length=127)] | None = None
    size_bytes: Annotated[int, Field(ge=0)] | None = None


class NewTicket(_Input):
    """What a channel posts to POST /tickets."""

    channel: Channel
    customer: Customer
    subject: Annotated[str, StringConstraints(max_length=200)] | None = None
    description: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    order_number: Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] | None = None
    desired_resolution: Annotated[str, StringConstraints(max_length=2_000)] | None = None
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] | None = None
    occurred_at: Timestamp | None = Field(default=None, description="When the problem happened, if known.")
    attachments: Annotated[list[Attachment], Field(max_length=10)] = Field(default_factory=list)
    # A key becomes a name in a DynamoDB map, and DynamoDB refuses an empty one ("Empty attribute
    # name"; moto instead stores a broken item that no read can parse): found by the fuzzer.
    metadata: Annotated[
        dict[
            Annotated[str, StringConstraints(min_length=1, max_length=128)],
            Annotated[str, StringConstraints(max_length=500)],
        ],
        Field(max_length=20),
    ] = Field(default_factory=dict, description="Free channel data (e.g. page URL, app version).")


class AutoReply(BaseModel):
    """A knowledge-base answer decided at classification; ``state`` makes sending happen once."""

    article: str
    score: float
    state: str = "pending"  # pending -> sent | undeliverable
    channel: str | None = None
    sent_at: Timestamp | None = None


class SurveyState(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its due time (close + delay)
    SENDING = "sending"  # claimed by a dispatcher; sent or retried next
    SENT = "sent"
    ANSWERED = "answered"
    SKIPPED = "skipped"  # the survey rules did not select it (reason says which rule)
    CANCELLED = "cancelled"  # reopened before it went out
    UNDELIVERABLE = "undeliverable"


class Survey(BaseModel):
    """The ticket's satisfaction survey: when and why it goes out, how, for whom, and the answer.

    Who handled the ticket is recorded when the survey is sent, so a later reassignment does
    not move the rating to someone else."""

    state: SurveyState
    trigger: str = "close"  # close | manual
    reason: str | None = None  # why it was scheduled by hand, or why it was skipped
    due_at: Timestamp
    redriven_at: Timestamp | None = None
    sent_at: Timestamp | None = None
    channel: str | None = None
    recipient: str | None = Field(default=None, description="Masked: never the full address or number.")
    agent: str | None = None
    team: str | None = None
    expires_at: Timestamp | None = None
    answered_at: Timestamp | None = None
    scores: dict[str, int] | None = Field(
        default=None,
        description="attitude, speed, resolution, overall: 1-5 (服务态度, 响应速度, 问题解决效果, 整体满意度)",
    )
    nps: int | None = None
    comment: str | None = None
    recovery: str | None = Field(default=None, description="pending | opened: the follow-up of a low score.")
    recovery_ticket: str | None = None


class Ticket(BaseModel):
    id: str
    number: str
    status: Status
    version: int
    channel: Channel
    customer: Customer
    subject: str | None = None
    description: str
    order_number: str | None = None
    desired_resolution: str | None = None
    language: str | None = None
    occurred_at: Timestamp | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: Timestamp
    updated_at: Timestamp
    source_key_id: str | None = Field(default=None, description="The channel API key that created it.")
    team: str | None = None
    assignee: str | None = None
    category: str | None = None
    subcategory: str | None = None
    priority: str | None = None
    confidence: float | None = Field(default=None, description="How sure the classifier was (0-1).")
    tags: list[str] = Field(default_factory=list)
    collaborators: list[str] = Field(default_factory=list, description="Departments to involve (需协同部门).")
    auto_reply: AutoReply | None = None
    notices: dict[str, str] = Field(default_factory=dict, description="Notices sent once: name -> pending|sent.")
    sla: SlaState | None = Field(default=None, description="SLA clocks: policy, targets, due times (GET …/sla).")
    survey: Survey | None = None
    escalated: bool = False
    redriven_at: Timestamp | None = None
    assigned_at: Timestamp | None = None
    first_response_at: Timestamp | None = None
    resolution: str | None = None
    resolved_at: Timestamp | None = None
    closed_at: Timestamp | None = None
    close_reason: CloseReason | None = None
    expected_by: Timestamp | None = None
    reopen_count: int = 0
    transfer_count: int = 0
    reply_count: int = 0
    working_since: Timestamp | None = Field(default=None, description="When it last went in progress.")
    handle_seconds: int = Field(
        default=0, description="Handle time: seconds in progress with an agent (not waiting on the customer)."
    )
    first_contact_resolution: bool | None = Field(
        default=None,
        description="Resolved at first contact (一次解决): decided at the first resolution, "
        "withdrawn by a reopen within the window (GET /reports/definitions).",
    )
    erased_at: Timestamp | None = Field(
        default=None,
        description="When an admin erased the customer's personal data (POST /admin/tickets/{id}/erase): "
        'personal values read "[erased]" (or are empty), and nothing more can be done to the ticket.',
    )


class ActorKind(StrEnum):
    CHANNEL = "channel"
    PERSON = "person"
    SYSTEM = "system"
    CUSTOMER = "customer"  # answering a survey


class ActorRef(BaseModel):
    kind: ActorKind
    id: str
    role: str | None = None


class HistoryEntry(BaseModel):
    """One line of the append-only audit trail under the ticket."""

    at: Timestamp
    version: int  # the ticket version this entry produced; orders entries and makes them unique
    action: str
    actor: ActorRef
    from_status: Status | None = None
    to_status: Status
    body: str | None = None
    reason: str | None = None
    changes: dict[str, Any] = Field(default_factory=dict)  # field -> [before, after]
    delivery: dict[str, Any] | None = Field(
        default=None, description="For a reply: how it reached the customer (state, channel, masked recipient)."
    )


class TicketWithHistory(Ticket):
    history: list[HistoryEntry]


class TicketPage(BaseModel):
    items: list[Ticket]
    next_cursor: str | None = None
