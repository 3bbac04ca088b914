"""Settings read from the environment once per container and validated (pydantic)."""

from __future__ import annotations

import os
from functools import cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field


class Settings(BaseModel):
    table_name: str = Field(min_length=3)
    # Ticket numbers carry the business day in this time zone (CS + YYYYMMDD + sequence).
    timezone: str = "Asia/Shanghai"
    # Numbers reserved per counter write; a container hands them out one by one.
    number_block_size: int = Field(default=20, ge=1, le=1000)
    # How long after closing a customer or agent may still reopen a ticket.
    reopen_window_days: int = Field(default=7, ge=0)
    # How long a replayed Idempotency-Key returns the first answer.
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # Request body limit for the HTTP API (413 above it).
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


@cache
def settings() -> Settings:
    values = {
        "table_name": _env("TICKETFLOW_TABLE_NAME"),
        "timezone": _env("TICKETFLOW_TIMEZONE"),
        "number_block_size": _env("TICKETFLOW_NUMBER_BLOCK_SIZE"),
        "reopen_window_days": _env("TICKETFLOW_REOPEN_WINDOW_DAYS"),
        "idempotency_ttl_seconds": _env("TICKETFLOW_IDEMPOTENCY_TTL_SECONDS"),
        "max_body_bytes": _env("TICKETFLOW_MAX_BODY_BYTES"),
    }
    return Settings.model_validate({k: v for k, v in values.items() if v is not None})


def queue_url(queue: str) -> str:
    """URL of a queue this function may send to (set by the stack and the local runner)."""
    name = f"TICKETFLOW_QUEUE_{queue.upper()}_URL"
    url = os.environ.get(name)
    if not url:
        raise RuntimeError(f"{name} is not set: the topology does not let this function send to {queue!r}")
    return url
