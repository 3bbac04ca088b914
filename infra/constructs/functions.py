"""The function factory: every Lambda function of the topology is built here, the same way."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping

from aws_cdk import CfnElement, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import topology
from infra.constructs.nag import acknowledge
from infra.constructs.queues import WorkQueue

RUNTIME = lambda_.Runtime.PYTHON_3_13
# Graviton: ~20 % cheaper per GB-second, and Powertools publishes an arm64 layer.
ARCHITECTURE = lambda_.Architecture.ARM_64
# Never ship bytecode caches built on a developer's machine.
ASSET_EXCLUDES = ["__pycache__", "*.pyc"]


def pinned_version(package: str) -> str:
    """The exact version pyproject.toml pins, so the Lambda layer and the tests run the same code."""
    pyproject = tomllib.loads((topology.ROOT / "pyproject.toml").read_text())
    for requirement in pyproject["project"]["dependencies"]:
        name, _, version = requirement.partition("==")
        if name.split("[")[0].strip() == package:
            return version.strip()
    raise LookupError(f"{package} is not pinned with == in pyproject.toml")


# Public parameter AWS maintains for each Powertools release; resolved at deploy time, so
# synth stays offline. The layer bundles pydantic and the X-Ray SDK; boto3 is the runtime's.
# The verified SES identity customers and staff get email from (override in cdk.json context).
SENDER_EMAIL = "service@ticketflow.example"

TABLE_READ = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
)
TABLE_READ_WRITE = (
    *TABLE_READ,
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)

POWERTOOLS_LAYER_PARAMETER = (
    f"/aws/service/powertools/python/arm64/{RUNTIME.name}/{pinned_version('aws-lambda-powertools')}"
)


class Functions(Construct):
    """One Lambda function per ``topology.Function``: code, layers, env, logs, tracing, IAM."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        specs: Iterable[topology.Function],
        table: dynamodb.Table,
        queues: Mapping[str, WorkQueue],
    ) -> None:
        super().__init__(scope, id)
        self._table = table
        self._queues = queues
        self._layers = [
            lambda_.LayerVersion(
                self,
                "CommonLayer",
                description="ticketflow domain package (layers/common/python/ticketflow)",
                code=lambda_.Code.from_asset(str(topology.LAYER_DIR), exclude=ASSET_EXCLUDES),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
            ),
            lambda_.LayerVersion.from_layer_version_arn(
                self,
                "PowertoolsLayer",
                ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER),
            ),
        ]
        self.by_name: dict[str, lambda_.Function] = {spec.name: self._build(spec) for spec in specs}

    def _queue(self, name: str, user: str) -> WorkQueue:
        if name not in self._queues:
            raise KeyError(f"function {user!r} names queue {name!r}, which the topology does not declare")
        return self._queues[name]

    def _build(self, spec: topology.Function) -> lambda_.Function:
        scope = Construct(self, spec.name)
        log_group = logs.LogGroup(scope, "Logs", retention=logs.RetentionDays.ONE_MONTH)
        # Our own role instead of AWSLambdaBasicExecutionRole: it may write to its own log
        # group only, not create or write any log group in the account.
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"ticketflow {spec.name}",
        )
        log_group.grant_write(role)

        sends_to = [self._queue(name, spec.name) for name in spec.sends_to]
        function = lambda_.Function(
            scope,
            "Function",
            description=spec.description[:256],
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=lambda_.Code.from_asset(str(spec.code_dir), exclude=ASSET_EXCLUDES),
            handler="handler.handler",
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            layers=self._layers,
            role=role,
            environment={
                topology.TABLE_ENV: self._table.table_name,
                **{topology.queue_url_env(q.spec.name): q.queue.queue_url for q in sends_to},
                "POWERTOOLS_SERVICE_NAME": "ticketflow",
                "POWERTOOLS_METRICS_NAMESPACE": "ticketflow",
                **({"TICKETFLOW_SENDER_EMAIL": SENDER_EMAIL} if "ses" in spec.uses else {}),
                **spec.env,
            },
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
        )

        # Explicit actions rather than grant_read_data: those include Scan, which the design
        # bans outside an admin export. Transactions need no action of their own.
        self._table.grant(role, *(TABLE_READ if spec.table_access == "read" else TABLE_READ_WRITE))
        for queue in sends_to:
            queue.queue.grant_send_messages(role)
        self._grant_outbound(role, spec)
        if spec.consumes:
            self._consume(function, spec, self._queue(spec.consumes, spec.name))

        acknowledge(
            function,
            "AwsSolutions-L1",
            f"{RUNTIME.name} on purpose: the Powertools layer pinned in pyproject.toml is resolved for "
            "this runtime (its pydantic-core is built per Python minor); runtime and layer move together.",
        )
        cfn_table = self._table.node.default_child  # the table's CfnTable
        assert isinstance(cfn_table, CfnElement)
        table_id = Stack.of(self).get_logical_id(cfn_table)
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{table_id}.Arn>/index/*]",
            "Queries the table's GSIs; DynamoDB grants index access per index ARN and the wildcard "
            "covers only this table's indexes (schema.INDEXES).",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Active X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords, and SMS through "
            "sns:Publish to a phone number, have no resource-level permissions. tests/infra checks that "
            "no other action gets Resource *.",
        )
        return function

    def _grant_outbound(self, role: iam.Role, spec: topology.Function) -> None:
        """Email, SMS and domain events, for the functions whose topology entry says so."""
        stack = Stack.of(self)
        if "ses" in spec.uses:
            # Only from the configured sender address, to anyone (customers, staff).
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["ses:SendEmail", "ses:SendRawEmail"],
                    resources=[stack.format_arn(service="ses", resource="identity", resource_name="*")],
                    conditions={"StringEquals": {"ses:FromAddress": SENDER_EMAIL}},
                )
            )
            acknowledge(
                role,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/*]",
                "SES checks both the sender and each recipient identity ARN; recipients "
                "are customers, so the identity is a wildcard, narrowed by the ses:FromAddress condition.",
            )
        if "sns" in spec.uses:
            # SMS to a phone number has no resource ARN to name; topics are not used.
            role.add_to_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=["*"]))
        if "events" in spec.uses:
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["events:PutEvents"],
                    resources=[stack.format_arn(service="events", resource="event-bus", resource_name="default")],
                )
            )

    @staticmethod
    def _consume(function: lambda_.Function, spec: topology.Function, source: WorkQueue) -> None:
        # AWS refuses an event source whose queue would re-deliver a message while the
        # function may still be working on it; fail at synth rather than at deploy.
        if source.spec.visibility_timeout_s < spec.timeout_s:
            raise ValueError(
                f"queue {source.spec.name!r}: visibility timeout {source.spec.visibility_timeout_s}s is "
                f"shorter than the timeout of its consumer {spec.name!r} ({spec.timeout_s}s)"
            )
        function.add_event_source(
            sources.SqsEventSource(
                source.queue,
                batch_size=source.spec.batch_size,
                # Only the failed messages of a batch return to the queue (and on to the DLQ).
                report_batch_item_failures=True,
            )
        )
