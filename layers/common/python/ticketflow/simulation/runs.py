"""Simulation runs: start one (POST /admin/simulations), work it through slice by slice on the
``simulate`` queue, and show its progress and result.

Why it is built this way:

- **Slices on a queue.** A range can hold thousands of tickets and two full replays each;
  one message replays up to ``SLICE_SIZE`` of them and enqueues the next slice with its
  cursor, so no invocation runs long, and a failing slice is retried alone (and ends in the
  queue's dead-letter queue, leaving the run ``running`` with its last progress).
- **Exactly-once counting on at-least-once delivery.** A slice merges its findings into the
  run with a write conditional on the number of slices merged so far; a redelivered slice
  finds that number moved on and counts nothing. The next slice's message is sent after the
  merge and remembered (``enqueued``), so a crash between the two is healed by the
  redelivery, which sends the message that was missing and nothing else.
- **Pinned inputs.** The live version of every kind is recorded when the run starts
  (``live_versions``) and so is ``as_of`` (only tickets created before it are replayed, and
  still-open tickets are judged at that moment): every slice, first or retried, compares the
  same two configurations on the same clock, whatever is published meanwhile.
- **No side effects.** Replays are pure (``replay``); the only writes are the run's own items
  and the only messages its own slices. Tickets are read with Queries of ``by_status`` (no
  Scan), most advanced statuses first: a ticket that moves on during the run moves into a
  status already read, so it may be missed but is never replayed twice (only a reopen moves
  a ticket backwards).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ticketflow import clock, messaging, runtime_config
from ticketflow.access import Actor
from ticketflow.config import settings
from ticketflow.configuration import kinds as config_kinds
from ticketflow.errors import Forbidden, NotFound, PayloadTooLarge, TicketflowError, ValidationFailed
from ticketflow.messaging import Envelope
from ticketflow.models import Status
from ticketflow.observability import count, logger
from ticketflow.simulation import replay, results
from ticketflow.simulation.replay import KINDS, Rules
from ticketflow.simulation.results import SimulationResult
from ticketflow.storage import config as config_store
from ticketflow.storage import simulations as store
from ticketflow.storage import stats

QUEUE = "simulate"
SLICE_SIZE = 200  # tickets per message: two replays each, well within the function's timeout
MAX_DAYS = 366
DEFAULT_DAYS = 7
# Most advanced first: tickets move forward while a run reads, into statuses already read.
STATUS_ORDER = [
    s.value
    for s in (
        Status.CLOSED,
        Status.RESOLVED,
        Status.PENDING_CUSTOMER,
        Status.IN_PROGRESS,
        Status.ASSIGNED,
        Status.CLASSIFIED,
        Status.NEW,
    )
]
RunStatus = Literal["queued", "running", "done", "failed"]


# ---------------------------------------------------------------- the API's models


class SimulationRequest(BaseModel):
    """POST /admin/simulations: what to replay, and over which tickets."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    proposal: dict[str, Any] = Field(
        min_length=1,
        description="Whole documents per kind (classification, knowledge, routing, sla, calendars), as "
        "PUT /admin/config/{kind} takes them; kinds left out are the live version.",
    )
    first: date | None = Field(None, alias="from", description="First business day (default: 6 days before to).")
    to: date | None = Field(None, description="Last business day, inclusive (default: today).")
    max_tickets: int = Field(2000, ge=1, le=10_000, description="Replay at most this many tickets (truncated: true).")
    sample_size: int = Field(10, ge=0, le=50, description="Tickets shown per kind of change.")
    reason: str | None = Field(None, max_length=500)


class StartedBy(BaseModel):
    id: str
    role: str


class Progress(BaseModel):
    processed: int = Field(description="Tickets replayed so far.")
    estimated_total: int = Field(
        description="Tickets created in the range by the report counters (capped by max_tickets); exact once done."
    )
    slices: int = Field(description="Slices merged so far.")


