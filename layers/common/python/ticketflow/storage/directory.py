"""Teams and people: profiles from run-time configuration, agent state from the table.

Profiles are two versioned configuration kinds, ``teams`` and ``agents`` (``CONFIG#teams``,
``CONFIG#agents``; see ``configuration/``): each container reads them at most once per
``runtime_config.TTL_SECONDS`` and builds its indexes (by id, a team's people) once per
version. Agent state changes by the minute and is read uncached and consistently:
``PERSON#<id>/STATE`` (online, load, last assignment; ``capacity`` is a copy of the profile's
kept for display, the profile's is the one that counts).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ticketflow import runtime_config
from ticketflow.directory import (
    DEMO_PEOPLE,
    DEMO_TEAMS,
    AgentsDocument,
    AgentState,
    Person,
    Role,
    Team,
    TeamsDocument,
)
from ticketflow.storage import dynamo

if TYPE_CHECKING:
    from ticketflow.access import Actor

SYSTEM = "system"  # who changes the directory when no person does (seeding, tests)
_ATTEMPTS = 5  # an upsert made on a version someone else replaced meanwhile is redone on the new one


def state_key(person_id: str) -> dict:
    return {"pk": {"S": f"PERSON#{person_id}"}, "sk": {"S": "STATE"}}


# ---------------------------------------------------------------- profiles (configuration)


def _people() -> dict[str, Person]:
    return runtime_config.live("agents").built(
        "directory.people", lambda data: {p.id: p for p in AgentsDocument.model_validate(data).agents}
    )


def _teams() -> dict[str, Team]:
    return runtime_config.live("teams").built(
        "directory.teams", lambda data: {t.id: t for t in TeamsDocument.model_validate(data).teams}
    )


def _rosters() -> dict[str, list[Person]]:
    def build(data: Any) -> dict[str, list[Person]]:
        rosters: dict[str, list[Person]] = {}
        for person in sorted(AgentsDocument.model_validate(data).agents, key=lambda p: p.id):
            if person.active:
                for team in dict.fromkeys(person.teams):
                    rosters.setdefault(team, []).append(person)
        return rosters

    return runtime_config.live("agents").built("directory.rosters", build)


def get_person(person_id: str) -> Person | None:
    return _people().get(person_id)


def get_team(team_id: str) -> Team | None:
    return _teams().get(team_id)


def team_ids() -> list[str]:
    """Every team's id, in the order of the document."""
    return list(_teams())


def team_members(team_id: str) -> list[Person]:
    """The team's active people, by id."""
    return list(_rosters().get(team_id, ()))


def clear_cache() -> None:
    """Read the directory again on next use (a fresh container would)."""
    runtime_config.live("agents").forget()
    runtime_config.live("teams").forget()


def _upsert(
    kind: str, item: dict[str, Any], same: Callable[[dict[str, Any]], bool], *, actor: Actor | None, reason: str
) -> bool:
    """Put ``item`` into the ``kind`` document as a new version, unless ``same(live item)`` says
    it is there already; True if a version was made. An upsert does not depend on what else
    the document holds, so a version made meanwhile by someone else is simply built upon."""
    from ticketflow import access  # both read the directory: imported late
    from ticketflow.configuration import changes

    who = actor or access.Actor(id=SYSTEM, role=Role.ADMIN)

    def attempt() -> bool:
        current = changes.live(kind)
        found = next((i for i in changes.items_of(kind, current.data) if i.get("id") == item["id"]), None)
        if found is not None and same(found):
            return False
        changes.put_item(who, kind, item["id"], item, expected=current.version, reason=reason)
        return True

    for _ in range(_ATTEMPTS - 1):
        with contextlib.suppress(changes.StaleVersion):
            return attempt()
    return attempt()


def put_person(
    person: Person, *, online: bool | None = None, actor: Actor | None = None, reason: str | None = None
) -> bool:
    """Upsert the person's profile into the ``agents`` kind (a new version if it changed;
    ``actor`` for the record, the system if None), then keep their state's load and set its
    capacity copy (and ``online``, when given). True if a new version was made."""
    changed = _upsert(
        "agents",
        person.model_dump(mode="json", exclude_none=True),
        lambda found: Person.model_validate(found) == person,
        actor=actor,
        reason=reason or f"profile of {person.id}",
    )
    _set_state(person, online=online)
    return changed


def put_team(team: Team, *, actor: Actor | None = None, reason: str | None = None) -> bool:
    """Upsert the team into the ``teams`` kind (a new version if it changed)."""
    return _upsert(
        "teams",
        team.model_dump(mode="json", exclude_none=True),
        lambda found: Team.model_validate(found) == team,
        actor=actor,
        reason=reason or f"team {team.id}",
    )


def seed_demo_directory() -> tuple[Person, ...]:
    """Put the demo teams and people into the directory, everyone online (idempotent; anyone
    else in the directory and everyone's load are kept).

    Teams and people point at each other (a team's supervisor, a person's teams), so both kinds
    are written together, one version each, and only if they differ from the live ones."""
    from ticketflow import access
    from ticketflow.configuration import changes

    documents = {}
    for kind, items in (("teams", DEMO_TEAMS), ("agents", DEMO_PEOPLE)):
        data = changes.live(kind).data
        for item in items:  # whoever else is there stays
            data, _ = changes.with_item(kind, data, item.id, item.model_dump(mode="json", exclude_none=True))
        documents[kind] = data
    changes.import_(
        access.Actor(id=SYSTEM, role=Role.ADMIN),
        {"format": changes.EXPORT_FORMAT, "kinds": documents},
        reason="the demo directory (ticketflow seed)",
        expected=None,
    )
    for person in DEMO_PEOPLE:
        _set_state(person, online=True)
    return DEMO_PEOPLE


# ---------------------------------------------------------------- state (the table)


def _set_state(person: Person, *, online: bool | None = None) -> None:
    """Keep the person's load; set the capacity copy (and ``online``, when given)."""
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
    dynamo.client().update_item(
        TableName=dynamo.table_name(),
        Key=state_key(person.id),
        UpdateExpression=expression,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def agent_states(person_ids: list[str]) -> dict[str, AgentState]:
    """Current state of each person, read consistently (one BatchGetItem)."""
    if not person_ids:
        return {}
    table = dynamo.table_name()
    states = {pid: _with_profile(AgentState(id=pid)) for pid in person_ids}
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
    fields = {k: data[k] for k in ("online", "load", "last_assigned_at") if k in data}
    return _with_profile(AgentState(id=data["pk"].removeprefix("PERSON#"), **fields))


def _with_profile(state: AgentState) -> AgentState:
    """The capacity that counts is the profile's (a change through the admin API does not touch
    the state item); someone with no profile has no room."""
    person = get_person(state.id)
    return state.model_copy(update={"capacity": person.capacity if person else 0})
