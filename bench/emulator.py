"""The AWS the benchmarks run against: moto in-process, and optionally AWS's DynamoDB Local
for the table (moto answers an index Query by reading every item: fine for counting requests,
wrong for timing them at scale)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def emulated(*, dynamodb_local: bool = False) -> Iterator[None]:
    # The tests' credentials: DynamoDB Local keeps one database per access key.
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    from moto.server import ThreadedMotoServer

    from infra.local import moto_fixes
    from tests.dynamodb_local import DynamoDBLocal

    moto_fixes.apply()

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    table_server = DynamoDBLocal() if dynamodb_local else None
    if table_server:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = table_server.endpoint  # before any boto3 session reads it
        table_server.start()
    try:
        yield
    finally:
        if table_server:
            table_server.stop()
        server.stop()
