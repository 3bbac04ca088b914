"""The wiring of ticketflow, declared once.

Which functions exist, which HTTP route, queue or schedule triggers each, and which queues
each one feeds. Both the CDK stack (``infra/stack.py``) and the local runner
(``infra/local``) read this module, so the deployed system and ``ticketflow dev`` cannot
disagree. Plain data: importing it costs nothing and pulls in neither CDK nor boto3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
LAYER_DIR = ROOT / "layers" / "common"

# How a route authenticates its caller.
#   channel: a channel's API key in `x-api-key` (API Gateway API keys + usage plan)
#   person:  a Cognito JWT in `Authorization: Bearer`, groups agent | supervisor | admin
#   public:  no credential (the OpenAPI document, the survey page: its link is the credential)
Auth = Literal["channel", "person", "public"]

# Environment variable names the functions read; the stack and the local runner set them.
TABLE_ENV = "TICKETFLOW_TABLE_NAME"
# The API's public base URL, for links in messages (survey links): the stage URL on AWS.
PUBLIC_BASE_URL_ENV = "TICKETFLOW_PUBLIC_BASE_URL"


def queue_url_env(queue: str) -> str:
    """Name of the variable holding a queue's URL, e.g. TICKETFLOW_QUEUE_CLASSIFY_URL."""
    return f"TICKETFLOW_QUEUE_{queue.upper()}_URL"


@dataclass(frozen=True)
class Queue:
    name: str
    description: str
    visibility_timeout_s: int = 180  # AWS advises 6 × the consumer's timeout
    max_receive_count: int = 5  # deliveries before a message moves to the dead-letter queue
    delay_s: int = 0
    batch_size: int = 10

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"


@dataclass(frozen=True)
class Route:
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str  # API Gateway resource path, e.g. /tickets/{id}/accept
    auth: Auth


@dataclass(frozen=True)
class Schedule:
    name: str
    rate_minutes: int
    description: str


@dataclass(frozen=True)
class Function:
    name: str  # code in functions/<name>/handler.py, entry point `handler`
    description: str
    routes: tuple[Route, ...] = ()
    consumes: str | None = None  # queue name
    schedule: Schedule | None = None
    sends_to: tuple[str, ...] = ()  # queues it enqueues into
    table_access: Literal["read", "read_write"] = "read_write"
    # Outbound AWS services beyond the table and queues: "ses" (email), "sns" (SMS), "events".
    uses: tuple[Literal["ses", "sns", "events"], ...] = ()
    needs_public_url: bool = False  # gets PUBLIC_BASE_URL_ENV (links in messages)
    memory_mb: int = 512
    timeout_s: int = 10
    env: dict[str, str] = field(default_factory=dict)

    @property
    def code_dir(self) -> Path:
        return FUNCTIONS_DIR / self.name


QUEUES: tuple[Queue, ...] = (
    Queue("classify", "New tickets: classify, answer from the knowledge base, route to a team."),
    Queue("assign", "Tickets waiting in a team queue, and capacity freed in a team: pick agents."),
    Queue("outbound", "People's replies to deliver to the customer by email, SMS or callback."),
    Queue("survey", "Satisfaction surveys falling due (SQS-delayed from the close), to send once."),
    # One message per slice of a what-if replay; a slice re-enqueues the next, so a large range
    # never outlives one invocation. Replays are pure: a retry recomputes the same slice.
    Queue(
        "simulate",
        "What-if replays: the next slice of stored tickets to replay under a proposal.",
        visibility_timeout_s=540,
        max_receive_count=3,
        batch_size=1,
    ),
)

_CONFIG_KIND = "/admin/config/{kind}"

_TICKET_ACTIONS = (
    "accept",
    "reply",
    "comments",
    "transfer",
    "assign",
    "pending",
    "resume",
    "resolve",
    "close",
    "reopen",
    "survey",
)

