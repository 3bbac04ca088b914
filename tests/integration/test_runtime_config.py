"""Rules are data: a new version in the table takes effect in a running container, without a
deploy, once the cache's short TTL has passed; the matchers are rebuilt only for a new version."""

from __future__ import annotations

import copy

import pytest
from botocore.exceptions import ClientError

from tests.conftest import drain, sqs_batch
from tests.support import Api, invoke, new_ticket
from ticketflow import runtime_config, triage
from ticketflow.storage import config as config_store

api = Api()


def classify_new(stack, description: str) -> dict:
    tid = api.post("/tickets", new_ticket(description=description, subject=None))[1]["id"]
    invoke("classify", sqs_batch(drain(stack["TICKETFLOW_QUEUE_CLASSIFY_URL"])))
    return api.get(f"/tickets/{tid}", as_="sup-1")[1]


def test_a_new_routing_version_reaches_a_warm_container(stack, monkeypatch):
    assert classify_new(stack, "我的快递三天了还没到，物流也不更新")["team"] == "logistics"
    routing = copy.deepcopy(runtime_config.default("routing"))
    routing["routes"]["order_support/logistics"] = "aftersales"
    config_store.put_current("routing", routing, version=1)

    assert classify_new(stack, "我的快递三天了还没到，物流也不更新")["team"] == "logistics"  # cached
    monkeypatch.setattr(runtime_config, "TTL_SECONDS", 0.0)
    ticket = classify_new(stack, "我的快递三天了还没到，物流也不更新")
    assert ticket["team"] == "aftersales"
    assert "routing rule order_support/logistics → aftersales" in ticket["history"][1]["body"]


def test_matchers_are_built_once_per_version(stack, monkeypatch):
    monkeypatch.setattr(runtime_config, "TTL_SECONDS", 0.0)
    first = triage.classifier()
    assert triage.classifier() is first  # same version: same matchers
    rules = copy.deepcopy(runtime_config.default("classification"))
    config_store.put_current("classification", rules, version=7)
    assert triage.classifier() is not first
    assert runtime_config.live("classification").current()[0] == 7


def test_versions_never_go_backwards(stack):
    config_store.put_current("routing", runtime_config.default("routing"), version=3)
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        config_store.put_current("routing", runtime_config.default("routing"), version=2)
    current = config_store.get_current("routing")
    assert current is not None and current[0] == 3
