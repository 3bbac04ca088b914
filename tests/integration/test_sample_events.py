"""The sample events in events/ are up to date, and each one reaches a route of its function."""

from __future__ import annotations

import json

import pytest

from events.generate import events, render
from tests.support import invoke

SAMPLES = events()


def test_there_is_a_sample_for_every_route_and_queue():
    from infra import topology

    expected = sum(len(f.routes) + (1 if f.consumes else 0) for f in topology.FUNCTIONS)
    assert len(SAMPLES) == expected


@pytest.mark.parametrize("path", sorted(SAMPLES), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_is_current_and_routes(stack, path):
    assert path.read_text(encoding="utf-8") == render(SAMPLES[path]), "run: python events/generate.py"
    event = json.loads(path.read_text(encoding="utf-8"))
    response = invoke(path.parent.name, event)
    if "Records" in event:  # a queue consumer: the message is processed (its ticket is absent: a no-op)
        assert response == {"batchItemFailures": []}
        return
    # The sample ticket (or survey link) does not exist in a fresh table: 404 from the domain is
    # fine, a 404 for an unknown route is not.
    if response["multiValueHeaders"]["Content-Type"][0].startswith("text/html"):
        assert "<form" in response["body"] or 'role="status"' in response["body"]  # the page, or its message
    else:
        body = json.loads(response["body"])
        assert not (response["statusCode"] == 404 and "no route" in body.get("error", {}).get("message", ""))
    assert response["statusCode"] < 500
