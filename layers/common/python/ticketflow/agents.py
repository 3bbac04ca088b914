"""The agents resource: who is in a team, online or not, and how loaded."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ticketflow import assignment
from ticketflow.access import Actor
from ticketflow.directory import AgentsDocument, AgentState, Person, QuietHours, Role
from ticketflow.errors import Forbidden, NotFound, ValidationFailed
from ticketflow.observability import logger
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
        **person.model_dump(include={"id", "name", "role", "teams", "skills", "senior", "capacity"}),
        online=state.online,
        load=state.load,
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
    try:
        # A new version of the agents kind (retried on one made meanwhile: this is an upsert);
        # if it gives the person room, the commit sends them waiting work (after_directory_change).
        directory_store.put_person(person, actor=actor, reason=f"PUT /agents/{person_id}")
    except ValidationFailed as error:  # the profile's fields are this API's "item"
        details = [{**d, "field": d["field"].removeprefix("item.")} for d in error.details or []]
        raise ValidationFailed("; ".join(f"{d['field']}: {d['message']}" for d in details), details=details) from None
    return _view(person, directory_store.agent_states([person.id])[person.id])


def _pull_work(person: Person) -> None:
    """The person has room now: the team queues may have work waiting for them."""
    assignment.capacity_freed(person.teams, [person.id], correlation_id=person.id)


def after_directory_change(before: Any, after: Any) -> None:
    """A new version of the ``agents`` kind is live (``changes.commit``): agents who can take
    more work than before (new, active again, more capacity, in another team) may find tickets
    waiting in their teams' queues, if they are online (someone who comes online later pulls
    work then, and a directory seeded before anyone is online sends nothing)."""
    try:
        old = {p.id: p for p in AgentsDocument.model_validate(before).agents}
        gained = [
            p
            for p in AgentsDocument.model_validate(after).agents
            if p.role is Role.AGENT and p.active and p.teams and _more_room(old.get(p.id), p)
        ]
        online = directory_store.agent_states([p.id for p in gained])
        gained = [p for p in gained if online[p.id].online]
        if gained:
            teams = sorted({team for p in gained for team in p.teams})
            assignment.capacity_freed(teams, [p.id for p in gained], correlation_id=f"agents:{gained[0].id}")
    except Exception:  # the version is live whatever happens here; queues also fill as tickets move
        logger.exception("could not send waiting work to agents after a directory change")


def _more_room(before: Person | None, after: Person) -> bool:
    return (
        before is None
        or not before.active
        or after.capacity > before.capacity
        or not set(after.teams) <= set(before.teams)
    )


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
