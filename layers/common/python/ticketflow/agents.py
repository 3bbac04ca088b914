"""The agents resource: who is in a team, online or not, and how loaded."""

from __future__ import annotations

from pydantic import BaseModel

from ticketflow import messaging
from ticketflow.access import Actor
from ticketflow.directory import AgentState, Person, Role
from ticketflow.errors import Forbidden, NotFound
from ticketflow.storage import directory as directory_store

ASSIGN_QUEUE = "assign"


class AgentView(BaseModel):
    id: str
    name: str
    role: Role
    teams: list[str]
    skills: list[str]
    senior: bool
    online: bool
    load: int
    capacity: int


class Availability(BaseModel):
    online: bool


def _view(person: Person, state: AgentState) -> AgentView:
    return AgentView(
        **person.model_dump(include={"id", "name", "role", "teams", "skills", "senior"}),
        online=state.online,
        load=state.load,
        capacity=state.capacity,
    )


def list_team(actor: Actor, team: str) -> list[AgentView]:
    if not actor.oversees_all and team not in actor.teams:
        raise Forbidden(f"team {team} is not yours")
    if directory_store.get_team(team) is None:
        raise NotFound(f"no team {team}")
    members = directory_store.team_members(team)
    states = directory_store.agent_states([m.id for m in members])
    return [_view(m, states[m.id]) for m in members]


def set_availability(actor: Actor, person_id: str, availability: Availability) -> AgentView:
    if person_id != actor.id and not actor.oversees_all:
        raise Forbidden("agents set their own availability; supervisors anyone's")
    person = directory_store.get_person(person_id)
    if person is None:
        raise NotFound(f"no person {person_id}")
    state = directory_store.set_availability(person_id, online=availability.online)
    if state.has_room and person.teams:
        # Someone came online: the team queues may have work waiting for them.
        messaging.send(
            ASSIGN_QUEUE,
            messaging.Envelope(
                type="capacity.freed", correlation_id=person_id, data={"teams": person.teams, "agents": [person_id]}
            ),
        )
    return _view(person, state)