class SimulationView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    status: RunStatus = Field(description="queued → running → done (or failed, with error).")
    kinds: list[str] = Field(description="The kinds proposed.")
    first: date = Field(alias="from")
    to: date
    time_zone: str
    max_tickets: int
    sample_size: int
    reason: str | None = None
    started_by: StartedBy
    created_at: str
    started_at: str | None = None
    updated_at: str
    finished_at: str | None = None
    as_of: str = Field(description="Tickets created before this moment are replayed; open ones are judged at it.")
    live_versions: dict[str, int] = Field(description="The live version each kind was compared with.")
    progress: Progress
    truncated: bool = Field(False, description="max_tickets stopped the run before the range was exhausted.")
    error: str | None = None
    result: SimulationResult | None = Field(None, description="So far while running; left out of listings.")


class SimulationList(BaseModel):
    items: list[SimulationView]


# ---------------------------------------------------------------- starting, reading


def _overseer(actor: Actor) -> None:
    if not actor.oversees_all:
        raise Forbidden("simulations are for supervisors and admins")


# kind -> the kind its references point into (routes and articles name subcategories; policies calendars).
_DEPENDS_ON = {"routing": "classification", "knowledge": "classification", "sla": "calendars"}


def _checked(proposal: dict[str, Any], live: dict[str, Any]) -> None:
    """422 naming ``proposal.<kind>...``: a kind that cannot be simulated, an invalid document,
    or a reference that does not resolve (an SLA policy on an unknown calendar, a route to a
    team that does not exist), also where a proposal takes away what a live kind refers to."""
    details: list[dict[str, Any]] = []
    parsed: dict[str, Any] = {}
    for kind, document in proposal.items():
        field = f"proposal.{kind}"
        if kind not in KINDS:
            details.append({"field": field, "message": f"cannot be simulated; propose one of {', '.join(KINDS)}"})
            continue
        try:
            parsed[kind] = config_kinds.validate(kind, document, field=field)
        except ValidationFailed as error:
            details.extend(error.details or [{"field": field, "message": error.message}])
    if details:
        raise _failed(details)

    def other(kind: str) -> Any:
        if kind not in parsed:  # the live version (of any kind the references need: teams, ...)
            document = live[kind] if kind in live else runtime_config.live(kind).current()[1]
            parsed[kind] = config_kinds.validate(kind, document, field=f"live.{kind}")
        return parsed[kind]

    for kind, depends in _DEPENDS_ON.items():
        if kind in proposal:
            field = f"proposal.{kind}"
        elif depends in proposal:
            field = f"proposal.{depends}"  # it took away something the live {kind} refers to
        else:
            continue
        try:
            config_kinds.check_references(kind, other(kind), other, field=field)
        except ValidationFailed as error:
            for detail in error.details or []:
                if kind in proposal:
                    details.append(detail)
                else:
                    where = detail["field"].removeprefix(field + ".")
                    details.append(
                        {"field": field, "message": f"the live {kind} refers to it at {where}: {detail['message']}"}
                    )
    if details:
        raise _failed(details)


def _failed(details: list[dict[str, Any]]) -> ValidationFailed:
    return ValidationFailed("; ".join(f"{d['field']}: {d['message']}" for d in details[:5]), details=details)


def _period(first: date | None, last: date | None) -> tuple[date, date]:
    last = last or stats.business_day(clock.now())
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise ValidationFailed.field("to", f"{last.isoformat()} is before from ({first.isoformat()})")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationFailed.field("from", f"a simulation covers at most {MAX_DAYS} days; narrow from or to")
    return first, last


def _bounds(first: date, last: date, as_of: datetime) -> tuple[str, str]:
    """``gsi4sk`` bounds of tickets created on the business days first..last, before ``as_of``."""
    zone = settings().zone
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone) - timedelta(milliseconds=1)
    return clock.iso(start), f"{clock.iso(min(end, as_of))}#~"


