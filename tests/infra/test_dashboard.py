"""The operations dashboard: one per stack, drawing the EMF counts the code really emits and
every dead-letter queue, function and alarm of the stack."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.constructs.monitoring import EMF_DIMENSIONS, EMF_NAMESPACE
from infra.topology import ROOT
from ticketflow.observability import metrics

from .conftest import Synthesized

pytestmark = pytest.mark.infra

# What the dashboard must show (tickets created, auto-replied, assigned, escalated, surveys).
EMF_METRICS = (
    "TicketsOpened",
    "TicketsClassified",
    "AutoReplies",
    "TicketsAssigned",
    "SlaWarnings",
    "Escalations",
    "SurveysSent",
    "SurveysAnswered",
)


def _token(part: Any) -> str:
    """A CloudFormation token inside the body as readable text: <Ref X>, <GetAtt X.Attr>."""
    if isinstance(part, str):
        return part
    if "Ref" in part:
        return f"<Ref {part['Ref']}>"
    if "Fn::GetAtt" in part:
        return f"<GetAtt {'.'.join(part['Fn::GetAtt'])}>"
    raise AssertionError(f"unexpected token in the dashboard body: {part}")


def dashboard(synth: Synthesized) -> dict:
    (resource,) = synth.of_type("AWS::CloudWatch::Dashboard").values()
    return resource["Properties"]


def widgets(synth: Synthesized) -> list[dict]:
    """The body's widgets, parsed: CDK writes it as an Fn::Join of JSON text and tokens."""
    body = dashboard(synth)["DashboardBody"]
    separator, parts = body["Fn::Join"]
    return json.loads(separator.join(map(_token, parts)))["widgets"]


def graph(synth: Synthesized, title: str) -> dict:
    (found,) = [w["properties"] for w in widgets(synth) if w["properties"].get("title") == title]
    return found


def metric_lines(synth: Synthesized) -> list[tuple[list, dict]]:
    """Every metric of every graph: ([namespace, name, dimension, value, ...], options)."""
    return [
        (line[:-1], line[-1])
        for widget in widgets(synth)
        if widget["type"] == "metric"
        for line in widget["properties"]["metrics"]
    ]


def test_one_dashboard_named_after_the_stack(any_synth: Synthesized) -> None:
    any_synth.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    assert dashboard(any_synth)["DashboardName"] == f"{any_synth.stack.stack_name}-operations"


def test_the_dashboard_queries_what_powertools_emits() -> None:
    # Powertools Metrics adds the service as the only dimension of every metric.
    assert (metrics.namespace, {"service": metrics.service}) == (EMF_NAMESPACE, EMF_DIMENSIONS)


def test_each_operational_count_is_a_sum_per_five_minutes(synth: Synthesized) -> None:
    lines = metric_lines(synth)
    for name in EMF_METRICS:
        found = [options for line, options in lines if line == [EMF_NAMESPACE, name, "service", metrics.service]]
        assert found == [{"label": name, "stat": "Sum"}], name
    for widget in widgets(synth):
        if widget["type"] == "metric":
            assert widget["properties"]["period"] == 300, widget["properties"]["title"]


def test_every_emf_metric_on_the_dashboard_is_emitted_by_the_code(synth: Synthesized) -> None:
    # A renamed count would leave a flat line nobody notices: each name is a literal in the code.
    source = "\n".join(p.read_text() for p in (ROOT / "layers/common/python/ticketflow").rglob("*.py"))
    emitted = set(re.findall(r'"([A-Z][A-Za-z0-9]+)"', source))
    drawn = {line[1] for line, _ in metric_lines(synth) if line[0] == EMF_NAMESPACE}
    assert set(EMF_METRICS) <= drawn
    assert drawn <= emitted, drawn - emitted


def test_every_dead_letter_queue_is_drawn(any_synth: Synthesized) -> None:
    drawn = graph(any_synth, "Messages in dead-letter queues")["metrics"]
    assert drawn == [
        [
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            f"<GetAtt {any_synth.logical_id(queue.dlq)}.QueueName>",
            {"label": queue.spec.dlq_name, "stat": "Maximum"},
        ]
        for queue in any_synth.stack.queues.values()
    ]


@pytest.mark.parametrize(("title", "metric"), [("Function errors", "Errors"), ("Function throttles", "Throttles")])
def test_every_function_errors_and_throttles_are_drawn(any_synth: Synthesized, title: str, metric: str) -> None:
    drawn = graph(any_synth, title)["metrics"]
    assert drawn == [
        [
            "AWS/Lambda",
            metric,
            "FunctionName",
            f"<Ref {any_synth.logical_id(function)}>",
            {"label": name, "stat": "Sum"},
        ]
        for name, function in any_synth.stack.functions.items()
    ]


def test_the_alarm_widget_lists_every_alarm(any_synth: Synthesized) -> None:
    (widget,) = [w for w in widgets(any_synth) if w["type"] == "alarm"]
    alarms = any_synth.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) == len(any_synth.stack.queues) + len(any_synth.stack.functions)
    assert sorted(widget["properties"]["alarms"]) == sorted(f"<GetAtt {a}.Arn>" for a in alarms)
