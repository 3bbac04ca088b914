"""The classification stage: classify a new ticket, answer it from the knowledge base where
that is safe, route it to a team, tell the supervisor about P1, hand it to assignment.

Each step writes its result on the ticket before the next begins, and each is skipped when a
redelivered message finds it done, so the stage is safe to run twice:

1. classify (only a ticket still ``new``; one an agent already claimed is theirs to triage);
2. enqueue the ticket for assignment (assignment ignores a ticket that is no longer waiting),
   before anything is sent: a failing email provider delays the automatic answer, never the
   agent;
3. the auto-reply, decided in step 1 and sent once (``auto_reply.state`` pending → sent);
4. the P1 notice (by default to the team supervisor), once, and once per recipient when a
   send fails part-way (``notices.p1_supervisor``, ``notifications.send_once``).

A send that fails with a retryable error raises, so SQS redelivers the message and the step
is tried again; nothing is marked sent until it was. The one window left is a crash between
the provider accepting a message and our write: the retry sends it again (at-least-once).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ticketflow import assignment, clock, delivery, history, knowledge, notifications, runtime_config, sla
from ticketflow.classification import ClassificationRules, Classifier
from ticketflow.knowledge import KnowledgeBase, TableOrderStatusProvider, extract_order_number, render_answer
from ticketflow.lifecycle import Action, next_status
from ticketflow.messaging import Envelope
from ticketflow.models import ActorKind, ActorRef, AutoReply, Status, Ticket
from ticketflow.observability import count, logger
from ticketflow.storage import directory as directory_store
from ticketflow.storage import tickets as ticket_store

CLASSIFIER = ActorRef(kind=ActorKind.SYSTEM, id="classifier")
KNOWLEDGE_BASE = ActorRef(kind=ActorKind.SYSTEM, id="knowledge-base")
NOTIFIER = ActorRef(kind=ActorKind.SYSTEM, id="notifier")
# Never answer these with a canned reply: they need a person.
NO_AUTO_REPLY_CATEGORIES = frozenset({"complaint"})
NO_AUTO_REPLY_PRIORITIES = frozenset({"P1"})
# A claim on the P1 notice left by a crashed invocation is taken over after this; SQS redelivers
# its message after the queue's visibility timeout (3 minutes), so the redelivery finds it stale.
P1_NOTICE_STALE = timedelta(minutes=2)


def classifier() -> Classifier:
    return runtime_config.live("classification").built(
        "classifier", lambda data: Classifier(ClassificationRules.model_validate(data))
    )


def knowledge_base() -> KnowledgeBase:
    return runtime_config.live("knowledge").built("knowledge_base", knowledge.from_document)


def _text(ticket: Ticket) -> str:
    return "\n".join(part for part in (ticket.subject, ticket.description) if part)


def handle(envelope: Envelope) -> None:
    """One message of the classify queue."""
    if envelope.type != "ticket.created":  # not ours to guess at: it fails, and ends in the DLQ
        raise ValueError(f"the classify queue does not handle {envelope.type!r} messages")
    ticket_id = envelope.data["ticket_id"]
    ticket = ticket_store.get(ticket_id)
    if ticket is None:
        logger.warning("no such ticket; dropping the message", extra={"ticket_id": ticket_id})
        return
    if ticket.status is Status.NEW:
        ticket = classify(ticket) or ticket
    if ticket.status is Status.CLASSIFIED and ticket.assignee is None:
        assignment.queue_ticket(ticket.id, event="ticket.classified")
    if ticket.auto_reply and ticket.auto_reply.state == "pending":
        ticket = send_auto_reply(ticket) or ticket
    if ticket.notices.get("p1_supervisor") == "pending":
        notify_supervisor(ticket)


def classify(ticket: Ticket) -> Ticket | None:
    result = classifier().classify(_text(ticket), subject=None, customer_tier=ticket.customer.tier.value)
    team, route_reason = assignment.routing().team_for(result.category, result.subcategory)
    reasons = [*result.reasons, route_reason]
    auto_reply = None
    if result.category in NO_AUTO_REPLY_CATEGORIES or result.priority in NO_AUTO_REPLY_PRIORITIES:
        reasons.append(f"no automatic answer for {result.category}/{result.priority}: a person replies")
    else:
        match = knowledge_base().match(_text(ticket), language=result.language, subcategory=result.subcategory)
        if match:
            auto_reply = AutoReply(article=match.article.id, score=round(match.score, 3))
            reasons.extend(match.reasons)
        else:
            reasons.append("no knowledge-base article matched confidently: a person replies")

    def update(current: Ticket) -> dict[str, Any] | None:
        if current.status is not Status.NEW:
            return None  # classified by a twin delivery, or claimed by an agent meanwhile
        status = next_status(Action.CLASSIFY, current, now=clock.now(), reopen_window=timedelta(0))
        return {
            "status": status,
            "category": result.category,
            "subcategory": result.subcategory,
            "priority": result.priority,
            "confidence": round(result.confidence, 3),
            "tags": result.tags,
            "collaborators": result.collaborators,
            "team": team,
            "auto_reply": auto_reply,
            "sla": sla.start(
                created_at=current.created_at,
                priority=result.priority,
                category=result.category,
                tier=current.customer.tier.value,
                channel=current.channel.value,
            ),
            "notices": {**current.notices, **({"p1_supervisor": "pending"} if result.priority == "P1" else {})},
        }

    after = history.record(
        ticket.id, update, action=Action.CLASSIFY.value, actor=CLASSIFIER, body="\n".join(reasons), current=ticket
    )
    count("TicketsClassified")
    logger.info(
        "classified",
        extra={
            "ticket_id": ticket.id,
            "subcategory": result.subcategory,
            "priority": result.priority,
            "team": team,
            "auto_reply": bool(auto_reply),
        },
    )
    return after


def expected_response(ticket: Ticket, language: str) -> str | None:
    """The first-response target of the ticket's SLA policy, in words (None: no clock runs,
    and the template says something neutral instead)."""
    state = ticket.sla
    clock_ = state.clocks.get("first_response") if state else None
    if state is None or clock_ is None:
        return None
    minutes = round(clock_.minutes)
    hours = minutes / 60
    working = state.business_hours
    if language.startswith("en"):
        unit = "hours" if hours >= 1 else "minutes"
        return f"within {hours:g} {'working ' if working else ''}{unit}" if hours >= 1 else f"within {minutes} {unit}"
    unit = ("个工作小时" if working else "小时") if hours >= 1 else "分钟"
    return f"{hours:g}{unit}内" if hours >= 1 else f"{minutes}{unit}内"  # no space before a Chinese unit


def send_auto_reply(ticket: Ticket) -> Ticket | None:
    assert ticket.auto_reply is not None
    kb = knowledge_base()
    article = next((a for a in kb.articles if a.id == ticket.auto_reply.article), None)
    if article is None:  # removed from the knowledge base since: a person will answer
        return _settle_auto_reply(ticket, "withdrawn", reason=f"article {ticket.auto_reply.article} no longer exists")
    order_number = ticket.order_number or extract_order_number(_text(ticket))
    fields: dict[str, Any] = {
        "customer_name": ticket.customer.name,
        "ticket_number": ticket.number,
        "order_number": order_number,
        "expected_response": expected_response(ticket, article.language),
    }
    if order_number and "order_status" in article.needs:
        status = TableOrderStatusProvider().lookup(order_number)
        if status:
            fields["order_status"] = status.describe(article.language)
    text = render_answer(article, fields)
    try:
        sent = delivery.deliver_to_customer(ticket, subject=f"[{ticket.number}] {article.title}", text=text)
        state, channel = ("sent", sent.channel) if sent.channel != "none" else ("undeliverable", None)
    except delivery.DeliveryFailed as error:
        if error.retryable:
            raise  # SQS redelivers; nothing was marked
        state, channel = "undeliverable", None

    count("AutoReplies" if state == "sent" else "AutoRepliesUndeliverable")
    reason = f"knowledge-base article {article.id} (score {ticket.auto_reply.score}); {state}"
    return _settle_auto_reply(
        ticket, state, channel=channel, body=text, reason=reason + (f" by {channel}" if channel else "")
    )


def _settle_auto_reply(
    ticket: Ticket, state: str, *, reason: str, channel: str | None = None, body: str | None = None
) -> Ticket | None:
    """Record how the pending auto-reply ended (sent, undeliverable, withdrawn), once.

    An automatic reply is not a first response: first_response_at stays for a person."""

    def update(current: Ticket) -> dict[str, Any] | None:
        if not current.auto_reply or current.auto_reply.state != "pending":
            return None
        settled = {"state": state, "channel": channel, "sent_at": None if state == "withdrawn" else clock.now()}
        return {"auto_reply": current.auto_reply.model_copy(update=settled)}

    return history.record(
        ticket.id, update, action="auto_reply", actor=KNOWLEDGE_BASE, current=ticket, body=body, reason=reason
    )


def notify_supervisor(ticket: Ticket) -> Ticket | None:
    """The P1 notice (``p1_notice`` in the notifications settings: by default the team supervisor)."""
    plan = notifications.plan("p1_notice", ticket)
    people = list(plan.people)  # quiet hours never hold back a P1
    subject = f"[P1] {ticket.number} {ticket.subject or ticket.category or ''}".strip()
    text = (
        f"P1 ticket {ticket.number} ({ticket.category}/{ticket.subcategory}) for team {ticket.team}: "
        f"{ticket.description[:200]}"
    )
    team = directory_store.get_team(ticket.team) if ticket.team else None
    event = {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "team": ticket.team,
        "supervisor": next((p.id for p in people if team and p.id == team.supervisor), None),  # if told
        "notified": [p.id for p in people],
    }

    def update(current: Ticket) -> dict[str, Any] | None:
        if current.notices.get("p1_supervisor") != "pending":
            return None
        return {"notices": {**current.notices, "p1_supervisor": "sent"}}

    recorded: list[Ticket | None] = []

    def record() -> None:
        recorded.append(
            history.record(
                ticket.id,
                update,
                current=ticket,
                action="notify",
                actor=NOTIFIER,
                reason=f"P1: notified {notifications.describe(plan, people)}",
            )
        )

    sent = notifications.send_once(
        ticket.id,
        "p1_supervisor",
        clock.now(),
        people=people,
        subject=subject,
        text=text,
        sms=plan.sms,
        event=("ticket.p1_opened", event),
        record=record,
        stale_after=P1_NOTICE_STALE,
    )
    if not sent:
        return None  # a twin delivery is sending it (or crashed: its redelivery takes over)
    count("P1Notices")
    return recorded[0]
