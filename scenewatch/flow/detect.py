"""Detection for one camera: the configured detector and filter, and the two parts every frame meets.

A :class:`Planner` decides for each frame (skip, reuse, crop or full; see
``scenewatch.runtime.planner``); plain ``detect_fps`` sampling is the :class:`FixedRatePlanner`,
so there is one path through a camera whatever the capacity settings. A :class:`DetectorHandle`
runs what the plan submits: the node's shared pool (``PoolClient``, answers come later) or
:class:`InlineDetector` (answers at once, one detector shared under a lock).

>>> from scenewatch.types import Frame
>>> import numpy as np
>>> planner = FixedRatePlanner(detect_fps=2.0)
>>> [planner.plan(Frame(np.zeros((2, 2, 3), np.uint8), "cam", i, 0.0, i * 0.25)).kind for i in range(4)]
['full', 'skip', 'full', 'skip']
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from typing import Any, Protocol

import numpy as np

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.models import ModelStore
from scenewatch.runtime.planner import Plan
from scenewatch.runtime.regions import Mosaic
from scenewatch.types import Detections, Frame
from scenewatch.vision.detector import Detector
from scenewatch.vision.detector_types import DETECTORS
from scenewatch.vision.filters import DetectionFilter
from scenewatch.vision.tiling import TiledDetector


def build_detector(settings: AppConfig, models: ModelStore | None = None) -> Detector:
    """The configured detector, its model from the model store (a clear error when missing); with
    ``detector.tiles`` it detects wide frames in square crops (``scenewatch.vision.tiling``)."""
    cls = DETECTORS[settings.detector.type]
    path = (models or ModelStore()).path(cls.model_file)
    detector = cls(path, threads=settings.detector.threads, providers=settings.detector.providers)
    return TiledDetector(detector) if settings.detector.tiles else detector


def build_filter(settings: AppConfig, camera: CameraConfig | None) -> DetectionFilter:
    det = settings.detector
    return DetectionFilter(
        classes=(camera.classes if camera and camera.classes else det.classes),
        score_threshold=(
            camera.score_threshold if camera and camera.score_threshold is not None else det.score_threshold
        ),
        class_thresholds=det.class_thresholds,
        min_size=det.min_size,
        ignore_polygons=camera.ignore_mask if camera else (),
    )


class Planner(Protocol):
    """What to do with each frame, and how the detector's answer becomes the frame's detections."""

    def plan(self, frame: Frame) -> Plan: ...

    def merge(self, plan: Plan, frame: Frame, raw: Detections | None = None) -> Detections: ...

    def observe(self, tracked: Detections, frame: Frame) -> None: ...


class FixedRatePlanner:
    """Full-frame detection on the first frame of each ``1 / detect_fps`` slot of source time
    (every frame without a rate)."""

    def __init__(self, detect_fps: float | None = None):
        self.interval = 1.0 / detect_fps if detect_fps else 0.0
        self.last_slot: int | None = None

    def plan(self, frame: Frame) -> Plan:
        return Plan("full") if self._due(frame.pts) else Plan("skip")

    def _due(self, pts: float) -> bool:
        if self.interval == 0:
            return True
        slot = math.floor(pts / self.interval + 1e-6)
        # a slot already taken, or one just before it (a timestamp that jittered back), is skipped
        if self.last_slot is not None and self.last_slot - 1 <= slot <= self.last_slot:
            return False
        self.last_slot = slot
        return True

    def merge(self, plan: Plan, frame: Frame, raw: Detections | None = None) -> Detections:
        assert raw is not None, "a full plan needs the detector's answer"
        return raw

    def observe(self, tracked: Detections, frame: Frame) -> None:
        """The rate is fixed: what was seen changes nothing."""


class DetectorHandle(Protocol):
    """One camera's way to its detector (``PoolClient`` has this shape)."""

    dropped: int
    detector_seconds: float
    detector_cpu_seconds: float
    inferences: float  # its share of the detector's runs (a run shared by k cameras counts 1/k)
    shared: int  # frames detected on a canvas shared with other cameras
    tiles: int  # mosaic tiles detected

    def submit(self, image: np.ndarray, token: Any = None, mosaic: Mosaic | None = None) -> None: ...

    def results(self) -> list[tuple[Any, Any, BaseException | None]]: ...

    def wait_idle(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


class InlineDetector:
    """Detects in the camera's thread as soon as a frame is submitted; ``lock`` shares one
    detector between cameras (ONNX Runtime already uses every core). A failure raises at once."""

    def __init__(self, detector: Detector, lock: threading.Lock | None = None):
        self.detector = detector
        self.lock = lock if lock is not None else contextlib.nullcontext()
        self.done: deque[tuple[Any, Any, BaseException | None]] = deque()
        self.dropped = 0  # never: nothing waits
        self.detector_seconds = 0.0
        self.detector_cpu_seconds = 0.0
        self.inferences = 0.0
        self.shared = 0  # never: each frame is detected alone
        self.tiles = 0

    def submit(self, image: np.ndarray, token: Any = None, mosaic: Mosaic | None = None) -> None:
        self.inferences += 1
        self.tiles += len(mosaic.tiles) if mosaic is not None else 0
        detect = self.detector.detect_canvas if mosaic is not None else self.detector.detect_one
        with self.lock:
            started, cpu = time.monotonic(), time.thread_time()
            raw = detect(image)
            self.detector_seconds += time.monotonic() - started
            self.detector_cpu_seconds += time.thread_time() - cpu
        self.done.append((token, raw, None))

    def results(self) -> list[tuple[Any, Any, BaseException | None]]:
        out = list(self.done)
        self.done.clear()
        return out

    def wait_idle(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        self.done.clear()
