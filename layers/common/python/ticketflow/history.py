"""Recording a change: the ticket after it and the history entry that says what changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ticketflow import clock
from ticketflow.errors import ConcurrentUpdate
from ticketflow.models import ActorRef, HistoryEntry, Ticket
from ticketflow.storage import tickets as ticket_store

# Status is in the entry itself; the SLA clocks have their own view (GET /tickets/{id}/sla);
# handle time moves with every status change in and out of progress.
_UNTRACKED = {"version", "updated_at", "status", "sla", "working_since", "handle_seconds"}


def changes(before: Ticket, after: Ticket) -> dict[str, list[Any]]:
    """field -> [before, after] for every field that changed (status is in the entry itself)."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return {key: [old[key], new[key]] for key in new if key not in _UNTRACKED and old[key] != new[key]}


def entry_for(
    before: Ticket, after: Ticket, *, action: str, actor: ActorRef, at: datetime, **fields: Any
) -> HistoryEntry:
    return HistoryEntry(
        at=at,
        version=after.version,
        action=action,
        actor=actor,
        from_status=before.status,
        to_status=after.status,
        changes=changes(before, after),
        **{k: v for k, v in fields.items() if v is not None},
    )


def record(
    ticket_id: str,
    update: Callable[[Ticket], dict[str, Any] | None],
    *,
    action: str,
    actor: ActorRef,
    attempts: int = 4,
    current: Ticket | None = None,
    also: Callable[[Ticket, Ticket], list[dict[str, Any]]] | None = None,
    **fields: Any,
) -> Ticket | None:
    """Apply ``update`` to the current ticket and save it with a history entry, retrying on a
    concurrent change. ``update`` returns the fields to change, or None when there is nothing
    (left) to do — it is called again on the fresh ticket after a conflict. ``current``, when
    the caller has just read the ticket, saves the first read. ``also(before, after)`` gives more
    items for the same transaction (counters that must move exactly once with the change)."""
    for _ in range(attempts):
        ticket, current = current or ticket_store.get(ticket_id), None
        if ticket is None:
            return None
        updates = update(ticket)
        if updates is None:
            return ticket
        now = clock.now()
        after = ticket.model_copy(update={**updates, "version": ticket.version + 1, "updated_at": now})
        try:
            ticket_store.save(
                after,
                entry_for(ticket, after, action=action, actor=actor, at=now, **fields),
                before=ticket,
                also=also(ticket, after) if also else None,
            )
            return after
        except ConcurrentUpdate:
            continue
    raise ConcurrentUpdate(f"ticket {ticket_id} is changing too fast to record {action}")
