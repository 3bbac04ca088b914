"""An unanswered P1 over the local stack: a warning, then a level-1 escalation, each once,
in the ticket and in the outbox. SLA minutes last 50 ms here (TICKETFLOW_SLA_MINUTE_SECONDS)."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import launch

pytestmark = pytest.mark.e2e
SUPERVISOR = ("sup-1", "supervisor")


@pytest.fixture(scope="module")
def fast_sla_stack():
    # P1 first response: 120 SLA minutes = 6 s; warning at 75 % = 4.5 s. Sweeps fired by hand.
    with launch(TICKETFLOW_SLA_MINUTE_SECONDS="0.05", TICKETFLOW_SCHEDULE_SLA_SWEEP_SECONDS="3600") as stack:
        yield stack


def test_an_unanswered_p1_is_warned_then_escalated_once_each(fast_sla_stack):
    s = fast_sla_stack
    body = {
        "channel": "web",
        "customer": {"id": "C-77", "name": "赵敏", "email": "zhao@example.com"},
        "description": "孩子用了你们的产品后过敏，呼吸困难，已送医院！",
    }
    tid = s.request("POST", "/tickets", channel=True, json=body).json()["id"]

    def ticket() -> dict:
        return s.request("GET", f"/tickets/{tid}", as_=SUPERVISOR).json()

    def sweep_until(action: str, timeout: float = 15) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert s.request("POST", "/dev/schedules/sla-sweep").status_code == 200
            current = ticket()
            if any(h["action"] == action for h in current["history"]):
                return current
            time.sleep(0.3)
        raise AssertionError(f"no {action} within {timeout} s: {[h['action'] for h in current['history']]}")

    sweep_until("sla_warning")
    current = sweep_until("sla_breach")
    assert current["priority"] == "P1" and current["escalated"] is True
    for _ in range(3):  # more sweeps send nothing again
        s.request("POST", "/dev/schedules/sla-sweep")
    history = ticket()["history"]
    assert [h["action"] for h in history].count("sla_warning") == 1
    assert [h["action"] for h in history].count("sla_breach") == 1
    breach = next(h for h in history if h["action"] == "sla_breach")
    assert "first response breach (level 1)" in breach["reason"] and "sup-1" in breach["reason"]

    number = current["number"]
    outbox = s.request("GET", "/dev/outbox").json()
    mails = [m for m in outbox["email"] if number in m["subject"]]
    assert sum("warning" in m["subject"] and "first response" in m["subject"] for m in mails) == 1
    assert sum("breach" in m["subject"] and "first response" in m["subject"] for m in mails) == 1
    assert any(m["to"] == ["sup-1@ticketflow.example"] and "breach" in m["subject"] for m in mails)
    events = [e for e in outbox["events"] if number in str(e)]
    assert any("sla_breach" in str(e) for e in events)

    sla = s.request("GET", f"/tickets/{tid}/sla", as_=SUPERVISOR).json()
    assert sla["policy"] == "p1-urgent" and sla["targets"]["first_response"]["outcome"] == "breached"
