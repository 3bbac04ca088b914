"""Sending the survey: scheduled on close, sent once when due.

Timing. Closing a ticket as resolved (or an agent asking by hand) puts ``survey`` on the ticket
in state ``scheduled`` with its due time, in the same write as the close. Right after, a
message goes to the survey queue with an SQS delay until that time. SQS delays go up to 15
minutes, which covers the default 5; a longer delay (or a lost message) is picked up by the
sweep, which finds the ticket through the ``by_due`` index (``watch.next_check``) a minute
after its due time. So the delay needs no per-ticket EventBridge schedule to create, pay for,
delete and give IAM rights to, and a missed message is re-driven like every other stage's.

Once. Every attempt reads the ticket; only a ``scheduled`` survey is sent. A conditional
claim item decides which of two concurrent attempts (a duplicate delivery, the sweep's
re-drive) sends; the other one leaves. The customer's cooldown is another conditional write,
given back when the provider refuses or fails the send (a survey never received starts none).
The token is stored (hashed) before the message goes out, and the ticket records ``sent``
with the day's ``surveys_sent`` counters in one transaction. A retryable send failure gives
up the claim and raises, so SQS retries, then parks the message in the dead-letter queue; the
one window left is a crash between the provider accepting the message and our record (the
claim goes stale after 5 minutes and the survey is sent again: at least once).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ticketflow import clock, delivery, history, messaging
from ticketflow.directory import QuietHours
from ticketflow.messaging import Envelope
from ticketflow.models import ActorKind, ActorRef, Survey, SurveyState, Ticket
from ticketflow.observability import count, logger
from ticketflow.storage import surveys as survey_store
from ticketflow.storage import tickets as ticket_store
from ticketflow.surveys import links, messages
from ticketflow.surveys.rules import rules

QUEUE = "survey"
SURVEYOR = ActorRef(kind=ActorKind.SYSTEM, id="survey")
CLAIM = "survey"
STALE_CLAIM = timedelta(minutes=5)
SQS_MAX_DELAY = timedelta(minutes=15)
EARLY = timedelta(seconds=5)  # clocks differ a little; a message this close to due is on time
SMS_SEGMENTS = 2  # a survey SMS must carry its whole link


def schedule(ticket: Ticket, now: datetime, *, trigger: str, reason: str | None = None) -> Survey | None:
    """The survey a close (or a manual request) schedules, or None if the ticket has one going."""
    # A close only replaces a survey a reopen cancelled; an agent may also retry one the rules
    # skipped or the provider refused.
    again = (
        {SurveyState.CANCELLED}
        if trigger == "close"
        else {SurveyState.CANCELLED, SurveyState.SKIPPED, SurveyState.UNDELIVERABLE}
    )
    if ticket.survey is not None and ticket.survey.state not in again:
        return None
    return Survey(state=SurveyState.SCHEDULED, trigger=trigger, reason=reason, due_at=now + rules().delay)


def queue_dispatch(ticket: Ticket, now: datetime) -> None:
    """The fast path after scheduling: a message that SQS delivers at the due time. Best effort:
    should it be lost, or the delay be longer than SQS allows, the sweep sends the survey."""
    survey = ticket.survey
    if survey is None or survey.state is not SurveyState.SCHEDULED:
        return
    wait = max(survey.due_at - now, timedelta(0))
    if wait >= SQS_MAX_DELAY:
        return
    messaging.send(
        QUEUE,
        Envelope(type="survey.due", correlation_id=ticket.id, data={"ticket_id": ticket.id}),
        delay_seconds=int(wait.total_seconds() + 0.999),
    )


def handle(envelope: Envelope) -> None:
    """One message of the survey queue."""
    if envelope.type != "survey.due":
        raise ValueError(f"the survey queue does not handle {envelope.type!r} messages")
    dispatch(envelope.data["ticket_id"])


def dispatch(ticket_id: str, now: datetime | None = None) -> str:
    """Send the ticket's survey if it is due; returns what happened (for logs and tests)."""
    now = now or clock.now()
    ticket = ticket_store.get(ticket_id)
    if ticket is None or ticket.survey is None or ticket.survey.state is not SurveyState.SCHEDULED:
        return "nothing to send"
    survey, config = ticket.survey, rules()
    if now + EARLY < survey.due_at:
        return "not yet due"  # a message ahead of its time: the sweep sends it when due
    skip = config.skip_reason(ticket, manual=survey.trigger == "manual")
    route = delivery.route_to_customer(ticket)
    if skip is None and route == "none":
        skip = "no email address, phone number or channel callback to reach the customer"
    if skip:
        _settle(ticket, SurveyState.SKIPPED, reason=skip)
        return "skipped"
    quiet = config.sms_quiet_hours
    if route == "sms" and quiet and quiet.covers(now):
        _defer(ticket, _quiet_hours_end(quiet, now))
        return "deferred"
    if not ticket_store.claim_notice(ticket.id, CLAIM, now, stale_after=STALE_CLAIM):
        return "in progress elsewhere"
    holder = survey_store.claim_customer(ticket.customer.id, ticket.id, now, config.cooldown)
    if holder is not None:
        ticket_store.release_notice(ticket.id, CLAIM)
        _settle(
            ticket,
            SurveyState.SKIPPED,
            reason=f"the customer was surveyed on {str(holder.get('last_sent_at'))[:10]} "
            f"(cooldown {config.cooldown_days:g} days)",
        )
        return "skipped"
    token, expires = links.new_token(), now + config.token_lifetime
    language = messages.language_of(ticket)
    survey_store.put_token(
        links.token_hash(token), ticket_id=ticket.id, expires=expires, number=ticket.number, language=language
    )
    url = links.url(token)
    invite = messages.invitation(ticket, url=url, expires=expires, language=language)
    try:
        sent = delivery.deliver_to_customer(
            ticket,
            subject=invite.subject,
            text=invite.text,
            html=invite.html,
            sms_text=invite.sms,
            sms_segments=SMS_SEGMENTS,
            callback_extra={"type": "survey", "url": url, "expires": clock.iso(expires)},
        )
    except delivery.DeliveryFailed as error:
        ticket_store.release_notice(ticket.id, CLAIM)
        survey_store.release_customer(ticket.customer.id, ticket.id)  # not surveyed: no cooldown
        if error.retryable:
            raise  # SQS retries; after the last try the message waits in the dead-letter queue
        _settle(ticket, SurveyState.UNDELIVERABLE, reason=f"the {error.channel} provider refused it ({error.code})")
        return "undeliverable"
    _record_sent(ticket, sent, expires, now)
    ticket_store.mark_notice_sent(ticket.id, CLAIM)
    count("SurveysSent")
    return "sent"


