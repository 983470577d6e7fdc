"""Operator suppressions applied on the frame path: detections an operator marked "not a <class>"
are dropped before tracking.

Only a detection that matches the marked object is dropped, not everything in its area: its class
is the marked class and its box is the marked box, give or take the detector's jitter (IoU with
the area at least ``IOU_MIN``, or its centre inside the area and its width and height each within
``SIZE_FACTOR`` of the area's). A person walking past a stone taken for a person has a box of
another size, so they are still tracked.

The list is re-read from the store every ``RELOAD_S`` seconds (a change made by the CLI reaches a
running server) and at once when the server's API changes it (``CameraSet.suppressions_changed``).
"""

from __future__ import annotations

import logging
import time

import numpy as np
from sqlalchemy import Engine

from scenewatch.errors import ConfigError
from scenewatch.store import suppressions as stored
from scenewatch.types import Detections
from scenewatch.vision.labels import class_id

log = logging.getLogger(__name__)

IOU_MIN = 0.5
SIZE_FACTOR = 1.5
RELOAD_S = 5.0


def matches(xyxy: np.ndarray, class_ids: np.ndarray, areas: dict[int, np.ndarray]) -> np.ndarray:
    """Which detections (``xyxy`` [N, 4], ``class_ids`` [N]) match a suppressed area of their class."""
    hit = np.zeros(len(xyxy), dtype=bool)
    for cls, boxes in areas.items():
        rows = np.flatnonzero(class_ids == cls)
        if len(rows) == 0 or len(boxes) == 0:
            continue
        d = xyxy[rows][:, None, :].astype(np.float64)  # [n, 1, 4]
        a = boxes[None, :, :]  # [1, k, 4]
        iw = np.clip(np.minimum(d[..., 2], a[..., 2]) - np.maximum(d[..., 0], a[..., 0]), 0, None)
        ih = np.clip(np.minimum(d[..., 3], a[..., 3]) - np.maximum(d[..., 1], a[..., 1]), 0, None)
        inter = iw * ih
        dw, dh = d[..., 2] - d[..., 0], d[..., 3] - d[..., 1]
        aw, ah = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
        iou = inter / np.maximum(dw * dh + aw * ah - inter, 1e-9)
        cx, cy = (d[..., 0] + d[..., 2]) / 2, (d[..., 1] + d[..., 3]) / 2
        inside = (a[..., 0] <= cx) & (cx <= a[..., 2]) & (a[..., 1] <= cy) & (cy <= a[..., 3])
        rw, rh = dw / np.maximum(aw, 1e-9), dh / np.maximum(ah, 1e-9)
        similar = (
            (rw <= SIZE_FACTOR) & (rw >= 1 / SIZE_FACTOR) & (rh <= SIZE_FACTOR) & (rh >= 1 / SIZE_FACTOR)
        )
        hit[rows] = ((iou >= IOU_MIN) | (inside & similar)).any(axis=1)
    return hit


def areas_by_class(entries: list[stored.Suppression]) -> dict[int, np.ndarray]:
    grouped: dict[int, list[tuple[float, float, float, float]]] = {}
    for entry in entries:
        try:
            cls = class_id(entry.class_name)
        except ConfigError:  # a class this detector does not know is never detected
            continue
        grouped.setdefault(cls, []).append(entry.box)
    return {cls: np.asarray(b, dtype=np.float64).reshape(-1, 4) for cls, b in grouped.items()}


class Suppressor:
    """One camera's suppressions; ``keep`` is the frame-path step, ``dropped`` counts what it dropped."""

    def __init__(self, engine: Engine, camera: str, metrics=None, reload_s: float = RELOAD_S):
        self.engine, self.camera, self.metrics, self.reload_s = engine, camera, metrics, reload_s
        self.dropped = 0
        self.areas: dict[int, np.ndarray] = {}
        self._due = 0.0
        self.reload()

    def reload(self) -> None:
        """Read the camera's suppressions now (any thread: the new list is swapped in whole)."""
        self._due = time.monotonic() + self.reload_s
        try:
            self.areas = areas_by_class(stored.list_for(self.engine, self.camera))
        except Exception as exc:  # the store may be busy: keep the last list, try again later
            log.warning("camera %s: suppressions not re-read: %s", self.camera, exc)

    def keep(self, detections: Detections) -> Detections:
        if time.monotonic() >= self._due:
            self.reload()
        areas = self.areas
        if not areas or len(detections) == 0:
            return detections
        hit = matches(detections.xyxy, detections.class_ids, areas)
        if not hit.any():
            return detections
        self.dropped += int(hit.sum())
        if self.metrics is not None:
            self.metrics.detections_suppressed = self.dropped
        return detections[~hit]