def start(actor: Actor, request: SimulationRequest) -> SimulationView:
    """Check and store the run (``queued``) and enqueue its first slice."""
    _overseer(actor)
    proposal = request.proposal
    first, last = _period(request.first, request.to)
    live = {kind: runtime_config.live(kind).current() for kind in KINDS}
    _checked(proposal, {kind: data for kind, (_, data) in live.items()})
    blob = store.pack(proposal)
    if len(blob) > store.MAX_PROPOSAL_BYTES:
        limit = store.MAX_PROPOSAL_BYTES // 1024
        raise PayloadTooLarge(
            f"proposal: {len(blob) // 1024} KB compressed; a simulation stores at most {limit} KB",
            details=[{"field": "proposal", "message": f"larger than {limit} KB compressed"}],
        )
    now = clock.now()
    low, high = _bounds(first, last, now)
    created = sum(day.get("created", 0) for day in stats.read("ALL", "", first, last).values())
    run: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "status": "queued",
        "kinds": [kind for kind in KINDS if kind in proposal],
        "from": first.isoformat(),
        "to": last.isoformat(),
        "time_zone": settings().timezone,
        "max_tickets": request.max_tickets,
        "sample_size": request.sample_size,
        "reason": request.reason,
        "started_by": {"id": actor.id, "role": actor.role.value},
        "created_at": clock.iso(now),
        "updated_at": clock.iso(now),
        "as_of": clock.iso(now),
        "live_versions": {kind: version for kind, (version, _) in live.items()},
        "low": low,
        "high": high,
        "progress": {"processed": 0, "estimated_total": min(created, request.max_tickets), "slices": 0},
        "truncated": False,
        "result": results.empty(),
    }
    store.create(run, blob)
    try:
        _enqueue(run["id"], 0, None)
    except Exception:
        store.fail(run["id"], error="the first slice could not be queued; start the simulation again", at=run["as_of"])
        raise
    count("SimulationsStarted")
    logger.info(
        "simulation started",
        extra={"run_id": run["id"], "kinds": run["kinds"], "from": run["from"], "to": run["to"], "by": actor.id},
    )
    return _view(run)


def get(actor: Actor, run_id: str) -> SimulationView:
    _overseer(actor)
    run = store.get(run_id)
    if run is None:
        raise NotFound(f"no simulation {run_id}")
    return _view(run)


def list_runs(actor: Actor, limit: int = 20) -> SimulationList:
    """The newest runs first, without their results (GET one for its result)."""
    _overseer(actor)
    return SimulationList(items=[_view(run, with_result=False) for run in store.list_runs(limit)])


def _view(run: dict[str, Any], *, with_result: bool = True) -> SimulationView:
    fields = set(SimulationView.model_fields) | {"from"}
    data = {key: value for key, value in run.items() if key in fields and key != "result"}
    view = SimulationView.model_validate(data)
    if with_result and run.get("result") is not None:
        view.result = SimulationResult.model_validate(run["result"])
    return view


# ---------------------------------------------------------------- working a slice


def _enqueue(run_id: str, number: int, cursor: Any) -> None:
    envelope = Envelope(
        type="simulation.slice", correlation_id=run_id, data={"run_id": run_id, "slice": number, "cursor": cursor}
    )
    messaging.send(QUEUE, envelope)
    store.mark_enqueued(run_id, number)


_built: dict[tuple[str, str], Any] = {}
_MAX_BUILT = 24


def _component(kind: str, key: str, load: Callable[..., Any], *args: Any) -> Any:
    """The object the pipeline builds from one document, built once per container."""
    slot = (kind, key)
    if slot not in _built:
        if len(_built) >= _MAX_BUILT:
            _built.pop(next(iter(_built)))
        _built[slot] = replay.BUILDERS[kind](load(*args))
    return _built[slot]


def _live_document(kind: str, version: int) -> Any:
    current, data = runtime_config.live(kind).current()
    if current == version:
        return data
    if version == 0:
        return runtime_config.default(kind)
    stored = config_store.get_version(kind, version)
    if stored is None:
        raise ValueError(f"the live {kind} version {version} this run compares with is no longer stored")
    return stored.data


