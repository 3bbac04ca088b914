"""The survey link: a random token (160 bits) that only the customer's message carries.

We store its SHA-256, never the token: a random 160-bit secret needs no slow hash, and a
leaked table cannot be turned into working links.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets

BASE_URL_ENV = "TICKETFLOW_PUBLIC_BASE_URL"
TOKEN_BYTES = 20  # 160 random bits; the issue asks for at least 128
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    return bool(_TOKEN.fullmatch(token))


def url(token: str) -> str:
    """The public link, under the API's base URL (the stage URL on AWS, the local gateway in dev)."""
    base = os.environ.get(BASE_URL_ENV)
    if not base:
        raise RuntimeError(f"{BASE_URL_ENV} is not set: the stack sets it to the API's URL")
    return f"{base.rstrip('/')}/surveys/{token}"
