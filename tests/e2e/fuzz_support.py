"""Real data for the fuzzer to find: without it nearly every `/tickets/{ticket_id}` request is a
404 and the handlers behind it are never reached.

``prepare`` fills a fresh `ticketflow dev` over its API, as channels and people would: tickets
in every status a person can put them in, a survey link, a knowledge-base proposal and a what-if
simulation. ``dictionaries`` turns what it made into schemathesis fuzz dictionaries bound to
path and query parameters (``schemathesis.toml``), which the fuzzer mixes with the values it
generates itself.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from infra.local import tokens
from tests.e2e.conftest import LocalStack

SUPERVISOR = ("sup-1", "supervisor")
LINK = re.compile(r"/surveys/([A-Za-z0-9_-]+)")
# (channel, customer, text): they classify to each team, in Chinese and English.
TICKETS: list[tuple[str, dict[str, str], str]] = [
    ("email", {"name": "王芳", "email": "wang.fang@example.com"}, "发票抬头开错了，麻烦重新开一张。"),
    ("web", {"name": "周杰", "phone": "13800138000"}, "我的订单2024031000123三天了还没发货，急用！"),
    ("web", {"name": "Emma Li", "email": "emma.li@example.com"}, "How do I change the delivery address of my order?"),
    ("app", {"name": "陈静"}, "这款手机有黑色的吗？什么时候有货？"),
    ("chat", {"name": "李雷"}, "收到的耳机左边没有声音，想退货。"),
    ("sms", {"name": "韩梅梅", "phone": "13900139000"}, "快递显示已签收但我没收到包裹"),
]
# What each prepared ticket's assignee does to it: one ticket in each status people reach.
ACTIONS: list[list[tuple[str, dict[str, str] | None]]] = [
    [
        ("accept", None),
        ("reply", {"body": "您好，发票已重开。"}),
        ("resolve", {"result": "已重开"}),
        ("close", {"reason": "resolved"}),
    ],
    [("accept", None), ("pending", {"reason": "等待客户提供照片"})],
    [("accept", None), ("resolve", {"result": "Address changed"})],
    [("accept", None)],
    [],
    [],
]


def prepare(stack: LocalStack) -> dict[str, Any]:
    """Make the data; return what the fuzzer should know of it (ids, numbers, names)."""
    tickets = []
    for n, (channel, customer, text) in enumerate(TICKETS):
        body = {"channel": channel, "customer": {"id": f"C-FUZZ-{n}", **customer}, "description": text}
        response = stack.request("POST", "/tickets", channel=True, json=body)
        assert response.status_code == 201, response.text
        tickets.append(response.json())
    _settle(stack)
    for ticket, actions in zip(tickets, ACTIONS, strict=True):
        current = _as(stack, SUPERVISOR, "GET", f"/tickets/{ticket['id']}").json()
        owner = (current["assignee"], "agent") if current["assignee"] else SUPERVISOR
        for action, action_body in actions:
            response = _as(stack, owner, "POST", f"/tickets/{ticket['id']}/{action}", json=action_body)
            assert response.status_code == 200, (action, response.text)
    _settle(stack)

    article = _as(stack, SUPERVISOR, "GET", "/admin/config/knowledge/items").json()[0]
    put = [{**article, "answer": article["answer"] + " 谢谢！"}]
    proposal = _as(stack, SUPERVISOR, "POST", "/admin/config/knowledge/proposals", json={"reason": "措辞", "put": put})
    assert proposal.status_code == 201, proposal.text
    routing = _as(stack, SUPERVISOR, "GET", "/admin/config/routing").json()["data"]
    simulation = _as(stack, SUPERVISOR, "POST", "/admin/simulations", json={"proposal": {"routing": routing}})
    assert simulation.status_code == 202, simulation.text

    kinds = [kind["kind"] for kind in _as(stack, SUPERVISOR, "GET", "/admin/config").json() if kind["collection"]]
    items = {kind: _as(stack, SUPERVISOR, "GET", f"/admin/config/{kind}/items").json() for kind in kinds}
    return {
        "ticket_id": [t["id"] for t in tickets] + [t["number"] for t in tickets],
        "token": [_survey_token(stack)],
        "proposal_id": [proposal.json()["id"]],
        "simulation_id": [simulation.json()["id"]],
        "kind": [kind["kind"] for kind in _as(stack, SUPERVISOR, "GET", "/admin/config").json()],
        "item_id": sorted({item["id"] for listed in items.values() for item in listed}),
        "agent_id": [agent["id"] for agent in items["agents"]],
        "team": [team["id"] for team in items["teams"]],
        "customer": [f"C-FUZZ-{n}" for n in range(len(TICKETS))],
        "asset": ["dashboard.js", "dashboard.css", "chart.umd.min.js"],
    }


def _as(stack: LocalStack, person: tuple[str, str], method: str, path: str, **kwargs: Any) -> Any:
    """A request as ``person``, with a token signed in-process as `ticketflow token` signs it
    (a process per person would cost seconds; the fuzzer's own tokens come from the command)."""
    return stack.request(method, path, headers={"Authorization": f"Bearer {tokens.issue(*person)}"}, **kwargs)


def _settle(stack: LocalStack) -> None:
    response = stack.request("POST", "/dev/settle", json={"timeout_s": 20})
    assert response.json()["settled"], response.text


def _survey_token(stack: LocalStack) -> str:
    """The link of the survey the closed ticket's customer was sent (the stack sends it a second
    after the close: TICKETFLOW_SURVEY_DELAY_SECONDS)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in stack.request("GET", "/dev/outbox").json()["email"]:
            found = LINK.search(message.get("body") or "")
            if found:
                return found.group(1)
        time.sleep(0.2)
    raise AssertionError("no survey link in the outbox")


# Which parameters draw from which prepared values, and how often (the rest of the time the
# fuzzer generates its own, valid or not).
BINDINGS = {
    "path.ticket_id": "ticket_id",
    "path.token": "token",
    "path.proposal_id": "proposal_id",
    "path.id": "simulation_id",
    "path.kind": "kind",
    "path.item_id": "item_id",
    "path.agent_id": "agent_id",
    "path.name": "asset",
    "query.team": "team",
    "query.assignee": "agent_id",
    "query.agent": "agent_id",
    "query.customer": "customer",
}
PROBABILITY = 0.5


def config_toml(data: dict[str, list]) -> str:
    """A schemathesis.toml with the prepared values as dictionaries bound to their parameters.
    (JSON strings and arrays of them are valid TOML values.)"""
    lines = ["[cache]", "enabled = false  # nothing carried over between runs: each run is the same search", ""]
    for name, values in data.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values, ensure_ascii=False)}", ""]
    lines.append("[parameters]")
    for parameter, name in BINDINGS.items():
        lines.append(f'"{parameter}" = {{ dictionary = "{name}", probability = {PROBABILITY} }}')
    return "\n".join(lines) + "\n"
