"""Survey queue: send each due satisfaction survey once (partial batch failures)."""

from ticketflow.observability import logger, metrics
from ticketflow.queue_worker import worker
from ticketflow.surveys import dispatch

process = worker(dispatch.handle)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return process(event, context)
