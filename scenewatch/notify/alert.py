"""The alert: what every destination gets, for a behaviour event or a camera health change."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["behaviour", "health"]
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert to deliver.

    ``key`` is the idempotency key: the same key submitted twice is delivered once per destination,
    and receivers see it as ``id`` in the body and in the ``X-SceneWatch-Delivery`` header, so they
    can drop a repeat (delivery is at least once). ``name`` is the rule name (behaviour) or the
    fault name (health). Times are wall-clock epoch seconds; ``end`` is None while the event lasts.
    ``at`` is the time of the frame that completed the condition (latency is measured from it).
    ``snapshot`` and ``clip`` are paths relative to the media folder, or None.

    >>> a = Alert("behaviour", "cam1", "door", start=10.0, end=12.5, key="k1", at=12.5)
    >>> a.to_json()["rule"], a.topic_levels()
    ('door', ('cam1', 'door'))
    """

    kind: Kind
    camera: str
    name: str
    start: float
    end: float | None = None
    severity: str = "info"
    payload: dict[str, Any] = field(default_factory=dict)
    snapshot: str | None = None
    clip: str | None = None
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: float | None = None
    created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.kind not in ("behaviour", "health"):
            raise ValueError(f"alert kind must be 'behaviour' or 'health', not {self.kind!r}")
        if not self.key or len(self.key) > 200:
            raise ValueError("alert key must be 1-200 characters")

    def to_json(self) -> dict[str, Any]:
        """The JSON body every destination gets (the same bytes on every attempt)."""
        body = {
            "version": SCHEMA_VERSION,
            "id": self.key,
            "kind": self.kind,
            "camera": self.camera,
            # the rule (behaviour) or fault (health) under its own name, and a generic one
            "rule" if self.kind == "behaviour" else "fault": self.name,
            "name": self.name,
            "start": self.start,
            "end": self.end,
            "at": self.at,
            "severity": self.severity,
            "snapshot": self.snapshot,
            "clip": self.clip,
            "created_at": self.created_at,
            "payload": self.payload,
        }
        return body

    def body_bytes(self) -> bytes:
        return encode(self.to_json())

    def topic_levels(self) -> tuple[str, ...]:
        """Topic levels after the prefix: camera/rule, or camera/health/fault."""
        if self.kind == "health":
            return (self.camera, "health", self.name)
        return (self.camera, self.name)

    def to_record(self) -> dict[str, Any]:
        """Every field, for the outbox row (``from_record`` reverses it)."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Alert:
        return cls(**record)


def encode(body: dict[str, Any]) -> bytes:
    """Compact, key-sorted JSON: a stable byte string to sign."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode()


def alert_from_health(event: Any, snapshot: str | None = None) -> Alert:
    """An alert for a :class:`~scenewatch.health.events.HealthEvent` (raised, cleared or info).

    The key holds camera, fault, state and start, so a raise and its clearing are two alerts and a
    repeat of either is one.
    """
    at = event.end if event.end is not None else event.start
    return Alert(
        kind="health",
        camera=event.camera,
        name=event.fault,
        start=event.start,
        end=event.end,
        severity=event.severity,
        payload={"state": event.state, "detail": event.detail},
        snapshot=snapshot,
        key=f"health:{event.camera}:{event.fault}:{event.state}:{event.start:.3f}",
        at=at,
    )


def alert_from_event(event: Any, clip: dict | None, frame_time: float) -> Alert:
    """An alert for a behaviour :class:`~scenewatch.rules.events.Event` when it starts.

    ``clip`` is the event's clip reference and goes in the payload: a file and its seconds (file
    footage), or for a live camera the media path and API URL (``url``) the clip will have once it
    is cut from the recordings, a few seconds after the post-roll (the alert does not wait for it;
    ``ready`` is false). ``frame_time`` is the frame that completed the condition.
    """
    from scenewatch.rules.store import snapshot_path

    return Alert(
        kind="behaviour",
        camera=event.camera,
        name=event.rule,
        start=event.start,
        end=event.end,
        severity="warning",
        payload={**event.to_dict(), "clip": clip},
        snapshot=snapshot_path(event) if event.snapshot is not None else None,
        clip=(clip or {}).get("media"),
        key=f"behaviour:{event.key}",
        at=frame_time,
    )
