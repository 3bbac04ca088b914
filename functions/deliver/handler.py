"""Outbound queue: deliver people's replies to the customer, once (partial batch failures)."""

from ticketflow import outbound
from ticketflow.observability import logger, metrics
from ticketflow.queue_worker import worker

process = worker(outbound.handle)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return process(event, context)
