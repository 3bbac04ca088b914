"""Local bearer tokens: what the Cognito user pool issues on AWS, signed with a dev secret.

`ticketflow token` and `ticketflow dev` run in different processes, so both read the secret
from TICKETFLOW_DEV_TOKEN_SECRET, or fall back to the documented default below. These
tokens are for the local stack only: the deployed API accepts Cognito's tokens, never these.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

import jwt

SECRET_ENV = "TICKETFLOW_DEV_TOKEN_SECRET"
DEFAULT_SECRET = "ticketflow-local-dev-secret-never-use-in-production"
ISSUER = "ticketflow-local"
DEFAULT_TTL_SECONDS = 12 * 3600
_ALGORITHM = "HS256"


def _secret() -> str:
    return os.environ.get(SECRET_ENV) or DEFAULT_SECRET


def issue(sub: str, role: str, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> str:
    """An ID token with the claims a Cognito ID token carries for a user in one group."""
    now = int(time.time())
    claims = {
        "sub": sub,
        "cognito:username": sub,
        "cognito:groups": role,
        "token_use": "id",
        "iss": ISSUER,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, _secret(), algorithm=_ALGORITHM)


def verify(token: str) -> dict[str, Any]:
    """The token's claims; raises jwt.InvalidTokenError if forged, expired, foreign or unsigned."""
    claims = jwt.decode(
        token,
        _secret(),
        algorithms=[_ALGORITHM],  # pinning the algorithm is what rejects alg=none
        issuer=ISSUER,
        options={"require": ["sub", "iss", "iat", "exp"]},
    )
    if claims.get("token_use") != "id":
        raise jwt.InvalidTokenError("not an ID token")
    return claims


def _cognito_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def authorizer_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as the Cognito user-pool authorizer of a REST API passes them on: all strings,
    times written out the way it writes them."""
    return {name: _cognito_time(value) if name in ("iat", "exp") else str(value) for name, value in claims.items()}
