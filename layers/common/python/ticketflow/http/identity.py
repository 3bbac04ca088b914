"""Who is calling, from the API Gateway event the resolver is handling."""

from __future__ import annotations

from typing import cast

from aws_lambda_powertools.event_handler.router import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from ticketflow.access import Actor, actor_from_claims


def _event(router: Router) -> APIGatewayProxyEvent:
    # Every router is included in an APIGatewayRestResolver (http.app.create_app), whose
    # current event is a REST API proxy event; Router only promises the common base class.
    return cast(APIGatewayProxyEvent, router.current_event)


def current_actor(router: Router) -> Actor:
    authorizer = _event(router).request_context.authorizer
    return actor_from_claims(authorizer.claims if authorizer else None)


def channel_key_id(router: Router) -> str | None:
    """The API key API Gateway checked for this request (its id, never the secret)."""
    identity = _event(router).request_context.identity
    return identity.api_key_id or None
