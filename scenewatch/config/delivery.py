"""Alert delivery: webhooks, MQTT, and how long delivered alerts are kept in the outbox.

Every destination may be narrowed by alert kind, camera and rule (or health fault) name; an empty
filter lets everything through. Alerts wait in a durable outbox until each destination took them.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from scenewatch.config.base import Section

AlertKind = Literal["behaviour", "health"]
DESTINATION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class AlertFilter(Section):
    """Which alerts a destination gets; each empty list means 'all'."""

    kinds: list[AlertKind] = Field(
        default_factory=list, description="Alert kinds to send ('behaviour', 'health'); empty means both."
    )
    cameras: list[str] = Field(default_factory=list, description="Camera names to send; empty means all.")
    rules: list[str] = Field(
        default_factory=list, description="Rule (or health fault) names to send; empty means all."
    )

    def accepts(self, kind: str, camera: str, name: str) -> bool:
        return (
            (not self.kinds or kind in self.kinds)
            and (not self.cameras or camera in self.cameras)
            and (not self.rules or name in self.rules)
        )


class RetryConfig(Section):
    """Exponential backoff with jitter between delivery attempts of one alert."""

    max_attempts: int = Field(
        50,
        ge=1,
        le=10000,
        description="Give up on an alert after this many failed attempts; it stays in the outbox as "
        "'failed' and can be re-queued.",
    )
    backoff_initial_s: float = Field(1.0, gt=0, le=3600, description="Wait after the first failure, seconds.")
    backoff_max_s: float = Field(
        300.0, gt=0, le=86400, description="Longest wait between attempts; the wait doubles up to it."
    )

    @model_validator(mode="after")
    def _ordered(self) -> RetryConfig:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(
                f"backoff_max_s ({self.backoff_max_s:g}) is less than backoff_initial_s "
                f"({self.backoff_initial_s:g}); the longest wait must be at least the first"
            )
        return self


class WebhookConfig(AlertFilter, RetryConfig):
    """An HTTP(S) endpoint that gets each alert as a JSON POST."""

    name: str | None = Field(
        None,
        description="Name of this webhook in logs and in the outbox; unset: derived from the URL. "
        "Keep it when changing the URL so undelivered alerts follow.",
    )
    url: str = Field(description="http:// or https:// address that receives the POST.")
    secret: str | None = Field(
        None,
        min_length=8,
        description="Shared secret: each request carries 'X-SceneWatch-Signature: sha256=<hex>', the "
        "HMAC-SHA256 of the raw body with this key.",
    )
    timeout_s: float = Field(
        5.0, gt=0, le=120, description="Give up one attempt when connecting or answering takes longer."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers, e.g. an Authorization token."
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https"):
            raise ValueError(f"webhook url must start with http:// or https://, got {value!r}")
        if not parts.hostname:
            raise ValueError(f"webhook url {value!r} has no host name")
        return value

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        if value is not None and not DESTINATION_NAME.match(value):
            raise ValueError("use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit")
        return value

    @property
    def key(self) -> str:
        """The destination's name in the outbox: stable while the name (or, unnamed, the URL) is."""
        if self.name:
            return f"webhook:{self.name}"
        return "webhook:" + hashlib.sha256(self.url.encode()).hexdigest()[:12]


class MqttConfig(AlertFilter, RetryConfig):
    """An MQTT broker that gets each alert on topic ``{topic_prefix}/{camera}/{rule}``."""

    host: str = Field(description="Broker host name or address.")
    port: int | None = Field(None, ge=1, le=65535, description="Broker port; unset: 1883, or 8883 with tls.")
    topic_prefix: str = Field("scenewatch", description="First topic levels, e.g. 'site1/scenewatch'.")
    qos: Literal[0, 1, 2] = Field(1, description="MQTT quality of service; 1 = at least once.")
    retain: bool = Field(False, description="Ask the broker to keep the last alert of each topic.")
    username: str | None = Field(None, description="User name, if the broker wants one.")
    password: str | None = Field(None, description="Password; needs a username.")
    tls: bool = Field(False, description="Connect with TLS, checking the broker's certificate.")
    client_id: str | None = Field(None, description="MQTT client id; unset: 'scenewatch-<host name>'.")
    keepalive_s: int = Field(30, ge=5, le=3600, description="Keep-alive interval, seconds.")
    publish_timeout_s: float = Field(
        5.0, gt=0, le=120, description="Wait this long for the broker's acknowledgement of one alert."
    )

    @field_validator("topic_prefix")
    @classmethod
    def _topic(cls, value: str) -> str:
        value = value.strip("/")
        if not value:
            raise ValueError("topic_prefix is empty; give e.g. 'scenewatch'")
        if any(c in value for c in "+#\0"):
            raise ValueError(f"topic_prefix {value!r} may not contain the MQTT wildcards '+' or '#'")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> MqttConfig:
        if self.password is not None and self.username is None:
            raise ValueError("mqtt password is set without a username; set both or neither")
        return self

    @property
    def broker_port(self) -> int:
        return self.port or (8883 if self.tls else 1883)

    @property
    def key(self) -> str:
        return f"mqtt:{self.host}:{self.broker_port}"


class DeliveryConfig(Section):
    webhooks: list[WebhookConfig] = Field(default_factory=list, description="HTTP endpoints for alerts.")
    mqtt: MqttConfig | None = Field(None, description="MQTT broker for alerts; unset: none.")
    keep_delivered_days: float = Field(
        7.0, ge=0, le=3650, description="Delete delivered alerts from the outbox after this many days."
    )
    keep_failed_days: float = Field(
        30.0, ge=0, le=3650, description="Delete alerts given up on after this many days."
    )
    stream_queue: int = Field(
        200,
        ge=1,
        le=100000,
        description="Alerts buffered per live-stream (SSE/websocket) subscriber; a slower one loses "
        "the oldest and is told how many.",
    )

    @model_validator(mode="after")
    def _unique_destinations(self) -> DeliveryConfig:
        seen: dict[str, int] = {}
        for number, hook in enumerate(self.webhooks):
            if hook.key in seen:
                what = f"name {hook.name!r}" if hook.name else f"url {hook.url!r}"
                raise ValueError(
                    f"webhooks {seen[hook.key]} and {number} have the same {what}; give each a unique name"
                )
            seen[hook.key] = number
        return self
