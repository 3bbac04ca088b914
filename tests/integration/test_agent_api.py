"""The agent API through its handler: every action, who may do it, and what the state allows."""

from __future__ import annotations

import threading

import pytest

from tests.support import Api, new_ticket

api = Api()


@pytest.fixture
def ticket(stack) -> dict:
    return api.post("/tickets", new_ticket())[1]


def act(ticket_id: str, action: str, as_: str, body: dict | None = None) -> tuple[int, dict]:
    return api.post(f"/tickets/{ticket_id}/{action}", body, as_=as_)


def test_a_ticket_life_is_recorded_step_by_step(ticket):
    tid = ticket["id"]
    assert act(tid, "accept", "agent-1")[1]["status"] == "in_progress"
    status, replied = act(tid, "reply", "agent-1", {"body": "您好，我们正在处理。"})
    assert status == 200 and replied["first_response_at"] is not None and replied["reply_count"] == 1
    assert act(tid, "comments", "agent-1", {"body": "internal: check the warehouse"})[0] == 200
    status, moved = act(tid, "transfer", "agent-1", {"team": "aftersales", "agent": "agent-3", "reason": "物流问题"})
    assert status == 200
    assert (moved["team"], moved["assignee"], moved["status"]) == ("aftersales", "agent-3", "assigned")
    assert act(tid, "accept", "agent-3")[1]["status"] == "in_progress"
    assert act(tid, "pending", "agent-3", {"reason": "need a photo"})[1]["status"] == "pending_customer"
    assert act(tid, "resume", "agent-3")[1]["status"] == "in_progress"
    status, resolved = act(tid, "resolve", "agent-3", {"result": "已补发"})
    assert resolved["status"] == "resolved" and resolved["resolution"] == "已补发"
    status, closed = act(tid, "close", "agent-3", {"reason": "resolved"})
    assert closed["status"] == "closed" and closed["close_reason"] == "resolved"
    status, reopened = act(tid, "reopen", "agent-3", {"reason": "客户说包裹破损"})
    assert reopened["status"] == "in_progress" and reopened["reopen_count"] == 1 and reopened["closed_at"] is None

    _, full = api.get(f"/tickets/{tid}", as_="agent-3")
    history = full["history"]
    assert [h["action"] for h in history] == [
        "create",
        "accept",
        "reply",
        "comment",
        "transfer",
        "accept",
        "pending",
        "resume",
        "resolve",
        "close",
        "reopen",
    ]
    assert [h["version"] for h in history] == list(range(1, 12))
    assert history[4]["actor"] == {"kind": "person", "id": "agent-1", "role": "agent"}
    assert history[4]["reason"] == "物流问题"
    assert history[4]["changes"]["team"] == ["presales", "aftersales"]
    assert history[3]["body"] == "internal: check the warehouse"
    assert all(h["at"] for h in history)


def test_first_response_time_is_set_by_the_first_reply_only(ticket):
    tid = ticket["id"]
    act(tid, "accept", "agent-1")
    first = act(tid, "reply", "agent-1", {"body": "one"})[1]["first_response_at"]
    assert act(tid, "reply", "agent-1", {"body": "two"})[1]["first_response_at"] == first


def test_an_agent_of_another_team_is_refused(ticket):
    tid = ticket["id"]
    act(tid, "accept", "agent-1")  # presales
    for action, body in [("reply", {"body": "hi"}), ("resolve", {"result": "x"}), ("comments", {"body": "x"})]:
        status, error = act(tid, action, "agent-3", body)  # aftersales
        assert status == 403, action
        assert error["error"]["code"] == "forbidden"
    assert api.get(f"/tickets/{tid}", as_="agent-3")[0] == 403
    assert api.get(f"/tickets/{tid}", as_="agent-2")[0] == 200  # same team


def test_only_supervisors_assign(ticket):
    tid = ticket["id"]
    status, error = act(tid, "assign", "agent-1", {"agent": "agent-2", "reason": "x"})
    assert status == 403 and "supervisor" in error["error"]["message"]
    status, assigned = act(tid, "assign", "sup-1", {"agent": "agent-3", "reason": "物流技能"})
    assert status == 200
    assert (assigned["status"], assigned["assignee"], assigned["team"]) == ("assigned", "agent-3", "aftersales")


def test_accepting_someone_elses_ticket_is_a_conflict(ticket):
    tid = ticket["id"]
    act(tid, "assign", "sup-1", {"agent": "agent-1", "reason": "r"})
    status, error = act(tid, "accept", "agent-2")
    assert status == 409 and error["error"]["code"] == "assigned_to_someone_else"


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("resolve", {"result": "x"}),
        ("pending", None),
        ("resume", None),
        ("reopen", {"reason": "x"}),
        ("close", {"reason": "resolved"}),
    ],
)
def test_illegal_transitions_are_409_and_change_nothing(ticket, action, body):
    status, error = act(ticket["id"], action, "sup-1", body)
    assert status == 409
    assert error["error"]["code"] == "illegal_transition"
    assert error["error"]["details"]["status"] == "new"
    _, after = api.get(f"/tickets/{ticket['id']}", as_="sup-1")
    assert after["version"] == 1 and len(after["history"]) == 1


