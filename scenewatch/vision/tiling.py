"""Wide frames detected in square crops, so small people keep the pixels a plain resize takes away.

Every detector here sees a square input. A 16:9 frame resized to it is squeezed along its long side
(960x540 to 512x512 halves a person's width) and small far people then score below the thresholds
the tracker trusts. Cut into square crops as tall as the frame, each crop reaches the model with
the same scale on both axes: on the concourse dev clip the people under 60 px tall found at
score >= 0.3 rose from 22-37 % to 63-76 %.

The crops overlap (by at least ``OVERLAP`` of their side), so a person on a seam is whole in one of
them; a box that touches a crop's inner edge is dropped when the other crop holds most of it. An
object wider than the overlap (a lorry, a bus, a person close by) is cut by both crops: its two
halves, each reaching across the shared band to the other crop's edge, in rows that agree, are
joined into one box. The rest are merged by non-maximum suppression per class. A frame whose long
side is under ``MIN_ASPECT`` times the short one (4:3) gains too little to pay for a second
inference and is detected whole.

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
# Two halves of one object cut by both crops of a seam share most of their rows (extent along the
# seam, intersection over union); a car's front half and back half differ by the roof line.
SEAM_ROWS = 0.6


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
    dropped where another crop's uncut box covers half of them, halves of one object cut by both
    crops of a seam joined, then per-class NMS."""
    cut = [_cut(d.xyxy, r, width, height) for d, r in zip(parts, regions, strict=True)]
    found = Detections.concat(parts)
    if len(found) == 0:
        return found
    is_cut = np.concatenate(cut)
    origin = np.repeat(np.arange(len(parts)), [len(d) for d in parts])
    found, is_cut = _join_halves(found, is_cut, origin, regions, axis=0 if width >= height else 1)
    whole = found.xyxy[~is_cut]
    covered = np.zeros(len(found), bool)
    if is_cut.any() and len(whole):
        covered[is_cut] = (_covered_share(found.xyxy[is_cut], whole) >= 0.5).any(axis=1)
    found = found[~covered]
    keep = _nms(found, NMS_IOU)
    return found[keep]


def _join_halves(
    found: Detections, is_cut: np.ndarray, origin: np.ndarray, regions: list[Crop], axis: int
) -> tuple[Detections, np.ndarray]:
    """Cut boxes of neighbouring crops that both span their shared band (each reaches the other
    crop's edge) with the same class and rows that agree, joined: the union box at the better
    score, no longer cut. ``axis`` 0: crops side by side (x), 1: stacked (y)."""
    xyxy, scores, classes = found.xyxy.copy(), found.scores.copy(), found.class_ids
    joined = np.zeros(len(found), bool)  # the second half of a pair: folded into the first
    lo, hi, across = axis, axis + 2, 1 - axis
    for crop, (before, after) in enumerate(zip(regions, regions[1:], strict=False)):
        band_start, band_end = after[lo], before[hi]
        first = np.flatnonzero(is_cut & (origin == crop) & ~joined)
        first = first[(xyxy[first, hi] >= band_end - EDGE) & (xyxy[first, lo] <= band_start + EDGE)]
        second = np.flatnonzero(is_cut & (origin == crop + 1) & ~joined)
        second = second[(xyxy[second, lo] <= band_start + EDGE) & (xyxy[second, hi] >= band_end - EDGE)]
        if not len(first) or not len(second):
            continue
        start_a, end_a = xyxy[first, across][:, None], xyxy[first, across + 2][:, None]
        start_b, end_b = xyxy[second, across][None], xyxy[second, across + 2][None]
        inter = np.clip(np.minimum(end_a, end_b) - np.maximum(start_a, start_b), 0, None)
        union = np.maximum(end_a, end_b) - np.minimum(start_a, start_b)
        same = classes[first][:, None] == classes[second][None]
        rows = np.where(same, inter / np.maximum(union, 1e-9), 0.0)
        while rows.size and rows.max() >= SEAM_ROWS:  # best pairs first, each half joined once
            i, j = np.unravel_index(int(np.argmax(rows)), rows.shape)
            keep, fold = first[i], second[j]
            xyxy[keep, :2] = np.minimum(xyxy[keep, :2], xyxy[fold, :2])
            xyxy[keep, 2:] = np.maximum(xyxy[keep, 2:], xyxy[fold, 2:])
            scores[keep] = max(scores[keep], scores[fold])
            # the joined box belongs to the later crop, and is cut again if it reaches its next seam
            origin[keep], joined[fold] = crop + 1, True
            is_cut[keep] = crop + 2 < len(regions) and xyxy[keep, hi] >= after[hi] - EDGE
            rows[i, :], rows[:, j] = 0.0, 0.0
    keep = ~joined
    return Detections(xyxy[keep], scores[keep], classes[keep]), is_cut[keep]


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
