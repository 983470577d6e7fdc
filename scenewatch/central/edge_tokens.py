"""Edge tokens and media signatures, with no usable key in the central's database.

An edge's token is HMAC(the central's secret key file, edge name + a random nonce): shown once,
stored as its sha256 (to authenticate shipments) beside the nonce (to re-derive it). Media
requests to an edge are signed with HMAC-SHA256 keyed by :func:`media_key` of the token: the edge
computes it from its token, the central by re-deriving the token. Whoever reads the database
alone (hash and nonce) can neither ship as the edge nor sign a media request.

A signature carries its expiry; the edge refuses one that has expired or that expires more than
:data:`MAX_LIFETIME_S` ahead, so a leaked URL is good for minutes at most.

    >>> key = bytes(32)
    >>> token = derive_token(key, "edge-1", "n1")
    >>> token.startswith(PREFIX), token == derive_token(key, "edge-1", "n1") != derive_token(key, "edge-1", "n2")
    (True, True)
    >>> exp, sig = sign(media_key(token), "thumbnails/gate/a.jpg", expires=1000.0)
    >>> verify(media_key(token), "thumbnails/gate/a.jpg", exp, sig, now=990.0)
    True
    >>> verify(media_key(token), "thumbnails/gate/b.jpg", exp, sig, now=990.0)  # another file
    False
    >>> verify(media_key(token), "thumbnails/gate/a.jpg", exp, sig, now=1001.0)  # expired
    False
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from scenewatch.store.keys import derive

SIGNATURE_TTL_S = 60.0  # the central signs for this long
MAX_LIFETIME_S = 300.0  # the edge refuses signatures valid for longer (allows clock skew)
PREFIX = "swe_"  # recognisable in logs and config files


def new_nonce() -> str:
    return secrets.token_hex(16)


def derive_token(node_key: bytes, edge: str, nonce: str) -> str:
    """Edge ``edge``'s token for ``nonce`` under the central's secret ``node_key``."""
    mac = hmac.new(derive(node_key, "edge-token"), f"{edge}\n{nonce}".encode(), hashlib.sha256)
    return PREFIX + base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)


def media_key(token: str) -> bytes:
    """The key that signs media requests to the edge holding ``token``."""
    return derive(token.encode(), "media")


def sign(key: bytes, path: str, expires: float | None = None) -> tuple[int, str]:
    """(expiry, signature) for GET ``path`` on the edge whose media key is ``key``."""
    exp = int(expires if expires is not None else time.time() + SIGNATURE_TTL_S)
    mac = hmac.new(key, f"GET\n{path}\n{exp}".encode(), hashlib.sha256).hexdigest()
    return exp, mac


def verify(key: bytes, path: str, exp: int, signature: str, now: float | None = None) -> bool:
    """Whether ``signature`` is ``key``'s for ``path`` and ``exp`` lies in the next few minutes."""
    now = time.time() if now is None else now
    if not now <= exp <= now + MAX_LIFETIME_S:
        return False
    _, expected = sign(key, path, exp)
    return hmac.compare_digest(expected, signature)
