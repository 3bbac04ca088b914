"""GET /openapi.json: the contract of the whole HTTP API (every function's routes)."""

from functools import cache

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import Router

router = Router()


@cache
def document() -> str:
    from ticketflow.http import app, intake_routes, ticket_routes

    return app.create_app(intake_routes.router, ticket_routes.router).get_openapi_json_schema()


@router.get("/openapi.json", include_in_schema=False)
def openapi():  # untyped on purpose: the body is already JSON text
    return Response(status_code=200, content_type="application/json", body=document())
