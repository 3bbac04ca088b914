"""Alarms: a message in any dead-letter queue, an error in any function."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.queues import WorkQueue

PERIOD = Duration.minutes(1)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        queues: Mapping[str, WorkQueue],
        functions: Mapping[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, id)
        self.alarms: list[cloudwatch.Alarm] = []
        for name, queue in queues.items():
            # Every message here is a ticket stuck on its way: one is enough to look.
            self._alarm(
                f"{name}DeadLetters",
                queue.dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                f"Messages in the dead-letter queue {queue.spec.dlq_name}",
            )
        for name, function in functions.items():
            self._alarm(
                f"{name}Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                f"Function {name} failed (an unhandled exception or a timeout)",
            )

    def _alarm(self, id: str, metric: cloudwatch.IMetric, description: str) -> None:
        self.alarms.append(
            cloudwatch.Alarm(
                self,
                id,
                alarm_description=description,
                metric=metric,
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                # No data means no messages and no invocations: healthy.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )
