"""The public survey page: GET shows the form, POST stores the answer once (no login)."""

from aws_lambda_powertools.logging import correlation_paths

from ticketflow.http import survey_routes
from ticketflow.http.app import create_app, resolve
from ticketflow.observability import logger, metrics

app = create_app(survey_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return resolve(app, event, context, forms=True)
