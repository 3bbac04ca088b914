"""What one ticket change adds to the report counters.

Every write of a ticket (``storage.tickets.create`` and ``save``) asks ``tally(before, after,
entry)`` and adds the result to its own conditional transaction: the counters move exactly
once with the change they count, whichever function made it, however often a message is
redelivered. Nothing here reads anything; it compares the ticket before and after.

Each figure is counted under every dimension of the ticket (ALL, team, agent, category,
subcategory, priority, channel), on the business day the change happened, except:

- ``created`` is dated by the creation day, and counted under a dimension when the ticket
  first gets a value there (category, priority and team arrive with classification);
- first responses count under the person who replied; a transfer and a reopen under the team
  and agent the ticket had before; a survey under the agent and team recorded when it was sent;
- the backlog gauge (``open`` on the OPEN# items, by creation day) follows the ticket: +1
  where it now waits, -1 where it no longer does, with ``backlog_in``/``backlog_out`` on the
  day's items so that the backlog at the end of any past day can be derived.

The counters (per day and dimension value):

    created, assigned, replies, transfers, escalated, auto_replied, reopened, closed,
    closed_<reason>, resolved, resolved_first, resolved_transferred, fcr,
    frt_* / handle_* / resolution_* (histograms, see ``histograms``),
    sla_<target>_met, sla_<target>_breached, backlog_in, backlog_out,
    surveys_sent, csat_count, csat_<dimension>_sum, csat_<dimension>_<1-5>, csat_comments,
    csat_low, nps_count, nps_sum, nps_promoters|passives|detractors, nps_<0-10>
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ticketflow.models import OPEN_STATUSES, ActorKind, HistoryEntry, Status, SurveyState, Ticket
from ticketflow.reports import histograms
from ticketflow.storage.stats import DAY, OPEN, Tally, business_day, shard_of

if TYPE_CHECKING:
    from ticketflow.sla import Clock

DIMENSIONS = ("ALL", "TEAM", "AGENT", "CATEGORY", "SUBCATEGORY", "PRIORITY", "CHANNEL")
Dims = list[tuple[str, str]]


def dimensions(ticket: Ticket, **override: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "ALL": "",
        "TEAM": ticket.team,
        "AGENT": ticket.assignee,
        "CATEGORY": ticket.category,
        "SUBCATEGORY": ticket.subcategory,
        "PRIORITY": ticket.priority,
        "CHANNEL": ticket.channel.value,
    }
    return values | {name.upper(): value for name, value in override.items()}


def _present(values: dict[str, str | None]) -> Dims:
    return [(name, value) for name, value in values.items() if value is not None]


def tally(before: Ticket | None, after: Ticket, entry: HistoryEntry) -> Tally:
    counts = Tally(shard_of(after.id))
    now = entry.at
    today = business_day(now)
    dims = _present(dimensions(after))

    def add(counters: dict[str, int], where: Dims = dims) -> None:
        counts.add(DAY, today, where, counters)

    _created(counts, before, after)
    _backlog(counts, before, after, now)
    if after.assignee and (before is None or before.assignee != after.assignee):
        add({"assigned": 1})
    if before is not None and after.reply_count > before.reply_count:
        replier = entry.actor.id if entry.actor.kind is ActorKind.PERSON else after.assignee
        by_replier = _present(dimensions(after, agent=replier))
        add({"replies": 1}, by_replier)
        if before.first_response_at is None and after.first_response_at is not None:
            add(histograms.observe("frt", (after.first_response_at - after.created_at).total_seconds()), by_replier)
    if before is not None and after.transfer_count > before.transfer_count:
        add({"transfers": 1}, _present(dimensions(before)))
    if after.escalated and not (before and before.escalated):
        add({"escalated": 1})
    if _auto_replied(after) and not (before and _auto_replied(before)):
        add({"auto_replied": 1})
    if after.status is Status.RESOLVED and (before is None or before.status is not Status.RESOLVED):
        _resolved(counts, before, after, add)
    if after.status is Status.CLOSED and (before is None or before.status is not Status.CLOSED):
        add({"closed": 1, f"closed_{after.close_reason.value if after.close_reason else 'resolved'}": 1})
    if before is not None and after.reopen_count > before.reopen_count:
        add({"reopened": 1}, _present(dimensions(before)))
        if before.first_contact_resolution and not after.first_contact_resolution and before.resolved_at:
            # The reopen withdraws the verdict, on the day and under the dimensions it was given.
            counts.add(DAY, business_day(before.resolved_at), _present(dimensions(before)), {"fcr": -1})
    _sla(before, after, add)
    _survey(before, after, counts, today)
    return counts


def _created(counts: Tally, before: Ticket | None, after: Ticket) -> None:
    values = dimensions(after)
    first = {"ALL", "CHANNEL"} if before is None else set()
    old = dimensions(before) if before else {}
    for name in ("TEAM", "CATEGORY", "SUBCATEGORY", "PRIORITY"):
        if values[name] and not old.get(name):
            first.add(name)
    where = [(name, value) for name, value in values.items() if name in first and value is not None]
    if where:
        counts.add(DAY, business_day(after.created_at), where, {"created": 1})


def _waiting(ticket: Ticket | None) -> dict[str, str | None]:
    """Where a ticket counts in the backlog: its dimension values while open, nowhere else."""
    if ticket is None or ticket.status not in OPEN_STATUSES:
        return dict.fromkeys(DIMENSIONS)
    return dimensions(ticket)


def _backlog(counts: Tally, before: Ticket | None, after: Ticket, now: datetime) -> None:
    old, new = _waiting(before), _waiting(after)
    created, today = business_day(after.created_at), business_day(now)
    for name in DIMENSIONS:
        old_value, new_value = old[name], new[name]
        if old_value == new_value:
            continue
        if old_value is not None:
            counts.add(OPEN, created, [(name, old_value)], {"open": -1})
            counts.add(DAY, today, [(name, old_value)], {"backlog_out": 1})
        if new_value is not None:
            counts.add(OPEN, created, [(name, new_value)], {"open": 1})
            counts.add(DAY, today, [(name, new_value)], {"backlog_in": 1})


def _auto_replied(ticket: Ticket) -> bool:
    return ticket.auto_reply is not None and ticket.auto_reply.state == "sent"


def _resolved(counts: Tally, before: Ticket | None, after: Ticket, add) -> None:
    assert after.resolved_at is not None
    found = {"resolved": 1}
    found |= histograms.observe("resolution", (after.resolved_at - after.created_at).total_seconds())
    found |= histograms.observe("handle", after.handle_seconds)
    if before is not None and before.first_contact_resolution is None and after.first_contact_resolution is not None:
        found["resolved_first"] = 1
        if after.first_contact_resolution:
            found["fcr"] = 1
    if after.transfer_count:
        found["resolved_transferred"] = 1
    add(found)


def _outcome(clock: Clock | None) -> str | None:
    """met or breached once decided (a reply after the due time is a breach even if the sweep
    had not noticed yet); None while running, paused or stopped undecided."""
    if clock is None:
        return None
    if clock.breached_at is not None:
        return "breached"
    if clock.met_at is not None:
        return "breached" if clock.due_at is not None and clock.met_at > clock.due_at else "met"
    return None


def _sla(before: Ticket | None, after: Ticket, add) -> None:
    if after.sla is None:
        return
    old_clocks = before.sla.clocks if before and before.sla else {}
    found: dict[str, int] = {}
    for target, clock in after.sla.clocks.items():
        old = old_clocks.get(target)
        if old is not None and old.started_at != clock.started_at:
            old = None  # a fresh clock (next response again, resolution after a reopen)
        outcome = _outcome(clock)
        if outcome and _outcome(old) is None:
            found[f"sla_{target}_{outcome}"] = 1
    if found:
        add(found)


def _survey(before: Ticket | None, after: Ticket, counts: Tally, today) -> None:
    survey, old = after.survey, before.survey if before else None
    if survey is None:
        return
    where = _present(dimensions(after, team=survey.team or after.team, agent=survey.agent or after.assignee))
    if survey.sent_at is not None and (old is None or old.sent_at is None):
        counts.add(DAY, today, where, {"surveys_sent": 1})
    if survey.state is SurveyState.ANSWERED and (old is None or old.state is not SurveyState.ANSWERED):
        counts.add(DAY, today, where, survey_counts(survey.scores or {}, survey.nps, survey.comment, survey.recovery))


def survey_counts(scores: dict[str, int], nps: int | None, comment: str | None, recovery: str | None) -> dict[str, int]:
    """One answer: count, sums and 1-5 distribution per dimension, NPS buckets (promoters 9-10,
    passives 7-8, detractors 0-6) and distribution, comments, low scores."""
    found = {"csat_count": 1}
    for dimension, score in scores.items():
        found[f"csat_{dimension}_sum"] = score
        found[f"csat_{dimension}_{score}"] = 1
    if nps is not None:
        bucket = "promoters" if nps >= 9 else "passives" if nps >= 7 else "detractors"
        found |= {"nps_count": 1, "nps_sum": nps, f"nps_{bucket}": 1, f"nps_{nps}": 1}
    if comment:
        found["csat_comments"] = 1
    if recovery:
        found["csat_low"] = 1
    return found
