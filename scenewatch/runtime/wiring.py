"""Building the capacity path's parts from :class:`CapacityConfig`, for ``scenewatch.pipeline``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator

from scenewatch.config.camera import CameraConfig
from scenewatch.config.capacity import CapacityConfig
from scenewatch.config.detector import DetectorConfig
from scenewatch.models import ModelStore
from scenewatch.runtime.inference import DetectorPool
from scenewatch.runtime.metrics import CameraMetrics, MetricsRegistry
from scenewatch.runtime.motion import MotionGate
from scenewatch.runtime.planner import DetectionPlanner, Plan
from scenewatch.runtime.sampler import AdaptiveSampler
from scenewatch.types import Frame
from scenewatch.vision.detector_types import DETECTORS


def active(capacity: CapacityConfig | None) -> bool:
    return capacity is not None and capacity.enabled


class HealthOnly(DetectionPlanner):
    """The plan of a camera that only needs health checks: never detect."""

    def __init__(self) -> None:
        super().__init__(AdaptiveSampler())

    def plan(self, frame: Frame) -> Plan:
        return Plan("skip")


def build_planner(
    capacity: CapacityConfig | None, camera: str, detector: DetectorConfig | None = None
) -> DetectionPlanner | None:
    """The camera's planner, or None when the capacity path is off (plain ``detect_fps`` sampling).
    With ``detector`` (and ``capacity.regions``) moving regions are detected as one mosaic at its
    model's input size."""
    if not active(capacity):
        return None
    assert capacity is not None
    if camera in capacity.health_only:
        return HealthOnly()
    sampler = AdaptiveSampler(
        capacity.min_detect_fps,
        capacity.present_detect_fps,
        capacity.max_detect_fps,
        capacity.fast_speed,
        capacity.hold_s,
    )
    gate = None
    if capacity.motion_gate:
        gate = MotionGate(
            capacity.motion_width, capacity.motion_threshold, capacity.motion_min_area, capacity.background_s
        )
    input_size = step = None
    if detector is not None and capacity.regions:
        cls = DETECTORS[detector.type]
        input_size = cls.input_size()
        # TensorRT builds an engine per input shape: there every canvas keeps the model's own size
        if capacity.trim_canvas and "TensorrtExecutionProvider" not in (detector.providers or []):
            step = cls.canvas_step
    return DetectionPlanner(
        sampler,
        gate,
        capacity.crop,
        capacity.crop_max_fraction,
        capacity.refresh_s,
        capacity.idle_refresh_s,
        input_size=input_size,
        max_scale=capacity.region_max_scale,
        carry_s=capacity.carry_s,
        canvas_step=step,
    )


def capacity_camera(camera: CameraConfig, capacity: CapacityConfig | None) -> CameraConfig:
    """``camera`` with the capacity decode settings where it has none of its own: decode width
    (FFmpeg scales while converting, so the smaller picture is all that is ever copied) and
    decoder threads (one per camera is cheapest when there are many cameras)."""
    if not active(capacity):
        return camera
    assert capacity is not None
    update: dict = {}
    if camera.source.width is None and capacity.decode_width:
        update["width"] = capacity.decode_width
    if camera.source.threads == 0 and capacity.decode_threads:
        update["threads"] = capacity.decode_threads
    if not update:
        return camera
    return camera.model_copy(update={"source": camera.source.model_copy(update=update)})


def build_pool(capacity: CapacityConfig, detector: DetectorConfig, models: ModelStore) -> DetectorPool:
    """``capacity.pool_workers`` workers, each with its own session of the configured model."""
    cls = DETECTORS[detector.type]
    path = models.path(cls.model_file)
    threads = capacity.worker_threads or max(1, detector.threads // capacity.pool_workers)
    workers = [cls(path, threads=threads, providers=detector.providers) for _ in range(capacity.pool_workers)]
    return DetectorPool(
        workers, depth=capacity.queue_depth, inline=threads == 1, share_mosaics=capacity.share_mosaics
    )


def metered(frames: Iterable[Frame], metrics: CameraMetrics | None) -> Iterable[Frame]:
    """``frames`` counted into ``metrics`` in the thread that decodes them (its CPU included)."""
    if metrics is None:
        return frames

    def count() -> Iterator[Frame]:
        for frame in frames:
            metrics.decoded(frame.pts, frame.timestamp)
            metrics.cpu("decode")
            yield frame

    return count()


def report_every(
    metrics: MetricsRegistry, progress: Callable[[str], None], interval: float, stop: threading.Event
) -> threading.Thread:
    """A thread printing one metrics line per camera (and one for the describer of finished tracks)
    every ``interval`` seconds until ``stop``."""

    def loop() -> None:
        next_at = time.monotonic() + interval
        while not stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += interval
            for camera in metrics.cameras():
                progress(camera.line())
            node = metrics.node_snapshot()
            if node:
                progress(
                    f"describer: {node['describe_done']} tracks described ({node['describe_degraded']} "
                    f"degraded), {node['describe_queued']} waiting, {node['describe_wait_s']:.1f} s to store"
                )

    thread = threading.Thread(target=loop, name="metrics-report", daemon=True)
    thread.start()
    return thread
