"""Teams and agents as run-time configuration (kinds ``teams`` and ``agents``), through the admin
API on moto: validated with errors that name the field, references checked both ways, versions
and rollback, a capacity raise pulling waiting work, and PUT /agents/{id} as before."""

from __future__ import annotations

import copy

from tests.conftest import drain
from tests.support import Api, new_ticket, stored_person, stored_team, stored_ticket
from ticketflow import assignment, demo, history
from ticketflow.configuration import changes
from ticketflow.directory import DEMO_PEOPLE, DEMO_TEAMS
from ticketflow.models import ActorKind, ActorRef, Status
from ticketflow.storage import directory as directory_store
from ticketflow.storage import tickets as ticket_store

api = Api()
ADMIN = "admin-1"
SETUP = ActorRef(kind=ActorKind.SYSTEM, id="test-setup")


def put(path: str, body: dict, *, version: int, as_: str = ADMIN):
    return api.call("PUT", path, body=body, as_=as_, headers={"If-Match": f'"{version}"'})


def live(kind: str) -> tuple[int, dict]:
    status, body = api.get(f"/admin/config/{kind}", as_=ADMIN)
    assert status == 200
    return body["version"], body["data"]


def fields(body: dict) -> dict[str, str]:
    return {d["field"]: d["message"] for d in body["error"]["details"]}


def details(body: dict) -> list[tuple[str, str]]:
    return [(d["field"], d["message"]) for d in body["error"]["details"]]


def index_of(data: dict, collection: str, item_id: str) -> int:
    return next(i for i, item in enumerate(data[collection]) if item["id"] == item_id)


def waiting_ticket(team: str = "logistics") -> str:
    """A ticket as classification leaves it: classified, routed to ``team``, nobody assigned."""
    tid = api.post("/tickets", new_ticket())[1]["id"]
    history.record(
        tid,
        lambda t: {
            "status": Status.CLASSIFIED,
            "team": team,
            "category": "order_support",
            "subcategory": "logistics",
            "priority": "P3",
        },
        action="classify",
        actor=SETUP,
    )
    return tid


# ---------------------------------------------------------------- the seeded directory


def test_the_demo_directory_is_one_version_of_each_kind(stack):
    for kind, items in (("teams", DEMO_TEAMS), ("agents", DEMO_PEOPLE)):
        version, data = live(kind)
        assert version == 1 and [i["id"] for i in data[kind]] == [i.id for i in items]
        assert api.get(f"/admin/config/{kind}/versions/1", as_=ADMIN)[1]["action"] == "import"
    demo.seed()  # nothing differs: nothing is written
    assert live("teams")[0] == 1 and live("agents")[0] == 1
    assert directory_store.team_ids() == [t.id for t in DEMO_TEAMS]
    assert [p.id for p in directory_store.team_members("logistics")] == ["agent-3", "agent-5", "sup-1"]
    assert stored_team("presales").supervisor == "sup-1"
    assert directory_store.get_person("nobody") is None and directory_store.get_team("nowhere") is None


# ---------------------------------------------------------------- validation


def test_bad_documents_are_refused_naming_the_field(stack):
    version, agents = live("agents")
    broken = copy.deepcopy(agents)
    three, five = index_of(broken, "agents", "agent-3"), index_of(broken, "agents", "agent-5")
    broken["agents"][three]["capacity"] = -1
    broken["agents"][five]["capcity"] = 3  # a typo is an error, not ignored
    status, body = put("/admin/config/agents", {"data": broken, "reason": "x"}, version=version)
    assert status == 422, body
    assert {f"data.agents.{three}.capacity", f"data.agents.{five}.capcity"} <= set(fields(body))

    twice = copy.deepcopy(agents)
    twice["agents"].append({**twice["agents"][0]})
    status, body = put("/admin/config/agents", {"data": twice, "reason": "x"}, version=version)
    assert status == 422 and f"data.agents.{len(twice['agents']) - 1}.id" in fields(body)

    version, teams = live("teams")
    broken = copy.deepcopy(teams)
    broken["teams"][1]["id"] = "Not An Id"
    broken["teams"][2]["lead"] = "sup-1"
    status, body = put("/admin/config/teams", {"data": broken, "reason": "x"}, version=version)
    assert status == 422 and {"data.teams.1.id", "data.teams.2.lead"} <= set(fields(body))
    assert live("teams")[0] == version and live("agents")[0] == 1  # nothing written


