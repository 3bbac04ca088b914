"""AWS clients, created once per container and reused across invocations.

boto3 honours AWS_ENDPOINT_URL, which is how the same code reaches the embedded emulator
under `ticketflow dev` and in tests. `reset()` drops the cached clients (tests switch
endpoints between sessions).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Short timeouts and the SDK's adaptive retries: a throttled table is retried with
# back-off inside the SDK before anything reaches our code.
_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "adaptive", "max_attempts": 5},
)


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)


def reset() -> None:
    client.cache_clear()