def test_duplicates_close_straight_from_open(ticket):
    status, closed = act(ticket["id"], "close", "sup-1", {"reason": "duplicate"})
    assert status == 200 and closed["status"] == "closed"


def test_transfer_validates_team_and_agent(ticket):
    tid = ticket["id"]
    act(tid, "accept", "agent-1")
    status, error = act(tid, "transfer", "agent-1", {"team": "nope", "reason": "r"})
    assert status == 422 and error["error"]["details"][0]["field"] == "team"
    status, error = act(tid, "transfer", "agent-1", {"team": "aftersales", "agent": "agent-2", "reason": "r"})
    assert status == 422 and error["error"]["details"][0]["field"] == "agent"
    status, error = act(tid, "transfer", "agent-1", {"team": "aftersales"})
    assert status == 422 and error["error"]["details"][0]["field"] == "reason"
    status, moved = act(tid, "transfer", "agent-1", {"team": "aftersales", "reason": "r"})
    assert (moved["status"], moved["assignee"]) == ("classified", None)  # waits in the new team's queue


def test_unauthenticated_and_unknown_group_requests(ticket):
    status, error = api.get(f"/tickets/{ticket['id']}")
    assert status == 401 and error["error"]["code"] == "unauthorized"


def test_listing_uses_the_index_for_each_filter_and_pages(stack):
    ids = [api.post("/tickets", new_ticket())[1]["id"] for _ in range(5)]
    for tid in ids[:3]:
        act(tid, "accept", "agent-1")
    status, page = api.get("/tickets", as_="agent-1", query={"assignee": "agent-1", "limit": "2"})
    assert status == 200 and len(page["items"]) == 2 and page["next_cursor"]
    status, rest = api.get(
        "/tickets", as_="agent-1", query={"assignee": "agent-1", "limit": "2", "cursor": page["next_cursor"]}
    )
    assert [t["id"] for t in page["items"] + rest["items"]] == list(reversed(ids[:3]))
    assert (
        rest["next_cursor"] is None
        or api.get("/tickets", as_="agent-1", query={"assignee": "agent-1", "cursor": rest["next_cursor"]})[1]["items"]
        == []
    )

    team = api.get("/tickets", as_="agent-2", query={"team": "presales", "status": "in_progress"})[1]
    assert {t["id"] for t in team["items"]} == set(ids[:3])
    new = api.get("/tickets", as_="sup-1", query={"status": "new"})[1]
    assert {t["id"] for t in new["items"]} == set(ids[3:])
    mine = api.get("/tickets", as_="agent-1")[1]
    assert len(mine["items"]) == 3

    assert api.get("/tickets", as_="agent-3", query={"team": "presales"})[0] == 403
    assert api.get("/tickets", as_="agent-1", query={"status": "new"})[0] == 403
    status, error = api.get("/tickets", as_="sup-1", query={"team": "presales", "cursor": page["next_cursor"]})
    assert status == 400 and error["error"]["code"] == "invalid_cursor"
    status, error = api.get("/tickets", as_="sup-1", query={"limit": "1000"})
    assert status == 422 and error["error"]["details"][0]["field"] == "limit"
    status, error = api.get("/tickets", as_="sup-1", query={"status": "lost"})
    assert status == 422 and error["error"]["details"][0]["field"] == "status"


def test_concurrent_accepts_only_one_wins(real_dynamodb_stack):
    """Four people race to claim each ticket: exactly one wins, the rest get 409.

    On DynamoDB Local: moto does not serialise concurrent transactions (several racers
    "win" there). Straight into the domain from threads: Powertools' resolver keeps the
    current event in a class attribute, so one process cannot run two API invocations at
    once (Lambda never does); the race that matters is the table's conditional write.
    """
    from tests.support import ROLES, claims
    from ticketflow import handling
    from ticketflow.access import actor_from_claims
    from ticketflow.commands import Accept
    from ticketflow.errors import Conflict
    from ticketflow.lifecycle import Action

    people = ("agent-1", "agent-2", "sup-1", "admin-1")
    actors = {p: actor_from_claims(claims(p, ROLES[p])) for p in people}
    for _ in range(3):
        tid = api.post("/tickets", new_ticket())[1]["id"]
        act(tid, "transfer", "sup-1", {"team": "presales", "reason": "route"})
        results: list[tuple[str, str]] = []
        barrier = threading.Barrier(len(people))

        def accept(person: str, tid: str = tid, barrier=barrier, results=results) -> None:
            barrier.wait()
            try:
                handling.perform(tid, actors[person], Action.ACCEPT, Accept())
                results.append((person, "won"))
            except Conflict as error:
                results.append((person, error.code))

        threads = [threading.Thread(target=accept, args=(p,)) for p in people]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [p for p, outcome in results if outcome == "won"]
        assert len(winners) == 1, results
        assert {outcome for _, outcome in results} - {"won"} <= {"illegal_transition", "assigned_to_someone_else"}
        _, final = api.get(f"/tickets/{tid}", as_="sup-1")
        assert final["assignee"] == winners[0] and final["status"] == "in_progress"
        assert [h["action"] for h in final["history"]].count("accept") == 1