def test_references_between_teams_and_agents_are_checked_both_ways(stack):
    version, agents = live("agents")
    moved = copy.deepcopy(agents)
    five = index_of(moved, "agents", "agent-5")
    moved["agents"][five]["teams"] = ["logistics", "night-shift"]
    status, body = put("/admin/config/agents", {"data": moved, "reason": "x"}, version=version)
    assert status == 422 and fields(body) == {f"data.agents.{five}.teams.1": "no team 'night-shift'"}

    newcomer = {"name": "Chen Jing 陈静", "role": "agent", "teams": ["nope"]}
    status, body = put("/admin/config/agents/items/agent-9", {"item": newcomer, "reason": "x"}, version=version)
    assert status == 422 and "item.teams.0" in fields(body)

    # Removing someone a team names, or a team people are in, would leave the other kind dangling.
    without_sup = {**agents, "agents": [p for p in agents["agents"] if p["id"] != "sup-1"]}
    status, body = put("/admin/config/agents", {"data": without_sup, "reason": "x"}, version=version)
    assert status == 422
    assert ("data.agents", "no person 'sup-1', the supervisor of 'presales'") in details(body)

    teams_version, teams = live("teams")
    unknown = copy.deepcopy(teams)
    unknown["teams"][0]["manager"] = "ghost"
    status, body = put("/admin/config/teams", {"data": unknown, "reason": "x"}, version=teams_version)
    assert status == 422 and fields(body) == {"data.teams.0.manager": "no person 'ghost'"}
    without_logistics = {**teams, "teams": [t for t in teams["teams"] if t["id"] != "logistics"]}
    status, body = put("/admin/config/teams", {"data": without_logistics, "reason": "x"}, version=teams_version)
    assert status == 422
    assert ("data.teams", "no team 'logistics', which 'agent-5' is in") in details(body)

    # Routing's references are to the live teams.
    status, routing = api.get("/admin/config/routing", as_=ADMIN)
    routing = {**routing["data"], "fallback_team": "night-shift"}
    status, body = put("/admin/config/routing", {"data": routing, "reason": "x"}, version=0)
    assert status == 422 and fields(body) == {"data.fallback_team": "no team 'night-shift'"}


# ---------------------------------------------------------------- versions and rollback


def test_agent_versions_diff_and_rollback_reach_the_directory_at_once(stack):
    _, agents = live("agents")
    agent_1 = agents["agents"][index_of(agents, "agents", "agent-1")]
    assert api.get("/agents", as_="agent-1", query={"team": "logistics"})[0] == 403

    helping = {**agent_1, "teams": ["presales", "logistics"]}
    status, body = put("/admin/config/agents/items/agent-1", {"item": helping, "reason": "peak"}, version=1)
    assert status == 200 and body["version"] == 2 and body["summary"] == ["~ agents agent-1"]
    assert stored_person("agent-1").teams == ["presales", "logistics"]  # no restart, no wait
    assert api.get("/agents", as_="agent-1", query={"team": "logistics"})[0] == 200  # who is calling: their teams

    status, history_ = api.get("/admin/config/agents/versions", as_="sup-1")
    assert [(v["version"], v["by"], v["reason"]) for v in history_] == [
        (2, ADMIN, "peak"),
        (1, "system", "the demo directory (ticketflow seed)"),
        (0, None, "shipped with the package"),
    ]
    status, diff = api.get("/admin/config/agents/diff", as_=ADMIN, query={"from": "1"})
    assert status == 200 and diff["summary"] == ["~ agents agent-1"]

    status, body = api.post(
        "/admin/config/agents/rollback", {"version": 1, "reason": "peak over"}, as_=ADMIN, headers={"If-Match": '"2"'}
    )
    assert status == 200 and body["version"] == 3 and body["action"] == "rollback to 1"
    assert stored_person("agent-1").teams == ["presales"]
    assert [p.id for p in directory_store.team_members("logistics")] == ["agent-3", "agent-5", "sup-1"]

    # Back to the shipped defaults (nobody) is refused while the teams name their supervisor.
    status, body = api.post(
        "/admin/config/agents/rollback", {"version": 0, "reason": "x"}, as_=ADMIN, headers={"If-Match": '"3"'}
    )
    assert status == 422 and "data.agents" in fields(body)


# ---------------------------------------------------------------- capacity


