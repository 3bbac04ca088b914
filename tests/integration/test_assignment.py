"""Automatic assignment: the best agent with room, atomically, with loads kept exact."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from tests.conftest import drain
from tests.support import Api, new_ticket, stored_person, stored_ticket
from ticketflow import assignment, history
from ticketflow.directory import Role
from ticketflow.models import ActorKind, ActorRef, Status
from ticketflow.storage import directory as directory_store
from ticketflow.storage import tickets as ticket_store

api = Api()
SETUP = ActorRef(kind=ActorKind.SYSTEM, id="test-setup")


def waiting_ticket(team: str = "logistics", subcategory: str = "logistics", priority: str = "P3", **overrides) -> str:
    """A ticket as classification leaves it: classified, routed to ``team``, nobody assigned."""
    tid = api.post("/tickets", new_ticket(**overrides))[1]["id"]
    history.record(
        tid,
        lambda t: {
            "status": Status.CLASSIFIED,
            "team": team,
            "category": "order_support",
            "subcategory": subcategory,
            "priority": priority,
        },
        action="classify",
        actor=SETUP,
    )
    return tid


def loads(*agents: str) -> dict[str, int]:
    return {a: s.load for a, s in directory_store.agent_states(list(agents)).items()}


def set_capacity(agent: str, capacity: int) -> None:
    person = stored_person(agent)
    directory_store.put_person(person.model_copy(update={"capacity": capacity}), online=True)


def test_skills_then_load_then_round_robin(stack):
    first = assignment.assign_waiting_ticket(waiting_ticket())
    second = assignment.assign_waiting_ticket(waiting_ticket())
    assert {first.agent, second.agent} == {"agent-3", "agent-5"}  # both have the logistics skill; load spreads
    ticket = api.get(f"/tickets/{waiting_ticket()}", as_="sup-1")[1]
    assert ticket["status"] == "classified"
    outcome = assignment.assign_waiting_ticket(ticket["id"])
    _, assigned = api.get(f"/tickets/{ticket['id']}", as_="sup-1")
    assert assigned["status"] == "assigned" and assigned["assignee"] == outcome.agent
    why = assigned["history"][-1]
    assert why["action"] == "assign" and why["actor"]["id"] == "assignment"
    assert "skills matched: logistics" in why["reason"] and "alternatives" in why["reason"]
    assert sum(loads("agent-3", "agent-5").values()) == 3


def test_english_tickets_prefer_the_english_speaker(stack):
    outcome = assignment.assign_waiting_ticket(waiting_ticket(language="en"))
    assert outcome.agent == "agent-5"


def test_p1_goes_to_a_senior_agent_first(stack):
    assignment.assign_waiting_ticket(waiting_ticket())  # load agent-3 or agent-5 by one
    outcome = assignment.assign_waiting_ticket(waiting_ticket(priority="P1"))
    assert outcome.agent == "agent-3"


def test_nobody_with_room_leaves_the_ticket_waiting_and_freed_capacity_pulls_it(stack):
    set_capacity("agent-3", 1)
    set_capacity("agent-5", 1)
    a, b = waiting_ticket(), waiting_ticket()
    assert assignment.assign_waiting_ticket(a).agent
    assert assignment.assign_waiting_ticket(b).agent
    c = waiting_ticket(priority="P4")
    d = waiting_ticket(priority="P2")
    assert assignment.assign_waiting_ticket(c).waiting
    assert stored_ticket(c).status is Status.CLASSIFIED

    holder = stored_ticket(a).assignee
    api.post(f"/tickets/{a}/accept", as_=holder)
    api.post(f"/tickets/{a}/resolve", {"result": "done"}, as_=holder)
    messages = drain(stack["TICKETFLOW_QUEUE_ASSIGN_URL"])
    freed = [m for m in messages if m["type"] == "capacity.freed"]
    assert freed and "logistics" in freed[0]["data"]["teams"]
    for message in freed:
        assignment.handle(assignment.Envelope.model_validate(message))
    # the P2 ticket, not the older P4 one, took the freed place
    assert stored_ticket(d).assignee == holder
    assert stored_ticket(c).status is Status.CLASSIFIED


def test_offline_agents_get_nothing(stack):
    directory_store.set_availability("agent-3", online=False)
    directory_store.set_availability("agent-5", online=False)
    assert assignment.assign_waiting_ticket(waiting_ticket()).waiting


def test_a_redelivered_message_assigns_once(stack):
    tid = waiting_ticket()
    first = assignment.assign_waiting_ticket(tid)
    again = assignment.assign_waiting_ticket(tid)
    assert first.agent and again.agent is None and not again.waiting
    assert sum(loads("agent-3", "agent-5").values()) == 1


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([("accept", None)], 1),
        ([("accept", None), ("pending", None)], 0),  # waiting for the customer does not count
        ([("accept", None), ("pending", None), ("resume", None)], 1),
        ([("accept", None), ("resolve", {"result": "ok"})], 0),
        ([("accept", None), ("resolve", {"result": "ok"}), ("close", {"reason": "resolved"})], 0),
        ([("accept", None), ("resolve", {"result": "ok"}), ("reopen", {"reason": "again"})], 1),
        ([("accept", None), ("transfer", {"team": "presales", "reason": "r"})], 0),
        ([("accept", None), ("close", {"reason": "duplicate"})], 0),
    ],
)
def test_every_action_keeps_the_load_exact(stack, steps, expected):
    tid = waiting_ticket()
    assignment.assign_waiting_ticket(tid)
    agent = stored_ticket(tid).assignee
    assert agent is not None
    assert loads(agent)[agent] == 1
    for action, body in steps:
        status, response = api.post(f"/tickets/{tid}/{action}", body, as_=agent)
        assert status == 200, response
    assert loads(agent)[agent] == expected


def test_supervisor_reassignment_moves_the_load(stack):
    tid = waiting_ticket()
    assignment.assign_waiting_ticket(tid)
    before = stored_ticket(tid).assignee
    assert before is not None
    other = "agent-5" if before == "agent-3" else "agent-3"
    api.post(f"/tickets/{tid}/assign", {"agent": other, "reason": "balance"}, as_="sup-1")
    assert loads(before, other) == {before: 0, other: 1}


def test_parallel_assignment_never_overfills_or_double_assigns(real_dynamodb_stack):
    """Many tickets, few agents, many assigners at once (DynamoDB Local: moto's transactions
    are not atomic under concurrency)."""
    set_capacity("agent-3", 3)
    set_capacity("agent-5", 2)
    tickets = [waiting_ticket() for _ in range(10)]
    barrier = threading.Barrier(8)
    outcomes: list = []

    def assigner(chunk: list[str]) -> None:
        barrier.wait()
        for tid in chunk:
            outcomes.append(assignment.assign_waiting_ticket(tid))
            outcomes.append(assignment.assign_waiting_ticket(tid))  # a twin delivery

    threads = [threading.Thread(target=assigner, args=(tickets[i::4] + tickets[(i + 1) % 4 :: 4],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = [stored_ticket(t) for t in tickets]
    per_agent = Counter(t.assignee for t in final if t.assignee)
    assert per_agent == {"agent-3": 3, "agent-5": 2}
    assert sum(t.status is Status.CLASSIFIED for t in final) == 5
    assert loads("agent-3", "agent-5") == {"agent-3": 3, "agent-5": 2}
    for t in final:
        assigns = [h for h in ticket_store.get_with_history(t.id)[1] if h.action == "assign"]
        assert len(assigns) == (1 if t.assignee else 0)


def test_only_agents_are_auto_assigned(stack):
    members = directory_store.team_members("logistics")
    assert {m.id for m in members if m.role is Role.AGENT} == {"agent-3", "agent-5"}
    assert "sup-1" not in {
        c.person.id
        for c in assignment.rank(
            stored_ticket(waiting_ticket()),
            [*directory_store.team_members("logistics"), stored_person("sup-1")],
            directory_store.agent_states(["agent-3", "agent-5", "sup-1"]),
        )
    }


def test_admins_manage_agents_and_a_new_agent_gets_waiting_work(stack):
    tid = waiting_ticket()
    directory_store.set_availability("agent-3", online=False)
    directory_store.set_availability("agent-5", online=False)
    assert assignment.assign_waiting_ticket(tid).waiting
    drain(stack["TICKETFLOW_QUEUE_ASSIGN_URL"])

    profile = {"name": "Chen Jing 陈静", "teams": ["logistics"], "skills": ["logistics"], "capacity": 2}
    assert api.call("PUT", "/agents/agent-7", body=profile, as_="sup-1")[0] == 403
    status, error = api.call("PUT", "/agents/agent-7", body={**profile, "teams": ["nope"]}, as_="admin-1")
    assert status == 422 and error["error"]["details"][0]["field"] == "teams.0"
    status, error = api.call("PUT", "/agents/agent-7", body={**profile, "capacity": -1}, as_="admin-1")
    assert status == 422 and error["error"]["details"][0]["field"] == "capacity"
    status, created = api.call("PUT", "/agents/agent-7", body=profile, as_="admin-1")
    assert status == 200 and created["capacity"] == 2 and created["load"] == 0
    directory_store.set_availability("agent-7", online=True)
    for message in drain(stack["TICKETFLOW_QUEUE_ASSIGN_URL"]):
        assignment.handle(assignment.Envelope.model_validate(message))
    assignment.fill_team_queue("logistics")
    assert stored_ticket(tid).assignee == "agent-7"
    roster = api.get("/agents", as_="agent-5", query={"team": "logistics"})[1]
    assert {a["id"]: a["load"] for a in roster}["agent-7"] == 1


def test_availability_is_the_agents_own_or_a_supervisors(stack):
    assert api.call("PUT", "/agents/agent-3/availability", body={"online": False}, as_="agent-5")[0] == 403
    status, view = api.call("PUT", "/agents/agent-3/availability", body={"online": False}, as_="agent-3")
    assert status == 200 and view["online"] is False
    assert api.call("PUT", "/agents/agent-3/availability", body={"online": True}, as_="sup-1")[1]["online"] is True
    assert api.get("/agents", as_="agent-1", query={"team": "logistics"})[0] == 403
