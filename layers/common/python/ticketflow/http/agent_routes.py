"""The agents resource: team rosters with load and availability."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import Router

from ticketflow import agents
from ticketflow.http.app import PERSON
from ticketflow.http.identity import current_actor

router = Router()


@router.get("/agents", summary="A team's agents with availability and load", security=PERSON, tags=["agents"])
def list_agents(team: Annotated[str, Query(min_length=1, max_length=40)]) -> list[agents.AgentView]:
    return agents.list_team(current_actor(router), team)


@router.put("/agents/<agent_id>/availability", summary="Go online or offline", security=PERSON, tags=["agents"])
def set_availability(agent_id: str, availability: Annotated[agents.Availability, Body()]) -> agents.AgentView:
    """Going online makes the agent eligible for automatic assignment again (and pulls waiting work)."""
    return agents.set_availability(current_actor(router), agent_id, availability)


@router.put("/agents/<agent_id>", summary="Create or update an agent (admin)", security=PERSON, tags=["agents"])
def put_agent(agent_id: str, profile: Annotated[agents.AgentProfile, Body()]) -> agents.AgentView:
    """Teams, skills, capacity, seniority. The agent's load and online status are kept."""
    return agents.put_agent(current_actor(router), agent_id, profile)
