"""The local runner (`ticketflow dev`, `token`, `invoke`) behaves as API Gateway, Lambda's SQS
poller and EventBridge do on AWS.

Most tests run throwaway functions written to a temporary folder, wired by a small topology
of their own, through one in-process stack per module; the last ones run the real topology
and the real command as a subprocess.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import boto3
import jwt
import pytest
import requests

from infra import topology
from infra.cli import main
from infra.local import tokens
from infra.local.runner import LocalStack

ROOT = Path(__file__).resolve().parents[2]
TICKETFLOW = Path(sys.executable).with_name("ticketflow")
API_KEY = "test-channel-key"
REAL_HANDLERS = all((f.code_dir / "handler.py").is_file() for f in topology.FUNCTIONS)
needs_real_handlers = pytest.mark.skipif(not REAL_HANDLERS, reason="the real handlers are not written yet")

HANDLERS = {
    "echo": """
import base64, json

def handler(event, context):
    if (event["queryStringParameters"] or {}).get("b64"):
        return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(b"\\x00\\xffbinary").decode(), "isBase64Encoded": True}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json", "X-One": "1"},
            "multiValueHeaders": {"X-Multi": ["a", "b"]},
            "body": json.dumps({"event": event, "function": context.function_name,
                                "remaining_ms": context.get_remaining_time_in_millis()})}
""",
    "boom": """
def handler(event, context):
    raise RuntimeError("the handler broke")
""",
    "consumer": """
import json, os

def handler(event, context):
    failures = []
    with open(os.environ["SEEN_FILE"], "a") as seen:
        for record in event["Records"]:
            seen.write(json.dumps({"body": record["body"], "count": record["attributes"]["ApproximateReceiveCount"],
                                   "source": record["eventSource"], "arn": record["eventSourceARN"]}) + "\\n")
            if "poison" in record["body"]:
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
""",
    "sweeper": """
import os

def handler(event, context):
    with open(os.environ["TICKS_FILE"], "a") as ticks:
        ticks.write(event["id"] + "\\n")
    return {"swept": True, "event": event}
