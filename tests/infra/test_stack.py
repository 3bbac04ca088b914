"""The synthesized template holds what the topology and the table schema declare."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from infra import topology
from infra.app import cdk_json_context
from infra.constructs.api import GATEWAY_ERRORS
from infra.constructs.functions import POWERTOOLS_LAYER_PARAMETER, SENDER_EMAIL, pinned_version
from ticketflow.storage import schema

from .conftest import BorrowedCode, Synthesized, arn, as_list

pytestmark = pytest.mark.infra

WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


# --- table ------------------------------------------------------------------------------


def test_one_table_on_demand_with_pitr_ttl_encryption_retained(synth: Synthesized) -> None:
    synth.template.resource_count_is("AWS::DynamoDB::Table", 1)
    synth.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "KeySchema": [
                    {"AttributeName": schema.PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": schema.SORT_KEY, "KeyType": "RANGE"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "TimeToLiveSpecification": {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True},
                "SSESpecification": {"SSEEnabled": True},
                "StreamSpecification": Match.absent(),
            },
        },
    )


def test_global_indexes_are_those_of_the_schema(synth: Synthesized) -> None:
    (table,) = synth.of_type("AWS::DynamoDB::Table").values()
    assert table["Properties"]["GlobalSecondaryIndexes"] == [
        {
            "IndexName": index.name,
            "KeySchema": [
                {"AttributeName": index.partition_key, "KeyType": "HASH"},
                {"AttributeName": index.sort_key, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
        for index in schema.INDEXES
    ]


# --- queues -----------------------------------------------------------------------------


def test_every_queue_has_its_dead_letter_queue_and_settings(any_synth: Synthesized) -> None:
    for spec in any_synth.queues:
        queue = any_synth.stack.queues[spec.name]
        props = any_synth.resources[any_synth.logical_id(queue.queue)]["Properties"]
        dlq = any_synth.resources[any_synth.logical_id(queue.dlq)]["Properties"]
        assert props["RedrivePolicy"] == {
            "deadLetterTargetArn": arn(any_synth.logical_id(queue.dlq)),
            "maxReceiveCount": spec.max_receive_count,
        }
        assert props["VisibilityTimeout"] == spec.visibility_timeout_s
        assert props["DelaySeconds"] == spec.delay_s
        assert props["QueueName"].endswith(f"-{spec.name}")
        assert dlq["QueueName"].endswith(f"-{spec.dlq_name}")
        assert props["SqsManagedSseEnabled"] is True
        assert dlq["SqsManagedSseEnabled"] is True


def test_every_queue_refuses_plain_http(any_synth: Synthesized) -> None:
    policies = any_synth.of_type("AWS::SQS::QueuePolicy").values()
    for queue in any_synth.stack.queues.values():
        for q in (queue.queue, queue.dlq):
            ref = {"Ref": any_synth.logical_id(q)}
            statements = [
                s
                for p in policies
                if ref in p["Properties"]["Queues"]
                for s in p["Properties"]["PolicyDocument"]["Statement"]
            ]
            assert any(
                s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                for s in statements
            ), q.node.path


def test_an_alarm_on_every_dead_letter_queue(any_synth: Synthesized) -> None:
    for queue in any_synth.stack.queues.values():
        any_synth.template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [
                    {"Name": "QueueName", "Value": {"Fn::GetAtt": [any_synth.logical_id(queue.dlq), "QueueName"]}}
                ],
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
            },
        )


# --- functions --------------------------------------------------------------------------


def test_one_lambda_function_per_topology_function(any_synth: Synthesized) -> None:
    any_synth.template.resource_count_is("AWS::Lambda::Function", len(any_synth.functions))
    assert set(any_synth.stack.functions) == {f.name for f in any_synth.functions}


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda f: f.name)
def test_function_runtime_layers_logs_tracing_env(synth: Synthesized, spec: topology.Function) -> None:
    function = synth.stack.functions[spec.name]
    props = synth.resources[synth.logical_id(function)]["Properties"]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.handler"
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_s
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"

    log_group = synth.resources[props["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Properties"]["RetentionInDays"] == 30

    (common_layer,) = synth.of_type("AWS::Lambda::LayerVersion")
    powertools = next(k for k, p in synth.json["Parameters"].items() if p["Default"] == POWERTOOLS_LAYER_PARAMETER)
    assert props["Layers"] == [{"Ref": common_layer}, {"Ref": powertools}]

    queue_ref = lambda name: {"Ref": synth.logical_id(synth.stack.queues[name].queue)}  # noqa: E731
    variables = dict(props["Environment"]["Variables"])
    public_url = variables.pop(topology.PUBLIC_BASE_URL_ENV, None)
    if spec.needs_public_url:  # the API stage's URL, so survey links lead to the survey page
        assert {"Ref": synth.logical_id(synth.stack.api.rest_api)} in public_url["Fn::Join"][1]
    else:
        assert public_url is None
    assert variables == {
        topology.TABLE_ENV: {"Ref": synth.logical_id(synth.stack.table)},
        **{topology.queue_url_env(q): queue_ref(q) for q in spec.sends_to},
        "POWERTOOLS_SERVICE_NAME": "ticketflow",
        "POWERTOOLS_METRICS_NAMESPACE": "ticketflow",
        **({"TICKETFLOW_SENDER_EMAIL": SENDER_EMAIL} if "ses" in spec.uses else {}),
        **spec.env,
    }


def test_powertools_layer_is_the_public_ssm_parameter_of_the_pinned_version(synth: Synthesized) -> None:
    version = pinned_version("aws-lambda-powertools")
    assert f"/aws/service/powertools/python/arm64/python3.13/{version}" == POWERTOOLS_LAYER_PARAMETER
    assert any(
        p == {"Type": "AWS::SSM::Parameter::Value<String>", "Default": POWERTOOLS_LAYER_PARAMETER}
        for p in synth.json["Parameters"].values()
    )


def test_common_layer_is_the_domain_package(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleRuntimes": ["python3.13"], "CompatibleArchitectures": ["arm64"]},
    )
    (layer,) = synth.of_type("AWS::Lambda::LayerVersion").values()
    # The staged copy of the asset: cdk.out/asset.<hash>, uploaded as <hash>.zip.
    asset = synth.outdir / f"asset.{layer['Properties']['Content']['S3Key'].removesuffix('.zip')}"
    assert (asset / "python" / "ticketflow" / "__init__.py").is_file()
    assert not list(asset.rglob("__pycache__"))


def test_an_error_alarm_on_every_function(any_synth: Synthesized) -> None:
    for function in any_synth.stack.functions.values():
        any_synth.template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "AWS/Lambda",
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": any_synth.logical_id(function)}}],
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
            },
        )


# --- least privilege ----------------------------------------------------------------------


def test_each_function_sends_only_to_the_queues_it_declares(any_synth: Synthesized) -> None:
    for spec in any_synth.functions:
        expected = [arn(any_synth.logical_id(any_synth.stack.queues[q].queue)) for q in spec.sends_to]
        assert sorted(map(json.dumps, any_synth.allowed(spec.name, "sqs:SendMessage"))) == sorted(
            map(json.dumps, expected)
        ), spec.name


def test_the_pipeline_queues_are_wired_as_declared(synth: Synthesized) -> None:
    # Spelled out against today's topology: intake → classify → assign, and the agent API
    # wakes assignment when capacity frees.
    classify = arn(synth.logical_id(synth.stack.queues["classify"].queue))
    assign = arn(synth.logical_id(synth.stack.queues["assign"].queue))
    outbound = arn(synth.logical_id(synth.stack.queues["outbound"].queue))
    survey = arn(synth.logical_id(synth.stack.queues["survey"].queue))
    assert synth.allowed("intake", "sqs:SendMessage") == [classify]
    assert synth.allowed("classify", "sqs:SendMessage") == [assign]
    assert sorted(map(json.dumps, synth.allowed("agent_api", "sqs:SendMessage"))) == sorted(
        map(json.dumps, [assign, outbound, survey])  # the close schedules the survey
    )
    assert sorted(map(json.dumps, synth.allowed("sweep", "sqs:SendMessage"))) == sorted(
        map(json.dumps, [classify, assign, outbound, survey])  # a reply still queued is sent again
    )
    assert synth.allowed("survey_api", "sqs:SendMessage") == [assign]  # a recovery ticket with no supervisor
    assert synth.allowed("survey_dispatch", "sqs:SendMessage") == []
    assert synth.allowed("assign", "sqs:SendMessage") == []
    assert synth.allowed("deliver", "sqs:SendMessage") == []


def test_each_function_consumes_only_its_own_queue(any_synth: Synthesized) -> None:
    for spec in any_synth.functions:
        expected = [arn(any_synth.logical_id(any_synth.stack.queues[spec.consumes].queue))] if spec.consumes else []
        assert any_synth.allowed(spec.name, "sqs:ReceiveMessage") == expected, spec.name
        assert any_synth.allowed(spec.name, "sqs:DeleteMessage") == expected, spec.name


def test_table_access_is_read_or_read_write_as_declared(any_synth: Synthesized) -> None:
    table = arn(any_synth.logical_id(any_synth.stack.table))
    for spec in any_synth.functions:
        assert table in any_synth.allowed(spec.name, "dynamodb:Query"), spec.name
        writes = {a for a in WRITE_ACTIONS if any_synth.allowed(spec.name, a)}
        assert writes == (WRITE_ACTIONS if spec.table_access == "read_write" else set()), spec.name
    assert {f.table_access for f in any_synth.functions} >= {"read_write"}


def test_no_function_may_scan_the_table(any_synth: Synthesized) -> None:
    # The design bans Scan outside an admin export; no function is that export.
    for spec in any_synth.functions:
        assert any_synth.allowed(spec.name, "dynamodb:Scan") == [], spec.name


def test_only_xray_gets_resource_star(any_synth: Synthesized) -> None:
    # The IAM5[Resource::*] acknowledgement on each role relies on this.
    for spec in any_synth.functions:
        for statement in any_synth.policy_statements(spec.name):
            if "*" in as_list(statement["Resource"]):
                actions = set(as_list(statement["Action"]))
                assert actions <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "sns:Publish"}
                assert "sns:Publish" not in actions or "sns" in spec.uses


# --- triggers not in today's topology (extended app) ------------------------------------------


def test_queue_consumers_get_an_event_source_reporting_partial_batch_failures(extended: Synthesized) -> None:
    consumers = [f for f in extended.functions if f.consumes]
    assert consumers, "the extended topology must exercise the consumer path"
    extended.template.resource_count_is("AWS::Lambda::EventSourceMapping", len(consumers))
    for spec in consumers:
        queue = extended.stack.queues[spec.consumes]
        extended.template.has_resource_properties(
            "AWS::Lambda::EventSourceMapping",
            {
                "EventSourceArn": arn(extended.logical_id(queue.queue)),
                "FunctionName": {"Ref": extended.logical_id(extended.stack.functions[spec.name])},
                "BatchSize": queue.spec.batch_size,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        )


def test_scheduled_functions_get_an_eventbridge_rate_rule(extended: Synthesized) -> None:
    scheduled = [f for f in extended.functions if f.schedule]
    assert scheduled, "the extended topology must exercise the schedule path"
    extended.template.resource_count_is("AWS::Events::Rule", len(scheduled))
    for spec in scheduled:
        assert spec.schedule is not None
        minutes = spec.schedule.rate_minutes
        function = arn(extended.logical_id(extended.stack.functions[spec.name]))
        rule = extended.logical_id(extended.stack.schedules[spec.schedule.name])
        extended.template.has_resource_properties(
            "AWS::Events::Rule",
            {
                "ScheduleExpression": f"rate({minutes} minute{'s' if minutes > 1 else ''})",
                "State": "ENABLED",
                "Targets": [Match.object_like({"Arn": function})],
            },
        )
        extended.template.has_resource_properties(
            "AWS::Lambda::Permission",
            {"Principal": "events.amazonaws.com", "FunctionName": function, "SourceArn": arn(rule)},
        )


def test_no_event_source_or_rule_without_a_trigger_in_the_topology(synth: Synthesized) -> None:
    synth.template.resource_count_is(
        "AWS::Lambda::EventSourceMapping", sum(bool(f.consumes) for f in topology.FUNCTIONS)
    )
    synth.template.resource_count_is("AWS::Events::Rule", len(topology.SCHEDULES))


def test_a_queue_that_redelivers_before_its_consumer_times_out_is_refused(tmp_path) -> None:
    from infra.app import build_app

    slow = BorrowedCode("slow", "slower than classify's visibility timeout", consumes="classify", timeout_s=900)
    with pytest.raises(ValueError, match="visibility timeout"):
        build_app(tmp_path, functions=(slow,), nag=False)


def test_a_function_naming_an_undeclared_queue_is_refused(tmp_path) -> None:
    from infra.app import build_app

    lost = BorrowedCode("lost", "sends to nowhere", sends_to=("nowhere",))
    with pytest.raises(KeyError, match="nowhere"):
        build_app(tmp_path, functions=(lost,), nag=False)


# --- API --------------------------------------------------------------------------------

ROUTES = [(spec, route) for spec in topology.FUNCTIONS for route in spec.routes]


@pytest.mark.parametrize(("spec", "route"), ROUTES, ids=[f"{r.method} {r.path}" for _, r in ROUTES])
def test_each_route_is_a_method_with_the_declared_auth(
    synth: Synthesized, spec: topology.Function, route: topology.Route
) -> None:
    method = synth.methods[(route.method, route.path)]
    function = synth.logical_id(synth.stack.functions[spec.name])
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert function in json.dumps(method["Integration"]["Uri"])
    if route.auth == "channel":
        assert (method["AuthorizationType"], method["ApiKeyRequired"]) == ("NONE", True)
    elif route.auth == "person":
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert method["AuthorizerId"] == {"Ref": synth.logical_id(synth.stack.api.authorizer)}
        assert not method.get("ApiKeyRequired")
    else:
        assert method["AuthorizationType"] == "NONE"
        assert not method.get("ApiKeyRequired")


def test_no_method_that_the_topology_does_not_declare(synth: Synthesized) -> None:
    assert set(synth.methods) == {(route.method, route.path) for _, route in ROUTES}


def test_the_authorizer_trusts_the_stack_user_pool(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "Type": "COGNITO_USER_POOLS",
            "IdentitySource": "method.request.header.Authorization",
            "ProviderARNs": [arn(synth.logical_id(synth.stack.people.user_pool))],
        },
    )


def test_user_pool_is_admin_only_with_strong_passwords_mfa_and_groups(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            "MfaConfiguration": "ON",
            "Policies": {
                "PasswordPolicy": Match.object_like(
                    {
                        "MinimumLength": Match.any_value(),
                        "RequireLowercase": True,
                        "RequireUppercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": True,
                    }
                )
            },
        },
    )
    (pool,) = synth.of_type("AWS::Cognito::UserPool").values()
    assert pool["Properties"]["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    groups = {g["Properties"]["GroupName"] for g in synth.of_type("AWS::Cognito::UserPoolGroup").values()}
    assert groups == {"agent", "supervisor", "admin"}
    synth.template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {"GenerateSecret": False, "ExplicitAuthFlows": Match.array_with(["ALLOW_USER_SRP_AUTH"])},
    )


def test_stage_logs_access_and_throttles_but_does_not_trace_urls(synth: Synthesized) -> None:
    # X-Ray segments of a stage record the URL with its query string (customers' emails).
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": False,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp("requestId")},
            "MethodSettings": [
                Match.object_like(
                    {
                        "HttpMethod": "*",
                        "ResourcePath": "/*",
                        "DataTraceEnabled": False,
                        "LoggingLevel": "ERROR",
                        "ThrottlingRateLimit": Match.any_value(),
                        "ThrottlingBurstLimit": Match.any_value(),
                    }
                )
            ],
        },
    )


def test_demo_channel_key_is_in_a_usage_plan_with_throttle_and_quota(synth: Synthesized) -> None:
    stage = synth.logical_id(synth.stack.api.rest_api.deployment_stage)
    synth.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Throttle": {"RateLimit": Match.any_value(), "BurstLimit": Match.any_value()},
            "Quota": {"Limit": Match.any_value(), "Period": Match.any_value()},
            "ApiStages": [Match.object_like({"Stage": {"Ref": stage}})],
        },
    )
    key = synth.logical_id(synth.stack.api.demo_key)
    synth.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlanKey", {"KeyId": {"Ref": key}, "KeyType": "API_KEY"}
    )


@pytest.mark.parametrize("response_type", GATEWAY_ERRORS)
def test_gateway_errors_have_our_error_shape(synth: Synthesized, response_type: str) -> None:
    status, code, message = GATEWAY_ERRORS[response_type]
    (response,) = [
        r["Properties"]
        for r in synth.of_type("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == response_type
    ]
    assert response.get("StatusCode") == status
    # API Gateway substitutes a quoted JSON string for $context.error.messageString.
    rendered = response["ResponseTemplates"]["application/json"].replace(
        "$context.error.messageString", json.dumps('Say "hi"')
    )
    assert json.loads(rendered) == {"error": {"code": code, "message": message or 'Say "hi"', "details": None}}


def test_outputs(synth: Synthesized) -> None:
    assert set(synth.json["Outputs"]) == {"ApiUrl", "TableName", "UserPoolId", "UserPoolClientId", "DemoApiKeyId"}


# --- app ------------------------------------------------------------------------------------


def test_cdk_json_runs_the_app_offline_without_notices_or_telemetry() -> None:
    config = json.loads((topology.ROOT / "cdk.json").read_text())
    assert config["app"].endswith("-m infra.app")
    assert config["notices"] is False
    assert cdk_json_context()["cli-telemetry"] is False


def test_outbound_permissions_follow_the_topology(synth: Synthesized) -> None:
    for spec in synth.functions:
        assert bool(synth.allowed(spec.name, "ses:SendEmail")) == ("ses" in spec.uses), spec.name
        assert bool(synth.allowed(spec.name, "sns:Publish")) == ("sns" in spec.uses), spec.name
        assert bool(synth.allowed(spec.name, "events:PutEvents")) == ("events" in spec.uses), spec.name
    ses = next(s for s in synth.policy_statements("classify") if "ses:SendEmail" in as_list(s["Action"]))
    assert ses["Condition"] == {"StringEquals": {"ses:FromAddress": SENDER_EMAIL}}


def test_responses_over_a_kilobyte_are_compressed(synth: Synthesized) -> None:
    synth.template.has_resource_properties("AWS::ApiGateway::RestApi", {"MinimumCompressionSize": 1024})
