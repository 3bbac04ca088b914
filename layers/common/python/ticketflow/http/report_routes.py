"""GET /reports/…: the KPIs for supervisors and admins, as JSON or CSV (``Accept: text/csv``
or ``?format=csv``), over a period of business days, for everyone or one dimension value."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import Router

from ticketflow.errors import Forbidden
from ticketflow.http.app import PERSON
from ticketflow.http.identity import current_actor
from ticketflow.reports import figures, queries

router = Router()

From = Annotated[date | None, Query(alias="from", description="First business day (default: 6 days before to)")]
To = Annotated[date | None, Query(description="Last business day, inclusive (default: today)")]
Value = Annotated[str | None, Query(min_length=1, max_length=128)]
Format = Annotated[Literal["json", "csv"] | None, Query(description="csv: the same as Accept: text/csv")]
Breakdown = Annotated[
    Literal["team", "agent", "category", "subcategory", "priority", "channel"] | None,
    Query(description="Also give the figures per value of this dimension"),
]


def _overseer() -> None:
    actor = current_actor(router)
    if not actor.oversees_all:
        raise Forbidden("reports are for supervisors and admins")


def _wants_csv(format: str | None) -> bool:
    if format:
        return format == "csv"
    return "text/csv" in (router.current_event.headers.get("accept") or "").lower()


def _answer(report: dict[str, Any], rows: list[dict[str, Any]], format: str | None) -> Any:
    if not _wants_csv(format):
        return report
    out = io.StringIO()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    filename = f"ticketflow-{report['report']}-{report['period']['from']}-{report['period']['to']}.csv"
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        # The BOM makes Excel read the Chinese names as UTF-8.
        body="\ufeff" + out.getvalue(),
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.get("/reports/summary", summary="KPIs over a period", security=PERSON, tags=["reports"])
def summary(
    first: From = None,
    to: To = None,
    team: Value = None,
    agent: Value = None,
    category: Value = None,
    subcategory: Value = None,
    priority: Value = None,
    channel: Value = None,
    format: Format = None,
):  # untyped: JSON or a CSV Response (documented in docs_routes)
    """Ticket counts, FRT, handle and resolution time (mean, p50, p90), FCR, reopen, auto-reply
    and transfer rates, SLA compliance per target, CSAT and NPS over the period, and the backlog
    now by age. One filter at a time."""
    _overseer()
    chosen = queries.selection(
        team=team, agent=agent, category=category, subcategory=subcategory, priority=priority, channel=channel
    )
    report = queries.summary(chosen, queries.period(first, to))
    return _answer(report, [figures.flat(report)], format)


@router.get("/reports/timeseries", summary="KPIs per day", security=PERSON, tags=["reports"])
def timeseries(
    first: From = None,
    to: To = None,
    team: Value = None,
    agent: Value = None,
    category: Value = None,
    subcategory: Value = None,
    priority: Value = None,
    channel: Value = None,
    format: Format = None,
):  # untyped: JSON or a CSV Response (documented in docs_routes)
    """One row of figures per day, with the backlog at the end of each day."""
    _overseer()
    chosen = queries.selection(
        team=team, agent=agent, category=category, subcategory=subcategory, priority=priority, channel=channel
    )
    report = queries.timeseries(chosen, queries.period(first, to))
    return _answer(report, report["days"], format)


@router.get("/reports/agents", summary="Figures per agent", security=PERSON, tags=["reports"])
def agents(
    first: From = None, to: To = None, team: Value = None, format: Format = None
):  # untyped: JSON or a CSV Response (documented in docs_routes)
    """A row per person who works tickets (of `team`, or of every team), and the totals. An
    agent's row counts all of their work, whichever team it was for."""
    _overseer()
    report = queries.agents(queries.period(first, to), team)
    return _answer(report, [*report["agents"], {**report["totals"], "agent": "TOTAL"}], format)


@router.get("/reports/surveys", summary="Satisfaction: CSAT and NPS", security=PERSON, tags=["reports"])
def surveys(
    first: From = None,
    to: To = None,
    team: Value = None,
    agent: Value = None,
    category: Value = None,
    subcategory: Value = None,
    priority: Value = None,
    channel: Value = None,
    by: Breakdown = None,
    format: Format = None,
):  # untyped: JSON or a CSV Response (documented in docs_routes)
    """CSAT per dimension (mean, share of 4-5, distribution), NPS and response rate, over the
    period and per day; `by` adds a row per team, agent, category, ... (CSV: those rows, or the
    days without `by`)."""
    _overseer()
    chosen = queries.selection(
        team=team, agent=agent, category=category, subcategory=subcategory, priority=priority, channel=channel
    )
    report = queries.surveys(chosen, queries.period(first, to), by)
    return _answer(report, report["breakdown"]["rows"] if by else report["days"], format)


@router.get("/reports/definitions", summary="How each KPI is defined", security=PERSON, tags=["reports"])
def definitions() -> dict:
    """The definitions the figures follow, with the live settings (FCR window, backlog ages)."""
    _overseer()
    return queries.describe()
