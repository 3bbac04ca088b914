"""Teams and people in the table, with a short in-container cache for profiles (they change
rarely) and uncached, consistent reads of agent state (it changes with every assignment).

Items: ``PERSON#<id>/PROFILE``, ``PERSON#<id>/STATE`` (online, load, capacity, last
assignment), ``TEAM#<id>/PROFILE`` and ``TEAM#<id>/MEMBER#<person>`` (the roster, so a team's
people are one Query), ``TEAMS/TEAM#<id>`` (the list of teams, one Query).
"""

from __future__ import annotations

import time
from typing import Any

from ticketflow.directory import DEMO_PEOPLE, DEMO_TEAMS, AgentState, Person, Team
from ticketflow.storage import dynamo

_CACHE_SECONDS = 60.0
_cache: dict[str, tuple[float, Person | Team | None]] = {}


def _key(kind: str, ident: str, sk: str = "PROFILE") -> dict:
    return {"pk": {"S": f"{kind}#{ident}"}, "sk": {"S": sk}}


def state_key(person_id: str) -> dict:
    return _key("PERSON", person_id, "STATE")


def put_person(person: Person, *, online: bool | None = None) -> None:
    """Write the profile and the team roster; keep the person's load, set capacity (and online)."""
    client, table = dynamo.client(), dynamo.table_name()
    item = {"pk": f"PERSON#{person.id}", "sk": "PROFILE", "type": "person", **person.model_dump(mode="json")}
    client.put_item(TableName=table, Item=dynamo.to_item(item))
    for team in person.teams:
        member = {"pk": f"TEAM#{team}", "sk": f"MEMBER#{person.id}", "type": "member", "person": person.id}
        client.put_item(TableName=table, Item=dynamo.to_item(member))
    expression = "SET #capacity = :capacity, #type = :type ADD #load :zero"
    values: dict[str, Any] = {
        ":capacity": {"N": str(person.capacity)},
        ":type": {"S": "agent_state"},
        ":zero": {"N": "0"},
    }
    names = {"#capacity": "capacity", "#type": "type", "#load": "load"}
    if online is not None:
        expression = expression.replace("SET ", "SET #online = :online, ")
        values[":online"] = {"BOOL": online}
        names["#online"] = "online"
    client.update_item(
        TableName=table,
        Key=state_key(person.id),
        UpdateExpression=expression,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )
    _cache.pop(f"PERSON#{person.id}", None)


def put_team(team: Team) -> None:
    item = {"pk": f"TEAM#{team.id}", "sk": "PROFILE", "type": "team", **team.model_dump(mode="json")}
    listed = {"pk": "TEAMS", "sk": f"TEAM#{team.id}", "type": "team_entry", "team": team.id}
    client, table = dynamo.client(), dynamo.table_name()
    client.put_item(TableName=table, Item=dynamo.to_item(item))
    client.put_item(TableName=table, Item=dynamo.to_item(listed))
    _cache.pop(f"TEAM#{team.id}", None)


def team_ids() -> list[str]:
    """Every team's id, in order (one Query)."""
    response = dynamo.client().query(
        TableName=dynamo.table_name(),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "TEAMS"}},
    )
    return [item["team"]["S"] for item in response["Items"]]


def _get(kind: str, ident: str, model: type[Person] | type[Team]) -> Person | Team | None:
    cache_key = f"{kind}#{ident}"
    hit = _cache.get(cache_key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    response = dynamo.client().get_item(TableName=dynamo.table_name(), Key=_key(kind, ident))
    found = None
    if "Item" in response:
        data = dynamo.from_item(response["Item"])
        found = model.model_validate({k: v for k, v in data.items() if k not in ("pk", "sk", "type")})
    _cache[cache_key] = (time.monotonic() + _CACHE_SECONDS, found)
    return found


def get_person(person_id: str) -> Person | None:
    return _get("PERSON", person_id, Person)  # type: ignore[return-value]


def get_team(team_id: str) -> Team | None:
    return _get("TEAM", team_id, Team)  # type: ignore[return-value]


def team_members(team_id: str) -> list[Person]:
    """The team's people (one Query for the roster, profiles from the cache)."""
    response = dynamo.client().query(
        TableName=dynamo.table_name(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :member)",
        ExpressionAttributeValues={":pk": {"S": f"TEAM#{team_id}"}, ":member": {"S": "MEMBER#"}},
    )
    people = (get_person(item["person"]["S"]) for item in response["Items"])
    return [p for p in people if p is not None and p.active and team_id in p.teams]


def agent_states(person_ids: list[str]) -> dict[str, AgentState]:
    """Current state of each person, read consistently (one BatchGetItem)."""
    if not person_ids:
        return {}
    table = dynamo.table_name()
    states = {pid: AgentState(id=pid) for pid in person_ids}
    request = {table: {"Keys": [state_key(p) for p in person_ids], "ConsistentRead": True}}
    while request:  # DynamoDB may leave keys unprocessed under load: ask again for those
        response = dynamo.client().batch_get_item(RequestItems=request)
        for item in response["Responses"].get(table, []):
            state = _state(dynamo.from_item(item))
            states[state.id] = state
        request = response.get("UnprocessedKeys") or {}
    return states


def set_availability(person_id: str, *, online: bool) -> AgentState:
    response = dynamo.client().update_item(
        TableName=dynamo.table_name(),
        Key=state_key(person_id),
        UpdateExpression="SET #online = :online ADD #load :zero",
        ExpressionAttributeNames={"#online": "online", "#load": "load"},
        ExpressionAttributeValues={":online": {"BOOL": online}, ":zero": {"N": "0"}},
        ReturnValues="ALL_NEW",
    )
    return _state(dynamo.from_item(response["Attributes"]))


def _state(data: dict[str, Any]) -> AgentState:
    fields = {k: data[k] for k in ("online", "load", "capacity", "last_assigned_at") if k in data}
    return AgentState(id=data["pk"].removeprefix("PERSON#"), **fields)


def clear_cache() -> None:
    _cache.clear()


def seed_demo_directory() -> tuple[Person, ...]:
    """Write the demo teams and people, everyone online (idempotent; loads are kept)."""
    for team in DEMO_TEAMS:
        put_team(team)
    for person in DEMO_PEOPLE:
        put_person(person, online=True)
    return DEMO_PEOPLE
