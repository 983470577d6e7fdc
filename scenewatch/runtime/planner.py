"""What to do with one frame: skip it, reuse the last detections, detect a crop, or the whole frame.

The planner combines the motion gate and the adaptive sampler with a detection cache: where
nothing moved since the last detection the last detections still hold, so a still scene needs no
detector at all and a small moving region needs only a crop (enlarged less by the detector's fixed
input, so small objects come out sharper). A whole-frame refresh every ``refresh_s`` re-detects
objects that stopped, so their tracks stay alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from scenewatch.runtime.motion import Motion, MotionGate
from scenewatch.runtime.sampler import AdaptiveSampler
from scenewatch.types import Detections, Frame

Region = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels


@dataclass(slots=True)
class Plan:
    """``kind``: skip (not due), reuse (nothing moved: ``reuse`` holds the cached detections),
    crop (detect ``region`` only) or full (detect the whole frame)."""

    kind: Literal["skip", "reuse", "crop", "full"]
    region: Region | None = None
    reuse: Detections | None = None
    motion: Motion | None = None

    @property
    def detects(self) -> bool:
        return self.kind in ("crop", "full")

    def image(self, image: np.ndarray) -> np.ndarray:
        """The pixels the detector should see."""
        if self.region is None:
            return image
        x0, y0, x1, y1 = self.region
        return image[y0:y1, x0:x1]


def motion_region(boxes: np.ndarray, width: int, height: int, min_fraction: float = 0.4) -> Region:
    """The union of ``boxes`` with a margin, grown to the frame's aspect ratio (the detector
    stretches its input to a square as it does whole frames) and to at least ``min_fraction`` of
    the frame's width, clipped inside the frame."""
    x0, y0 = boxes[:, :2].min(axis=0)
    x1, y1 = boxes[:, 2:].max(axis=0)
    margin = max(16.0, 0.25 * float(y1 - y0))
    w = max(x1 - x0 + 2 * margin, (y1 - y0 + 2 * margin) * width / height, min_fraction * width)
    w = min(w, width)
    h = min(w * height / width, height)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left = int(np.clip(cx - w / 2, 0, width - w))
    top = int(np.clip(cy - h / 2, 0, height - h))
    return left, top, min(width, left + round(w)), min(height, top + round(h))


class DetectionPlanner:
    """Per-camera plan for each frame; ``merge`` turns the detector's answer into frame detections.

    Without a ``gate`` every due frame is detected whole (adaptive rate only).
    """

    def __init__(
        self,
        sampler: AdaptiveSampler,
        gate: MotionGate | None = None,
        crop: bool = True,
        crop_max_fraction: float = 0.35,
        refresh_s: float = 2.0,
        idle_refresh_s: float = 10.0,
    ):
        self.sampler = sampler
        self.gate = gate
        self.crop = crop
        self.crop_max_fraction = crop_max_fraction
        self.refresh_s = refresh_s
        self.idle_refresh_s = idle_refresh_s
        self._cache: Detections | None = None  # the last frame detections (raw, all classes)
        self._shape: tuple[int, ...] | None = None
        self._last_full = -np.inf
        self._present = False
        self.moving = False

    def plan(self, frame: Frame) -> Plan:
        """Decide for ``frame``; the gate sees every frame so its background keeps up."""
        t = frame.pts
        motion = self.gate.update(frame.image, t) if self.gate is not None else None
        self.moving = motion is not None and motion.moving
        if self.moving and self.sampler.rate < self.sampler.present_fps:
            self.sampler.observe(t, int(self._present), motion=True)  # wake up before the next slot
        if not self.sampler.due(t):
            return Plan("skip", motion=motion)
        shape = frame.image.shape
        if t < self._last_full:
            self._last_full = -np.inf  # time went back (a looped file, a reconnect)
        stale = t - self._last_full >= (self.refresh_s if self._present else self.idle_refresh_s)
        if motion is None or self._cache is None or shape != self._shape or stale or motion.global_change:
            return Plan("full", motion=motion)
        if not motion.moving:
            return Plan("reuse", reuse=self._cache, motion=motion)
        height, width = shape[:2]
        region = motion_region(motion.boxes, width, height)
        area = (region[2] - region[0]) * (region[3] - region[1])
        if not self.crop or area > self.crop_max_fraction * width * height:
            return Plan("full", motion=motion)
        return Plan("crop", region=region, motion=motion)

    def merge(self, plan: Plan, frame: Frame, raw: Detections | None = None) -> Detections:
        """Frame detections for ``plan``: the detector's ``raw`` answer (crop pixels for a crop)
        plus, for a crop, the cached detections whose centre lies outside the crop."""
        if plan.kind == "reuse":
            assert plan.reuse is not None
            return plan.reuse
        assert raw is not None, "a detecting plan needs the detector's answer"
        if plan.kind == "full":
            self._last_full = frame.pts
            merged = raw
        else:
            assert plan.region is not None and self._cache is not None
            x0, y0, x1, y1 = plan.region
            shifted = Detections(raw.xyxy + np.array([x0, y0, x0, y0], np.float32), raw.scores, raw.class_ids)
            centres = (self._cache.xyxy[:, :2] + self._cache.xyxy[:, 2:]) / 2
            inside = (
                (centres[:, 0] >= x0) & (centres[:, 0] < x1) & (centres[:, 1] >= y0) & (centres[:, 1] < y1)
            )
            merged = Detections.concat([shifted, self._cache[~inside]])
        self._cache = merged
        self._shape = frame.image.shape
        return merged

    def observe(self, tracked: Detections, frame: Frame) -> None:
        """Feed the sampler what tracking made of the frame."""
        self._present = len(tracked) > 0
        self.sampler.observe_tracks(tracked, frame.pts, self.moving)
