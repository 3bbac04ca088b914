"""The HTTP API of the local stack, doing what API Gateway (REST, Lambda proxy) does: match
the request to a route of the topology, authenticate it by the route's auth type *before* any
function runs, hand the function a v1 proxy event, and turn its result into the response.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import jwt

from infra.local import tokens
from infra.local.lambdas import LocalFunction

log = logging.getLogger(__name__)

DEMO_API_KEY = "tf-demo-channel-key"
STAGE = "local"
API_ID = "local"
API_KEY_ID = "local-demo-key"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
# Framing is ours to write: a handler's own values for these would be wrong after decoding.
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection"}
_SURVEY_LINK = re.compile(r"(/surveys/[^/?]{4})[^/?]*")


def _redacted(path: str) -> str:
    """A path as we may print it: decoded, email addresses and phone numbers replaced."""
    # Imported here, not above: ticketflow.privacy brings the Powertools logger, which binds
    # stdout when first imported, and `ticketflow invoke` moves stdout before it runs a handler.
    from ticketflow.privacy import redact_contacts

    return redact_contacts(unquote(path))


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": None}}


def error(status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    return json_reply(status, error_body(code, message), headers)


def json_reply(status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    data = json.dumps(body, ensure_ascii=False, default=str).encode()
    return Reply(status, [("Content-Type", "application/json"), *headers], data)


@dataclass(frozen=True)
class FunctionRoute:
    function: str
    auth: str


# A route leads to a function of the topology, or to a local-only endpoint under /dev/ that
# takes the path parameters and the JSON body (``body``, None if there is none) and returns
# (status, JSON body).
Target = FunctionRoute | Callable[..., tuple[int, Any]]


class Routes:
    """Resource templates such as /tickets/{id}/accept, matched as API Gateway matches them:
    a literal segment before a {parameter} in the same place, a parameter is one segment."""

    def __init__(self, entries: Iterable[tuple[str, str, Target]]) -> None:
        compiled = [(method, template, _compile(template), target) for method, template, target in entries]
        self._entries = sorted(compiled, key=lambda e: [s.startswith("{") for s in e[1].split("/")])

    def match(self, method: str, path: str) -> tuple[str, Target, dict[str, str]] | list[str]:
        """(resource, target, path parameters), or the methods the path allows (none: no route)."""
        allowed = []
        for route_method, template, pattern, target in self._entries:
            found = pattern.fullmatch(path)
            if found and route_method == method:
                return template, target, {k: unquote(v) for k, v in found.groupdict().items()}
            if found:
                allowed.append(route_method)
        return allowed


def _compile(template: str) -> re.Pattern[str]:
    segments = [
        f"(?P<{s[1:-1]}>[^/]+)" if s.startswith("{") and s.endswith("}") else re.escape(s) for s in template.split("/")
    ]
    return re.compile("/".join(segments))


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query as sent
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in reversed(self.headers) if k.lower() == name), None)


class Gateway(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5: twenty channels connecting while the server
    # thread waits for the interpreter overflow it, and the kernel drops their handshakes
    # (a second's delay each, now and then a reset connection). API Gateway takes them all.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], *, api_key: str) -> None:
        super().__init__(address, _Handler)
        self.api_key = api_key
        self.account = ""
        self.routes = Routes(())
        self.functions: dict[str, LocalFunction] = {}

    @property
    def bound_address(self) -> tuple[str, int]:
        """The (host, port) listened on: port 0 asks the system for a free one."""
        host, port = self.socket.getsockname()[:2]
        return host, port

    def mount(self, routes: Routes, functions: dict[str, LocalFunction], account: str) -> None:
        """What to serve; separate from binding so that a port in use fails before anything starts."""
        self.routes, self.functions, self.account = routes, functions, account

    def dispatch(self, request: Request) -> Reply:
        path = urlsplit(request.target).path
        matched = self.routes.match(request.method, path)
        if isinstance(matched, list):
            if matched:
                return error(
                    405,
                    "method_not_allowed",
                    f"{request.method} is not allowed on {_redacted(path)}",
                    [("Allow", ", ".join(sorted(set(matched))))],
                )
            return error(404, "not_found", f"no route {request.method} {_redacted(path)}")
        resource, target, parameters = matched
        if not isinstance(target, FunctionRoute):
            try:
                body = json.loads(request.body) if request.body.strip() else None
            except ValueError:
                return error(400, "invalid_json", "the request body is not valid JSON")
            try:
                return json_reply(*target(body=body, **parameters))
            except Exception:
                log.exception("%s %s failed", request.method, path)
                return error(502, "internal_error", "Internal server error")
        identity: dict[str, str | None] = {"apiKey": None, "apiKeyId": None}
        authorizer = None
        if target.auth == "channel":
            key = request.header("x-api-key") or ""
            if not hmac.compare_digest(key.encode(), self.api_key.encode()):
                return error(403, "forbidden", "Forbidden: a valid x-api-key is required")
            identity = {"apiKey": key, "apiKeyId": API_KEY_ID}
        elif target.auth == "person":
            scheme, _, token = (request.header("authorization") or "").partition(" ")
            try:
                if scheme.lower() != "bearer":
                    raise jwt.InvalidTokenError("no bearer token")
                authorizer = {"claims": tokens.authorizer_claims(tokens.verify(token.strip()))}
            except jwt.InvalidTokenError:
                return error(401, "unauthorized", "Unauthorized")
        event = self._event(request, path, resource, parameters, identity, authorizer)
        try:
            result = self.functions[target.function].invoke(event)
        except Exception:
            log.exception("%s raised on %s %s", target.function, request.method, path)
            return error(502, "internal_error", "Internal server error")
        return _reply(result, event["requestContext"]["requestId"], target.function)

    def _event(
        self,
        request: Request,
        path: str,
        resource: str,
        parameters: dict[str, str],
        identity: dict[str, Any],
        authorizer: dict[str, Any] | None,
    ) -> dict[str, Any]:
        headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            headers.setdefault(name, []).append(value)
        query: dict[str, list[str]] = {}
        for name, value in parse_qsl(urlsplit(request.target).query, keep_blank_values=True):
            query.setdefault(name, []).append(value)
        try:
            body, encoded = (request.body.decode() if request.body else None), False
        except UnicodeDecodeError:  # binary: API Gateway passes it base64-encoded
            body, encoded = base64.b64encode(request.body).decode(), True
        request_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        return {
            "resource": resource,
            "path": unquote(path),
            "httpMethod": request.method,
            # Single-value maps keep the last value, as API Gateway's do; empty ones are null.
            "headers": {k: v[-1] for k, v in headers.items()} or None,
            "multiValueHeaders": headers or None,
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": resource,
                "resourcePath": resource,
                "httpMethod": request.method,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "path": f"/{STAGE}{unquote(path)}",
                "accountId": self.account,
                "protocol": "HTTP/1.1",
                "stage": STAGE,
                "domainName": request.header("host") or "",
                "requestId": request_id,
                "apiId": API_ID,
                "identity": {"sourceIp": request.source_ip, "userAgent": request.header("user-agent"), **identity},
                "authorizer": authorizer,
            },
            "body": body,
            "isBase64Encoded": encoded,
        }


def _reply(result: Any, request_id: str, function: str) -> Reply:
    """A Lambda proxy result as the HTTP response; a malformed one is a 502, as on AWS."""
    if (
        not isinstance(result, dict)
        or not isinstance(result.get("statusCode"), int)
        or not isinstance(result.get("body"), str | None)
    ):
        log.error("%s returned a malformed proxy response: %.200r", function, result)
        return error(502, "internal_error", "Internal server error: malformed Lambda proxy response")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    # API Gateway merges both header maps; for a name in both, multiValueHeaders wins.
    headers = [(k, str(v)) for k, values in (result.get("multiValueHeaders") or {}).items() for v in values]
    given = {k.lower() for k, _ in headers}
    headers += [(k, str(v)) for k, v in (result.get("headers") or {}).items() if k.lower() not in given]
    headers = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return Reply(result["statusCode"], [*headers, ("x-amzn-RequestId", request_id)], data)


class _Handler(BaseHTTPRequestHandler):
    server: Gateway
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway offers
    # The head and the body go out in two writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK of the head, 40 ms on every response over a kept-alive connection.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the body stays unread
            reply = error(413, "payload_too_large", f"the request body is larger than {MAX_BODY_BYTES} bytes")
        else:
            request = Request(
                self.command, self.path, list(self.headers.items()), self.rfile.read(length), self.client_address[0]
            )
            reply = self.server.dispatch(request)
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)
        # A survey link is a credential, and queries and paths may carry what people search for
        # (a customer id that is an email address): log the path only (API Gateway's access
        # logs keep the resource), survey tokens cut, contacts redacted.
        path = _redacted(_SURVEY_LINK.sub(r"\1…", urlsplit(self.path).path))
        log.info("%s %s -> %d (%.0f ms)", self.command, path, reply.status, (time.perf_counter() - started) * 1000)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, CONNECT, made-up ones) is routed too, to its 404 or 405 as on
        # API Gateway; BaseHTTPRequestHandler would answer a 501 page of its own. Found by the fuzzer.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # _serve logs one line per request through logging instead
