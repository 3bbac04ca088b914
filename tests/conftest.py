"""Shared fixtures: the AWS emulator (moto in server mode) and a fresh table and queue per test.

Tests speak to the emulator over HTTP with the real boto3 SDK, exactly as the functions do on
AWS, so nothing in the code under test is patched. Tables and queues are created from the
same definitions as the stack (``storage.schema``, ``infra.topology``).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

# Never reach a real account from the tests, whatever the developer's shell has.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="ticketflow",
    POWERTOOLS_DEV="false",
)
os.environ.pop("AWS_PROFILE", None)


def reset_caches() -> None:
    """Forget per-container state (clients, settings, caches) as a new Lambda container would."""
    import ticketflow

    ticketflow.reset()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from infra.local import moto_fixes

    moto_fixes.apply()  # the emulator `ticketflow dev` runs: the same moto
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    server.stop()


def create_stack(prefix: str) -> dict[str, str]:
    """The table and queues of the topology under fresh names; sets the functions' environment."""
    from infra import topology
    from ticketflow.storage.schema import create_table_kwargs

    boto3.client("sesv2").create_email_identity(EmailIdentity="service@ticketflow.example")
    dynamodb = boto3.client("dynamodb")
    table = f"{prefix}-table"
    dynamodb.create_table(**create_table_kwargs(table))
    env = {topology.TABLE_ENV: table, topology.PUBLIC_BASE_URL_ENV: "https://support.example.com/prod"}
    sqs = boto3.client("sqs")
    for queue in topology.QUEUES:
        dlq = sqs.create_queue(QueueName=f"{prefix}-{queue.dlq_name}")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(
            QueueName=f"{prefix}-{queue.name}",
            Attributes={
                "VisibilityTimeout": str(queue.visibility_timeout_s),
                "DelaySeconds": str(queue.delay_s),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
                ),
            },
        )["QueueUrl"]
        env[topology.queue_url_env(queue.name)] = url
    os.environ.update(env)
    reset_caches()
    return env


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--dynamodb",
        choices=["moto", "local"],
        default="moto",
        help="where the `stack` fixture's table lives: moto (default) or AWS's DynamoDB Local. "
        "`make test` runs the integration suite both ways.",
    )


@pytest.fixture
def stack(request: pytest.FixtureRequest, moto_endpoint: str) -> Iterator[dict[str, str]]:
    """A fresh table and queues, with the demo directory seeded.

    The table is in moto, or in DynamoDB Local under ``--dynamodb=local`` (queues, SES and SNS
    stay in moto either way), so one suite checks the code against both implementations.
    """
    if request.config.getoption("dynamodb") == "local":
        yield request.getfixturevalue("real_dynamodb_stack")
        return
    from ticketflow import demo

    env = create_stack(f"t{uuid.uuid4().hex[:10]}")
    demo.seed()
    yield env


@pytest.fixture(scope="session")
def dynamodb_local_endpoint() -> Iterator[str]:
    from tests.dynamodb_local import DynamoDBLocal

    server = DynamoDBLocal()
    yield server.start()
    server.stop()


@pytest.fixture
def real_dynamodb_stack(moto_endpoint: str, dynamodb_local_endpoint: str) -> Iterator[dict[str, str]]:
    """Like ``stack``, but the table lives in DynamoDB Local (queues stay in moto)."""
    from ticketflow import demo

    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_local_endpoint
    try:
        env = create_stack(f"t{uuid.uuid4().hex[:10]}")
        demo.seed()
        yield env
    finally:
        del os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
        reset_caches()


@pytest.fixture(params=["moto", "dynamodb-local"])
def any_stack(request: pytest.FixtureRequest) -> dict[str, str]:
    """Runs a test against both moto and AWS's DynamoDB Local (under ``--dynamodb=local``
    the suite already runs there: the moto case is then skipped rather than repeated)."""
    if request.param == "moto" and request.config.getoption("dynamodb") == "local":
        pytest.skip("--dynamodb=local: this test's DynamoDB Local case runs instead")
    return request.getfixturevalue("stack" if request.param == "moto" else "real_dynamodb_stack")


def sent_email() -> list:
    """What SES accepted (moto keeps every message of the process)."""
    from moto.ses.models import ses_backends

    return list(ses_backends["123456789012"]["us-east-1"].sent_messages)


def sqs_batch(messages: Sequence[dict | str], queue: str = "classify") -> dict:
    """A real SQS event carrying ``messages`` (dicts are JSON-encoded; strings go as they are)."""
    from events.generate import sqs_event

    records = []
    for i, message in enumerate(messages):
        record = sqs_event(queue, {})["Records"][0]
        record["messageId"] = f"msg-{i}"
        record["body"] = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
        records.append(record)
    return {"Records": records}


def drain(queue_url: str) -> list[dict]:
    """Every message waiting on a queue, parsed (and deleted)."""
    sqs = boto3.client("sqs")
    found: list[dict] = []
    while True:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = response.get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


import logging  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.WARNING)
