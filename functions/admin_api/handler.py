"""The admin API: run-time configuration (versions, diff, rollback, approvals, export and
import), what-if replays of a proposed configuration over stored tickets, and erasing a closed
ticket's personal data."""

from aws_lambda_powertools.logging import correlation_paths

from ticketflow.http import config_routes, privacy_routes, simulation_routes
from ticketflow.http.app import create_app, resolve
from ticketflow.observability import logger, metrics

app = create_app(config_routes.router, simulation_routes.router, privacy_routes.router)

# Whole documents travel here (the classification rules alone are 63 KB of JSON).
MAX_BODY_BYTES = 1024 * 1024


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return resolve(app, event, context, max_body_bytes=MAX_BODY_BYTES)
