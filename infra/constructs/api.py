"""The REST API: one method per topology route, authenticated as the route declares."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from aws_cdk import Size
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import topology
from infra.constructs.nag import acknowledge

STAGE = "v1"
# Whole-API ceiling per stage (every method), and what one channel may use under its API key.
STAGE_RATE_LIMIT, STAGE_BURST_LIMIT = 50, 100
CHANNEL_THROTTLE = apigw.ThrottleSettings(rate_limit=20, burst_limit=40)
CHANNEL_QUOTA = apigw.QuotaSettings(limit=100_000, period=apigw.Period.DAY)

# Who called (channel key id or person's sub), what, and how it went. The resource path
# (/surveys/{token}), never the path itself: survey tokens are secrets.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "apiKeyId": "$context.identity.apiKeyId",
    "sub": "$context.authorizer.claims.sub",
    "method": "$context.httpMethod",
    "resource": "$context.resourcePath",
    "status": "$context.status",
    "error": "$context.error.responseType",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "responseLength": "$context.responseLength",
}

# Errors API Gateway answers itself, in the shape our functions use:
# {"error": {"code", "message", "details"}}; the codes are those of ticketflow.errors.
# response type: (status, code, message); status None keeps API Gateway's status code,
# message None passes on API Gateway's own message.
GATEWAY_ERRORS: dict[str, tuple[str | None, str, str | None]] = {
    "DEFAULT_4XX": (None, "bad_request", None),
    "DEFAULT_5XX": (None, "internal_error", None),
    "UNAUTHORIZED": ("401", "unauthorized", None),
    "ACCESS_DENIED": ("403", "forbidden", None),
    # A missing or unknown x-api-key: AWS's 403, worded as the local gateway (infra/local) does.
    "INVALID_API_KEY": ("403", "forbidden", "Forbidden: a valid x-api-key is required"),
    # No method uses IAM auth, so "Missing Authentication Token" only ever means "no such route".
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found", "no such route"),
    "THROTTLED": ("429", "rate_limited", None),
    "QUOTA_EXCEEDED": ("429", "rate_limited", None),
    "REQUEST_TOO_LARGE": ("413", "payload_too_large", None),
}


# Why a route has no Cognito authorizer (cdk-nag APIG4 and COG4), per kind of auth.
WHY_NO_COGNITO = {
    "channel": "Channels (systems, not people) authenticate with an API key bound to a usage plan with "
    "throttling and quota, as DESIGN.md decides; they have no Cognito identity.",
    "public": "Public by design: the OpenAPI document and the survey pages need no login.",
}


def error_template(code: str, message: str | None = None) -> str:
    # $context.error.messageString is already a quoted, escaped JSON string.
    text = json.dumps(message) if message else "$context.error.messageString"
    return f'{{"error": {{"code": "{code}", "message": {text}, "details": null}}}}'


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        specs: Iterable[topology.Function],
        handlers: Mapping[str, lambda_.IFunction],
        user_pool: cognito.IUserPool,
    ) -> None:
        super().__init__(scope, id)
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="ticketflow: channels post tickets, people work them",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Gzip responses over 1 KB for clients that accept it (the dashboard's chart
            # library: 210 KB -> 71 KB; reports, ticket lists).
            min_compression_size=Size.bytes(1024),
            # Stage execution logs need the account-wide API Gateway CloudWatch role.
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                # No X-Ray at the stage: its segments record the full request URL, query
                # string included (`?customer=<email>`, survey links' tokens). The functions
                # still trace, with ids only.
                tracing_enabled=False,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                # Bodies carry customers' email and phone, which must never reach a log.
                data_trace_enabled=False,
                throttling_rate_limit=STAGE_RATE_LIMIT,
                throttling_burst_limit=STAGE_BURST_LIMIT,
            ),
        )
        # The stack outputs the URL under a stable name (ApiUrl); drop RestApi's generated twin.
        self.rest_api.node.try_remove_child("Endpoint")
        for response_type, (status, code, message) in GATEWAY_ERRORS.items():
            self.rest_api.add_gateway_response(
                f"Error{response_type}",
                type=apigw.ResponseType.of(response_type),
                status_code=status,
                templates={"application/json": error_template(code, message)},
            )

        routed = [spec for spec in specs if spec.routes]
        # CDK refuses an authorizer that no method uses, so only create it when one will.
        self.authorizer = (
            apigw.CognitoUserPoolsAuthorizer(self, "People", cognito_user_pools=[user_pool])
            if any(route.auth == "person" for spec in routed for route in spec.routes)
            else None
        )
        for spec in routed:
            # allow_test_invoke=False: no extra Lambda permission for the console's test button.
            integration = apigw.LambdaIntegration(handlers[spec.name], allow_test_invoke=False)
            for route in spec.routes:
                self._add_route(route, integration)

        self._add_demo_channel()
        self._acknowledge_findings()

    def _add_route(self, route: topology.Route, integration: apigw.Integration) -> None:
        resource = self.rest_api.root.resource_for_path(route.path)
        if route.auth == "person":
            method = resource.add_method(
                route.method,
                integration,
                authorizer=self.authorizer,
                authorization_type=apigw.AuthorizationType.COGNITO,
            )
            return
        method = resource.add_method(
            route.method,
            integration,
            authorization_type=apigw.AuthorizationType.NONE,
            api_key_required=route.auth == "channel",
        )
        acknowledge(method, "AwsSolutions-APIG4", WHY_NO_COGNITO[route.auth])
        acknowledge(method, "AwsSolutions-COG4", WHY_NO_COGNITO[route.auth])

    def _add_demo_channel(self) -> None:
        plan = self.rest_api.add_usage_plan(
            "Channels",
            description="Per-channel throttling and daily quota",
            throttle=CHANNEL_THROTTLE,
            quota=CHANNEL_QUOTA,
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)],
        )
        # CloudFormation generates the key's value; it never appears in the template.
        self.demo_key = self.rest_api.add_api_key("DemoChannelKey", description="ticketflow demo channel")
        plan.add_api_key(self.demo_key)

    def _acknowledge_findings(self) -> None:
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG2",
            "Requests are validated in the Lambda functions with pydantic, which names the failing "
            "field in a 422 of our error shape; API Gateway models would duplicate it.",
        )
        acknowledge(
            self.rest_api.deployment_stage,
            "AwsSolutions-APIG3",
            "No WAF yet: channels are throttled per API key by the usage plan, people are "
            "authenticated by Cognito, the stage has a rate limit; a web ACL costs a fixed monthly "
            "fee and is to be added when a public channel (web form) goes live.",
        )
        acknowledge(
            self.rest_api.node.find_child("CloudWatchRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-wide role API Gateway uses to write stage logs; AWS maintains this policy "
            "for exactly that purpose and only apigateway.amazonaws.com can assume the role.",
        )
