"""Write the sample events in this folder: one per route, queue and schedule of the topology.

They are real API Gateway REST (v1 proxy) and SQS event shapes, used by the tests and by
`ticketflow invoke FUNCTION events/<function>/<name>.json`. Run `python events/generate.py`
after changing the topology; a test fails while the files are out of date.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from infra import topology  # noqa: E402

SAMPLE_TICKET_ID = "0b6f0c3e-5d0b-4f43-9d5e-3c8a2f6f8f11"
SAMPLE_CLAIMS = {  # what the Cognito user-pool authorizer passes on
    "sub": "agent-1",
    "cognito:username": "agent-1",
    "cognito:groups": "agent",
    "token_use": "id",
    "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE",
}

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/tickets"): {
        "channel": "web",
        "customer": {
            "id": "C-1001",
            "name": "王芳",
            "email": "wang.fang@example.com",
            "phone": "+8613800000000",
            "tier": "vip",
        },
        "subject": "订单还没到",
        "description": "我的订单 SO20261120001 已经五天了还没有发货，请帮忙查一下物流。",
        "order_number": "SO20261120001",
        "desired_resolution": "尽快发货",
        "language": "zh-CN",
    },
    ("POST", "/tickets/{id}/reply"): {"body": "您好，已为您催促仓库，今天内发出。"},
    ("POST", "/tickets/{id}/comments"): {"body": "Warehouse says stock arrives today."},
    ("POST", "/tickets/{id}/transfer"): {"team": "aftersales", "reason": "物流问题，转售后组"},
    ("POST", "/tickets/{id}/assign"): {"agent": "agent-3", "reason": "logistics skill"},
    ("POST", "/tickets/{id}/pending"): {"reason": "waiting for the customer's photo"},
    ("POST", "/tickets/{id}/resolve"): {"result": "Shipped with SF Express, tracking sent."},
    ("POST", "/tickets/{id}/close"): {"reason": "resolved"},
    ("POST", "/tickets/{id}/reopen"): {"reason": "customer says the parcel is damaged"},
    ("POST", "/tickets/{id}/survey"): {"reason": "the customer asked how to give feedback"},
    ("POST", "/surveys/{token}"): {
        "attitude": 5,
        "speed": 4,
        "resolution": 5,
        "overall": 5,
        "nps": 9,
        "comment": "很满意",
    },
    ("PUT", "/agents/{id}/availability"): {"online": True},
    ("POST", "/admin/tickets/{id}/erase"): {"reason": "the customer asked us to erase their data (GDPR art. 17)"},
    ("PUT", "/agents/{id}"): {
        "name": "Chen Jing 陈静",
        "teams": ["logistics"],
        "skills": ["logistics", "en"],
        "capacity": 6,
    },
}
QUERIES = {
    ("GET", "/tickets"): {"team": "presales", "status": "in_progress"},
    ("GET", "/agents"): {"team": "logistics"},
}
# The message each queue carries (the sample names a ticket that need not exist).
QUEUE_MESSAGES = {
    "classify": "ticket.created",
    "assign": "ticket.classified",
    "outbound": "reply.created",
    "survey": "survey.due",
    "simulate": "simulation.slice",
}
# Messages that are not about one ticket.
QUEUE_DATA = {"simulate": {"run_id": "0b7e6f3c1d2a4e5f", "slice": 0, "cursor": None}}


def api_event(
    method: str, resource: str, *, auth: str, body: dict | None = None, query: dict[str, str] | None = None
) -> dict:
    path_parameters = {"id": SAMPLE_TICKET_ID} if "{id}" in resource else None
    path = resource.replace("{id}", SAMPLE_TICKET_ID)
    headers = {
        "Accept": "application/json",
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "curl/8.5.0",
        "X-Forwarded-For": "203.0.113.10",
    }
    identity = {"sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0", "apiKey": None, "apiKeyId": None}
    authorizer = None
    if body is not None:
        headers["Content-Type"] = "application/json"
    if auth == "channel":
        headers["x-api-key"] = "EXAMPLEKEY0123456789"
        identity |= {"apiKey": "EXAMPLEKEY0123456789", "apiKeyId": "a1b2c3d4e5"}
    if auth == "person":
        headers["Authorization"] = "Bearer eyJraWQiOiJFWEFNUExFIn0.e30.c2ln"
        authorizer = {"claims": SAMPLE_CLAIMS, "principalId": ""}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": "EXAMPLE=",
            "requestTime": "23/Nov/2026:09:00:00 +0000",
            "path": f"/prod{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "abc123",
            "requestTimeEpoch": 1795424400000,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": identity,
            "authorizer": authorizer,
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "apiId": "abc123",
        },
        "body": json.dumps(body, ensure_ascii=False) if body is not None else None,
        "isBase64Encoded": False,
    }


def sqs_event(queue: str, body: dict) -> dict:
    return {
        "Records": [
            {
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
                "body": json.dumps(body, ensure_ascii=False),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795424400000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1795424400100",
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
                "awsRegion": "us-east-1",
            }
        ]
    }


def event_name(method: str, resource: str) -> str:
    parts = [p.strip("{}") for p in resource.strip("/").split("/")]
    return "_".join([method.lower(), *[p.replace(".", "_") for p in parts]])


def events() -> dict[Path, dict]:
    found: dict[Path, dict] = {}
    for function in topology.FUNCTIONS:
        for route in function.routes:
            body = BODIES.get((route.method, route.path))
            query = QUERIES.get((route.method, route.path))
            found[HERE / function.name / f"{event_name(route.method, route.path)}.json"] = api_event(
                route.method, route.path, auth=route.auth, body=body, query=query
            )
        if function.consumes:
            message = {
                "type": QUEUE_MESSAGES[function.consumes],
                "version": 1,
                "id": "5f0a",
                "occurred_at": "2026-11-23T09:00:00.000Z",
                "correlation_id": SAMPLE_TICKET_ID,
                "data": QUEUE_DATA.get(function.consumes, {"ticket_id": SAMPLE_TICKET_ID, "version": 3}),
            }
            found[HERE / function.name / f"sqs_{function.consumes}.json"] = sqs_event(function.consumes, message)
    return found


def render(event: dict) -> str:
    return json.dumps(copy.deepcopy(event), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    for path, event in events().items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(render(event), encoding="utf-8")
        print(path.relative_to(HERE.parent))
