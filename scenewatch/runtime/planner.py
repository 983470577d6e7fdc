"""What to do with one frame: skip it, reuse the last detections, detect regions, or the whole frame.

The planner combines the motion gate and the adaptive sampler with a detection cache: where
nothing moved since the last detection the last detections still hold, so a still scene needs no
detector at all. Where things move (motion, and tracks predicted to be moving) only those regions
are detected: given the detector's ``input_size``, as one mosaic of crops at the model's resolution
(``scenewatch.runtime.regions``; small far objects get more pixels than in the whole frame),
otherwise as one crop around the motion. While something moves, a whole-frame refresh every
``refresh_s`` finds objects that appeared outside the regions and re-detects those that stopped, so
their tracks stay alive; a still picture is refreshed only every ``idle_refresh_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from scenewatch.runtime.motion import Motion, MotionGate
from scenewatch.runtime.regions import Mosaic, Region, grow, pack
from scenewatch.runtime.sampler import AdaptiveSampler
from scenewatch.tracking.matching import iou_matrix
from scenewatch.types import Detections, Frame

__all__ = ["DetectionPlanner", "Plan", "Region", "motion_region"]


@dataclass(slots=True)
class Plan:
    """``kind``: skip (not due), reuse (``reuse`` holds the cached detections where nothing moved,
    or, between detections, the last ones carried along their tracks),
    crop (detect ``mosaic``'s regions, or ``region`` only) or full (detect the whole frame)."""

    kind: Literal["skip", "reuse", "crop", "full"]
    region: Region | None = None
    reuse: Detections | None = None
    motion: Motion | None = None
    mosaic: Mosaic | None = None
    carried: bool = False  # ``reuse`` holds the last detections moved along their tracks: guesses

    @property
    def detects(self) -> bool:
        return self.kind in ("crop", "full")

    def image(self, image: np.ndarray) -> np.ndarray:
        """The pixels the detector should see."""
        if self.mosaic is not None:
            return self.mosaic.render(image)
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

    Without a ``gate`` every due frame is detected whole (adaptive rate only). With ``input_size``
    (the detector's square input side) moving regions are detected as a mosaic at up to
    ``max_scale`` canvas pixels a frame pixel; tracks faster than ``track_speed`` box heights a
    second count as moving where they are predicted to be. With ``canvas_step`` (the detector takes
    inputs whose sides are multiples of it) a mosaic's canvas ends where its tiles do.
    """

    def __init__(
        self,
        sampler: AdaptiveSampler,
        gate: MotionGate | None = None,
        crop: bool = True,
        crop_max_fraction: float = 0.35,
        refresh_s: float = 2.0,
        idle_refresh_s: float = 10.0,
        input_size: int | None = None,
        max_scale: float = 2.0,
        track_speed: float = 0.2,
        carry_s: float = 0.0,
        canvas_step: int | None = None,
    ):
        self.sampler = sampler
        self.gate = gate
        self.crop = crop
        self.crop_max_fraction = crop_max_fraction
        self.refresh_s = refresh_s
        self.idle_refresh_s = idle_refresh_s
        self._cache: Detections | None = None  # the last frame detections (raw, all classes)
        self._cache_t = -np.inf  # the frame time they were detected
        self._shape: tuple[int, ...] | None = None
        self._last_full = -np.inf
        self._present = False
        self.moving = False
        self.input_size = input_size
        self.max_scale = max_scale
        self.canvas_step = canvas_step
        self.track_speed = track_speed
        self.carry_s = carry_s
        # Tracks last detected: id -> (time, box, velocity of its centre in pixels a second).
        self._tracks: dict[int, tuple[float, np.ndarray, np.ndarray]] = {}
        # The last plan carried its frame (tracked at once; no detection was in flight then, so no
        # answer arrives before the next plan).
        self._carried = False
        # Frame times of the last detecting plan and of the last answer merged: while a detection is
        # in flight (a pool answers later) nothing is carried, so the tracker sees time in order.
        self._asked = self._answered = -np.inf

    def plan(self, frame: Frame) -> Plan:
        """Decide for ``frame``; the gate sees every frame so its background keeps up."""
        t = frame.pts
        motion = self.gate.update(frame.image, t) if self.gate is not None else None
        self.moving = motion is not None and motion.moving
        if self.moving and self.sampler.rate < self.sampler.present_fps:
            self.sampler.observe(t, int(self._present), motion=True)  # wake up before the next slot
        self._carried = False
        if not self.sampler.due(t):
            answered = self._answered >= self._asked
            if self.carry_s > 0 and answered and frame.image.shape == self._shape:
                carried = self.carried(t)
                if len(carried):
                    self._carried = True
                    return Plan("reuse", reuse=carried, motion=motion, carried=True)
            return Plan("skip", motion=motion)
        if t < self._last_full or t < self._asked:  # time went back (a looped file, a reconnect)
            self._last_full = self._asked = self._answered = -np.inf
        plan = self._due(frame, motion)
        if plan.detects:
            self._asked = t
        return plan

    def _due(self, frame: Frame, motion: Motion | None) -> Plan:
        """The plan of a frame the sampler says is due."""
        t, shape = frame.pts, frame.image.shape
        # A still picture keeps its cached detections valid: only a scene with something moving
        # in it needs the frequent refresh (objects appearing outside the regions, stopping).
        busy = self._present and (self.moving or len(self.predicted(t)) > 0)
        stale = t - self._last_full >= (self.refresh_s if busy else self.idle_refresh_s)
        if motion is None or self._cache is None or shape != self._shape or stale or motion.global_change:
            return Plan("full", motion=motion)
        height, width = shape[:2]
        if self.input_size is not None and self.crop:
            boxes = np.concatenate([motion.boxes.reshape(-1, 4), self.predicted(t)])
            if not len(boxes):
                return Plan("reuse", reuse=self._cache, motion=motion)
            size = self.input_size
            least = max(size / width, size / height)  # what the whole frame gives, in either axis
            mosaic = pack(
                grow(boxes, width, height), width, height, size, least, self.max_scale, self.canvas_step
            )
            if mosaic is None:
                return Plan("full", motion=motion)
            return Plan("crop", motion=motion, mosaic=mosaic)
        if not motion.moving:
            return Plan("reuse", reuse=self._cache, motion=motion)
        region = motion_region(motion.boxes, width, height)
        area = (region[2] - region[0]) * (region[3] - region[1])
        if not self.crop or area > self.crop_max_fraction * width * height:
            return Plan("full", motion=motion)
        return Plan("crop", region=region, motion=motion)

    def predicted(self, t: float) -> np.ndarray:
        """Boxes [K, 4] where the tracks that move are expected at time ``t``."""
        boxes = []
        for seen, box, velocity in self._tracks.values():
            height = max(1.0, float(box[3] - box[1]))
            if np.hypot(*velocity) >= self.track_speed * height:
                boxes.append(box + np.tile(velocity * (t - seen), 2))
        return np.array(boxes, np.float32).reshape(-1, 4)

    def merge(self, plan: Plan, frame: Frame, raw: Detections | None = None) -> Detections:
        """Frame detections for ``plan``: the detector's ``raw`` answer (crop pixels for a crop,
        canvas pixels for a mosaic) plus, for a crop, the cached detections it did not cover."""
        if plan.kind == "reuse":
            assert plan.reuse is not None
            if not self._carried:
                self._cache_t = frame.pts  # nothing moved: the cache still holds now
            return plan.reuse
        assert raw is not None, "a detecting plan needs the detector's answer"
        self._answered = max(self._answered, frame.pts)
        if plan.kind == "full":
            self._last_full = frame.pts
            merged = raw
        elif plan.mosaic is not None:
            assert self._cache is not None
            found, cut = plan.mosaic.to_frame(raw)
            merged = Detections.concat([found, self._cache[self._outside(plan.mosaic, cut)]])
        else:
            assert plan.region is not None and self._cache is not None
            x0, y0, x1, y1 = plan.region
            shifted = Detections(raw.xyxy + np.array([x0, y0, x0, y0], np.float32), raw.scores, raw.class_ids)
            centres = (self._cache.xyxy[:, :2] + self._cache.xyxy[:, 2:]) / 2
            inside = (
                (centres[:, 0] >= x0) & (centres[:, 0] < x1) & (centres[:, 1] >= y0) & (centres[:, 1] < y1)
            )
            merged = Detections.concat([shifted, self._cache[~inside]])
        self._cache, self._cache_t = merged, frame.pts
        self._shape = frame.image.shape
        return merged

    def carried(self, t: float) -> Detections:
        """The last detections (all of them: a new track needs them on consecutive frames), moved
        on to time ``t`` along the track each belongs to; nothing when detected more than
        ``carry_s`` before ``t``. Between detections the tracker follows these."""
        if self._cache is None or not len(self._cache) or not 0 <= t - self._cache_t <= self.carry_s:
            return Detections.empty()
        xyxy = self._cache.xyxy.copy()
        if self._tracks:
            seen, boxes, velocities = zip(*self._tracks.values(), strict=True)
            overlap = iou_matrix(xyxy, np.array(boxes))
            best = overlap.argmax(axis=1)
            moving = overlap[np.arange(len(xyxy)), best] >= 0.5
            shift = np.array(velocities)[best] * (t - np.array(seen)[best])[:, None]
            xyxy[moving] += np.tile(shift[moving], 2)
        return Detections(xyxy, self._cache.scores, self._cache.class_ids)

    def _outside(self, mosaic: Mosaic, cut: np.ndarray) -> np.ndarray:
        """Which cached detections the mosaic did not answer for: those not wholly inside a tile's
        region, and those where the mosaic's box was cut by a tile edge."""
        cached = self._cache.xyxy if self._cache is not None else np.zeros((0, 4), np.float32)
        keep = np.ones(len(cached), bool)
        for tile in mosaic.tiles:
            x0, y0, x1, y1 = tile.region
            keep &= ~(
                (cached[:, 0] >= x0) & (cached[:, 1] >= y0) & (cached[:, 2] <= x1) & (cached[:, 3] <= y1)
            )
        if len(cut) and len(cached):
            keep |= (iou_matrix(cached, cut) >= 0.3).any(axis=1)
        return keep

    def observe(self, tracked: Detections, frame: Frame) -> None:
        """Feed the sampler what tracking made of the frame; remember where tracks are heading (from
        detected frames only: a carried frame holds nothing new)."""
        if self._carried:
            return
        self._present = len(tracked) > 0
        tracks = {}
        for box, track in zip(tracked.xyxy, tracked.track_ids, strict=True):
            if track < 0:
                continue
            velocity = np.zeros(2, np.float32)
            if (last := self._tracks.get(int(track))) is not None and 0 < frame.pts - last[0] < 5.0:
                shift = (box[:2] + box[2:]) / 2 - (last[1][:2] + last[1][2:]) / 2
                # Half the last estimate: one jittery box must not throw the prediction.
                velocity = (0.5 * shift / (frame.pts - last[0]) + 0.5 * last[2]).astype(np.float32)
            tracks[int(track)] = (frame.pts, box.astype(np.float32), velocity)
        self._tracks = tracks
        self.sampler.observe_tracks(tracked, frame.pts, self.moving)
