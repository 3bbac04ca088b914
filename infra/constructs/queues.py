"""The work queues of the topology, each with its dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import topology


class WorkQueue(Construct):
    """A queue and its dead-letter queue: SSL only, SQS-managed encryption."""

    def __init__(self, scope: Construct, id: str, *, spec: topology.Queue) -> None:
        super().__init__(scope, id)
        self.spec = spec
        # Prefixed with the stack name so two stacks (e.g. staging and prod) fit in one account.
        prefix = Stack.of(self).stack_name
        self.dlq = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=f"{prefix}-{spec.dlq_name}",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # The longest SQS allows: a poisoned message waits two weeks for someone to look at it.
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=f"{prefix}-{spec.name}",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
            delivery_delay=Duration.seconds(spec.delay_s),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=spec.max_receive_count),
        )
