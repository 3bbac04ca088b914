"""The AWS side of the local stack: the table and queues of the topology in an embedded moto
server (or behind an endpoint you name), and the environment the functions read.

Everything the emulator sets in ``os.environ`` is put back by ``stop()``, so tests can run
stacks one after another in one process.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import boto3

from infra import topology as default_topology
from infra.local.lambdas import LocalFunction

DEFAULT_PREFIX = "ticketflow-local"
DEFAULT_REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
FUNCTION_ENV = {
    "POWERTOOLS_SERVICE_NAME": "ticketflow",
    "POWERTOOLS_METRICS_NAMESPACE": "ticketflow",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


class Emulator:
    """Table ``<prefix>``, queues ``<prefix>-<queue>`` and ``<prefix>-<queue>-dlq`` (the names the
    stack gives them, with the prefix for the stack name).

    Without ``endpoint`` it starts moto in this process and creates and seeds everything;
    with one (e.g. the moto of a running ``ticketflow dev``) it finds the queues there.
    moto keeps its state per process, not per server: two emulators in one process share it,
    so give each its own prefix.
    """

    def __init__(
        self, topology: Any = default_topology, *, prefix: str = DEFAULT_PREFIX, endpoint: str | None = None
    ) -> None:
        self.topology = topology
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION
        self.account = ""
        self.queue_urls: dict[str, str] = {}
        self.people: tuple = ()
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}

    @property
    def embedded(self) -> bool:
        return self._server is not None

    def start(self, env: dict[str, str] | None = None) -> str:
        """Start (or reach) the emulator, set the functions' environment plus ``env``, and return
        the AWS endpoint URL."""
        endpoint = self.endpoint
        if endpoint is None:
            endpoint = self.endpoint = self._start_moto()
            self.set_env({**FAKE_CREDENTIALS, "AWS_PROFILE": None})
        else:
            # A shell's own credentials may be meant for that endpoint; fill in only what is missing.
            self.set_env({k: v for k, v in FAKE_CREDENTIALS.items() if k not in os.environ})
        self.set_env(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # moto's DynamoDB streams need it (NOTES)
            }
        )
        session = boto3.session.Session()
        self.account = session.client("sts").get_caller_identity()["Account"]
        if self.embedded:
            self._create_resources(session)
        else:
            self._find_queues(session)
        self.set_env({**FUNCTION_ENV, **self._topology_env(), **(env or {})})
        self._forget_cached_state()
        if self.embedded:
            from ticketflow import demo

            self.people = demo.seed()
        return endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        self._forget_cached_state()

    def set_env(self, values: dict[str, str | None]) -> None:
        """Set (None: unset) variables, remembering the first value each had for ``stop()``."""
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def load(self, function: default_topology.Function) -> LocalFunction:
        """A function of the topology, its handler imported under this environment."""
        return LocalFunction(function, prefix=self.prefix, region=self.region, account=self.account)

    def queue_arn(self, queue: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account}:{self.prefix}-{queue}"

    def _start_moto(self) -> str:
        from moto.server import ThreadedMotoServer

        from infra.local import moto_fixes

        moto_fixes.apply()

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # else moto logs every request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def _create_resources(self, session: boto3.session.Session) -> None:
        from ticketflow.storage.schema import TTL_ATTRIBUTE, create_table_kwargs

        dynamodb = session.client("dynamodb")
        dynamodb.create_table(**create_table_kwargs(self.prefix))
        dynamodb.update_time_to_live(
            TableName=self.prefix, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        )
        # On AWS the sender address is verified once, out of band; SES refuses mail from others.
        session.client("sesv2").create_email_identity(
            EmailIdentity=os.environ.get("TICKETFLOW_SENDER_EMAIL", "service@ticketflow.example")
        )
        sqs = session.client("sqs")
        for queue in self.topology.QUEUES:
            dlq_url = sqs.create_queue(QueueName=f"{self.prefix}-{queue.dlq_name}")["QueueUrl"]
            dlq_arn = self.queue_arn(queue.dlq_name)
            redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
            self.queue_urls[queue.name] = sqs.create_queue(
                QueueName=f"{self.prefix}-{queue.name}",
                Attributes={
                    "VisibilityTimeout": str(queue.visibility_timeout_s),
                    "DelaySeconds": str(queue.delay_s),
                    "RedrivePolicy": json.dumps(redrive),
                },
            )["QueueUrl"]
            self.queue_urls[queue.dlq_name] = dlq_url

    def _find_queues(self, session: boto3.session.Session) -> None:
        # On AWS the sender address is verified once, out of band; SES refuses mail from others.
        session.client("sesv2").create_email_identity(
            EmailIdentity=os.environ.get("TICKETFLOW_SENDER_EMAIL", "service@ticketflow.example")
        )
        sqs = session.client("sqs")
        for queue in self.topology.QUEUES:
            url = os.environ.get(default_topology.queue_url_env(queue.name))
            self.queue_urls[queue.name] = url or sqs.get_queue_url(QueueName=f"{self.prefix}-{queue.name}")["QueueUrl"]

    def _topology_env(self) -> dict[str, str]:
        """What the stack sets on the functions. Locally they share one process environment, so
        each function's own variables go to all, and a variable set in the shell wins."""
        table = self.prefix if self.embedded else os.environ.get(default_topology.TABLE_ENV) or self.prefix
        env = {default_topology.TABLE_ENV: table}
        # `ticketflow invoke` has no gateway of its own: links name the default `ticketflow dev` port.
        env[default_topology.PUBLIC_BASE_URL_ENV] = (
            os.environ.get(default_topology.PUBLIC_BASE_URL_ENV) or "http://127.0.0.1:3000"
        )
        env |= {default_topology.queue_url_env(q.name): self.queue_urls[q.name] for q in self.topology.QUEUES}
        for function in self.topology.FUNCTIONS:
            env |= {name: os.environ.get(name, value) for name, value in function.env.items()}
        return env

    @staticmethod
    def _forget_cached_state() -> None:
        # In one process (the tests) an earlier stack may have left clients bound to another
        # endpoint and settings naming another table; a Lambda cold start has neither.
        import ticketflow

        ticketflow.reset()
