"""What the configuration keeps of a detector's raw output: classes, scores, sizes, ignore masks."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from scenewatch.types import Detections
from scenewatch.vision.labels import class_id


class DetectionFilter:
    """Stateful filter with one verb: ``keep(detections, frame_shape) -> detections``.

    >>> f = DetectionFilter(["person"], score_threshold=0.5)
    >>> d = Detections([[0, 0, 20, 40], [0, 0, 20, 40]], [0.9, 0.4], [0, 0])
    >>> len(f.keep(d, (100, 100)))
    1
    """

    def __init__(
        self,
        classes: Sequence[str],
        score_threshold: float = 0.3,
        class_thresholds: dict[str, float] | None = None,
        min_size: int = 0,
        ignore_polygons: Sequence[Sequence[tuple[float, float]]] = (),
    ):
        # Per-class score threshold, indexed by COCO id; inf drops classes not asked for.
        self.thresholds = np.full(128, np.inf, dtype=np.float32)
        for name in classes:
            self.thresholds[class_id(name)] = score_threshold
        for name, threshold in (class_thresholds or {}).items():
            self.thresholds[class_id(name)] = threshold
        self.min_size = min_size
        self.ignore_polygons = [np.asarray(p, dtype=np.float32) for p in ignore_polygons]
        self._mask: np.ndarray | None = None

    def keep(self, detections: Detections, frame_shape: tuple[int, ...]) -> Detections:
        if len(detections) == 0:
            return detections
        wh = detections.xyxy[:, 2:] - detections.xyxy[:, :2]
        keep = detections.scores >= self.thresholds[detections.class_ids]
        keep &= (wh >= self.min_size).all(axis=1)
        if self.ignore_polygons:
            keep &= ~self._ignored(detections.bottom_centre, (frame_shape[0], frame_shape[1]))
        return detections[keep]

    def _ignored(self, points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        height, width = shape
        if self._mask is None or self._mask.shape != (height, width):
            # Rasterised once per frame size: a lookup per point beats a polygon test per box.
            mask = np.zeros((height, width), dtype=np.uint8)
            cv2.fillPoly(mask, [np.round(p).astype(np.int32) for p in self.ignore_polygons], 1)
            self._mask = mask.astype(bool)
        x = np.clip(points[:, 0].astype(np.int64), 0, width - 1)
        y = np.clip(points[:, 1].astype(np.int64) - 1, 0, height - 1)
        return self._mask[y, x]
