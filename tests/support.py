"""Calling the real handlers with real event shapes (built like the samples in events/)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

from events.generate import api_event
from infra import topology

if TYPE_CHECKING:
    from ticketflow.directory import Person, Team
    from ticketflow.models import Ticket


@cache
def handler_module(function: str) -> ModuleType:
    path = topology.function(function).code_dir / "handler.py"
    spec = importlib.util.spec_from_file_location(f"tf_handler_{function}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def lambda_context(function: str) -> SimpleNamespace:
    return SimpleNamespace(
        function_name=f"ticketflow-{function}",
        memory_limit_in_mb=512,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:ticketflow-{function}",
        aws_request_id=str(uuid.uuid4()),
        get_remaining_time_in_millis=lambda: 10_000,
    )


def invoke(function: str, event: dict) -> dict:
    with deployed_as(function):
        return handler_module(function).handler(event, lambda_context(function))


def claims(person: str, role: str) -> dict[str, str]:
    return {"sub": person, "cognito:username": person, "cognito:groups": role, "token_use": "id"}


ROLES = {
    "agent-1": "agent",
    "agent-2": "agent",
    "agent-3": "agent",
    "agent-4": "agent",
    "agent-5": "agent",
    "agent-6": "agent",
    "sup-1": "supervisor",
    "admin-1": "admin",
}


class Api:
    """The HTTP API through its handlers: the same events API Gateway would send."""

    def __init__(self, api_key_id: str = "key-web"):
        self.api_key_id = api_key_id
        self.last_headers: dict[str, str] = {}  # the response headers of the last call

    def _route(self, method: str, path: str) -> tuple[str, str]:
        for function in topology.FUNCTIONS:
            for route in function.routes:
                pattern = route.path.split("/")
                parts = path.split("?")[0].split("/")
                if (
                    route.method == method
                    and len(pattern) == len(parts)
                    and all(p.startswith("{") or p == q for p, q in zip(pattern, parts, strict=True))
                ):
                    return function.name, route.path
        raise AssertionError(f"no route for {method} {path}")

    def call(
        self,
        method: str,
        path: str,
        *,
        as_: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        raw_body: str | None = None,
    ) -> tuple[int, Any]:
        function, resource = self._route(method, path)
        auth = next(r.auth for r in topology.function(function).routes if r.path == resource and r.method == method)
        event = api_event(method, resource, auth=auth, body=body, query=query)
        event["path"] = path.split("?")[0]
        parameters = {
            name[1:-1]: value
            for name, value in zip(resource.split("/"), event["path"].split("/"), strict=True)
            if name.startswith("{")
        }
        if parameters:
            event["pathParameters"] = parameters
        if auth == "channel":
            event["requestContext"]["identity"]["apiKeyId"] = self.api_key_id
        if auth == "person":
            event["requestContext"]["authorizer"] = {"claims": claims(as_, ROLES[as_])} if as_ else None
        if raw_body is not None:
            event["body"] = raw_body
        for name, value in (headers or {}).items():
            event["headers"][name] = value
            event["multiValueHeaders"][name] = [value]
        response = invoke(function, event)
        text = response.get("body") or ""
        headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
        self.last_headers = headers | (response.get("headers") or {})
        ctype = self.last_headers.get("Content-Type", "")
        return response["statusCode"], json.loads(text) if text and "json" in ctype else text

    def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return self.call("POST", path, body=body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return self.call("GET", path, **kwargs)


def new_ticket(**overrides: Any) -> dict[str, Any]:
    ticket = {
        "channel": "web",
        "customer": {"id": "C-1", "name": "王芳", "email": "wf@example.com", "phone": "+8613800000000"},
        "subject": "订单还没到",
        "description": "我的订单已经五天了还没有发货",
        "order_number": "SO1",
    }
    ticket.update(overrides)
    return ticket


# Reads of what a test knows is stored: a missing one fails there, and the type is not Optional.
def stored_ticket(ticket_id: str) -> Ticket:
    from ticketflow.storage import tickets as ticket_store

    ticket = ticket_store.get(ticket_id)
    assert ticket is not None, f"no ticket {ticket_id}"
    return ticket


def stored_person(person_id: str) -> Person:
    from ticketflow.storage import directory as directory_store

    person = directory_store.get_person(person_id)
    assert person is not None, f"no person {person_id}"
    return person


def stored_team(team_id: str) -> Team:
    from ticketflow.storage import directory as directory_store

    team = directory_store.get_team(team_id)
    assert team is not None, f"no team {team_id}"
    return team


def nobody_free() -> None:
    """Every agent goes offline: new tickets wait in their team queues (the sweep, which fills
    the queues every run, then assigns nothing), so their notices go to the supervisors."""
    from ticketflow.directory import Role
    from ticketflow.storage import directory as directory_store

    for team in directory_store.team_ids():
        for person in directory_store.team_members(team):
            if person.role is Role.AGENT:
                directory_store.set_availability(person.id, online=False)


@contextmanager
def deployed_as(function: str) -> Iterator[None]:
    """Run as ``function`` would on AWS: with only the queue URLs the topology gives it, so that
    sending anywhere else fails here as it would there (the local stack sets them all)."""
    spec = topology.function(function)
    others = [topology.queue_url_env(q.name) for q in topology.QUEUES if q.name not in spec.sends_to]
    hidden = {name: os.environ.pop(name) for name in others if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(hidden)


def live_version(kind: str, **changes: Any) -> None:
    """A new live version of a configuration kind: the shipped defaults with ``changes`` (a
    dict merged into the entry of that name, anything else put in its place), in force at once."""
    import copy

    from ticketflow import runtime_config
    from ticketflow.storage import config as config_store

    data = copy.deepcopy(runtime_config.default(kind))
    for name, change in changes.items():
        data[name] = {**data[name], **change} if isinstance(change, dict) else change
    version = (config_store.get_current(kind) or (0, None))[0] + 1
    config_store.put_current(kind, data, version=version)
    runtime_config.reset()
