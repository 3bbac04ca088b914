"""POST /tickets (channel API key): validate, store as a numbered ticket, enqueue for classification."""

from aws_lambda_powertools.logging import correlation_paths

from ticketflow.http.app import create_app, resolve
from ticketflow.http.intake_routes import router
from ticketflow.observability import logger, metrics

app = create_app(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return resolve(app, event, context)
