"""The latest frame of each camera with its person boxes, for snapshots and the MJPEG view, and
what the tracker reported on it, for the live overlay.

Fed by the pipeline as a detection observer (``observer(camera)``), so the live view costs no extra
decoding. Masked JPEGs are cached per (frame, mask variant): many viewers, one encode. Data enters
through :meth:`LiveFrames.put` alone, with plain arguments, so a pipeline in another process can
forward the call as it is.

A pipeline in another process sends frames only of the cameras someone watches: the live routes
ask through :meth:`LiveFrames.watch`, which tells the pipeline (``on_watch``) at most every
:data:`ANNOUNCE_EVERY_S`; the pipeline sends that camera's frames until :data:`WATCH_S` after the
last word, and says meanwhile which cameras run (:meth:`LiveFrames.alive`), so that a camera
nobody watches still shows as streaming. A frame may come downscaled (``size`` is then the
camera's): it is masked and encoded at the size it came, never scaled back up.
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
WATCH_S = 5.0  # a camera is watched this long after the last live request for it
ANNOUNCE_EVERY_S = 1.0  # how often a camera still watched is announced again to the pipeline
FIRST_FRAME_S = 3.0  # how long the first viewer's request waits for a frame
STREAMING_S = 30.0  # a camera the pipeline said nothing of for this long is not streaming


@dataclass
class LiveFrame:
    image: np.ndarray  # as it came: the camera's size, or downscaled on the way
    people: np.ndarray  # N x 4 boxes, camera pixels
    timestamp: float
    seq: int
    received: float
    jpegs: dict[tuple, bytes] = field(default_factory=dict)
    # the tracker's confirmed tracks on this frame: N x 4 boxes (camera pixels), ids, COCO classes
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    track_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    class_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    width: int = 0  # the camera's frame size: the boxes' coordinate space (0: the image's)
    height: int = 0

    def __post_init__(self) -> None:
        if not (self.width and self.height):
            self.height, self.width = self.image.shape[:2]


class LiveFrames:
    """Thread-safe: camera threads ``put``; request handlers ``watch``, ``latest`` and ``jpeg``."""

    def __init__(self, max_width: int = 1280):
        self.max_width = max_width  # wider frames travel downscaled from a pipeline process
        self.on_watch: Callable[[str], None] | None = None  # set when frames come only on request
        self._frames: dict[str, LiveFrame] = {}
        self._seq = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._alive: dict[str, float] = {}  # camera -> when the pipeline last said it runs
        self._watched: dict[str, float] = {}  # camera -> the last live request
        self._announced: dict[str, float] = {}  # camera -> when on_watch was last called

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
        size: tuple[int, int] | None = None,
    ) -> None:
        """One analysed frame: ``people`` to mask; ``boxes``, ``track_ids``, ``class_ids`` the
        tracks reported on it (parallel, camera pixels; none when left out); ``size`` the camera's
        (height, width) when ``image`` was downscaled."""
        height, width = size or image.shape[:2]
        frame = LiveFrame(
            image, np.asarray(people, np.float32).reshape(-1, 4), timestamp, 0, time.monotonic()
        )
        frame.height, frame.width = int(height), int(width)
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
            self._alive[camera] = frame.received
            self._arrived.notify_all()

    def alive(self, camera: str) -> None:
        """The pipeline analyses ``camera`` (it sends no frames while nobody watches)."""
        with self._lock:
            self._alive[camera] = time.monotonic()

    def streaming(self, camera: str) -> bool:
        """Whether the pipeline analysed ``camera`` lately, watched or not."""
        with self._lock:
            said = self._alive.get(camera)
        return said is not None and time.monotonic() - said <= STREAMING_S

    def watch(self, camera: str, wait_s: float = 0.0) -> LiveFrame | None:
        """:meth:`latest` for a viewer: the camera counts as watched. When frames come only on
        request and nobody watched it lately, the frame held is old: it is dropped, and the
        request waits up to ``wait_s`` for the first new one."""
        now = time.monotonic()
        with self._lock:
            quiet = now - self._watched.get(camera, -np.inf) > WATCH_S
            self._watched[camera] = now
            announce = (
                self.on_watch is not None and now - self._announced.get(camera, -np.inf) >= ANNOUNCE_EVERY_S
            )
            if announce:
                self._announced[camera] = now
            if quiet and self.on_watch is not None:
                self._frames.pop(camera, None)
        if announce and self.on_watch is not None:
            self.on_watch(camera)
        if quiet and wait_s > 0 and self.on_watch is not None and self.streaming(camera):
            with self._arrived:
                self._arrived.wait_for(lambda: camera in self._frames, timeout=wait_s)
        return self.latest(camera)

    def latest(self, camera: str, max_age_s: float = 30.0) -> LiveFrame | None:
        with self._lock:
            found = self._frames.get(camera)
        if found is None or time.monotonic() - found.received > max_age_s:
            return None
        return found

    def forget(self, camera: str) -> None:
        with self._lock:
            self._frames.pop(camera, None)
            self._alive.pop(camera, None)

    def jpeg(self, frame: LiveFrame, mask: privacy.Mask) -> bytes:
        """The frame masked for one user class, encoded once per variant, at the size it came."""
        key = (tuple(p.tobytes() for p in mask.zones), mask.pixelate)
        cached = frame.jpegs.get(key)
        if cached is None:
            height, width = frame.image.shape[:2]
            scale = (width / frame.width, height / frame.height)  # camera pixels -> the image's
            people = privacy.Mask(mask.zones, mask.pixelate, frame.people)
            cached = privacy.encode_jpeg(privacy.apply(frame.image, people, scale), quality=80)
            frame.jpegs[key] = cached
        return cached
