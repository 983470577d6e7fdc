"""Wide frames detected in square crops, so small people keep the pixels a plain resize takes away.

Every detector here sees a square input. A 16:9 frame resized to it is squeezed along its long side
(960x540 to 512x512 halves a person's width) and small far people then score below the thresholds
the tracker trusts. Cut into square crops as tall as the frame, each crop reaches the model with
the same scale on both axes: on the concourse dev clip the people under 60 px tall found at
score >= 0.3 rose from 22-37 % to 63-76 %.

The crops overlap (by at least ``OVERLAP`` of their side), so a person on a seam is whole in one of
them; a box that touches a crop's inner edge is dropped when the other crop holds most of it, and
the rest are merged by non-maximum suppression per class. A frame whose long side is under
``MIN_ASPECT`` times the short one (4:3) gains too little to pay for a second inference and is
detected whole.

>>> crops(960, 540)
[(0, 0, 540, 540), (420, 0, 960, 540)]
>>> crops(640, 480)
[(0, 0, 640, 480)]
>>> crops(2560, 1080)
[(0, 0, 1080, 1080), (740, 0, 1820, 1080), (1480, 0, 2560, 1080)]
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from scenewatch.types import Detections
from scenewatch.vision.detector import Detector

Crop = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels
# Long side over short side from which a frame is cut: 16:9 (1.78) is, 4:3 (1.33) is not.
MIN_ASPECT = 1.5
OVERLAP = 0.2  # least overlap of neighbouring crops, as a fraction of their side
EDGE = 2.0  # a box within this many pixels of a crop's inner edge was cut by it
NMS_IOU = 0.5


class TiledDetector(Detector):
    """``inner`` run on each square crop of a wide frame (one inference per crop), and on the
    whole of any other image (a mosaic canvas, a 4:3 frame) as it is."""

    name = "tiled"
    model_file = ""
    summary = "square crops of wide frames"

    def __init__(self, inner: Detector):  # shares the inner detector's session: nothing to open
        self.inner = inner
        self.model_path = inner.model_path
        self.session = inner.session

    def detect_canvas(self, image: np.ndarray) -> Detections:
        return self.inner.detect_canvas(image)  # a mosaic's tiles are drawn at their scale already

    def detect_one(self, image: np.ndarray) -> Detections:
        height, width = image.shape[:2]
        regions = crops(width, height)
        if len(regions) == 1:
            return self.inner.detect_one(image)
        parts = []
        for x0, y0, x1, y1 in regions:
            found = self.inner.detect_one(image[y0:y1, x0:x1])
            parts.append(Detections(found.xyxy + [x0, y0, x0, y0], found.scores, found.class_ids))
        return merge(parts, regions, width, height)


def crops(width: int, height: int) -> list[Crop]:
    """Square crops as large as the short side, spread evenly along the long side with at least
    ``OVERLAP`` of their side shared; the whole frame when it is not wide enough."""
    side, long = min(width, height), max(width, height)
    if long < MIN_ASPECT * side:
        return [(0, 0, width, height)]
    count = math.ceil((long - OVERLAP * side) / ((1 - OVERLAP) * side))
    starts = [round(i * (long - side) / (count - 1)) for i in range(count)]
    if width >= height:
        return [(s, 0, s + side, height) for s in starts]
    return [(0, s, width, s + side) for s in starts]


def merge(parts: list[Detections], regions: list[Crop], width: int, height: int) -> Detections:
    """The crops' detections (already in frame pixels) as one set: boxes cut by an inner crop edge
    dropped where another crop's uncut box covers half of them, then per-class NMS."""
    cut = [_cut(d.xyxy, r, width, height) for d, r in zip(parts, regions, strict=True)]
    found = Detections.concat(parts)
    if len(found) == 0:
        return found
    is_cut = np.concatenate(cut)
    whole = found.xyxy[~is_cut]
    covered = np.zeros(len(found), bool)
    if is_cut.any() and len(whole):
        covered[is_cut] = (_covered_share(found.xyxy[is_cut], whole) >= 0.5).any(axis=1)
    found = found[~covered]
    keep = _nms(found, NMS_IOU)
    return found[keep]


def _cut(xyxy: np.ndarray, region: Crop, width: int, height: int) -> np.ndarray:
    x0, y0, x1, y1 = region
    touches = np.zeros(len(xyxy), bool)
    if x0 > 0:
        touches |= xyxy[:, 0] <= x0 + EDGE
    if y0 > 0:
        touches |= xyxy[:, 1] <= y0 + EDGE
    if x1 < width:
        touches |= xyxy[:, 2] >= x1 - EDGE
    if y1 < height:
        touches |= xyxy[:, 3] >= y1 - EDGE
    return touches


def _covered_share(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[A, B] share of each box of ``a`` inside each box of ``b``."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    return inter / np.maximum(area[:, None], 1e-9)


def _nms(found: Detections, iou: float) -> np.ndarray:
    """Indices kept by class-wise non-maximum suppression, best first."""
    tlwh = np.hstack([found.xyxy[:, :2], found.xyxy[:, 2:] - found.xyxy[:, :2]])
    kept = cv2.dnn.NMSBoxesBatched(tlwh.tolist(), found.scores.tolist(), found.class_ids.tolist(), 0.0, iou)
    return np.sort(np.asarray(kept, dtype=np.int64).reshape(-1))
