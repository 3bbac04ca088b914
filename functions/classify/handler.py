"""Classify queue: classify, auto-reply from the knowledge base, route (partial batch failures)."""

from ticketflow import triage
from ticketflow.observability import logger, metrics
from ticketflow.queue_worker import worker

process = worker(triage.handle)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return process(event, context)
