"""cdk-nag's AwsSolutions checks: clean, every exception explained, and really checking."""

from __future__ import annotations

import pytest

from .conftest import Synthesized

pytestmark = pytest.mark.infra


def test_no_unacknowledged_finding(any_synth: Synthesized) -> None:
    # The fixture's synth would have raised already; the report says why it did not.
    (report,) = any_synth.validation_report["pluginReports"]
    assert report["pluginName"] == "AwsSolutions"
    assert (report["conclusion"], report["violations"]) == ("success", [])


def test_every_acknowledgement_matches_a_finding_and_says_why(any_synth: Synthesized) -> None:
    (report,) = any_synth.validation_report["pluginReports"]
    used = {(v["acknowledgedAt"], v["acknowledgedId"]) for v in report["suppressedViolations"]}
    assert any_synth.acknowledgements, "expected some acknowledgements"
    for (path, rule), reason in any_synth.acknowledgements.items():
        # A stale or misspelt acknowledgement (e.g. without the "AwsSolutions::" prefix) hides
        # nothing today and would hide the wrong thing tomorrow.
        assert (path, rule) in used, f"{rule} at {path} matches no finding"
        assert len(reason) >= 40, f"{rule} at {path}: say why"


def _throwaway_app(tmp_path, *, acknowledged: bool):
    import aws_cdk as cdk
    from aws_cdk import aws_sqs as sqs
    from cdk_nag import AwsSolutionsChecks

    from infra.constructs.nag import acknowledge

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Throwaway")
    queue = sqs.Queue(stack, "Plain")  # no dead-letter queue, plain HTTP allowed: SQS3, SQS4
    if acknowledged:
        acknowledge(queue, "AwsSolutions-SQS3", "a throwaway queue in a test, deleted with the test")
        acknowledge(queue, "AwsSolutions-SQS4", "a throwaway queue in a test, deleted with the test")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def test_the_check_is_live_a_bad_construct_fails_synth(tmp_path) -> None:
    with pytest.raises(Exception, match="ValidationFailed"):
        _throwaway_app(tmp_path, acknowledged=False).synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "AwsSolutions-SQS3" in report
    assert "AwsSolutions-SQS4" in report


def test_our_acknowledge_helper_clears_exactly_what_it_names(tmp_path) -> None:
    _throwaway_app(tmp_path, acknowledged=True).synth()
