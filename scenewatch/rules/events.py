"""The event type: what a rule raises, and what the store, the CLI and notifiers pass along."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STATES = ("new", "acknowledged", "resolved")


@dataclass(slots=True)
class Event:
    """One occurrence of a rule on a camera.

    ``key`` stays the same while the event is open and when it ends, so a store can write the event
    when it starts (``end is None``) and complete it later. Times are wall-clock seconds (frame
    timestamps); ``start`` may lie before the moment the rule fired (loitering starts at the entry).
    Instant events (a line crossing) have ``end == start``. ``snapshot`` is the annotated frame
    (BGR) when the event fired; it is None on the update that ends the event.
    """

    key: str
    rule: str
    rule_type: str
    camera: str
    start: float
    end: float | None
    track_ids: list[int]
    detail: dict = field(default_factory=dict)
    snapshot: np.ndarray | None = None

    @property
    def is_open(self) -> bool:
        return self.end is None

    def to_dict(self) -> dict:
        """JSON-friendly form (no pixels)."""
        return {
            "key": self.key,
            "rule": self.rule,
            "rule_type": self.rule_type,
            "camera": self.camera,
            "start": self.start,
            "end": self.end,
            "track_ids": list(self.track_ids),
            "detail": dict(self.detail),
        }
