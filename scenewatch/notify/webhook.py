"""Webhook sender: one JSON POST per alert, signed with HMAC-SHA256, with a hard timeout.

Receivers verify ``X-SceneWatch-Signature: sha256=<hex>`` as ``hmac(secret, raw body, sha256)``
and may drop repeats by ``X-SceneWatch-Delivery`` (the alert id): delivery is at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ssl
from urllib.parse import urlsplit

from scenewatch import __version__
from scenewatch.config.delivery import WebhookConfig
from scenewatch.notify.alert import Alert
from scenewatch.notify.outcome import DELIVERED, Outcome, give_up, retry

SIGNATURE_HEADER = "X-SceneWatch-Signature"
# Worth retrying among the 4xx: the receiver timed out reading, or asks us to slow down.
RETRYABLE_4XX = frozenset({408, 429})


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of a signature header (what a receiver does; used by the tests)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class WebhookSender:
    def __init__(self, config: WebhookConfig):
        self.config = config
        parts = urlsplit(config.url)
        self._https = parts.scheme.lower() == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # shown in logs: no credentials, no query (tokens live there)
        self.shown = (
            f"{parts.scheme}://{self._host}{f':{parts.port}' if parts.port else ''}{parts.path or '/'}"
        )

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
        timeout = self.config.timeout_s
        if self._https:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            conn.request("POST", self._path, body=body, headers=headers)
            response = conn.getresponse()
            response.read(65536)  # let the receiver finish; the content is not used
            return classify(response.status, response.reason, response.getheader("Retry-After"))
        except TimeoutError:
            return retry(f"no answer within {timeout:g} s")
        except ssl.SSLCertVerificationError as exc:
            return retry(f"TLS certificate rejected: {exc.verify_message}")
        except (OSError, http.client.HTTPException) as exc:
            return retry(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()


def classify(status: int, reason: str, retry_after: str | None = None) -> Outcome:
    """2xx delivered; 408, 429 and 5xx retried (honouring Retry-After); other answers given up."""
    if 200 <= status < 300:
        return DELIVERED
    text = f"HTTP {status} {reason}".strip()
    if status in RETRYABLE_4XX or status >= 500:
        return retry(text, _seconds(retry_after))
    if 300 <= status < 400:
        return give_up(f"{text}: redirects are not followed; configure the final URL")
    return give_up(f"{text}: the receiver rejects the alert")


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: use our own backoff
