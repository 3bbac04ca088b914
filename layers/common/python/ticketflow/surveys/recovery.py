"""服务补救: a low survey score opens a follow-up ticket for the team supervisor.

The recovery ticket is linked both ways (``metadata.recovery_for`` on it, ``survey.
recovery_ticket`` on the rated ticket), assigned to the supervisor of the team that handled
the rated ticket, classified from the survey rules (default proactive/satisfaction_followup,
P2) and runs its own SLA clocks. Its id is derived from the rated ticket's, so opening it
twice (a retry, the sweep's safety net) finds the first one. Who is told of it, once, when
it is created: the ``low_survey_score`` notice of the notifications settings.
"""

from __future__ import annotations

import uuid
from typing import Any

from ticketflow import assignment, clock, delivery, history, intake, notifications, sla
from ticketflow.models import HistoryEntry, Status, SurveyState, Ticket
from ticketflow.observability import count, logger
from ticketflow.storage import directory as directory_store
from ticketflow.storage import tickets as ticket_store
from ticketflow.surveys.dispatch import SURVEYOR
from ticketflow.surveys.messages import language_of
from ticketflow.surveys.rules import DIMENSIONS, rules

_NAMESPACE = uuid.UUID("0b6f6c1e-5d0e-4a55-9a36-73a8c1f3f0a2")
_LABELS = {
    "zh": {"attitude": "服务态度", "speed": "响应速度", "resolution": "问题解决效果", "overall": "整体满意度"},
    "en": {"attitude": "attitude", "speed": "response speed", "resolution": "resolution", "overall": "overall"},
}


def recovery_id(ticket_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"recovery:{ticket_id}"))


def describe(rated: Ticket, language: str) -> tuple[str, str]:
    survey = rated.survey
    assert survey is not None and survey.scores is not None
    labels = _LABELS[language]
    scores = ", ".join(f"{labels[d]} {survey.scores[d]}/5" for d in DIMENSIONS if d in survey.scores)
    nps = f"; NPS {survey.nps}/10" if survey.nps is not None else ""
    comment = survey.comment or ("（无留言）" if language == "zh" else "(no comment)")
    if language == "zh":
        subject = f"满意度回访：工单 {rated.number} 评分偏低"
        body = (
            f"客户对工单 {rated.number}（{rated.category}/{rated.subcategory}，处理人 {survey.agent or '无'}）"
            f"的评价：{scores}{nps}。\n客户留言：{comment}\n请在时限内联系客户，了解原因并补救。"
        )
    else:
        subject = f"Service recovery: low rating on ticket {rated.number}"
        body = (
            f"The customer rated ticket {rated.number} ({rated.category}/{rated.subcategory}, handled by "
            f"{survey.agent or 'nobody'}): {scores}{nps}.\nComment: {comment}\n"
            "Contact the customer, find out what went wrong and put it right."
        )
    return subject, body


def open_for(rated: Ticket) -> Ticket | None:
    """Open (or find) the recovery ticket of ``rated`` and link it; None if none is owed."""
    survey = rated.survey
    if survey is None or survey.state is not SurveyState.ANSWERED or survey.recovery != "pending":
        return None
    config = rules().recovery
    ticket_id = recovery_id(rated.id)
    existing = ticket_store.get(ticket_id)
    if existing is None:
        existing = _create(rated, ticket_id, config)

    def update(current: Ticket) -> dict[str, Any] | None:
        if current.survey is None or current.survey.recovery != "pending":
            return None
        return {"survey": current.survey.model_copy(update={"recovery": "opened", "recovery_ticket": existing.number})}

    history.record(
        rated.id,
        update,
        action="survey_recovery",
        actor=SURVEYOR,
        current=rated,
        reason=f"low satisfaction score: recovery ticket {existing.number} for {existing.assignee or existing.team}",
    )
    return existing


def _create(rated: Ticket, ticket_id: str, config: Any) -> Ticket:
    team_id = (rated.survey.team if rated.survey else None) or rated.team
    team = directory_store.get_team(team_id) if team_id else None
    supervisor = directory_store.get_person(team.supervisor) if team and team.supervisor else None
    language = language_of(rated)
    subject, body = describe(rated, language)
    now = clock.now()
    recovery = Ticket(
        id=ticket_id,
        number=intake.allocate_number(now),
        status=Status.ASSIGNED if supervisor else Status.CLASSIFIED,
        version=1,
        channel=rated.channel,
        customer=rated.customer,
        subject=subject,
        description=body,
        language=rated.language,
        metadata={"recovery_for": rated.number, "recovery_for_id": rated.id},
        created_at=now,
        updated_at=now,
        team=team_id,
        assignee=supervisor.id if supervisor else None,
        assigned_at=now if supervisor else None,
        category=config.category,
        subcategory=config.subcategory,
        priority=config.priority,
        tags=["survey_recovery"],
        sla=sla.start(
            created_at=now,
            priority=config.priority,
            category=config.category,
            tier=rated.customer.tier.value,
            channel=rated.channel.value,
        ),
    )
    entry = HistoryEntry(
        at=now,
        version=1,
        action="create",
        actor=SURVEYOR,
        to_status=recovery.status,
        reason=f"low satisfaction score on ticket {rated.number}",
        body=body,
        changes={"recovery_for": [None, rated.number]},
    )
    try:
        ticket_store.create(recovery, entry, load_deltas={supervisor.id: 1} if supervisor else None)
    except ticket_store.TicketExists:
        return ticket_store.get(ticket_id) or recovery  # a twin attempt won
    if supervisor is None and team_id:
        assignment.queue_ticket(ticket_id)  # no supervisor: the team's agents pick it up
    count("SurveyRecoveries")
    logger.info("recovery ticket opened", extra={"ticket_id": ticket_id, "rated": rated.id})
    plan = notifications.plan("low_survey_score", recovery)  # by default its team supervisor
    people = plan.awake(now)
    if people:
        try:
            delivery.notify_people(people, subject=f"[{recovery.number}] {subject}", text=body, sms=plan.sms)
        except delivery.DeliveryFailed:
            logger.warning("recovery notice not sent", extra={"ticket_id": ticket_id})  # the ticket is theirs anyway
    return recovery
