"""The latest frame of each camera with its person boxes, for snapshots and the MJPEG view, and
what the tracker reported on it, for the live overlay.

Fed by the pipeline as a detection observer (``observer(camera)``), so the live view costs no extra
decoding. Masked JPEGs are cached per (frame, mask variant): many viewers, one encode. Data enters
through :meth:`LiveFrames.put` alone, with plain arguments, so a pipeline in another process can
forward the call as it is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scenewatch.api import privacy
from scenewatch.types import Detections, Frame
from scenewatch.vision.labels import class_id

PERSON = class_id("person")


@dataclass
class LiveFrame:
    image: np.ndarray
    people: np.ndarray  # N x 4 boxes, camera pixels
    timestamp: float
    seq: int
    received: float
    jpegs: dict[tuple, bytes] = field(default_factory=dict)
    # the tracker's confirmed tracks on this frame: N x 4 boxes (camera pixels), ids, COCO classes
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    track_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    class_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))


class LiveFrames:
    """Thread-safe: camera threads ``put``; request handlers ``latest`` and ``jpeg``."""

    def __init__(self, max_width: int = 1280):
        self.max_width = max_width
        self._frames: dict[str, LiveFrame] = {}
        self._seq = 0
        self._lock = threading.Lock()

    def observer(self, camera: str) -> Callable[[Frame, Detections, Detections], None]:
        """A pipeline detection observer ``(frame, detected, tracked)`` feeding this camera: every
        person the detector kept, tracked or not yet, so that masking covers someone just arrived,
        and the tracks the tracker reported, for the overlay."""

        def observe(frame: Frame, detected: Detections, tracked: Detections) -> None:
            people = detected.xyxy[detected.class_ids == PERSON] if len(detected.xyxy) else np.zeros((0, 4))
            self.put(
                camera,
                frame.image,
                people,
                frame.timestamp,
                tracked.xyxy,
                tracked.track_ids,
                tracked.class_ids,
            )

        return observe

    def put(
        self,
        camera: str,
        image: np.ndarray,
        people: np.ndarray,
        timestamp: float,
        boxes: np.ndarray | None = None,
        track_ids: np.ndarray | None = None,
        class_ids: np.ndarray | None = None,
    ) -> None:
        """One analysed frame: ``people`` to mask; ``boxes``, ``track_ids``, ``class_ids`` the
        tracks reported on it (parallel, camera pixels; none when left out)."""
        frame = LiveFrame(
            image, np.asarray(people, np.float32).reshape(-1, 4), timestamp, 0, time.monotonic()
        )
        if boxes is not None and track_ids is not None and class_ids is not None:
            frame.boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
            frame.track_ids = np.asarray(track_ids, np.int64).reshape(-1)
            frame.class_ids = np.asarray(class_ids, np.int32).reshape(-1)
            if not len(frame.boxes) == len(frame.track_ids) == len(frame.class_ids):
                raise ValueError("boxes, track_ids and class_ids must have the same length")
        with self._lock:
            self._seq += 1
            frame.seq = self._seq
            self._frames[camera] = frame

    def latest(self, camera: str, max_age_s: float = 30.0) -> LiveFrame | None:
        with self._lock:
            found = self._frames.get(camera)
        if found is None or time.monotonic() - found.received > max_age_s:
            return None
        return found

    def forget(self, camera: str) -> None:
        with self._lock:
            self._frames.pop(camera, None)

    def jpeg(self, frame: LiveFrame, mask: privacy.Mask) -> bytes:
        """The frame masked for one user class, encoded once per variant."""
        key = (tuple(p.tobytes() for p in mask.zones), mask.pixelate)
        cached = frame.jpegs.get(key)
        if cached is None:
            masked = privacy.apply(frame.image, privacy.Mask(mask.zones, mask.pixelate, frame.people))
            cached = privacy.encode_jpeg(masked, quality=80)
            frame.jpegs[key] = cached
        return cached
