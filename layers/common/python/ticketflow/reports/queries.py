"""The reports: read the daily counters of one dimension value over a period, and the backlog.

Every report reads O(days × dimension values) items with Queries on ``STATS#…`` (never a
ticket): a summary is 2 Queries (the period's days up to today, and the backlog by creation
day), the agents' table 2 per agent plus the totals, run in parallel.

Filters pick one dimension value (team, agent, category, subcategory, priority or channel):
counters are kept per dimension, not per combination of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any, TypeVar

from ticketflow import clock, runtime_config
from ticketflow.config import settings
from ticketflow.directory import Role
from ticketflow.errors import ValidationFailed
from ticketflow.models import Channel
from ticketflow.reports import figures
from ticketflow.reports.definitions import definitions
from ticketflow.storage import directory as directory_store
from ticketflow.storage import stats

MAX_DAYS = 366
DEFAULT_DAYS = 7
FILTERS = ("team", "agent", "category", "subcategory", "priority", "channel")
PRIORITIES = ("P1", "P2", "P3", "P4")
T = TypeVar("T")
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="reports")


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "days": len(self.days),
            "time_zone": settings().timezone,
        }


@dataclass(frozen=True)
class Selection:
    dimension: str  # ALL, TEAM, AGENT, ...
    value: str

    def as_dict(self) -> dict[str, str] | None:
        return None if self.dimension == "ALL" else {"dimension": self.dimension.lower(), "value": self.value}


def today() -> date:
    return stats.business_day(clock.now())


def period(first: date | None, last: date | None) -> Period:
    """The days asked for (business days, inclusive); by default the last 7 days up to today."""
    last = last or today()
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValidationFailed.field("from", f"{first.isoformat()} is after to ({last.isoformat()})")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationFailed.field("from", f"a report covers at most {MAX_DAYS} days; narrow from or to")
    return Period(first, last)


def selection(**filters: str | None) -> Selection:
    given = {name: value for name, value in filters.items() if value}
    if len(given) > 1:
        names = sorted(given)
        raise ValidationFailed(
            f"filter by one of {', '.join(FILTERS)} at a time (got {' and '.join(names)})",
            details=[{"field": name, "message": "one filter at a time"} for name in names],
        )
    if not given:
        return Selection("ALL", "")
    name, value = next(iter(given.items()))
    return Selection(name.upper(), value)


def _parallel(calls: Iterable[Callable[[], T]]) -> list[T]:
    return list(_pool.map(lambda call: call(), list(calls)))


def _sum(days: Mapping[date, Mapping[str, int]], period: Period) -> Counter[str]:
    total: Counter[str] = Counter()
    for day, counters in days.items():
        if period.first <= day <= period.last:
            total.update(counters)
    return total


def _backlog_at_end(open_now: int, days: Mapping[date, Mapping[str, int]], day: date) -> int:
    """Open at the end of ``day``: open now, minus what came in after it, plus what left after it."""
    after = [c for d, c in days.items() if d > day]
    return open_now - sum(c.get("backlog_in", 0) - c.get("backlog_out", 0) for c in after)


@dataclass(frozen=True)
class _Read:
    days: dict[date, dict[str, int]]
    open_by_day: dict[date, int]


def _read(chosen: Selection, period: Period, now: date) -> _Read:
    # Up to today whatever the period, so that the backlog at any past day can be derived.
    # Two Queries in a row: callers run reads in parallel (the pool is never entered twice).
    days = stats.read(chosen.dimension, chosen.value, period.first, max(period.last, now))
    return _Read(days, stats.read_open(chosen.dimension, chosen.value))


def _header(kind: str, chosen: Selection, period: Period) -> dict[str, Any]:
    return {
        "report": kind,
        "period": period.as_dict(),
        "filter": chosen.as_dict(),
        "today": today().isoformat(),  # the business day now, for "today" views
        "generated_at": clock.iso(clock.now()),
    }


def summary(chosen: Selection, period: Period) -> dict[str, Any]:
    now = today()
    read = _read(chosen, period, now)
    backlog = figures.backlog(read.open_by_day, now, definitions().backlog_age_days)
    backlog["at_end_of_period"] = _backlog_at_end(backlog["open"], read.days, period.last)
    return {**_header("summary", chosen, period), **figures.kpis(_sum(read.days, period)), "backlog": backlog}


def timeseries(chosen: Selection, period: Period) -> dict[str, Any]:
    """One row of figures per day of the period (days with nothing are rows of zeros)."""
    now = today()
    read = _read(chosen, period, now)
    open_now = sum(read.open_by_day.values())
    rows = []
    for day in period.days:
        one_day = Period(day, day)
        row = {"date": day.isoformat(), **figures.flat(figures.kpis(_sum(read.days, one_day)))}
        row["backlog.at_end_of_day"] = _backlog_at_end(open_now, read.days, day) if day <= now else None
        rows.append(row)
    return {**_header("timeseries", chosen, period), "days": rows}


def _people(team: str | None) -> list:
    teams = [team] if team else directory_store.team_ids()
    seen: dict[str, Any] = {}
    for members in _parallel([partial(directory_store.team_members, t) for t in teams]):
        for person in members:
            if person.role in (Role.AGENT, Role.SUPERVISOR):
                seen.setdefault(person.id, person)
    return sorted(seen.values(), key=lambda p: p.id)


def agents(period: Period, team: str | None = None) -> dict[str, Any]:
    """A row per person who works tickets (of ``team``, or of every team) and the totals of the
    team or of everyone. An agent's row counts all their work, whichever team it was for."""
    now = today()
    people = _people(team)
    total = Selection("TEAM", team) if team else Selection("ALL", "")
    reads = _parallel(
        [partial(_read, total, period, now)] + [partial(_read, Selection("AGENT", p.id), period, now) for p in people]
    )
    rows = [_agent_row(person, read, period) for person, read in zip(people, reads[1:], strict=True)]
    totals = _agent_row(None, reads[0], period)
    return {**_header("agents", total, period), "agents": rows, "totals": totals}