def rules_for(run: dict[str, Any], proposal: dict[str, Any]) -> tuple[Rules, Rules]:
    """The live rules the run pinned, and the proposed ones (a version number means one document
    only within its table, hence the table in the cache key)."""
    table = settings().table_name
    live, proposed = {}, {}
    for kind in KINDS:
        version = int(run["live_versions"][kind])
        live[kind] = _component(kind, f"live:{table}:{version}", _live_document, kind, version)
        if kind in proposal:
            proposed[kind] = _component(kind, f"run:{run['id']}", proposal.__getitem__, kind)
        else:
            proposed[kind] = live[kind]
    return Rules(**live), Rules(**proposed)


def _catch_up(run: dict[str, Any], number: int) -> None:
    """A slice that was merged already: send the next one if its message never went out."""
    merged = int(run["slices"])
    if merged == number + 1 and int(run.get("enqueued", -1)) < merged:
        logger.info("re-sending the next slice", extra={"run_id": run["id"], "slice": merged})
        _enqueue(run["id"], merged, run.get("cursor"))
    else:
        logger.info("slice merged already; ignored", extra={"run_id": run["id"], "slice": number})


def process(envelope: Envelope) -> None:
    """One message of the simulate queue: replay one slice and merge it into the run."""
    run_id, number = envelope.data.get("run_id"), envelope.data.get("slice")
    run, proposal = store.get_with_proposal(run_id) if run_id and isinstance(number, int) else (None, None)
    if not run_id or not isinstance(number, int) or run is None or proposal is None:
        logger.warning("no such simulation; dropping the message", extra={"run_id": run_id, "type": envelope.type})
        return
    if run["status"] not in store.ACTIVE:
        return
    if int(run["slices"]) != number:
        _catch_up(run, number)
        return
    now = clock.iso(clock.now())
    if run["status"] == "queued":
        store.mark_running(run_id, now)
    processed = int(run["progress"]["processed"])
    try:
        live, proposed = rules_for(run, proposal)
        limit = min(SLICE_SIZE, int(run["max_tickets"]) - processed)
        tickets, cursor = store.read_tickets(STATUS_ORDER, run["low"], run["high"], envelope.data.get("cursor"), limit)
        as_of = datetime.fromisoformat(run["as_of"])
        found = results.empty()
        for ticket in tickets:
            before, after = replay.replay(ticket, live, now=as_of), replay.replay(ticket, proposed, now=as_of)
            results.add(found, ticket, before, after, sample_size=int(run["sample_size"]))
    except (ValueError, KeyError, TicketflowError) as error:
        # The rules cannot replay these tickets (a calendar with no open time, a stored
        # version gone): a retry would fail the same way, so the run ends here, saying why.
        message = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:500]
        store.fail(run_id, error=message, at=now)
        logger.warning("simulation failed", extra={"run_id": run_id, "slice": number, "error": message})
        return

    processed += len(tickets)
    capped = processed >= int(run["max_tickets"])
    done = cursor is None or capped
    fields: dict[str, Any] = {"updated_at": now, "status": "done" if done else "running"}
    estimated = int(run["progress"]["estimated_total"])
    fields["progress"] = {
        "processed": processed,
        "estimated_total": processed if done else max(estimated, processed),
        "slices": number + 1,
    }
    if done:
        more = (
            capped
            and cursor is not None
            and bool(store.read_tickets(STATUS_ORDER, run["low"], run["high"], cursor, 1)[0])
        )
        fields |= {"finished_at": now, "truncated": more}
    merged = results.merge(run["result"], found, sample_size=int(run["sample_size"]))
    if not store.merge_slice(run_id, slice_number=number, result=merged, cursor=cursor, **fields):
        logger.info("slice merged by another delivery; ignored", extra={"run_id": run_id, "slice": number})
        return
    count("SimulatedTickets", len(tickets))
    logger.info(
        "simulation slice",
        extra={"run_id": run_id, "slice": number, "tickets": len(tickets), "processed": processed, "done": done},
    )
    if not done:
        _enqueue(run_id, number + 1, cursor)