def test_a_capacity_raise_through_the_admin_api_pulls_a_waiting_ticket(stack):
    version, agents = live("agents")
    smaller = copy.deepcopy(agents)
    for person in smaller["agents"]:
        if person["id"] in ("agent-3", "agent-5"):
            person["capacity"] = 1
    assert put("/admin/config/agents", {"data": smaller, "reason": "half day"}, version=version)[0] == 200
    first, second = waiting_ticket(), waiting_ticket()
    assert assignment.assign_waiting_ticket(first).agent and assignment.assign_waiting_ticket(second).agent
    third = waiting_ticket()
    # the state items still say 5 (seeded): the profile's capacity is the one that counts
    assert assignment.assign_waiting_ticket(third).waiting
    drain(stack["TICKETFLOW_QUEUE_ASSIGN_URL"])  # lowering capacity sent nothing; nothing else matters here

    five = smaller["agents"][index_of(smaller, "agents", "agent-5")]
    status, body = put(
        "/admin/config/agents/items/agent-5", {"item": {**five, "capacity": 2}, "reason": "back"}, version=version + 1
    )
    assert status == 200, body
    messages = drain(stack["TICKETFLOW_QUEUE_ASSIGN_URL"])
    assert [(m["type"], m["data"]) for m in messages] == [
        ("capacity.freed", {"teams": ["logistics"], "agents": ["agent-5"]})
    ]
    for message in messages:
        assignment.handle(assignment.Envelope.model_validate(message))
    assert stored_ticket(third).assignee == "agent-5"
    roster = {a["id"]: a for a in api.get("/agents", as_="sup-1", query={"team": "logistics"})[1]}
    assert (roster["agent-5"]["load"], roster["agent-5"]["capacity"]) == (2, 2)


def test_a_claim_is_checked_against_the_capacity_it_is_given(stack):
    tid = waiting_ticket()
    ticket = stored_ticket(tid)
    state = directory_store.agent_states(["agent-5"])["agent-5"]
    after, entry = assignment._assigned(ticket, assignment.Candidate(stored_person("agent-5"), state, (), False), [])
    try:
        ticket_store.save(after, entry, before=ticket, load_deltas={"agent-5": 1}, claim="agent-5", capacity=0)
        raise AssertionError("claimed beyond capacity")
    except ticket_store.AgentFull:
        pass
    assert stored_ticket(tid).status is Status.CLASSIFIED


# ---------------------------------------------------------------- PUT /agents/{id}


def test_put_agent_is_an_upsert_into_the_agents_kind(stack, monkeypatch):
    profile = {"name": "Chen Jing 陈静", "teams": ["logistics"], "skills": ["logistics"], "capacity": 2}
    status, error = api.call("PUT", "/agents/agent-7", body={**profile, "teams": ["nope"]}, as_=ADMIN)
    assert status == 422 and error["error"]["details"][0]["field"] == "teams.0"

    # Someone else changes the directory between our read and our write: the upsert is redone.
    real = changes.put_item
    raced: list[int] = []

    def racing(actor, kind, item_id, item, *, expected, reason):
        if not raced:
            raced.append(expected)
            _, data = live("agents")
            sup = data["agents"][index_of(data, "agents", "sup-1")]
            put(
                "/admin/config/agents/items/sup-1",
                {"item": {**sup, "phone": "+8613900000001"}, "reason": "phone"},
                version=expected,
            )
        return real(actor, kind, item_id, item, expected=expected, reason=reason)

    monkeypatch.setattr(changes, "put_item", racing)
    status, created = api.call("PUT", "/agents/agent-7", body=profile, as_=ADMIN)
    assert status == 200, created
    assert (created["capacity"], created["load"], created["online"]) == (2, 0, False)
    version, data = live("agents")
    assert raced == [1] and version == 3
    assert data["agents"][-1]["id"] == "agent-7" and stored_person("sup-1").phone == "+8613900000001"
    meta = api.get("/admin/config/agents/versions/3", as_=ADMIN)[1]
    assert (meta["by"], meta["reason"], meta["action"]) == (ADMIN, "PUT /agents/agent-7", "put_item")

    assert api.call("PUT", "/agents/agent-7", body=profile, as_=ADMIN)[0] == 200
    assert live("agents")[0] == 3  # the same profile again: no new version
    assert [p.id for p in directory_store.team_members("logistics")] == ["agent-3", "agent-5", "agent-7", "sup-1"]