""",
}


@dataclass(frozen=True)
class TmpFunction(topology.Function):
    """A topology function whose code lives in a temporary folder."""

    root: Path = Path()

    @property
    def code_dir(self) -> Path:
        return self.root / self.name


def fake_topology(root: Path) -> SimpleNamespace:
    for name, code in HANDLERS.items():
        (root / name).mkdir()
        (root / name / "handler.py").write_text(code)
    work = topology.Queue("work", "test queue", visibility_timeout_s=1, max_receive_count=2)
    env = {"SEEN_FILE": str(root / "seen.jsonl"), "TICKS_FILE": str(root / "ticks.txt")}
    functions = (
        TmpFunction(
            "echo",
            "echoes the event",
            root=root,
            timeout_s=7,
            routes=(
                topology.Route("GET", "/items", "public"),
                topology.Route("GET", "/items/{id}", "public"),
                topology.Route("GET", "/items/special", "public"),
                topology.Route("POST", "/items", "channel"),
                topology.Route("POST", "/items/{id}/notes", "person"),
            ),
        ),
        TmpFunction("boom", "raises", root=root, routes=(topology.Route("GET", "/boom", "public"),)),
        TmpFunction("consumer", "fails poison", root=root, consumes="work", env=env),
        TmpFunction("sweeper", "ticks", root=root, schedule=topology.Schedule("sweep", 60, "test"), env=env),
    )
    return SimpleNamespace(FUNCTIONS=functions, QUEUES=(work,))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("functions")
    os.environ["TICKETFLOW_SCHEDULE_SWEEP_SECONDS"] = "0.3"
    local = LocalStack(fake_topology(root), port=0, api_key=API_KEY, prefix=f"tf{uuid.uuid4().hex[:8]}")
    try:
        local.start()
        yield local
    finally:
        local.stop()
        del os.environ["TICKETFLOW_SCHEDULE_SWEEP_SECONDS"]


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> requests.Session:
    session = requests.Session()
    session.base_url = stack.base_url  # type: ignore[attr-defined]
    return session


def call(api: requests.Session, method: str, path: str, **kwargs) -> requests.Response:
    return api.request(method, api.base_url + path, **kwargs)  # type: ignore[attr-defined]


def echoed(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["event"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_for(condition, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


# --- the gateway: API Gateway REST v1 proxy events --------------------------------------------


def test_a_request_becomes_a_rest_proxy_event(stack: LocalStack, api: requests.Session) -> None:
    response = call(api, "GET", "/items/a%20b?x=1&x=2&empty=", headers={"X-Trace": "t1"})
    event = echoed(response)
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/a b"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "a b"}
    assert event["queryStringParameters"] == {"x": "2", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "empty": [""]}
    assert event["headers"]["X-Trace"] == "t1"
    assert event["multiValueHeaders"]["X-Trace"] == ["t1"]
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/items/{id}"
    assert context["httpMethod"] == "GET"
    assert context["stage"] == "local"
    assert context["path"] == "/local/items/a b"
    assert context["accountId"] == stack.emulator.account
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["apiKey"] is None
    assert context["authorizer"] is None
    assert response.headers["x-amzn-RequestId"] == context["requestId"]
    # The handler's result: both header maps, and a Lambda context.
    assert response.headers["X-One"] == "1"
    assert response.headers["X-Multi"] == "a, b"
    assert response.json()["function"] == f"{stack.emulator.prefix}-echo"
    assert 0 < response.json()["remaining_ms"] <= 7000


def test_empty_query_is_null_and_literal_segments_win(api: requests.Session) -> None:
    event = echoed(call(api, "GET", "/items/special"))
    assert event["resource"] == "/items/special"
    assert event["pathParameters"] is None
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None


def test_base64_results_are_decoded(api: requests.Session) -> None:
    response = call(api, "GET", "/items?b64=1")
    assert response.content == b"\x00\xffbinary"
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_unknown_path_is_404_and_other_method_405(api: requests.Session) -> None:
    response = call(api, "GET", "/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = call(api, "DELETE", "/items/1")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_handler_that_raises_is_a_502(api: requests.Session) -> None:
    response = call(api, "GET", "/boom")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "internal_error"


def test_bodies_over_10_mb_are_413(stack: LocalStack) -> None:
    host, port = stack.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.putrequest("POST", "/items")
    connection.putheader("x-api-key", API_KEY)
    connection.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    connection.endheaders()  # the body is never sent: the gateway answers from the headers
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["error"]["code"] == "payload_too_large"
    connection.close()


# --- authentication, before any function runs -------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_channel_routes_refuse_a_missing_or_wrong_api_key(api: requests.Session, key: str | None) -> None:
    headers = {} if key is None else {"x-api-key": key}
    response = call(api, "POST", "/items", json={"a": 1}, headers=headers)
    assert response.status_code == 403
    assert response.json() == {
        "error": {"code": "forbidden", "message": "Forbidden: a valid x-api-key is required", "details": None}
    }


def test_channel_routes_pass_the_key_and_the_body(api: requests.Session) -> None:
    event = echoed(call(api, "POST", "/items", data='{"text": "你好"}'.encode(), headers={"x-api-key": API_KEY}))
    assert event["body"] == '{"text": "你好"}'
    assert event["requestContext"]["identity"]["apiKey"] == API_KEY
    assert event["requestContext"]["identity"]["apiKeyId"] == "local-demo-key"
    assert os.environ["TICKETFLOW_CHANNEL_API_KEY"] == API_KEY


def _forged(**overrides) -> str:
    claims = {
        "sub": "agent-1",
        "cognito:groups": "agent",
        "token_use": "id",
        "iss": tokens.ISSUER,
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
    } | overrides
    return jwt.encode(claims, "not-the-secret-of-this-stack-at-all-32b", algorithm="HS256")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": tokens.issue("agent-1", "agent")},  # no scheme
        bearer("not.a.jwt"),
        bearer(_forged()),
        bearer(tokens.issue("agent-1", "agent", ttl_seconds=-10)),
        bearer(
            jwt.encode(
                {"sub": "agent-1", "iss": "someone-else", "token_use": "id", "iat": 1, "exp": 2**40},
                tokens.DEFAULT_SECRET,
                algorithm="HS256",
            )
        ),
        bearer(
            jwt.encode(
                {
                    "sub": "admin-1",
                    "iss": tokens.ISSUER,
                    "token_use": "id",
                    "cognito:groups": "admin",
                    "iat": 1,
                    "exp": 2**40,
                },
                "",  # no key: an unsigned token (PyJWT reads "" as None for alg none)
                algorithm="none",
            )
        ),
    ],
    ids=["missing", "empty", "no-scheme", "garbage", "forged", "expired", "wrong-issuer", "alg-none"],
)
def test_person_routes_refuse_anything_but_a_valid_token(api: requests.Session, headers: dict) -> None:
    response = call(api, "POST", "/items/1/notes", json={}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.json()["error"]["message"] == "Unauthorized"


def test_person_routes_pass_claims_as_the_cognito_authorizer_does(api: requests.Session) -> None:
    event = echoed(
        call(api, "POST", "/items/7/notes", json={"body": "hi"}, headers=bearer(tokens.issue("sup-1", "supervisor")))
    )
    claims = event["requestContext"]["authorizer"]["claims"]
    assert claims["sub"] == "sup-1"
    assert claims["cognito:username"] == "sup-1"
    assert claims["cognito:groups"] == "supervisor"
    assert claims["token_use"] == "id"
    assert all(isinstance(value, str) for value in claims.values())
    assert re.fullmatch(r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d UTC \d{4}", claims["exp"])
    assert event["pathParameters"] == {"id": "7"}
    assert json.loads(event["body"]) == {"body": "hi"}


# --- queues, schedules, outbox ----------------------------------------------------------------


def test_the_pump_deletes_successes_and_dead_letters_failures(stack: LocalStack) -> None:
    sqs = boto3.client("sqs")
    urls = stack.emulator.queue_urls
    for body in ("ok-1", "poison", "ok-2"):
        sqs.send_message(QueueUrl=urls["work"], MessageBody=body)

    def dead_letters() -> list[dict]:
        return sqs.receive_message(QueueUrl=urls["work-dlq"], WaitTimeSeconds=0).get("Messages", [])

    (dead,) = wait_for(dead_letters)
    assert dead["Body"] == "poison"
    seen = [json.loads(line) for line in (stack.topology.FUNCTIONS[0].root / "seen.jsonl").read_text().splitlines()]
    assert sorted(s["body"] for s in seen if s["body"] != "poison") == ["ok-1", "ok-2"]  # each once
    assert [s["count"] for s in seen if s["body"] == "poison"] == ["1", "2"]  # maxReceiveCount 2
    assert {(s["source"], s["arn"]) for s in seen} == {("aws:sqs", stack.emulator.queue_arn("work"))}
    attributes = sqs.get_queue_attributes(QueueUrl=urls["work"], AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_schedule_fires_on_request_and_ticks(stack: LocalStack, api: requests.Session) -> None:
    response = call(api, "POST", "/dev/schedules/sweep")
    assert response.status_code == 200
    result = response.json()
    assert result["swept"] is True
    event = result["event"]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == [
        f"arn:aws:events:us-east-1:{stack.emulator.account}:rule/{stack.emulator.prefix}-sweep"
    ]
    assert event["detail"] == {}
    ticks = stack.topology.FUNCTIONS[0].root / "ticks.txt"
    wait_for(lambda: len(ticks.read_text().splitlines()) >= 3)  # ours plus the ticker's, every 0.3 s
    assert call(api, "POST", "/dev/schedules/nope").status_code == 404


def test_the_outbox_shows_email_sms_and_events(api: requests.Session) -> None:
    marker = uuid.uuid4().hex
    sesv2 = boto3.client("sesv2")
    sesv2.create_email_identity(EmailIdentity="support@example.com")
    sesv2.send_email(
        FromEmailAddress="support@example.com",
        Destination={"ToAddresses": ["wang.fang@example.com"]},
        Content={"Simple": {"Subject": {"Data": f"v2 {marker}"}, "Body": {"Text": {"Data": "您好，满意度调查"}}}},
    )
    ses = boto3.client("ses")
    ses.verify_email_identity(EmailAddress="noreply@example.com")
    ses.send_email(
        Source="noreply@example.com",
        Destination={"ToAddresses": ["li@example.com"], "CcAddresses": ["sup@example.com"]},
        Message={"Subject": {"Data": f"v1 {marker}"}, "Body": {"Text": {"Data": "body one"}}},
    )
    boto3.client("sns").publish(PhoneNumber="+8613800000000", Message=f"sms {marker}")
    boto3.client("events").put_events(
        Entries=[{"Source": "ticketflow", "DetailType": "ticket.closed", "Detail": json.dumps({"m": marker})}]
    )

    outbox = call(api, "GET", "/dev/outbox").json()
    *_, v2, v1 = outbox["email"]
    assert v2 | {"id": None} == {
        "id": None,
        "from": "support@example.com",
        "to": ["wang.fang@example.com"],
        "cc": [],
        "bcc": [],
        "subject": f"v2 {marker}",
        "body": "您好，满意度调查",
    }
    assert (v1["to"], v1["cc"], v1["subject"], v1["body"]) == (
        ["li@example.com"],
        ["sup@example.com"],
        f"v1 {marker}",
        "body one",
    )
    assert outbox["sms"][-1]["phone"] == "+8613800000000"
    assert outbox["sms"][-1]["message"] == f"sms {marker}"
    event = outbox["events"][-1]
    assert (event["source"], event["detail-type"], event["detail"]) == ("ticketflow", "ticket.closed", {"m": marker})


# --- the command line -------------------------------------------------------------------------


def test_token_prints_only_a_token_that_verifies() -> None:
    output = subprocess.run(
        [TICKETFLOW, "token", "--sub", "agent-2", "--role", "agent"], capture_output=True, text=True, check=True
    ).stdout
    token = output.strip()
    assert output == token + "\n"
    claims = tokens.verify(token)
    assert (claims["sub"], claims["cognito:username"], claims["cognito:groups"]) == ("agent-2", "agent-2", "agent")
    assert claims["iss"] == "ticketflow-local"
    assert claims["exp"] - claims["iat"] == 12 * 3600


def test_token_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv(tokens.SECRET_ENV, "another-secret-that-is-long-enough-for-hs256")
    assert main(["token", "--sub", "admin-1", "--role", "admin", "--ttl-seconds", "60"]) == 0
    token = capsys.readouterr().out.strip()
    assert tokens.verify(token)["cognito:groups"] == "admin"
    monkeypatch.delenv(tokens.SECRET_ENV)
    with pytest.raises(jwt.InvalidSignatureError):
        tokens.verify(token)


def test_invoke_refuses_an_unknown_function(tmp_path: Path, capsys) -> None:
    (tmp_path / "event.json").write_text("{}")
    assert main(["invoke", "nope", str(tmp_path / "event.json")]) == 2
    error = capsys.readouterr().err
    assert "nope" in error and all(f.name in error for f in topology.FUNCTIONS)


@needs_real_handlers
def test_the_real_topology_serves_and_invoke_reaches_its_emulator() -> None:
    with LocalStack(port=0, prefix=f"tf{uuid.uuid4().hex[:8]}") as real:
        assert {p.id for p in real.people} >= {"sup-1", "admin-1", "agent-1", "agent-2", "agent-3", "agent-4"}
        assert requests.get(f"{real.base_url}/openapi.json").status_code == 200
        # `ticketflow invoke --endpoint` runs a handler in its own process against this stack's AWS.
        env = os.environ | {topology.TABLE_ENV: real.emulator.prefix}
        assert real.emulator.endpoint is not None
        invoked = subprocess.run(
            [
                TICKETFLOW,
                "invoke",
                "intake",
                ROOT / "events/intake/post_tickets.json",
                "--endpoint",
                real.emulator.endpoint,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert invoked.returncode == 0, invoked.stderr
        result = json.loads(invoked.stdout)
        assert result["statusCode"] == 201, result
        ticket = json.loads(result["body"])
        response = requests.get(
            f"{real.base_url}/tickets/{ticket['id']}", headers=bearer(tokens.issue("sup-1", "supervisor"))
        )
        assert response.status_code == 200
        assert response.json()["number"] == ticket["number"]


@needs_real_handlers
def test_invoke_without_endpoint_starts_its_own_emulator() -> None:
    invoked = subprocess.run(
        [TICKETFLOW, "invoke", "agent_api", ROOT / "events/agent_api/get_openapi_json.json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout)["statusCode"] == 200


@needs_real_handlers
def test_dev_prints_its_url_and_tokens_and_stops_on_sigint() -> None:
    process = subprocess.Popen(
        [TICKETFLOW, "dev", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stdout, stderr = process.stdout, process.stderr
    assert stdout is not None and stderr is not None
    try:
        banner = []
        for line in stdout:
            banner.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(banner)
        url = re.search(r"API on (http://127\.0\.0\.1:\d+)", text)
        assert url, text
        base_url = url.group(1)
        assert "tf-demo-channel-key" in text and "in memory" in text
        token = re.search(r"^\s+agent-1\s+agent\s+presales\s+(\S+)$", text, re.M)
        assert token, text
        assert tokens.verify(token.group(1))["sub"] == "agent-1"
        assert requests.get(f"{base_url}/dev/outbox").json().keys() == {"email", "sms", "events"}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        stdout.close()
        stderr.close()
