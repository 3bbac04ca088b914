"""The KPI reports on a small scripted day, checked against figures worked out by hand.

The day (2026-11-10, Asia/Shanghai; minutes after 09:00):

    A  presales   +0   agent-1 accepts +10, replies +20, resolves +50, closes +60; survey 5/4/5/5, NPS 10
    B  logistics  +5   agent-3 accepts +15, replies +25, pending +30, resume +90, replies +95,
                       resolves +100, closes +110; survey 4/4/3/4, NPS 7
    C  presales   +10  agent-2 accepts +12, replies +14, resolves +20, reopen +30, resolves +40
    D  P1         +20  agent-4 accepts +30, replies +170 (after the 120-minute target): open
    E  presales   +40  agent-1 accepts +45, transfers to logistics/agent-5 +50; agent-5 accepts +55,
                       replies +60, resolves +70
    F  logistics  +60  nobody takes it: open

Worked out:
    FRT (s)        A 1200, B 1200, C 240, D 9000, E 1200 -> count 5, mean 2568, p50 1350, p90 10800
    handle (s)     A 2400, B 900+600, C 480 then 480+600, E 300+900 -> 2400, 1500, 480, 1080, 1200
    resolution (s) A 3000, B 5700, C 600 and 1800, E 1800 -> mean 2580
    FCR            first resolutions A B C E; A and E had one reply, C was reopened -> 2/4
    reopen rate    1 reopen / 5 resolutions; transfer rate 1 (E) / 5 resolutions
    SLA            first response met 4 (A B C E), breached 1 (D); resolution met 5; next response met 1 (B)
    backlog        D and F, both created today
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import drain, sqs_batch
from tests.support import Api, invoke, new_ticket
from ticketflow import clock

api = Api()
T0 = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
DAY = "2026-11-10"
LINK = re.compile(r"/surveys/([A-Za-z0-9_-]+)")

PRESALES = "请问这款扫地机器人的规格参数是什么？支持APP控制吗"
LOGISTICS = "我的快递三天了还没到，物流也不更新"
URGENT = "紧急！充电器冒烟了，非常危险，请马上处理"


class Day:
    """The clock at a minute of the day, and the pipeline driven by hand."""

    def __init__(self, stack: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.stack = stack
        self.minute = 0.0
        self.run = uuid.uuid4().hex[:8]  # sent email stays in the emulator between tests
        monkeypatch.setattr(clock, "now", lambda: T0 + timedelta(minutes=self.minute))
        monkeypatch.setenv("TICKETFLOW_SURVEY_DELAY_SECONDS", "0")

    def at(self, minute: float) -> Day:
        self.minute = minute
        return self

    def open(self, description: str, **fields: Any) -> str:
        customer = {"id": f"C-{self.minute:g}", "name": "王芳", "email": f"c{self.minute:g}.{self.run}@example.com"}
        tid = api.post("/tickets", new_ticket(description=description, subject=None, customer=customer, **fields))[1][
            "id"
        ]
        messages = drain(self.stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])
        invoke("classify", sqs_batch(messages))
        invoke("classify", sqs_batch(messages))  # delivered twice: counted once
        drain(self.stack["TICKETFLOW_QUEUE_ASSIGN_URL"])  # agents pick their tickets by hand here
        return tid

    def act(self, tid: str, action: str, who: str, body: dict | None = None) -> None:
        status, answer = api.post(f"/tickets/{tid}/{action}", body or {}, as_=who)
        assert status == 200, answer

    def survey(self, tid: str, answer: dict[str, str]) -> None:
        messages = [m for m in drain(self.stack["TICKETFLOW_QUEUE_SURVEY_URL"]) if m["data"]["ticket_id"] == tid]
        invoke("survey_dispatch", sqs_batch(messages, "survey"))
        invoke("survey_dispatch", sqs_batch(messages, "survey"))  # twice: sent (and counted) once
        from moto.ses.models import ses_backends

        address = api.get(f"/tickets/{tid}", as_="sup-1")[1]["customer"]["email"]
        [sent] = [
            m
            for backend in ses_backends.values()
            for region in backend.values()
            for m in region.sent_messages
            if address in m.destinations.get("ToAddresses", []) and LINK.search(m.body)
        ]
        found = LINK.search(sent.body)
        assert found
        token = found.group(1)
        assert api.post(f"/surveys/{token}", answer, headers={"Content-Type": "application/json"})[0] == 200
        assert api.post(f"/surveys/{token}", answer, headers={"Content-Type": "application/json"})[0] == 409


@pytest.fixture
def scripted_day(any_stack, monkeypatch) -> dict[str, str]:
    day = Day(any_stack, monkeypatch)
    reply = {"body": "您好，已为您处理。"}
    a = day.at(0).open(PRESALES)
    b = day.at(5).open(LOGISTICS)
    day.at(10).act(a, "accept", "agent-1")
    c = day.at(10).open(PRESALES)
    day.at(12).act(c, "accept", "agent-2")
    day.at(14).act(c, "reply", "agent-2", reply)
    day.at(15).act(b, "accept", "agent-3")
    day.at(20).act(a, "reply", "agent-1", reply)
    day.at(20).act(c, "resolve", "agent-2", {"result": "已解答"})
    d = day.at(20).open(URGENT)
    day.at(25).act(b, "reply", "agent-3", reply)
    day.at(30).act(b, "pending", "agent-3", {"reason": "等客户提供单号"})
    day.at(30).act(c, "reopen", "sup-1", {"reason": "客户说还有问题"})
    day.at(30).act(d, "accept", "agent-4")
    day.at(40).act(c, "resolve", "agent-2", {"result": "已再次解答"})
    e = day.at(40).open(PRESALES)
    day.at(45).act(e, "accept", "agent-1")
    day.at(50).act(a, "resolve", "agent-1", {"result": "已解答"})
    day.at(50).act(e, "transfer", "agent-1", {"team": "logistics", "agent": "agent-5", "reason": "物流问题"})
    day.at(55).act(e, "accept", "agent-5")
    day.at(60).act(a, "close", "agent-1", {"reason": "resolved"})
    day.at(60).survey(a, {"attitude": "5", "speed": "4", "resolution": "5", "overall": "5", "nps": "10"})
    day.at(60).act(e, "reply", "agent-5", reply)
    f = day.at(60).open(LOGISTICS)
    day.at(70).act(e, "resolve", "agent-5", {"result": "已处理"})
    day.at(90).act(b, "resume", "agent-3", {"note": "客户已回复"})
    day.at(95).act(b, "reply", "agent-3", reply)
    day.at(100).act(b, "resolve", "agent-3", {"result": "已补发"})
    day.at(110).act(b, "close", "agent-3", {"reason": "resolved"})
    day.at(110).survey(b, {"attitude": "4", "speed": "4", "resolution": "3", "overall": "4", "nps": "7"})
    day.at(170).act(d, "reply", "agent-4", reply)
    # A stale retry of an action already done changes nothing and counts nothing.
    assert api.post(f"/tickets/{e}/resolve", {"result": "again"}, as_="agent-5")[0] == 409
    day.at(200)
    return {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f}


def report(kind: str, **query: str) -> dict:
    status, body = api.get(f"/reports/{kind}", as_="sup-1", query={"from": DAY, "to": DAY, **query})
    assert status == 200, body
    return body


def tickets(ids: dict[str, str]) -> dict[str, dict]:
    return {name: api.get(f"/tickets/{tid}", as_="sup-1")[1] for name, tid in ids.items()}


def test_every_metric_of_the_scripted_day(scripted_day):
    seen = tickets(scripted_day)
    assert seen["D"]["priority"] == "P1" and seen["F"]["status"] == "classified"
    s = report("summary")

    auto_replied = sum(1 for t in seen.values() if (t["auto_reply"] or {}).get("state") == "sent")
    assert s["tickets"] == {
        "created": 6,
        "assigned": 6,  # A C D by accepting; B; E twice (agent-1, then agent-5 by the transfer)
        "replies": 6,  # A, B twice, C, D, E
        "auto_replied": auto_replied,
        "transfers": 1,
        "escalated": 0,
        "resolved": 5,
        "reopened": 1,
        "closed": 2,
        "surveys_sent": 2,
    }
    assert s["auto_reply_rate"] == round(auto_replied / 6, 4)
    assert s["first_response_time"] == {"count": 5, "mean_s": 2568.0, "p50_s": 1350.0, "p90_s": 10800.0}
    assert s["handle_time"]["count"] == 5 and s["handle_time"]["mean_s"] == (2400 + 1500 + 480 + 1080 + 1200) / 5
    assert s["resolution_time"]["mean_s"] == (3000 + 5700 + 600 + 1800 + 1800) / 5
    assert s["first_contact_resolution"] == {"rate": 0.5, "resolved_at_first_contact": 2, "first_resolutions": 4}
    assert s["reopen_rate"] == 0.2 and s["transfer_rate"] == 0.2
    assert s["sla"]["first_response"] == {"met": 4, "breached": 1, "compliance": 0.8}
    assert s["sla"]["resolution"] == {"met": 5, "breached": 0, "compliance": 1.0}
    assert s["sla"]["next_response"] == {"met": 1, "breached": 0, "compliance": 1.0}
    assert s["sla"]["all"] == {"met": 10, "breached": 1, "compliance": round(10 / 11, 4)}
    assert s["backlog"]["open"] == 2 and s["backlog"]["ages"] == {"<1d": 2, "1-3d": 0, "3-7d": 0, ">=7d": 0}
    assert s["backlog"]["at_end_of_period"] == 2
    csat = s["csat"]
    assert csat["answered"] == 2 and csat["response_rate"] == 1.0 and csat["mean"] == 4.5
    assert csat["dimensions"]["resolution"] == {
        "mean": 4.0,
        "satisfied_rate": 0.5,
        "distribution": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1},
    }
    assert s["nps"]["score"] == 50.0 and (s["nps"]["promoters"], s["nps"]["passives"]) == (1, 1)


def test_the_tickets_carry_what_was_counted(scripted_day):
    seen = tickets(scripted_day)
    assert [seen[n]["handle_seconds"] for n in "ABCE"] == [2400, 1500, 1080, 1200]
    assert [seen[n]["first_contact_resolution"] for n in "ABCE"] == [True, False, False, True]


def test_each_dimension_splits_the_day(scripted_day):
    presales, logistics = report("summary", team="presales"), report("summary", team="logistics")
    # A and C stayed in presales; E was created there and resolved in logistics.
    assert presales["tickets"]["created"] == 3 and presales["tickets"]["resolved"] == 3
    assert presales["tickets"]["transfers"] == 1
    assert logistics["tickets"]["resolved"] == 2 and logistics["backlog"]["open"] == 1  # B and E; F waits
    p1 = report("summary", priority="P1")
    assert p1["sla"]["first_response"] == {"met": 0, "breached": 1, "compliance": 0.0}
    assert p1["first_response_time"]["mean_s"] == 9000.0
    web = report("summary", channel="web")
    assert web["tickets"]["created"] == 6


def test_per_agent_rows_add_up_to_the_totals(scripted_day):
    agents = report("agents")
    rows = {row["agent"]: row for row in agents["agents"]}
    assert {a: rows[a]["resolved"] for a in ("agent-1", "agent-2", "agent-3", "agent-5")} == {
        "agent-1": 1,
        "agent-2": 2,
        "agent-3": 1,
        "agent-5": 1,
    }
    assert rows["agent-4"]["first_response_mean_s"] == 9000.0 and rows["agent-4"]["open_now"] == 1
    assert rows["agent-1"]["transfers"] == 1 and rows["agent-1"]["csat_mean"] == 5.0
    for column in ("resolved", "first_responses", "replies", "transfers", "reopened", "sla_met", "sla_breached"):
        assert sum(row[column] for row in agents["agents"]) == agents["totals"][column], column
    assert agents["totals"]["open_now"] == 2  # D with agent-4; F with nobody
    assert sum(row["open_now"] for row in agents["agents"]) == 1


def test_timeseries_and_backlog_over_days(scripted_day):
    days = api.get("/reports/timeseries", as_="sup-1", query={"from": "2026-11-09", "to": "2026-11-11"})[1]["days"]
    assert [d["date"] for d in days] == ["2026-11-09", "2026-11-10", "2026-11-11"]
    assert [d["tickets.created"] for d in days] == [0, 6, 0]
    assert [d["backlog.at_end_of_day"] for d in days] == [0, 2, None]  # the 11th is still to come
    assert days[1]["first_response_time.p50_s"] == 1350.0


def test_survey_report_breaks_down_by_agent(scripted_day):
    surveys = report("surveys", by="agent")
    assert surveys["csat"]["answered"] == 2 and surveys["nps"]["score"] == 50.0
    rows = {row["agent"]: row for row in surveys["breakdown"]["rows"]}
    assert rows["agent-1"]["csat.mean"] == 5.0 and rows["agent-3"]["csat.mean"] == 4.0
    assert rows["agent-2"]["csat.answered"] == 0


def test_csv_has_the_same_figures(scripted_day):
    status, text = api.get(
        "/reports/agents", as_="sup-1", query={"from": DAY, "to": DAY}, headers={"Accept": "text/csv"}
    )
    assert status == 200, text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    by_agent = {row["agent"]: row for row in rows}
    assert by_agent["TOTAL"]["resolved"] == "5" and by_agent["agent-2"]["resolved"] == "2"
    assert by_agent["agent-1"]["name"] == "Li Wei 李伟"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-11-12", "to": "2026-11-10"}, "from"),
        ({"from": "2024-01-01", "to": "2026-11-10"}, "from"),
        ({"from": "10/11/2026"}, "from"),
        ({"team": "presales", "channel": "web"}, "channel"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_queries_name_the_field(stack, query, field):
    status, body = api.get("/reports/summary", as_="sup-1", query=query)
    assert status == 422, body
    assert field in [d["field"] for d in body["error"]["details"]]


def test_reports_are_for_supervisors_and_admins(stack):
    assert api.get("/reports/summary", as_="agent-1")[0] == 403
    assert api.get("/reports/summary", as_="admin-1")[0] == 200
    assert api.get("/reports/agents")[0] == 401
