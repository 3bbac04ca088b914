"""The people-facing ticket API (Cognito JWT) and GET /openapi.json."""

from aws_lambda_powertools.logging import correlation_paths

from ticketflow.http import agent_routes, docs_routes, ticket_routes
from ticketflow.http.app import create_app, resolve
from ticketflow.observability import logger, metrics

app = create_app(ticket_routes.router, agent_routes.router, docs_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return resolve(app, event, context)
