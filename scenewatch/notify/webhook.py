"""Webhook sender: one JSON POST per alert, signed with HMAC-SHA256, with a hard timeout.

Receivers verify ``X-SceneWatch-Signature: sha256=<hex>`` as ``hmac(secret, raw body, sha256)``
and may drop repeats by ``X-SceneWatch-Delivery`` (the alert id): delivery is at least once.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

import httpx

from scenewatch import __version__
from scenewatch.config.delivery import WebhookConfig
from scenewatch.notify.alert import Alert
from scenewatch.notify.outcome import DELIVERED, Outcome, give_up, retry
from scenewatch.outbound import client, failure, retry_after_s

SIGNATURE_HEADER = "X-SceneWatch-Signature"
# Worth retrying among the 4xx: the receiver timed out reading, or asks us to slow down.
RETRYABLE_4XX = frozenset({408, 429})
MAX_ANSWER_BYTES = 65536


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of a signature header (what a receiver does; used by the tests)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class WebhookSender:
    """POSTs alerts to one receiver over a pooled connection (``scenewatch.outbound``: proxies from
    the environment, redirects not followed)."""

    def __init__(self, config: WebhookConfig):
        self.config = config
        parts = urlsplit(config.url)
        # shown in logs: no credentials, no query (tokens live there)
        port = f":{parts.port}" if parts.port else ""
        self.shown = f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path or '/'}"
        self._client = client(config.timeout_s)

    def send(self, alert: Alert, attempt: int = 1) -> Outcome:
        body = alert.body_bytes()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"SceneWatch/{__version__}",
            "X-SceneWatch-Delivery": alert.key,
            "X-SceneWatch-Attempt": str(attempt),
            **self.config.headers,
        }
        if self.config.secret:
            headers[SIGNATURE_HEADER] = sign(self.config.secret, body)
        try:
            with self._client.stream("POST", self.config.url, content=body, headers=headers) as response:
                _read_some(response)
        except httpx.TimeoutException:
            return retry(f"no answer within {self.config.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return retry(f"{type(exc).__name__}: {failure(exc)}")
        return classify(response.status_code, response.reason_phrase, response.headers.get("Retry-After"))

    def close(self) -> None:
        self._client.close()


def _read_some(response: httpx.Response) -> None:
    """Read the unused answer so the connection can carry the next alert, but never more than
    ``MAX_ANSWER_BYTES``: a receiver cannot make us hold a huge body (the connection is dropped)."""
    seen = 0
    for chunk in response.iter_raw():
        seen += len(chunk)
        if seen >= MAX_ANSWER_BYTES:
            return


def classify(status: int, reason: str, retry_after: str | None = None) -> Outcome:
    """2xx delivered; 408, 429 and 5xx retried (honouring Retry-After); other answers given up."""
    if 200 <= status < 300:
        return DELIVERED
    text = f"HTTP {status} {reason}".strip()
    if status in RETRYABLE_4XX or status >= 500:
        return retry(text, retry_after_s(retry_after))
    if 300 <= status < 400:
        return give_up(f"{text}: redirects are not followed; configure the final URL")
    return give_up(f"{text}: the receiver rejects the alert")
