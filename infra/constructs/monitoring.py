"""Alarms (a message in any dead-letter queue, an error in any function) and the operations
dashboard: what the helpdesk did (the EMF counts the functions emit) next to what went wrong."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.queues import WorkQueue

PERIOD = Duration.minutes(1)
DASHBOARD_PERIOD = Duration.minutes(5)

# What ``ticketflow.observability`` emits: Powertools Metrics adds ``service`` as the dimension.
EMF_NAMESPACE = "ticketflow"
EMF_DIMENSIONS = {"service": "ticketflow"}
# The dashboard's count graphs: title -> the EMF metrics drawn in it (each a Sum per 5 minutes).
ACTIVITY: dict[str, tuple[str, ...]] = {
    "Tickets": ("TicketsOpened", "TicketsClassified", "TicketsAssigned"),
    "Automatic replies": ("AutoReplies", "AutoRepliesUndeliverable", "P1Notices"),
    "SLA notices": ("SlaWarnings", "Escalations"),
    "Surveys": ("SurveysSent", "SurveysAnswered", "SurveyRecoveries"),
    "Agent replies": ("RepliesDelivered", "RepliesUndeliverable"),
    "SLA sweep": ("SweepDue", "SweepErrors"),
}


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
        self.dashboard = self._dashboard(queues, functions)

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

    def _dashboard(
        self, queues: Mapping[str, WorkQueue], functions: Mapping[str, lambda_.Function]
    ) -> cloudwatch.Dashboard:
        """One page to answer "is the helpdesk working?": the flow of tickets through the stages
        (a stage whose count drops to zero while tickets still open is stuck), then what is
        broken: messages in dead-letter queues, function errors and throttles, alarm states."""
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            # Named after the stack, so two stages (e.g. staging and prod) fit in one account.
            dashboard_name=f"{Stack.of(self).stack_name}-operations",
            default_interval=Duration.hours(24),
        )
        dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown="## ticketflow operations\n"
                "Counts per 5 minutes from the functions (EMF, namespace `ticketflow`). "
                "Any message in a dead-letter queue is a ticket stuck on its way: see the alarms below.",
                width=24,
                height=2,
            )
        )
        activity = [
            _graph(
                title,
                [
                    cloudwatch.Metric(
                        namespace=EMF_NAMESPACE,
                        metric_name=name,
                        dimensions_map=EMF_DIMENSIONS,
                        statistic="Sum",
                        period=DASHBOARD_PERIOD,
                        label=name,
                    )
                    for name in names
                ],
            )
            for title, names in ACTIVITY.items()
        ]
        for row in range(0, len(activity), 3):
            dashboard.add_widgets(*activity[row : row + 3])
        dashboard.add_widgets(
            _graph(
                "Messages in dead-letter queues",
                [
                    queue.dlq.metric_approximate_number_of_messages_visible(
                        period=DASHBOARD_PERIOD, statistic="Maximum", label=queue.spec.dlq_name
                    )
                    for queue in queues.values()
                ],
            ),
            _graph(
                "Function errors",
                [
                    function.metric_errors(period=DASHBOARD_PERIOD, statistic="Sum", label=name)
                    for name, function in functions.items()
                ],
            ),
            _graph(
                "Function throttles",
                [
                    function.metric_throttles(period=DASHBOARD_PERIOD, statistic="Sum", label=name)
                    for name, function in functions.items()
                ],
            ),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms",
                alarms=self.alarms,
                sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
                width=24,
                height=4,
            )
        )
        return dashboard


def _graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    """A third of a row: counts from zero, one line per metric, labelled."""
    return cloudwatch.GraphWidget(
        title=title,
        left=metrics,
        period=DASHBOARD_PERIOD,
        left_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
        width=8,
    )
