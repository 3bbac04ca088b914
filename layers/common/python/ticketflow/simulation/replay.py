"""Replay one stored ticket through the decisions the pipeline makes at classification time.

The decisions are the ones ``triage.classify`` takes, from the same building blocks, but on
rules passed in rather than on the live configuration, so that one process can hold two sets
side by side (the live version and a proposal) without touching ``runtime_config``:

- category, subcategory, priority and tags (``Classifier`` on the ticket's subject and text);
- the team (``Routing.team_for``);
- the auto-reply: none for ``NO_AUTO_REPLY_CATEGORIES`` / ``NO_AUTO_REPLY_PRIORITIES``, else the
  knowledge base's confident match (escalation cues included), as ``triage`` decides it;
- the SLA policy, and for first response and resolution the due time on the policy's calendar
  and the outcome: ``met`` / ``breached`` against what really happened (``first_response_at``,
  ``resolved_at``), ``open`` while still running at ``now``, ``stopped`` when the ticket was
  resolved or closed before the clock could be met or breached (as ``sla`` stops it).

A ``Rules`` bundle is built once per run (matchers and indexes are the costly part), never per
ticket. Everything here is pure: no reads, no writes, no sends, and ``now`` is a parameter
(the run's ``as_of``), so replaying a slice twice gives the same answer.

Fidelity limits: a clock starts where the stored one started (creation, or the reopen for
resolution) and is paused over the stored clock's recorded pauses when the rules still pause
that target; pauses a proposal would add (a new ``pause`` status) are not reconstructed from
the history. Order status look-ups (``needs``) are not made: the pipeline does not gate on them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ticketflow import knowledge
from ticketflow.assignment import Routing
from ticketflow.calendars import Calendar, load_calendars
from ticketflow.classification import ClassificationRules, Classifier
from ticketflow.clock import Timestamp
from ticketflow.knowledge import KnowledgeBase
from ticketflow.models import Ticket
from ticketflow.sla import Pause, Policy, SlaConfig, Target
from ticketflow.triage import NO_AUTO_REPLY_CATEGORIES, NO_AUTO_REPLY_PRIORITIES

# The kinds of configuration a replay reads, in the order they are built.
KINDS = ("classification", "knowledge", "routing", "sla", "calendars")
# The clocks that start with a ticket (next response only starts when a customer answers).
TARGETS: tuple[Target, ...] = ("first_response", "resolution")
ALWAYS_OPEN = "24x7"

TargetResult = Literal["met", "breached", "open", "stopped"]


def _classifier(data: Any) -> Classifier:
    return Classifier(ClassificationRules.model_validate(data))


def _sla(data: Any) -> SlaConfig:
    return SlaConfig.model_validate(data)


# kind -> how the pipeline builds its object from the document.
BUILDERS: dict[str, Callable[[Any], Any]] = {
    "classification": _classifier,
    "knowledge": knowledge.from_document,
    "routing": Routing.model_validate,
    "sla": _sla,
    "calendars": load_calendars,
}


def minute_scale() -> float:
    """As ``sla.config``: TICKETFLOW_SLA_MINUTE_SECONDS shortens every SLA minute (demos only)."""
    return float(os.environ.get("TICKETFLOW_SLA_MINUTE_SECONDS") or 60) / 60


@dataclass(frozen=True)
class Rules:
    """One configuration, built: what a replay decides with."""

    classification: Classifier
    knowledge: KnowledgeBase
    routing: Routing
    sla: SlaConfig
    calendars: Mapping[str, Calendar]

    @classmethod
    def build(cls, documents: Mapping[str, Any]) -> Rules:
        """From one document per kind (``KINDS``); pydantic's ValidationError (a ValueError) if one is invalid."""
        missing = [kind for kind in KINDS if kind not in documents]
        if missing:
            raise ValueError(f"documents missing for {', '.join(missing)}")
        return cls(**{kind: BUILDERS[kind](documents[kind]) for kind in KINDS})

    def calendar_for(self, policy: Policy) -> Calendar:
        return calendar_for(self.calendars, policy)


def calendar_for(calendars: Mapping[str, Calendar], policy: Policy) -> Calendar:
    """The calendar a policy counts on, as ``sla`` picks it (calendar time: ``24x7``)."""
    name = policy.calendar if policy.business_hours else ALWAYS_OPEN
    found = calendars.get(name) or calendars.get(policy.calendar)
    if found is None:
        raise ValueError(f"SLA policy {policy.id} counts on calendar {policy.calendar!r}, which does not exist")
    return found


class TargetOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    due_at: Timestamp | None = Field(description="None while the clock is paused (it has no due time then).")
    outcome: TargetResult


class Outcome(BaseModel):
    """What the pipeline would decide for one ticket under one configuration."""

    model_config = ConfigDict(frozen=True)

    category: str
    subcategory: str
    priority: str
    tags: list[str]
    team: str
    auto_reply: str | None = Field(description="The knowledge-base article that would answer, if any.")
    policy: str
    sla: dict[str, TargetOutcome] = Field(description="Per target the policy has: due time and outcome.")


def text_of(ticket: Ticket) -> str:
    """What the classifier reads (as ``triage``): the subject, then the description."""
    return "\n".join(part for part in (ticket.subject, ticket.description) if part)


def replay(ticket: Ticket, rules: Rules, *, now: datetime) -> Outcome:
    text = text_of(ticket)
    tier, channel = ticket.customer.tier.value, ticket.channel.value
    found = rules.classification.classify(text, subject=None, customer_tier=tier)
    team, _ = rules.routing.team_for(found.category, found.subcategory)
    article = None
    if found.category not in NO_AUTO_REPLY_CATEGORIES and found.priority not in NO_AUTO_REPLY_PRIORITIES:
        match = rules.knowledge.match(text, language=found.language, subcategory=found.subcategory)
        article = match.article.id if match else None
    policy = rules.sla.policy_for(priority=found.priority, category=found.category, tier=tier, channel=channel)
    return Outcome(
        category=found.category,
        subcategory=found.subcategory,
        priority=found.priority,
        tags=found.tags,
        team=team,
        auto_reply=article,
        policy=policy.id,
        sla=_clocks(ticket, rules, policy, found.priority, now),
    )


def _clocks(ticket: Ticket, rules: Rules, policy: Policy, priority: str, now: datetime) -> dict[str, TargetOutcome]:
    calendar = rules.calendar_for(policy)
    pausing = {target for targets in rules.sla.pause.values() for target in targets}
    stored = ticket.sla.clocks if ticket.sla else {}
    clocks: dict[str, TargetOutcome] = {}
    for target in TARGETS:
        minutes = policy.targets.get(target, {}).get(priority)
        if not minutes:
            continue
        clock = stored.get(target)
        start = clock.started_at if clock else ticket.created_at
        pauses = clock.pauses if clock and target in pausing else []
        due = due_at(calendar, start, minutes * minute_scale(), pauses)
        done, stopped = _ends(ticket, target)
        clocks[target] = TargetOutcome(due_at=due, outcome=judge(due, done=done, stopped=stopped, now=now))
    return clocks


def _ends(ticket: Ticket, target: str) -> tuple[datetime | None, datetime | None]:
    """When the target was met, and when its clock was stopped without being met."""
    if target == "first_response":  # only a person's reply; resolving or closing stops it
        stops = [t for t in (ticket.resolved_at, ticket.closed_at) if t is not None]
        return ticket.first_response_at, min(stops) if stops else None
    return ticket.resolved_at, ticket.closed_at  # closing unresolved (duplicate, customer cause) stops it


def due_at(calendar: Calendar, start: datetime, minutes: float, pauses: Iterable[Pause] = ()) -> datetime | None:
    """When ``minutes`` of open time have run from ``start``, the clock standing still over
    ``pauses`` that began before then (as ``sla`` pauses and resumes it). None: paused now."""
    running_since, left = start, minutes
    for pause in sorted(pauses, key=lambda p: p.start):
        if pause.start < running_since:
            continue
        due = calendar.add(running_since, max(0.0, left))
        if pause.start >= due:
            return due
        left -= calendar.elapsed(running_since, pause.start)
        if pause.end is None:
            return None
        running_since = pause.end
    return calendar.add(running_since, max(0.0, left))


def judge(due: datetime | None, *, done: datetime | None, stopped: datetime | None, now: datetime) -> TargetResult:
    if due is None:  # paused: nothing decided unless it was met before the pause
        return "met" if done else "stopped" if stopped else "open"
    if done is not None:
        return "met" if done <= due else "breached"
    if stopped is not None:
        return "breached" if stopped > due else "stopped"
    return "breached" if now > due else "open"
