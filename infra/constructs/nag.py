"""Acknowledging a cdk-nag finding: at the narrowest construct, always with a reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

# cdk-nag 3 reports through CDK's validation framework, whose rule ids carry the plugin's
# name: "AwsSolutions::AwsSolutions-L1". Without that prefix CDK files the id as an
# annotation id and the acknowledgement may silently match nothing.
PLUGIN = "AwsSolutions"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """``rule`` as cdk-nag prints it, e.g. ``AwsSolutions-IAM5[Resource::*]``."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PLUGIN}::{rule}", reason=reason))
