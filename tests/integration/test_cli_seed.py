"""`ticketflow seed` writes the demo directory (the teams and agents configuration) into a named
table at an endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3

from ticketflow.storage import config as config_store
from ticketflow.storage.schema import create_table_kwargs


def test_seed_writes_people_and_teams(moto_endpoint):
    table = f"seed-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb").create_table(**create_table_kwargs(table))
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ticketflow"), "seed", "--table", table, "--endpoint", moto_endpoint],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    assert "agent-3   agent       aftersales,logistics" in out.stdout
    item = boto3.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": "CONFIG#agents"}, "sk": {"S": "CURRENT"}}
    )["Item"]
    assert item["version"]["N"] == "1" and item["action"]["S"] == "import"
    people = {p["id"]: p for p in config_store.unpack({"blob": item["blob"]["B"]})["agents"]}
    assert people["agent-3"]["teams"] == ["aftersales", "logistics"]
