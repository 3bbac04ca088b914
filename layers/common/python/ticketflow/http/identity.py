"""Who is calling, from the API Gateway event the resolver is handling."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import Router

from ticketflow.access import Actor, actor_from_claims


def current_actor(router: Router) -> Actor:
    authorizer = router.current_event.request_context.authorizer
    return actor_from_claims(authorizer.claims if authorizer else None)


def channel_key_id(router: Router) -> str | None:
    """The API key API Gateway checked for this request (its id, never the secret)."""
    identity = router.current_event.request_context.identity
    return identity.api_key_id or None
