"""The agents resource: who is in a team, online or not, and how loaded."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ticketflow import assignment
from ticketflow.access import Actor
from ticketflow.directory import AgentState, Person, QuietHours, Role
from ticketflow.errors import Forbidden, NotFound, ValidationFailed
from ticketflow.storage import directory as directory_store


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


class AgentProfile(BaseModel):
    """What an admin sets for a person (PUT /agents/{id}); load and online status are theirs."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    role: Role = Role.AGENT
    teams: list[Annotated[str, StringConstraints(max_length=40)]] = Field(default_factory=list, max_length=10)
    skills: list[Annotated[str, StringConstraints(max_length=40)]] = Field(default_factory=list, max_length=50)
    email: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()-]{4,19}$")] | None = None
    capacity: int = Field(default=8, ge=0, le=500)
    senior: bool = False
    quiet_hours: QuietHours | None = None
    active: bool = True


def put_agent(actor: Actor, person_id: str, profile: AgentProfile) -> AgentView:
    if actor.role is not Role.ADMIN:
        raise Forbidden("only an admin manages agents")
    for i, team in enumerate(profile.teams):
        if directory_store.get_team(team) is None:
            raise ValidationFailed.field(f"teams.{i}", f"no team {team!r}")
    try:
        person = Person(id=person_id, **profile.model_dump())
    except ValidationError as error:
        raise ValidationFailed.field("id", "letters, digits and . _ @ - only, at most 128") from error
    directory_store.put_person(person)
    state = directory_store.agent_states([person.id])[person.id]
    if state.has_room and person.teams:
        _pull_work(person)
    return _view(person, state)


def _pull_work(person: Person) -> None:
    """The person has room now: the team queues may have work waiting for them."""
    assignment.capacity_freed(person.teams, [person.id], correlation_id=person.id)


def set_availability(actor: Actor, person_id: str, availability: Availability) -> AgentView:
    if person_id != actor.id and not actor.oversees_all:
        raise Forbidden("agents set their own availability; supervisors anyone's")
    person = directory_store.get_person(person_id)
    if person is None:
        raise NotFound(f"no person {person_id}")
    state = directory_store.set_availability(person_id, online=availability.online)
    if state.has_room and person.teams:
        _pull_work(person)
    return _view(person, state)
