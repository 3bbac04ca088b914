"""EventBridge rules for the functions the topology runs on a timer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import topology


class Schedules(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        specs: Iterable[topology.Function],
        handlers: Mapping[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, id)
        self.rules: dict[str, events.Rule] = {}
        for spec in specs:
            if not spec.schedule:
                continue
            self.rules[spec.schedule.name] = events.Rule(
                self,
                spec.schedule.name,
                description=spec.schedule.description[:512],
                schedule=events.Schedule.rate(Duration.minutes(spec.schedule.rate_minutes)),
                # A sweep that misses a tick is replaced by the next one: no backlog of stale runs.
                targets=[
                    targets.LambdaFunction(handlers[spec.name], retry_attempts=2, max_event_age=Duration.minutes(5))
                ],
            )
