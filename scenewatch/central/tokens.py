"""Edge tokens: random, shown once, stored as a sha256 hash; media requests signed with HMAC.

The central never keeps an edge's token, only its hash. To fetch media from an edge the central
signs the request with HMAC-SHA256 keyed by that hash; the edge, which knows its token, computes
the same key. A signature expires after :data:`SIGNATURE_TTL_S`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_TTL_S = 120.0
PREFIX = "swe_"  # recognisable in logs and config files


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)


def sign(key_hash: str, path: str, expires: float | None = None) -> tuple[int, str]:
    """(expiry, signature) for GET ``path`` on an edge whose token hashes to ``key_hash``."""
    exp = int(expires if expires is not None else time.time() + SIGNATURE_TTL_S)
    mac = hmac.new(key_hash.encode(), f"{path}\n{exp}".encode(), hashlib.sha256).hexdigest()
    return exp, mac


def verify(token: str, path: str, exp: int, signature: str, now: float | None = None) -> bool:
    if exp < (time.time() if now is None else now):
        return False
    _, expected = sign(token_hash(token), path, exp)
    return hmac.compare_digest(expected, signature)
