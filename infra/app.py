"""The CDK app: ``CDK_OUTDIR=cdk.out .venv/bin/python -m infra.app`` or ``cdk synth``.

Synth is offline: no credentials, no Docker, no lookups (the Powertools layer ARN is an SSM
parameter resolved by CloudFormation at deploy time). Deploy to the account and region of
CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION (set by the cdk CLI); without them the stack is
environment-agnostic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

# jsii prints a Node end-of-life banner on every start unless told which version it may ignore.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra import topology
from infra.stack import TicketflowStack

STACK_NAME = "Ticketflow"


def cdk_json_context() -> dict:
    """cdk.json's context (feature flags), so a plain ``python -m infra.app`` and the tests
    synthesize exactly what ``cdk synth`` does; the CLI's own context still wins."""
    return json.loads((topology.ROOT / "cdk.json").read_text())["context"]


def build_app(
    outdir: str | Path | None = None,
    *,
    functions: Sequence[topology.Function] = topology.FUNCTIONS,
    queues: Sequence[topology.Queue] = topology.QUEUES,
    nag: bool = True,
) -> tuple[cdk.App, TicketflowStack]:
    app = cdk.App(outdir=str(outdir) if outdir else None, context=cdk_json_context())
    stack = TicketflowStack(
        app,
        STACK_NAME,
        functions=functions,
        queues=queues,
        description="ticketflow: serverless customer-service helpdesk",
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    cdk.Tags.of(app).add("project", "ticketflow")
    if nag:
        # cdk-nag 3: a validation plugin; any finding not acknowledged fails synth.
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
