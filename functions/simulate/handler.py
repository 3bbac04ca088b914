"""Simulate queue: one slice of a what-if replay per message (partial batch failures).

Thin on purpose: ``simulation.runs.process`` holds the rules, and is safe to run twice."""

from ticketflow.observability import logger, metrics
from ticketflow.queue_worker import worker
from ticketflow.simulation import runs

process = worker(runs.process)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return process(event, context)
