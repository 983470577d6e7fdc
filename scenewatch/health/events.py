"""Plain data types of the health checks: events (state changes and info records) and status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

FAULTS = (
    "offline",
    "lagging",
    "frozen",
    "blurred",
    "too_dark",
    "overexposed",
    "low_contrast",
    "colour_cast",
    "covered",
    "moved",
    "noise",
    "signal_loss",
)
# Informational records: something happened that the operator may want to know; nothing to clear.
INFOS = (
    "resolution_change",
    "clock_jump",
    "corrupt_frames",
    "scene_change",
    "reconnect",
    "reference_learned",
    "moved_check_suspended",
    "baseline_reset",
)
SEVERITY: dict[str, Severity] = {
    "offline": "critical",
    "signal_loss": "critical",
    "covered": "critical",
    "moved": "critical",
    "frozen": "critical",
    "lagging": "warning",
    "blurred": "warning",
    "too_dark": "warning",
    "overexposed": "warning",
    "low_contrast": "warning",
    "colour_cast": "warning",
    "noise": "warning",
}

State = Literal["raised", "cleared", "info"]
Severity = Literal["info", "warning", "critical"]


@dataclass(slots=True)
class HealthEvent:
    """A fault raised or cleared, or an informational record (``state='info'``, ``start == end``).

    Times are wall-clock seconds (the frames' timestamps). A raised fault has ``end=None``; its
    clearing event repeats ``start`` and sets ``end``. ``snapshot`` is the (downscaled) frame when the
    fault was raised; ``reference`` the reference view for 'moved'.
    """

    camera: str
    fault: str
    state: State
    start: float
    end: float | None
    severity: Severity
    detail: dict = field(default_factory=dict)
    snapshot: np.ndarray | None = None
    reference: np.ndarray | None = None

    def to_dict(self) -> dict:
        """JSON-friendly form (no pixels)."""
        return {
            "camera": self.camera,
            "fault": self.fault,
            "state": self.state,
            "start": self.start,
            "end": self.end,
            "severity": self.severity,
            "detail": self.detail,
        }


@dataclass(slots=True)
class CameraHealth:
    """The current health of one camera, for the UI and the CLI."""

    camera: str
    online: bool
    last_frame_at: float | None
    learning: bool
    faults: list[HealthEvent]
    online_rate: float | None
    window: tuple[float, float] | None
    counters: dict[str, int]
    recent: list[HealthEvent]
    lag_s: float | None = None  # how far analysis is behind the source (watched cameras)
    capped: bool = False  # asking for more detections than its share of the detector pool

    @property
    def severity(self) -> Severity | Literal["ok"]:
        """Worst severity of the active faults, 'ok' when there are none."""
        levels = {f.severity for f in self.faults}
        return "critical" if "critical" in levels else "warning" if levels else "ok"

    def to_dict(self) -> dict:
        return {
            "camera": self.camera,
            "status": self.severity,
            "online": self.online,
            "last_frame_at": self.last_frame_at,
            "learning": self.learning,
            "faults": [f.to_dict() for f in self.faults],
            "online_rate": self.online_rate,
            "window": list(self.window) if self.window else None,
            "counters": dict(self.counters),
            "recent": [e.to_dict() for e in self.recent],
            "lag_s": None if self.lag_s is None else round(self.lag_s, 2),
            "capped": self.capped,
        }
