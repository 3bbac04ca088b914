"""Assign queue: give waiting tickets to the best agent with room (partial batch failures)."""

from ticketflow import assignment
from ticketflow.observability import logger, metrics
from ticketflow.queue_worker import worker

process = worker(assignment.handle)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return process(event, context)
