"""Motion on a small grey frame: a running-average background, its difference, blobs as boxes.

The gate is what makes a quiet camera cheap: resizing a frame to ~160 px and differencing it costs
well under a millisecond, the detector tens. Boxes come back in full-frame pixels.

>>> import numpy as np
>>> gate = MotionGate()
>>> still = np.full((240, 320, 3), 90, np.uint8)
>>> len(gate.update(still, 0.0).boxes), len(gate.update(still, 0.1).boxes)
(0, 0)
>>> moved = still.copy(); moved[100:180, 40:80] = 200
>>> gate.update(moved, 0.2).boxes.round().tolist()
[[34.0, 94.0, 86.0, 186.0]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# Above this moving fraction the change is global (lighting, a camera bump): re-learn the background.
GLOBAL_CHANGE = 0.6
# Two 3x3 dilations grow any blob to at least 3x3 pixels (in a corner), so an area limit up to this
# keeps every blob: their outlines then give the boxes, at a fifth of labelling's cost.
ALWAYS_KEPT_PX = 9


@dataclass(slots=True)
class Motion:
    """Moving regions of one frame: ``boxes`` float32 [K, 4] xyxy in frame pixels, ``fraction`` of
    the frame's pixels that moved, ``global_change`` when nearly everything changed at once."""

    boxes: np.ndarray
    fraction: float
    global_change: bool = False

    @property
    def moving(self) -> bool:
        return len(self.boxes) > 0 or self.global_change


class MotionGate:
    """Background subtraction on a ``width``-pixel-wide grey copy of each frame.

    The background is an exponential average with time constant ``background_s`` (in frame time,
    so it behaves the same at any frame rate); a pixel moves when it differs from it by more than
    ``threshold`` grey levels. Blobs smaller than ``min_area`` (fraction of the frame) are noise.
    """

    def __init__(
        self,
        width: int = 160,
        threshold: int = 18,
        min_area: float = 0.0004,
        background_s: float = 2.0,
    ):
        self.width = width
        self.threshold = threshold
        self.min_area = min_area
        self.background_s = background_s
        self._background: np.ndarray | None = None
        self._time: float | None = None
        self._kernel = np.ones((3, 3), np.uint8)

    def reset(self) -> None:
        """Forget the background (after a resolution change or a reconnect)."""
        self._background = None
        self._time = None

    def update(self, image: np.ndarray, timestamp: float) -> Motion:
        """Where ``image`` (BGR, any size) differs from the background; then learn from it."""
        height, width = image.shape[:2]
        small_w = min(self.width, width)
        small_h = max(1, round(height * small_w / width))
        # Bilinear costs a seventh of area-averaging; the blur below removes the aliasing it leaves.
        small = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_LINEAR)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0).astype(np.float32)
        empty = np.zeros((0, 4), np.float32)
        if self._background is None or self._background.shape != grey.shape:
            self._background, self._time = grey, timestamp
            return Motion(empty, 0.0)
        mask = (cv2.absdiff(grey, self._background) > self.threshold).astype(np.uint8)
        moved = cv2.countNonZero(mask)
        fraction = moved / mask.size
        dt = max(0.0, timestamp - (self._time or timestamp))
        self._time = timestamp
        if fraction > GLOBAL_CHANGE:
            self._background = grey  # lighting switched or the camera moved: start again
            return Motion(empty, fraction, global_change=True)
        alpha = 1.0 - math.exp(-dt / self.background_s) if dt > 0 else 0.0
        cv2.accumulateWeighted(grey, self._background, alpha)
        if not moved:
            return Motion(empty, fraction)
        joined = cv2.dilate(mask, self._kernel, iterations=2)  # join the parts of one walker
        boxes = blob_boxes(joined, max(1.0, self.min_area * small_w * small_h))
        boxes *= np.array([width / small_w, height / small_h] * 2, np.float32)
        return Motion(boxes, fraction)


def blob_boxes(mask: np.ndarray, min_px: float) -> np.ndarray:
    """Boxes (float32 [K, 4] xyxy, mask pixels) of the 8-connected blobs of ``mask`` that cover at
    least ``min_px`` pixels; from outlines, in the order of each blob's first pixel (row by row)."""
    if min_px > ALWAYS_KEPT_PX:
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        stats = stats[1:][stats[1:, cv2.CC_STAT_AREA] >= min_px]  # row 0 is the background
        xywh = stats[:, :4]
    else:  # every blob is kept: the outer outline of each is enough (blobs inside holes included)
        contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        outer = [c for c, h in zip(contours, hierarchy[0] if len(contours) else [], strict=True) if h[3] < 0]
        outer.sort(key=lambda c: (int(c[0, 0, 1]), int(c[0, 0, 0])))  # an outline starts at its first pixel
        xywh = np.array([cv2.boundingRect(c) for c in outer], np.int32).reshape(-1, 4)
    x, y, w, h = xywh.T
    return np.stack([x, y, x + w, y + h], axis=1).astype(np.float32)
