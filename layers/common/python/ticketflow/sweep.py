"""The SLA sweep, every minute: find the tickets whose next check has come, and act.

First the team queues: in each team, waiting tickets go to agents with room (a lost
``ticket.classified`` or ``capacity.freed`` message costs a minute, not a ticket). One Query per
team, and one look at the agents when the queue is not empty: a backlog waiting for room costs
the sweep nothing more (re-driving each waiting ticket did, and never settled under thousands).

Then the tickets due: it reads only the sparse, sharded ``by_due`` index (a Query per shard for
keys up to now), so its cost grows with the number of tickets due, not the number open. For each:

1. SLA notices owed: a warning, the breach (level 1), the escalation (level 2, optionally
   raising the priority), to whom the notifications settings say (by default the assignee,
   the team supervisor, the team's manager). Each is sent exactly once per ticket, target and
   level, even when two sweeps overlap: a conditional claim item decides who sends; the sender
   records the notice on the ticket and marks the claim sent (a disabled notice too, sent to
   nobody). A claim left unsent (its sweep crashed) is taken over after two minutes; one
   given up part-way (SNS down after the email went) at once, sending only what is missing.
2. The owner timer: assigned but not accepted in time goes back to the team queue.
3. The safety net: a ticket still new after ``stuck_minutes`` goes to classification again.
4. Replies still queued for delivery five minutes on (their message never sent) are sent
   again (``outbound.resend_queued``): these are items of their own in the index.
5. Surveys: one still unsent a minute after it was due goes to the survey queue again (a lost
   message, or a delay longer than SQS's 15 minutes); a recovery ticket owed is opened.

Every step on a ticket writes a history entry and, through the ticket's next check, moves it
in the index. A ticket found due with nothing to do (a setting changed since its last write)
has its index key moved without a write, so that it is not read again every minute.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from ticketflow import assignment, clock, delivery, history, intake, notifications, outbound, sla, watch
from ticketflow.models import ActorKind, ActorRef, Status, SurveyState, Ticket
from ticketflow.observability import count, logger
from ticketflow.storage import directory as directory_store
from ticketflow.storage import tickets as ticket_store
from ticketflow.storage.schema import DUE_SHARDS
from ticketflow.surveys import dispatch as survey_dispatch
from ticketflow.surveys import recovery

SWEEPER = ActorRef(kind=ActorKind.SYSTEM, id="sla-sweep")
STALE_CLAIM = timedelta(minutes=2)
PRIORITY_UP = {"P4": "P3", "P3": "P2", "P2": "P1"}
LEVEL_NAMES = {"warning": "warning", "breach": "breach (level 1)", "escalation": "escalation (level 2)"}


class SweepReport(BaseModel):
    assigned: int = 0
    due: int = 0
    notices: int = 0
    returned_to_queue: int = 0
    redriven: int = 0
    replies: int = 0
    surveys: int = 0
    recoveries: int = 0
    errors: int = 0


def run(now: datetime | None = None, *, limit_per_shard: int = 200) -> SweepReport:
    now = now or clock.now()
    report = SweepReport()
    # Before the tickets due: a ticket the owner timer returns below is queued for an agent by
    # its own message, not handed straight back in the same run.
    for team in directory_store.team_ids():
        try:
            report.assigned += len(assignment.fill_team_queue(team))
        except Exception:  # one team's trouble never stops the sweep
            report.errors += 1
            logger.exception("sweep failed to fill a team queue", extra={"team": team})
    for shard in range(DUE_SHARDS):
        for item in ticket_store.due(shard, now, limit=limit_per_shard):
            report.due += 1
            try:
                if item.reply_version is None:
                    process(item.ticket_id, now, report)
                elif outbound.resend_queued(item.ticket_id, item.reply_version, attempts=item.attempts, now=now):
                    report.replies += 1
            except Exception:  # one bad ticket never stops the sweep; the next one tries it again
                report.errors += 1
                logger.exception("sweep failed on a ticket", extra={"ticket_id": item.ticket_id})
    count("SweepDue", report.due)
    count("SweepErrors", report.errors)
    logger.info("sweep", extra=report.model_dump())
    return report


def process(ticket_id: str, now: datetime, report: SweepReport) -> None:
    ticket = _act(ticket_id, now, report)
    if ticket is not None and not ((check := watch.next_check(ticket)) and check <= now):
        # Nothing more due: if nothing was written (a changed setting moved the check), move
        # the index key; a no-op when a step wrote the ticket (its version moved) or it is right.
        ticket_store.move_check(ticket)


def _act(ticket_id: str, now: datetime, report: SweepReport) -> Ticket | None:
    """Do what is due; the ticket as last read (older than the table when a step wrote it)."""
    ticket = ticket_store.get(ticket_id)
    if ticket is None:
        return None
    due = watch.survey_check(ticket)
    if due is not None and now >= due:
        if ticket.survey and ticket.survey.state is SurveyState.SCHEDULED:
            survey_dispatch.redrive(ticket, now)
            report.surveys += 1
        elif recovery.open_for(ticket):
            report.recoveries += 1
        ticket = ticket_store.get(ticket_id) or ticket
    if ticket.status is Status.CLOSED:
        return ticket
    if ticket.sla is not None:
        for notice in sla.owed(ticket.sla, now):
            if _send_notice(ticket, notice, now):
                report.notices += 1
            ticket = ticket_store.get(ticket_id) or ticket
    cfg = sla.config()
    owner_due = ticket.assigned_at + timedelta(minutes=cfg.owner_minutes) if ticket.assigned_at else None
    if ticket.status is Status.ASSIGNED and owner_due and now >= owner_due:
        _owner_timeout(ticket, now, cfg.owner_minutes, report)
        return ticket
    if ticket.status is Status.NEW and now >= (ticket.redriven_at or ticket.created_at) + timedelta(
        minutes=cfg.stuck_minutes
    ):
        _redrive(ticket, now)
        report.redriven += 1
    return ticket


_NOTICE_NAMES: dict[sla.Level, notifications.NoticeName] = {
    "warning": "sla_warning",
    "breach": "sla_breach",
    "escalation": "sla_escalation",
}


def _send_notice(ticket: Ticket, notice: sla.Notice, now: datetime) -> bool:
    plan = notifications.plan(_NOTICE_NAMES[notice.level], ticket)  # disabled: nobody, but still recorded
    people = plan.awake(now)
    if plan.people and not people:
        return False  # everyone is in quiet hours: the notice waits (the ticket stays due)
    target = notice.target.replace("_", " ")
    subject = f"[{ticket.priority or ''} SLA {LEVEL_NAMES[notice.level]}] {ticket.number} {target}"
    text = (
        f"Ticket {ticket.number} ({ticket.category}/{ticket.subcategory}, team {ticket.team}, "
        f"assignee {ticket.assignee or 'none'}): {target} {LEVEL_NAMES[notice.level]}, "
        f"due {clock.iso(notice.due)}."
    )
    event = {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "target": notice.target,
        "level": notice.level,
        "due": clock.iso(notice.due),
        "team": ticket.team,
        "assignee": ticket.assignee,
        "notified": [p.id for p in people],
    }
    cfg = sla.config()

    def update(current: Ticket) -> dict[str, Any] | None:
        if current.sla is None or notice.level in current.sla.clocks[notice.target].notified:
            return None
        changes: dict[str, Any] = {"sla": sla.record_notice(current.sla, notice, now)}
        if notice.level in ("breach", "escalation"):
            changes["escalated"] = True
        if (
            notice.level == "escalation"
            and cfg.thresholds.raise_priority_on_level_2
            and current.priority in PRIORITY_UP
        ):
            changes["priority"] = PRIORITY_UP[current.priority]
        return changes

    def record() -> None:
        history.record(
            ticket.id,
            update,
            action=f"sla_{notice.level}",
            actor=SWEEPER,
            current=ticket,
            reason=f"{target} {LEVEL_NAMES[notice.level]}: due {clock.iso(notice.due)}; notified "
            + notifications.describe(plan, people),
        )

    # Once per ticket, target and level even when sweeps overlap, and per recipient when a send
    # fails part-way (a later sweep sends the rest; see notifications.send_once).
    if not notifications.send_once(
        ticket.id,
        notice.key,
        now,
        people=people,
        subject=subject,
        text=text,
        sms=plan.sms,
        event=(f"ticket.sla_{notice.level}", event),
        record=record,
        stale_after=STALE_CLAIM,
    ):
        return False  # another sweep holds it
    # Counted here, once this sweep has sent and recorded it (not on a claim lost to another sweep).
    if notice.level == "warning":
        count("SlaWarnings")
    else:  # breach (level 1) and escalation (level 2)
        count("Escalations")
    return True


def _owner_timeout(ticket: Ticket, now: datetime, owner_minutes: float, report: SweepReport) -> None:
    returned = assignment.return_to_queue(ticket.id, now=now, owner_minutes=owner_minutes, actor=SWEEPER)
    if returned is None:
        return
    report.returned_to_queue += 1
    # The ticket wants an agent first: a failing email provider must not keep it waiting until
    # the safety net re-drives it.
    assignment.queue_ticket(ticket.id)
    plan = notifications.plan("owner_timeout", ticket)  # ticket as it was: assignee is the holder
    people = plan.awake(now)
    holder = [p for p in people if p.id == ticket.assignee]
    others = [p for p in people if p.id != ticket.assignee]
    late = f"ticket {ticket.number} within {owner_minutes:g} minutes; it went back to the team queue"
    subject = f"{ticket.number} returned to the team queue"
    try:
        if holder:
            delivery.notify_people(
                holder, subject=subject, text=f"You did not accept {late} for another agent.", sms=plan.sms
            )
        if others:
            delivery.notify_people(
                others, subject=subject, text=f"{ticket.assignee} did not accept {late}.", sms=plan.sms
            )
    except delivery.DeliveryFailed as failure:
        # Informational, like the recovery notice: the ticket has already gone back to its queue,
        # and nothing would retry the notice.
        count("NotificationsFailed")
        logger.warning("owner timeout notice not sent", extra={"ticket_id": ticket.id, "code": failure.code})


def _redrive(ticket: Ticket, now: datetime) -> None:
    """Send a ticket still new to classification again (the stage is idempotent)."""

    def update(current: Ticket) -> dict[str, Any] | None:
        return {"redriven_at": now} if current.status is ticket.status else None

    history.record(
        ticket.id,
        update,
        action="redrive",
        actor=SWEEPER,
        current=ticket,
        reason=f"new since {clock.iso(ticket.redriven_at or ticket.created_at)}: sent to the classify queue again",
    )
    intake.queue_for_classification(ticket)
