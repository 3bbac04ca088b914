"""When the sweep must look at a ticket next: the earliest of its SLA notices owed, the owner
timer (assigned but not accepted), the safety net (still new), and its survey's follow-ups (a
survey due but not sent, a recovery ticket owed). A ticket waiting in its team queue has no
check of its own: the sweep fills each team's queue every run.

The storage layer derives the sweep index's key from this on every write, so no code path
that changes a ticket can forget to keep the index right; a closed ticket leaves the index
once its survey needs nothing more.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from ticketflow import sla
from ticketflow.models import Status, SurveyState, Ticket
from ticketflow.storage.schema import DUE_SHARDS

# The survey queue's delayed message normally sends a survey at its due time; the sweep looks a
# minute later, and again every two minutes while it is still not sent (its sender may be slow).
SURVEY_GRACE = timedelta(minutes=1)
SURVEY_REDRIVE_EVERY = timedelta(minutes=2)


def survey_check(ticket: Ticket) -> datetime | None:
    survey = ticket.survey
    if survey is None:
        return None
    if survey.state is SurveyState.SCHEDULED:
        return survey.redriven_at + SURVEY_REDRIVE_EVERY if survey.redriven_at else survey.due_at + SURVEY_GRACE
    if survey.recovery == "pending" and survey.answered_at:
        return survey.answered_at + SURVEY_GRACE
    return None


def next_check(ticket: Ticket) -> datetime | None:
    survey = survey_check(ticket)
    if ticket.status is Status.CLOSED:
        return survey
    cfg = sla.config()
    times = [survey] if survey else []
    if ticket.sla is not None and (owed := ticket.sla.next_check()) is not None:
        times.append(owed)
    if ticket.status is Status.NEW:
        times.append((ticket.redriven_at or ticket.created_at) + timedelta(minutes=cfg.stuck_minutes))
    if ticket.status is Status.ASSIGNED and ticket.assigned_at:
        times.append(ticket.assigned_at + timedelta(minutes=cfg.owner_minutes))
    return min(times) if times else None


def shard(ticket_id: str) -> int:
    return zlib.crc32(ticket_id.encode()) % DUE_SHARDS