FUNCTIONS: tuple[Function, ...] = (
    Function(
        name="intake",
        description="POST /tickets: validate a channel's message, store it as a numbered ticket, enqueue it.",
        routes=(Route("POST", "/tickets", "channel"),),
        sends_to=("classify",),
    ),
    Function(
        name="agent_api",
        description="The people-facing ticket API: read, list and act on tickets; the OpenAPI document.",
        routes=(
            Route("GET", "/openapi.json", "public"),
            Route("GET", "/tickets", "person"),
            Route("GET", "/tickets/{id}", "person"),
            Route("GET", "/tickets/{id}/sla", "person"),
            *(Route("POST", f"/tickets/{{id}}/{action}", "person") for action in _TICKET_ACTIONS),
            Route("GET", "/agents", "person"),
            Route("PUT", "/agents/{id}", "person"),
            Route("PUT", "/agents/{id}/availability", "person"),
        ),
        sends_to=("assign", "outbound", "survey"),
    ),
    Function(
        name="classify",
        description="Classify new tickets, auto-reply from the knowledge base, route them to a team.",
        consumes="classify",
        sends_to=("assign",),
        uses=("ses", "sns", "events"),
        timeout_s=30,
    ),
    Function(
        name="assign",
        description="Give waiting tickets to the best agent with room: skills, seniority, load, round robin.",
        consumes="assign",
        timeout_s=30,
    ),
    Function(
        name="sweep",
        description="Every minute: team queues to agents with room, SLA warnings and escalations, the owner "
        "timer, re-drive of forgotten tickets, replies and surveys, recovery tickets owed.",
        schedule=Schedule("sla-sweep", 1, "The SLA sweep over the sparse by_due index."),
        sends_to=("classify", "assign", "outbound", "survey"),
        uses=("ses", "sns", "events"),
        timeout_s=60,
    ),
    Function(
        name="deliver",
        description="Deliver people's replies to the customer on the ticket's channel, once.",
        consumes="outbound",
        uses=("ses", "sns"),
        timeout_s=30,
    ),
    Function(
        name="survey_dispatch",
        description="Send each due satisfaction survey once, by email, SMS or the channel's callback.",
        consumes="survey",
        uses=("ses", "sns"),
        needs_public_url=True,
        timeout_s=30,
    ),
    Function(
        name="survey_api",
        description="The public survey page: show the form, store the answer once, open recovery tickets.",
        routes=(Route("GET", "/surveys/{token}", "public"), Route("POST", "/surveys/{token}", "public")),
        sends_to=("assign",),
        uses=("ses",),
    ),
    Function(
        name="reports_api",
        description="KPI reports for supervisors (JSON, CSV) from the daily counters, and the dashboard page.",
        routes=(
            *(
                Route("GET", f"/reports/{report}", "person")
                for report in ("summary", "timeseries", "agents", "surveys", "definitions")
            ),
            # The page and its script hold no data: every figure comes from /reports/* with the
            # supervisor's token, so they can be public (a browser cannot attach a bearer token
            # to a page load).
            Route("GET", "/dashboard", "public"),
            Route("GET", "/dashboard/assets/{name}", "public"),
        ),
        table_access="read",
        timeout_s=15,
    ),
    Function(
        name="admin_api",
        description="Run-time configuration: versions, diff, rollback, approvals, export/import; what-if replays; "
        "erasing a closed ticket's personal data.",
        routes=(
            Route("GET", "/admin/config", "person"),
            Route("GET", "/admin/export", "person"),
            Route("POST", "/admin/import", "person"),
            Route("GET", _CONFIG_KIND, "person"),
            Route("PUT", _CONFIG_KIND, "person"),
            Route("PATCH", _CONFIG_KIND, "person"),
            Route("GET", f"{_CONFIG_KIND}/items", "person"),
            Route("GET", f"{_CONFIG_KIND}/items/{{item_id}}", "person"),
            Route("PUT", f"{_CONFIG_KIND}/items/{{item_id}}", "person"),
            Route("DELETE", f"{_CONFIG_KIND}/items/{{item_id}}", "person"),
            Route("GET", f"{_CONFIG_KIND}/versions", "person"),
            Route("GET", f"{_CONFIG_KIND}/versions/{{version}}", "person"),
            Route("GET", f"{_CONFIG_KIND}/diff", "person"),
            Route("POST", f"{_CONFIG_KIND}/rollback", "person"),
            Route("GET", f"{_CONFIG_KIND}/proposals", "person"),
            Route("POST", f"{_CONFIG_KIND}/proposals", "person"),
            Route("GET", f"{_CONFIG_KIND}/proposals/{{proposal_id}}", "person"),
            Route("POST", f"{_CONFIG_KIND}/proposals/{{proposal_id}}/approve", "person"),
            Route("POST", f"{_CONFIG_KIND}/proposals/{{proposal_id}}/reject", "person"),
            Route("GET", "/admin/simulations", "person"),
            Route("POST", "/admin/simulations", "person"),
            Route("GET", "/admin/simulations/{id}", "person"),
            Route("POST", "/admin/tickets/{id}/erase", "person"),
        ),
        sends_to=("simulate", "assign"),
        timeout_s=30,
    ),
    Function(
        name="simulate",
        description="What-if replay: stored tickets through classification, routing and SLA, live vs proposed.",
        consumes="simulate",
        sends_to=("simulate",),
        memory_mb=1024,
        timeout_s=90,
    ),
)

SCHEDULES: tuple[Schedule, ...] = tuple(f.schedule for f in FUNCTIONS if f.schedule)


def function(name: str) -> Function:
    for candidate in FUNCTIONS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no function named {name!r}; known: {', '.join(f.name for f in FUNCTIONS)}")


def queue(name: str) -> Queue:
    for candidate in QUEUES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no queue named {name!r}")


def consumer_of(queue_name: str) -> Function | None:
    return next((f for f in FUNCTIONS if f.consumes == queue_name), None)
