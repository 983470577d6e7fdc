"""Camera health checks: offline, lagging, frozen, blurred, exposure, colour, covered, moved, noise,
signal loss.

Feed frames to a :class:`CameraHealthMonitor` (or a :class:`FleetHealth` for many cameras) and call
``tick`` regularly (or, beside a running pipeline, ``liveness`` with what the source delivered);
both return :class:`HealthEvent` state changes. ``HealthWatch`` (``watch.py``) runs them for the
pipeline and stores every episode; ``store.fleet_report`` is what every view reads.
"""

from scenewatch.health.events import FAULTS, INFOS, CameraHealth, HealthEvent
from scenewatch.health.fleet import FleetHealth, format_report
from scenewatch.health.monitor import CameraHealthMonitor

__all__ = [
    "FAULTS",
    "INFOS",
    "CameraHealth",
    "CameraHealthMonitor",
    "FleetHealth",
    "HealthEvent",
    "format_report",
]