def _record_sent(ticket: Ticket, sent: delivery.DeliveryResult, expires: datetime, now: datetime) -> None:
    def update(current: Ticket) -> dict[str, Any] | None:
        survey = current.survey
        if survey is None or survey.sent_at is not None:
            return None
        return {
            "survey": survey.model_copy(
                update={
                    # an answer may already be in: a quick customer beats our record
                    "state": SurveyState.SENT if survey.state is SurveyState.SCHEDULED else survey.state,
                    "sent_at": now,
                    "channel": sent.channel,
                    "recipient": sent.recipient_hint,
                    "agent": current.assignee,
                    "team": current.team,
                    "expires_at": expires,
                }
            )
        }

    history.record(
        ticket.id,
        update,
        action="survey_sent",
        actor=SURVEYOR,
        current=ticket,
        reason=f"satisfaction survey sent by {sent.channel} to {sent.recipient_hint}",
    )


def _change_scheduled(ticket: Ticket, changes: dict[str, Any], *, action: str, reason: str) -> Ticket | None:
    """Record ``changes`` to a survey that is still scheduled (nothing if it moved on meanwhile)."""

    def update(current: Ticket) -> dict[str, Any] | None:
        if current.survey is None or current.survey.state is not SurveyState.SCHEDULED:
            return None
        return {"survey": current.survey.model_copy(update=changes)}

    return history.record(ticket.id, update, action=action, actor=SURVEYOR, current=ticket, reason=reason)


def _settle(ticket: Ticket, state: SurveyState, *, reason: str) -> None:
    _change_scheduled(ticket, {"state": state, "reason": reason}, action=f"survey_{state.value}", reason=reason)
    count(f"Surveys{state.value.capitalize()}")
    logger.info("survey not sent", extra={"ticket_id": ticket.id, "state": state.value, "reason": reason})


def _defer(ticket: Ticket, until: datetime) -> None:
    reason = f"SMS quiet hours: the survey goes at {clock.iso(until)}"
    _change_scheduled(ticket, {"due_at": until, "redriven_at": None}, action="survey_deferred", reason=reason)


def _quiet_hours_end(quiet: QuietHours, now: datetime) -> datetime:
    zone = ZoneInfo(quiet.timezone)
    local = now.astimezone(zone)
    end = time.fromisoformat(quiet.end)
    candidate = datetime.combine(local.date(), end, tzinfo=zone)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate.astimezone(now.tzinfo)


def redrive(ticket: Ticket, now: datetime) -> None:
    """The sweep's safety net: a survey still scheduled a minute after it was due is sent again
    through the queue (dispatch is idempotent)."""
    after = _change_scheduled(ticket, {"redriven_at": now}, action="redrive", reason="survey due: sent to its queue")
    if after is not None and after.survey is not None and after.survey.redriven_at == now:
        messaging.send(QUEUE, Envelope(type="survey.due", correlation_id=ticket.id, data={"ticket_id": ticket.id}))
