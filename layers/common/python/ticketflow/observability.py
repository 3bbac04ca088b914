"""Logger and metrics, one of each per container (Powertools).

Logs are JSON with the request's correlation id. No Tracer: the X-Ray SDK it imports adds
~0.3 s to every cold start (see NOTES); Lambda's active tracing still records each
invocation. Customer email and phone are never logged: we log ids and numbers only.
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="ticketflow")
metrics = Metrics(namespace="ticketflow", service="ticketflow")


def count(name: str, value: int = 1) -> None:
    """An operational count (EMF), flushed when the handler returns."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
