"""The supervisors' reports (JSON and CSV) and the dashboard page that draws them."""

from aws_lambda_powertools.logging import correlation_paths

from ticketflow.http import dashboard_routes, report_routes
from ticketflow.http.app import create_app, resolve
from ticketflow.observability import logger, metrics

app = create_app(report_routes.router, dashboard_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return resolve(app, event, context)
