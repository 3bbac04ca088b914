"""When the sweep must look at a ticket next: the earliest of its SLA notices owed, the owner
timer (assigned but not accepted), and the safety net (still new, or waiting unassigned).

The storage layer derives the sweep index's key from this on every write, so no code path
that changes a ticket can forget to keep the index right; a closed ticket leaves the index.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from ticketflow import sla
from ticketflow.models import Status, Ticket
from ticketflow.storage.schema import DUE_SHARDS


def next_check(ticket: Ticket) -> datetime | None:
    if ticket.status is Status.CLOSED:
        return None
    cfg = sla.config()
    times = []
    if ticket.sla is not None and (owed := ticket.sla.next_check()) is not None:
        times.append(owed)
    waiting = ticket.status is Status.NEW or (ticket.status is Status.CLASSIFIED and ticket.assignee is None)
    if waiting:
        since = ticket.redriven_at or (ticket.created_at if ticket.status is Status.NEW else ticket.updated_at)
        times.append(since + timedelta(minutes=cfg.stuck_minutes))
    if ticket.status is Status.ASSIGNED and ticket.assigned_at:
        times.append(ticket.assigned_at + timedelta(minutes=cfg.owner_minutes))
    return min(times) if times else None


def shard(ticket_id: str) -> int:
    return zlib.crc32(ticket_id.encode()) % DUE_SHARDS
