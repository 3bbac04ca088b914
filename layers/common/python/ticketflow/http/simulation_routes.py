"""/admin/simulations: what-if replays of a proposed configuration over stored tickets.

A run takes longer than a request may, so POST answers 202 at once with the queued run and
its ``Location``; the client polls GET until ``status`` is ``done``. Supervisors and admins
only (``simulation.runs`` checks). Mounted by the ``admin_api`` function."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import Router

from ticketflow.http.app import PERSON
from ticketflow.http.identity import current_actor
from ticketflow.simulation import runs

router = Router()


@router.post(
    "/admin/simulations",
    summary="Replay stored tickets under a proposed configuration",
    description="Replays the tickets created in the range through classification (with the knowledge-base "
    "auto-reply decision), routing and SLA, once with the proposal and once with the live version, without "
    "side effects, and reports what would change. Runs in the background: poll the run at `Location`.",
    responses={202: {"description": "The run is queued."}},
    security=PERSON,
    tags=["admin"],
)
def start_simulation(request: Annotated[runs.SimulationRequest, Body()]) -> Response[runs.SimulationView]:
    view = runs.start(current_actor(router), request)
    return Response(
        status_code=202,
        content_type="application/json",
        body=view,
        headers={"Location": f"/admin/simulations/{view.id}"},
    )


@router.get("/admin/simulations", summary="Recent simulations, newest first", security=PERSON, tags=["admin"])
def list_simulations(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> runs.SimulationList:
    """Status and progress of each run, without its result."""
    return runs.list_runs(current_actor(router), limit)


@router.get("/admin/simulations/<id>", summary="A simulation: progress and result", security=PERSON, tags=["admin"])
def get_simulation(id: str) -> runs.SimulationView:  # the topology's path parameter is {id}
    """The result so far while `running`; complete once `done`."""
    return runs.get(current_actor(router), id)
