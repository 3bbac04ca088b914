"""EventBridge schedule, every minute: the SLA sweep (team queues, warnings, escalations, owner timer, re-drive)."""

from ticketflow import sweep
from ticketflow.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return sweep.run().model_dump()
