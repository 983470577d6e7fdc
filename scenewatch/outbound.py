"""Outbound HTTP of a node (alert webhooks, the edge's shipments to the central): one way to make
the client, to read a failure and to read the server's ``Retry-After``.

Clients pool their connections, take proxies from the environment (``HTTPS_PROXY``,
``HTTP_PROXY``, ``NO_PROXY``) like any outbound HTTP of the host, and never follow redirects: a
signed alert or a bearer token must not be re-sent to another address.
"""

from __future__ import annotations

import ssl
import time
from email.utils import parsedate_to_datetime

import httpx


def client(timeout_s: float, verify: ssl.SSLContext | bool = True) -> httpx.Client:
    return httpx.Client(timeout=timeout_s, verify=verify, follow_redirects=False, trust_env=True)


def failure(exc: BaseException) -> str:
    """The innermost reason of a failed request (a refused connection, a rejected certificate),
    not the wrapper httpx puts around it."""
    while (inner := exc.__cause__ or exc.__context__) is not None:
        exc = inner
    return str(exc) or type(exc).__name__


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds an HTTP ``Retry-After`` header asks for: delay-seconds or an HTTP date; None when
    absent or unreadable.

    >>> retry_after_s("120"), retry_after_s("soon"), retry_after_s(None)
    (120.0, None, None)
    >>> retry_after_s("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0)
    30.0
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))