def _agent_row(person: Any, read: _Read, period: Period) -> dict[str, Any]:
    k = figures.kpis(_sum(read.days, period))
    t = k["tickets"]
    return {
        "agent": person.id if person else None,
        "name": person.name if person else None,
        "teams": person.teams if person else None,
        "assigned": t["assigned"],
        "replies": t["replies"],
        "first_responses": k["first_response_time"]["count"],
        "first_response_mean_s": k["first_response_time"]["mean_s"],
        "first_response_p50_s": k["first_response_time"]["p50_s"],
        "first_response_p90_s": k["first_response_time"]["p90_s"],
        "resolved": t["resolved"],
        "handle_time_mean_s": k["handle_time"]["mean_s"],
        "resolution_p50_s": k["resolution_time"]["p50_s"],
        "fcr_rate": k["first_contact_resolution"]["rate"],
        "reopened": t["reopened"],
        "transfers": t["transfers"],
        "escalated": t["escalated"],
        "sla_met": k["sla"]["all"]["met"],
        "sla_breached": k["sla"]["all"]["breached"],
        "sla_compliance": k["sla"]["all"]["compliance"],
        "surveys_sent": t["surveys_sent"],
        "csat_answered": k["csat"]["answered"],
        "csat_mean": k["csat"]["mean"],
        "nps": k["nps"]["score"],
        "open_now": sum(read.open_by_day.values()),
    }


def values_of(dimension: str) -> list[str]:
    """The values a breakdown lists: teams and agents from the directory, categories from the
    live classification rules, the fixed priorities and channels."""
    if dimension == "team":
        return directory_store.team_ids()
    if dimension == "agent":
        return [p.id for p in _people(None)]
    if dimension in ("category", "subcategory"):
        _, data = runtime_config.live("classification").current()
        categories = data.get("categories", {})
        if dimension == "category":
            return list(categories)
        return [sub for cat in categories.values() for sub in cat.get("subcategories", {})]
    if dimension == "priority":
        return list(PRIORITIES)
    if dimension == "channel":
        return [c.value for c in Channel]
    raise ValidationFailed.field("by", f"break down by one of {', '.join(FILTERS)}")


def surveys(chosen: Selection, period: Period, by: str | None = None) -> dict[str, Any]:
    """CSAT per dimension (mean, share satisfied, 1-5 distribution), NPS and the response rate,
    over the period and per day; with ``by``, the same per team, agent, category, ... too."""
    if by is not None and chosen.dimension != "ALL":
        raise ValidationFailed.field("by", "a breakdown covers everything: leave out the filter, or leave out by")
    values = values_of(by) if by else []
    dimension = by.upper() if by else ""
    reads = _parallel(
        [partial(stats.read, chosen.dimension, chosen.value, period.first, period.last)]
        + [partial(stats.read, dimension, v, period.first, period.last) for v in values]
    )
    days = reads[0]
    report = {
        **_header("surveys", chosen, period),
        **_survey_figures(_sum(days, period)),
        "days": [
            {"date": day.isoformat(), **figures.flat(_survey_figures(Counter(days.get(day, {}))))}
            for day in period.days
        ],
    }
    if by:
        report["breakdown"] = {
            "by": by,
            "rows": [
                {by: value, **figures.flat(_survey_figures(_sum(read, period)))}
                for value, read in zip(values, reads[1:], strict=True)
            ],
        }
    return report


def _survey_figures(counters: Mapping[str, int]) -> dict[str, Any]:
    return {"surveys_sent": int(counters.get("surveys_sent", 0)), **figures.survey_kpis(counters)}


def describe() -> dict[str, Any]:
    """GET /reports/definitions: how each figure is defined, with the live settings."""
    defs = definitions()
    return {
        "time_zone": settings().timezone,
        "first_contact_resolution": {
            **defs.first_contact_resolution.model_dump(),
            "definition": "resolved the first time with at most max_agent_replies replies from people "
            "(auto-replies do not count), and not reopened within reopen_days of that resolution",
        },
        "backlog_age_days": defs.backlog_age_days,
        "definitions": {
            "first_response_time": "creation to the first reply by a person (calendar time; auto-replies "
            "do not count), under the person who replied, on the day of the reply",
            "handle_time": "time the ticket spent in progress with an agent (not waiting for the customer, "
            "not queued), per resolution",
            "resolution_time": "creation to resolution (calendar time), per resolution",
            "reopen_rate": "reopens / resolutions in the period",
            "auto_reply_rate": "tickets answered from the knowledge base / tickets created",
            "transfer_rate": "resolutions of tickets transferred at least once / resolutions",
            "sla_compliance": "targets met / targets decided (met or breached) in the period; a reply "
            "after the due time is a breach; targets stopped undecided (closed as duplicate) do not count",
            "backlog": "tickets not yet resolved (new, classified, assigned, in progress, pending the "
            "customer), by whole days since creation",
            "csat": "mean of the 1-5 answers per dimension; satisfied_rate: share of 4 and 5",
            "nps": "promoters (9-10) minus detractors (0-6), in % of those who answered the NPS question",
            "percentiles": "p50 and p90 are interpolated inside fixed histogram buckets (1 min ... 7 days); "
            "means are exact",
        },
    }
