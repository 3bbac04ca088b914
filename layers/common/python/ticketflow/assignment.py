"""Routing a ticket to a team, and picking the agent within it.

Team: from the routing table (data: ``defaults/routing.json`` or the table's live version).
Agent: among the team's agents who are online and under capacity, prefer the one who has the
skills the ticket needs (its subcategory, and its language where that is a skill), then, for
P1 and VIP tickets, senior agents, then the least loaded (as a share of capacity), then the one
assigned longest ago (round robin). The ticket update and the agent's load change commit in
one transaction whose condition re-checks room, so two assigners never overfill an agent or
give one ticket to two agents; if the chosen agent filled up meanwhile, the next one is tried.
With nobody free the ticket waits in its team queue (status classified) until capacity frees.

Load counts a person's tickets that are assigned or in progress. ``load_deltas`` turns any
change of a ticket into load changes, so every action keeps loads exact in its own write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import Field

from ticketflow import clock, history, messaging, runtime_config
from ticketflow.configuration.document import Document
from ticketflow.directory import AgentState, Person, Role
from ticketflow.errors import ConcurrentUpdate
from ticketflow.lifecycle import Action, next_status
from ticketflow.messaging import Envelope
from ticketflow.models import ActorKind, ActorRef, HistoryEntry, Status, Ticket
from ticketflow.observability import count, logger
from ticketflow.storage import directory as directory_store
from ticketflow.storage import tickets as ticket_store

ACTIVE = frozenset({Status.ASSIGNED, Status.IN_PROGRESS})
ASSIGNER = ActorRef(kind=ActorKind.SYSTEM, id="assignment")


class Routing(Document):
    routes: dict[str, str]
    fallback_team: str
    language_skills: dict[str, str] = Field(default_factory=dict)
    senior_first_for: dict[str, list[str]] = Field(default_factory=dict)

    def team_for(self, category: str, subcategory: str) -> tuple[str, str]:
        """The team, and which rule chose it."""
        for key in (f"{category}/{subcategory}", f"{category}/*"):
            if key in self.routes:
                return self.routes[key], f"routing rule {key} → {self.routes[key]}"
        return self.fallback_team, f"no routing rule for {category}/{subcategory}: fallback team {self.fallback_team}"


def routing() -> Routing:
    return runtime_config.live("routing").built("routing", Routing.model_validate)


def _load_of(ticket: Ticket) -> dict[str, int]:
    return {ticket.assignee: 1} if ticket.assignee and ticket.status in ACTIVE else {}


def load_deltas(before: Ticket, after: Ticket) -> dict[str, int]:
    deltas: dict[str, int] = {}
    for agent, n in _load_of(before).items():
        deltas[agent] = deltas.get(agent, 0) - n
    for agent, n in _load_of(after).items():
        deltas[agent] = deltas.get(agent, 0) + n
    return {agent: d for agent, d in deltas.items() if d}


@dataclass(frozen=True)
class Candidate:
    person: Person
    state: AgentState
    matched: tuple[str, ...]
    senior_first: bool

    def key(self) -> tuple:
        share = self.state.load / self.state.capacity if self.state.capacity else 1.0
        return (
            -len(self.matched),
            not (self.senior_first and self.person.senior),
            share,
            self.state.last_assigned_at or "",
            self.person.id,
        )

    def describe(self) -> str:
        skills = ", ".join(self.matched) or "none"
        senior = " senior," if self.person.senior else ""
        return (
            f"{self.person.id} (skills matched: {skills};{senior} load {self.state.load}/{self.state.capacity}, "
            f"last assigned {self.state.last_assigned_at or 'never'})"
        )


def required_skills(ticket: Ticket) -> list[str]:
    skills = [ticket.subcategory] if ticket.subcategory else []
    language = (ticket.language or "").split("-")[0]
    if language in routing().language_skills:
        skills.append(routing().language_skills[language])
    return skills


def rank(ticket: Ticket, members: list[Person], states: dict[str, AgentState]) -> list[Candidate]:
    """Agents with room, best first (see the module docstring for the order)."""
    needed = required_skills(ticket)
    senior_rules = routing().senior_first_for
    senior_first = ticket.priority in senior_rules.get("priorities", []) or (
        ticket.customer.tier.value in senior_rules.get("tiers", [])
    )
    candidates = [
        Candidate(p, states[p.id], tuple(s for s in needed if s in p.skills), senior_first)
        for p in members
        if p.role is Role.AGENT and p.id in states and states[p.id].has_room
    ]
    return sorted(candidates, key=Candidate.key)


def _assigned(ticket: Ticket, chosen: Candidate, others: list[Candidate]) -> tuple[Ticket, HistoryEntry]:
    now = clock.now()
    status = next_status(Action.ASSIGN, ticket, now=now, reopen_window=timedelta(0))
    after = ticket.model_copy(
        update={
            "status": status,
            "assignee": chosen.person.id,
            "assigned_at": now,
            "version": ticket.version + 1,
            "updated_at": now,
        }
    )
    alternatives = "; ".join(c.describe() for c in others[:3]) or "none with room"
    entry = HistoryEntry(
        at=now,
        version=after.version,
        action=Action.ASSIGN.value,
        actor=ASSIGNER,
        from_status=ticket.status,
        to_status=status,
        reason=f"chose {chosen.describe()}; alternatives: {alternatives}",
        changes={"assignee": [None, chosen.person.id], "status": [ticket.status.value, status.value]},
    )
    return after, entry


@dataclass(frozen=True)
class Outcome:
    agent: str | None = None  # who got it
    waiting: bool = False  # still in the team queue: nobody has room


def assign_waiting_ticket(ticket_id: str, *, attempts: int = 5) -> Outcome:
    """Give a ticket waiting in its team queue to the best agent with room.

    Safe to call twice: a ticket that is no longer waiting (assigned, accepted, gone) is left
    alone (``Outcome()``). With nobody free the ticket keeps waiting (``waiting=True``).
    """
    for _ in range(attempts):
        ticket = ticket_store.get(ticket_id)
        if ticket is None or ticket.status is not Status.CLASSIFIED or ticket.assignee or not ticket.team:
            return Outcome()
        members = directory_store.team_members(ticket.team)
        candidates = rank(ticket, members, directory_store.agent_states([m.id for m in members]))
        for i, chosen in enumerate(candidates):
            after, entry = _assigned(ticket, chosen, candidates[:i] + candidates[i + 1 :])
            try:
                ticket_store.save(
                    after,
                    entry,
                    before=ticket,
                    load_deltas={chosen.person.id: 1},
                    claim=chosen.person.id,
                    capacity=chosen.person.capacity,
                )
                count("TicketsAssigned")
                return Outcome(agent=chosen.person.id)
            except ticket_store.AgentFull:
                continue  # filled up since we read it: the next best
            except ConcurrentUpdate:
                break  # the ticket changed: read it again
        else:
            return Outcome(waiting=True)
    return Outcome(waiting=True)


def fill_team_queue(team: str, *, limit: int = 20) -> list[tuple[str, str]]:
    """Assign waiting tickets of ``team``, most urgent and oldest first, while anyone has room."""
    waiting, _ = ticket_store.list_by(
        "by_team", f"TEAM#{team}", sort_prefix=f"{Status.CLASSIFIED.value}#", limit=limit, oldest_first=True
    )
    assigned = []
    for ticket in waiting:
        outcome = assign_waiting_ticket(ticket.id)
        if outcome.waiting:
            break  # nobody has room: the rest wait too
        if outcome.agent:
            assigned.append((ticket.id, outcome.agent))
    return assigned


def return_to_queue(ticket_id: str, *, now: datetime, owner_minutes: float, actor: ActorRef) -> Ticket | None:
    """The owner timer: an assigned ticket nobody accepted in time goes back to its team queue
    (the agent's load released in the same transaction). None if it no longer applies."""
    for _ in range(4):
        ticket = ticket_store.get(ticket_id)
        if (
            ticket is None
            or ticket.status is not Status.ASSIGNED
            or ticket.assigned_at is None
            or now < ticket.assigned_at + timedelta(minutes=owner_minutes)
        ):
            return None
        after = ticket.model_copy(
            update={
                "status": Status.CLASSIFIED,
                "assignee": None,
                "assigned_at": None,
                "redriven_at": now,
                "version": ticket.version + 1,
                "updated_at": now,
            }
        )
        entry = history.entry_for(
            ticket,
            after,
            action="owner_timeout",
            actor=actor,
            at=now,
            reason=f"{ticket.assignee} did not accept within {owner_minutes:g} minutes; back to the team queue",
        )
        try:
            ticket_store.save(after, entry, before=ticket, load_deltas=load_deltas(ticket, after))
            return after
        except ConcurrentUpdate:
            continue
    return None


ASSIGN_QUEUE = "assign"


def queue_ticket(ticket_id: str, *, event: str = "ticket.queued") -> None:
    """Ask for an agent for a ticket waiting in its team queue (handled by ``handle``)."""
    messaging.send(ASSIGN_QUEUE, Envelope(type=event, correlation_id=ticket_id, data={"ticket_id": ticket_id}))


def capacity_freed(teams: list[str], agents: list[str], *, correlation_id: str) -> None:
    """Someone in these teams has room now: their queues may have work waiting."""
    if teams:
        messaging.send(
            ASSIGN_QUEUE,
            Envelope(
                type="capacity.freed",
                correlation_id=correlation_id,
                data={"teams": sorted(set(teams)), "agents": agents},
            ),
        )


def handle(envelope: Envelope) -> None:
    """One message of the assign queue."""
    if envelope.type in ("ticket.classified", "ticket.queued"):
        outcome = assign_waiting_ticket(envelope.data["ticket_id"])
        logger.info(
            "assignment",
            extra={"ticket_id": envelope.data["ticket_id"], "agent": outcome.agent, "waiting": outcome.waiting},
        )
    elif envelope.type == "capacity.freed":
        for team in envelope.data["teams"]:
            assigned = fill_team_queue(team)
            logger.info("team queue filled", extra={"team": team, "assigned": len(assigned)})
    else:
        raise ValueError(f"the assign queue does not handle {envelope.type!r} messages")
