"""Synthesize each app once per test session: jsii start-up and synth cost seconds, assertions
milliseconds.

Two apps, both with cdk-nag attached exactly as ``infra/app.py`` does:
- ``synth``: the stack from the real topology;
- ``extended``: the same plus a queue consumer and a scheduled function, the code paths the
  topology does not use yet, so they are tested (and nag-clean) before the first one lands.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from infra import topology


class BorrowedCode(topology.Function):
    """A function the topology does not declare yet; the stack only packages its code, so it
    borrows intake's folder."""

    @property
    def code_dir(self) -> Path:
        return topology.function("intake").code_dir


NOTIFY = topology.Queue(
    "notify", "a second queue", visibility_timeout_s=120, max_receive_count=3, delay_s=300, batch_size=5
)
EXTRA_QUEUES = (NOTIFY,)
EXTRA_FUNCTIONS = (
    BorrowedCode("extra_consumer", "consumes notify", consumes="notify", sends_to=("classify",), timeout_s=30),
    BorrowedCode(
        "extra_ticker",
        "runs every five minutes, reads only",
        schedule=topology.Schedule("extra_tick", 5, "a second schedule"),
        table_access="read",
    ),
)


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def arn(logical_id: str) -> dict:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


@dataclass
class Synthesized:
    stack: Any  # infra.stack.TicketflowStack
    outdir: Path
    functions: tuple[topology.Function, ...]
    queues: tuple[topology.Queue, ...]

    @cached_property
    def json(self) -> dict:
        return json.loads((self.outdir / self.stack.template_file).read_text())

    @cached_property
    def template(self):
        from aws_cdk.assertions import Template

        return Template.from_json(self.json)

    @property
    def resources(self) -> dict[str, dict]:
        return self.json["Resources"]

    def of_type(self, type_: str) -> dict[str, dict]:
        return {k: r for k, r in self.resources.items() if r["Type"] == type_}

    def logical_id(self, construct) -> str:
        """Logical id of an L2 construct's CloudFormation resource."""
        return self.stack.get_logical_id(construct.node.default_child)

    def policy_statements(self, function_name: str) -> list[dict]:
        """Every IAM statement attached to a function's role."""
        role = self.logical_id(self.stack.functions[function_name].role)
        return [
            statement
            for policy in self.of_type("AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]

    def allowed(self, function_name: str, action: str) -> list:
        """The resources on which a function's role may perform ``action``."""
        return [
            resource
            for statement in self.policy_statements(function_name)
            if statement["Effect"] == "Allow" and action in as_list(statement["Action"])
            for resource in as_list(statement["Resource"])
        ]

    @cached_property
    def methods(self) -> dict[tuple[str, str], dict]:
        """(HTTP method, resource path) -> properties of the AWS::ApiGateway::Method."""
        resources = self.of_type("AWS::ApiGateway::Resource")

        def path(resource_id: dict) -> str:
            if "Ref" not in resource_id:  # Fn::GetAtt RestApi.RootResourceId
                return ""
            props = resources[resource_id["Ref"]]["Properties"]
            return f"{path(props['ParentId'])}/{props['PathPart']}"

        return {
            (m["Properties"]["HttpMethod"], path(m["Properties"]["ResourceId"]) or "/"): m["Properties"]
            for m in self.of_type("AWS::ApiGateway::Method").values()
        }

    @cached_property
    def validation_report(self) -> dict:
        return json.loads((self.outdir / "validation-report.json").read_text())

    @cached_property
    def acknowledgements(self) -> dict[tuple[str, str], str]:
        """(construct path, rule id) -> reason, for every acknowledgement in the stack."""
        artifact = json.loads((self.outdir / "manifest.json").read_text())["artifacts"][self.stack.artifact_id]
        metadata = json.loads((self.outdir / artifact["additionalMetadataFile"]).read_text())
        return {
            (path.lstrip("/"), rule): reason
            for path, entries in metadata.items()
            for entry in entries
            if entry["type"] == "aws:cdk:acknowledged-rules"
            for rule, reason in entry["data"].items()
        }


def synthesize(
    outdir: Path,
    functions: tuple[topology.Function, ...] = topology.FUNCTIONS,
    queues: tuple[topology.Queue, ...] = topology.QUEUES,
) -> Synthesized:
    from infra.app import build_app

    app, stack = build_app(outdir, functions=functions, queues=queues)
    app.synth()  # raises if cdk-nag reports an unacknowledged finding
    return Synthesized(stack, outdir, functions, queues)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.extended"),
        functions=topology.FUNCTIONS + EXTRA_FUNCTIONS,
        queues=topology.QUEUES + EXTRA_QUEUES,
    )


@pytest.fixture(scope="session", params=["synth", "extended"])
def any_synth(request: pytest.FixtureRequest) -> Synthesized:
    """Either app: checks that must hold for every function and queue, declared or not yet."""
    return request.getfixturevalue(request.param)
