"""`FleetHealth`: the health monitors of all cameras of a site, and the site's online rate."""

from __future__ import annotations

from datetime import UTC, datetime

from scenewatch.config.health import HealthConfig
from scenewatch.health.events import CameraHealth, HealthEvent
from scenewatch.health.monitor import CameraHealthMonitor
from scenewatch.types import Frame


class FleetHealth:
    """One :class:`CameraHealthMonitor` per camera, made on first sight.

    >>> fleet = FleetHealth()
    >>> fleet.tick(0.0), fleet.online_rate()
    ([], None)
    """

    def __init__(self, config: HealthConfig | None = None, per_camera: dict[str, HealthConfig] | None = None):
        self.config = config or HealthConfig()
        self.per_camera = per_camera or {}
        self.monitors: dict[str, CameraHealthMonitor] = {}

    def monitor(self, camera: str, started_at: float | None = None) -> CameraHealthMonitor:
        """The camera's monitor; ``started_at`` lets a camera that never sends a frame go offline."""
        if camera not in self.monitors:
            config = self.per_camera.get(camera, self.config)
            self.monitors[camera] = CameraHealthMonitor(camera, config, started_at)
        return self.monitors[camera]

    def observe(self, frame: Frame) -> list[HealthEvent]:
        return self.monitor(frame.camera).observe(frame)

    def tick(self, now: float) -> list[HealthEvent]:
        return [event for m in self.monitors.values() for event in m.tick(now)]

    def note_gap(self, camera: str, start: float, end: float) -> list[HealthEvent]:
        return self.monitor(camera).note_gap(start, end)

    def status(self, window_s: float | None = None) -> list[CameraHealth]:
        return [self.monitors[c].status(window_s) for c in sorted(self.monitors)]

    def online_rate(self, start: float | None = None, end: float | None = None) -> float | None:
        """Site online rate: camera online rates weighted by how long each was monitored in the window."""
        total = weight = 0.0
        for m in self.monitors.values():
            rate = m.online_rate(start, end)
            if rate is None or m._first is None or m._now is None:
                continue
            span = min(end if end is not None else m._now, m._now) - max(start or m._first, m._first)
            total += rate * span
            weight += span
        return total / weight if weight > 0 else None

    def report(self, window_s: float | None = None) -> dict:
        """JSON-friendly fleet status, what ``scenewatch health --json`` prints."""
        cameras = self.status(window_s)
        now = max((m._now for m in self.monitors.values() if m._now is not None), default=None)
        window = window_s or self.config.online_window_s
        return {
            "at": now,
            "window_s": window,
            "site_online_rate": None if now is None else self.online_rate(now - window, now),
            "cameras": [c.to_dict() for c in cameras],
        }


def format_report(report: dict) -> str:
    """Plain-text table of a :meth:`FleetHealth.report`, what ``scenewatch health`` prints."""

    def when(t: float | None) -> str:
        return "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")

    def pct(rate: float | None) -> str:
        return "-" if rate is None else f"{100 * rate:.1f}%"

    lines = [f"{'camera':20} {'status':9} {'online':7} {'last frame (UTC)':20} faults"]
    for cam in report["cameras"]:
        faults = ", ".join(f"{f['fault']} since {when(f['start'])}" for f in cam["faults"]) or "-"
        status = cam["status"] + (" (learning)" if cam["learning"] else "")
        lines.append(
            f"{cam['camera']:20} {status:9} {pct(cam['online_rate']):7} {when(cam['last_frame_at']):20} {faults}"
        )
    lines.append(f"site online rate over {report['window_s'] / 3600:g} h: {pct(report['site_online_rate'])}")
    return "\n".join(lines)
