"""Real-time capacity: motion gating, adaptive sampling, a shared detector pool and per-camera metrics.

Each module holds one stateful tool with one verb:

- :class:`MotionGate` ``update(image, t) -> Motion``: where the picture changed;
- :class:`AdaptiveSampler` ``due(t)`` / ``observe(...)``: when to detect next;
- :class:`DetectionPlanner` ``plan(frame) -> Plan``: skip, reuse, detect a crop or the whole frame;
- :class:`DetectorPool` ``client(camera).submit(...)``: shared, fair, never-blocking inference;
- :class:`MetricsRegistry` ``snapshot()`` / ``render_prometheus()``: what each camera costs;
- :class:`DescribeQueue` ``submit(...)``: finished tracks described off the cameras' threads.
"""

from scenewatch.runtime.describe import DescribeQueue
from scenewatch.runtime.inference import DetectorPool, PoolClient
from scenewatch.runtime.metrics import CameraMetrics, MetricsRegistry
from scenewatch.runtime.motion import Motion, MotionGate
from scenewatch.runtime.planner import DetectionPlanner, Plan
from scenewatch.runtime.sampler import AdaptiveSampler

__all__ = [
    "AdaptiveSampler",
    "CameraMetrics",
    "DescribeQueue",
    "DetectionPlanner",
    "DetectorPool",
    "MetricsRegistry",
    "Motion",
    "MotionGate",
    "Plan",
    "PoolClient",
]
