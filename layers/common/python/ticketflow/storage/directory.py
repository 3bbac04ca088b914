"""Teams and people in the table, with a short in-container cache (they change rarely)."""

from __future__ import annotations

import time

from ticketflow.directory import DEMO_PEOPLE, DEMO_TEAMS, Person, Team
from ticketflow.storage import dynamo

_CACHE_SECONDS = 60.0
_cache: dict[str, tuple[float, Person | Team | None]] = {}


def _key(kind: str, ident: str) -> dict:
    return {"pk": {"S": f"{kind}#{ident}"}, "sk": {"S": "PROFILE"}}


def put_person(person: Person) -> None:
    item = {"pk": f"PERSON#{person.id}", "sk": "PROFILE", "type": "person", **person.model_dump(mode="json")}
    dynamo.client().put_item(TableName=dynamo.table_name(), Item=dynamo.to_item(item))
    _cache.pop(f"PERSON#{person.id}", None)


def put_team(team: Team) -> None:
    item = {"pk": f"TEAM#{team.id}", "sk": "PROFILE", "type": "team", **team.model_dump(mode="json")}
    dynamo.client().put_item(TableName=dynamo.table_name(), Item=dynamo.to_item(item))
    _cache.pop(f"TEAM#{team.id}", None)


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


def clear_cache() -> None:
    _cache.clear()


def seed_demo_directory() -> tuple[Person, ...]:
    """Write the demo teams and people (idempotent: puts overwrite). Returns the people."""
    for team in DEMO_TEAMS:
        put_team(team)
    for person in DEMO_PEOPLE:
        put_person(person)
    return DEMO_PEOPLE
