"""The ticketflow stack: composes one construct per concern, wired from the topology."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra import topology
from infra.constructs.api import Api
from infra.constructs.functions import Functions
from infra.constructs.monitoring import Monitoring
from infra.constructs.people import People
from infra.constructs.queues import WorkQueue
from infra.constructs.schedules import Schedules
from infra.constructs.table import TicketTable


class TicketflowStack(Stack):
    """Everything ticketflow runs on.

    ``functions`` and ``queues`` default to the topology; tests pass their own to exercise
    wiring that the current topology does not use yet (a consumer, a schedule).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        functions: Sequence[topology.Function] = topology.FUNCTIONS,
        queues: Sequence[topology.Queue] = topology.QUEUES,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.table = TicketTable(self, "Tickets").table
        self.queues = {spec.name: WorkQueue(self, f"Queue-{spec.name}", spec=spec) for spec in queues}
        self.functions = Functions(self, "Functions", specs=functions, table=self.table, queues=self.queues).by_name
        self.schedules = Schedules(self, "Schedules", specs=functions, handlers=self.functions).rules
        self.people = People(self, "People")
        self.api = Api(self, "Api", specs=functions, handlers=self.functions, user_pool=self.people.user_pool)
        Monitoring(self, "Monitoring", queues=self.queues, functions=self.functions)
        # Links in messages (survey links) point at the API; a custom domain can be named instead.
        public_url = self.node.try_get_context("publicBaseUrl") or self.api.rest_api.url
        for spec in functions:
            if spec.needs_public_url:
                self.functions[spec.name].add_environment(topology.PUBLIC_BASE_URL_ENV, public_url)

        CfnOutput(self, "ApiUrl", value=self.api.rest_api.url, description="Base URL of the HTTP API")
        CfnOutput(self, "TableName", value=self.table.table_name)
        CfnOutput(self, "UserPoolId", value=self.people.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.people.client.user_pool_client_id)
        CfnOutput(
            self,
            "DemoApiKeyId",
            value=self.api.demo_key.key_id,
            description="aws apigateway get-api-key --include-value --api-key <id> prints the key",
        )
