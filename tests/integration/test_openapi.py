"""GET /openapi.json describes every route of the topology, with its security."""

from __future__ import annotations

from infra import topology
from tests.support import Api


def test_the_document_covers_every_route_with_its_auth(stack):
    status, document = Api().get("/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.")
    operations = {
        (method.upper(), path.replace("{ticket_id}", "{id}").replace("{agent_id}", "{id}")): op
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    for function in topology.FUNCTIONS:
        for route in function.routes:
            if route.path == "/openapi.json":
                continue
            op = operations.pop((route.method, route.path))
            no_scopes: list[str] = []
            expected = {"channel": [{"channel_key": no_scopes}], "person": [{"bearer": no_scopes}], "public": None}[
                route.auth
            ]
            assert op.get("security") == expected, route
    assert operations == {}, "routes in the document that the topology does not declare"
    schemes = document["components"]["securitySchemes"]
    assert schemes["channel_key"]["name"] == "x-api-key" and schemes["bearer"]["scheme"] == "bearer"
    assert "NewTicket" in document["components"]["schemas"]


def test_error_responses_are_documented_with_our_error_shape(stack):
    _, document = Api().get("/openapi.json")
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["ErrorBody"]["properties"]["error"]["$ref"] == "#/components/schemas/ErrorDetail"
    transfer = document["paths"]["/tickets/{ticket_id}/transfer"]["post"]["responses"]
    for status in ("400", "401", "403", "404", "409", "422"):
        assert transfer[status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
