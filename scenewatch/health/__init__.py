"""Camera health checks: offline, frozen, blurred, exposure, colour, covered, moved, noise, signal loss.

Feed frames to a :class:`CameraHealthMonitor` (or a :class:`FleetHealth` for many cameras) and call
``tick`` regularly; both return :class:`HealthEvent` state changes.
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
