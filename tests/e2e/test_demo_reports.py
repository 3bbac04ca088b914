"""`ticketflow demo` replays a day through `ticketflow dev`; the reports then agree with the
tickets themselves, read one by one over the API."""

from __future__ import annotations

import statistics
import subprocess
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import BIN, ROOT, LocalStack, launch

SUP = ("sup-1", "supervisor")
STATUSES = ("new", "classified", "assigned", "in_progress", "pending_customer", "resolved", "closed")
OPEN = {"new", "classified", "assigned", "in_progress", "pending_customer"}


@pytest.fixture(scope="module")
def replayed():
    with launch(TICKETFLOW_SURVEY_DELAY_SECONDS="0") as stack:
        demo = subprocess.run(
            [str(BIN / "ticketflow"), "demo", "--url", stack.base_url, "--api-key", stack.api_key, "--tickets", "16"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert demo.returncode == 0, demo.stderr[-2000:]
        yield stack, demo.stderr


def every_ticket(stack: LocalStack) -> list[dict]:
    found = []
    for status in STATUSES:
        cursor = None
        while True:
            params = {"status": status, "limit": 100} | ({"cursor": cursor} if cursor else {})
            page = stack.request("GET", "/tickets", as_=SUP, params=params).json()
            found += [stack.request("GET", f"/tickets/{t['id']}", as_=SUP).json() for t in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return found


def test_the_replay_shows_progress_and_its_outcome(replayed):
    _, stderr = replayed
    assert "demo [" in stderr and "steps" in stderr
    assert "0 server errors" in stderr


def test_reports_agree_with_the_tickets(replayed):
    stack, _ = replayed
    today = stack.request("GET", "/reports/summary", as_=SUP).json()["period"]["to"]
    first = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
    period = {"from": first, "to": today}
    summary = stack.request("GET", "/reports/summary", as_=SUP, params=period).json()
    tickets = every_ticket(stack)

    assert summary["tickets"]["created"] == len(tickets) >= 16
    resolutions = sum(
        1 for t in tickets for h in t["history"] if h["to_status"] == "resolved" and h["action"] == "resolve"
    )
    assert summary["tickets"]["resolved"] == resolutions > 0
    assert summary["backlog"]["open"] == sum(1 for t in tickets if t["status"] in OPEN)
    assert summary["tickets"]["transfers"] == sum(t["transfer_count"] for t in tickets)
    assert summary["tickets"]["reopened"] == sum(t["reopen_count"] for t in tickets)
    responded = [t for t in tickets if t["first_response_at"]]
    assert summary["first_response_time"]["count"] == len(responded)

    answers = [t["survey"] for t in tickets if t["survey"] and t["survey"]["state"] == "answered"]
    assert summary["csat"]["answered"] == len(answers) > 0
    assert summary["csat"]["mean"] == round(statistics.mean(a["scores"]["overall"] for a in answers), 2)
    sent = [t for t in tickets if t["survey"] and t["survey"].get("sent_at")]
    assert summary["tickets"]["surveys_sent"] == len(sent)


def test_agent_rows_add_up(replayed):
    stack, _ = replayed
    today = stack.request("GET", "/reports/summary", as_=SUP).json()["period"]["to"]
    first = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
    report = stack.request("GET", "/reports/agents", as_=SUP, params={"from": first, "to": today}).json()
    for column in ("resolved", "first_responses", "replies", "reopened", "transfers"):
        assert sum(row[column] for row in report["agents"]) == report["totals"][column], column
    timeseries = stack.request("GET", "/reports/timeseries", as_=SUP, params={"from": first, "to": today}).json()
    summary = stack.request("GET", "/reports/summary", as_=SUP, params={"from": first, "to": today}).json()
    assert sum(day["tickets.created"] for day in timeseries["days"]) == summary["tickets"]["created"]
    assert timeseries["days"][-1]["backlog.at_end_of_day"] == summary["backlog"]["open"]
    assert ZoneInfo(summary["period"]["time_zone"])
