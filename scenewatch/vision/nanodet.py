"""NanoDet-m (COCO-80): a 416x416 RGB input, raw GFL head outputs at three strides, decoded here.

Each cell of the 13x13, 26x26 and 52x52 grids gives 80 class scores (already sigmoid) and, for
each side of its box (left, top, right, bottom), a distribution over 11 distance bins (0..10
strides). The distance is the expectation of the softmax over the bins (Generalized Focal Loss).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from scenewatch.types import Detections
from scenewatch.vision.detector import Detector

INPUT_SIZE = 416
GRIDS = (13, 26, 52)
NUM_CLASSES = 80
REG_MAX = 10
# Boxes below this score are noise for every use here; the configured threshold sits above it.
SCORE_FLOOR = 0.05
# Enough candidates for a crowded frame; bounds the NMS cost when the floor lets many through.
MAX_CANDIDATES = 1000
MAX_DETECTIONS = 100
NMS_IOU = 0.5  # 0.6 left side-by-side duplicates of one walker on vtest.avi


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """The image scaled to fit ``size`` x ``size`` with its aspect kept, padded black at right/bottom.

    Checked on the TUD ground truth: a letterbox gives person AP50 0.83 where a plain stretch gives
    0.73-0.77, so the model was trained on undistorted pictures.
    """
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return canvas, scale


def _cell_centres(grid: int) -> np.ndarray:
    """[grid*grid, 2] cell centres (x, y) in input pixels, row-major like the model's outputs."""
    stride = INPUT_SIZE / grid
    ys, xs = np.mgrid[0:grid, 0:grid]
    return (np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32) + 0.5) * stride


def decode_distances(bins: np.ndarray, stride: float) -> np.ndarray:
    """[N, 44] bin logits -> [N, 4] distances (left, top, right, bottom) in input pixels."""
    logits = bins.reshape(-1, 4, REG_MAX + 1)
    logits = logits - logits.max(axis=2, keepdims=True)  # stable softmax
    weights = np.exp(logits)
    weights /= weights.sum(axis=2, keepdims=True)
    return (weights @ np.arange(REG_MAX + 1, dtype=np.float32)) * stride


class NanoDetDetector(Detector):
    """NanoDet-m detector: faster than CenterNet on CPU, a little less accurate on small people."""

    name = "nanodet"
    model_file = "nanodet.onnx"
    summary = "faster"

    def __init__(self, model_path: Path, threads: int = 2, providers: list[str] | None = None):
        super().__init__(model_path, threads, providers)
        self.input_name = self.session.get_inputs()[0].name
        # Output names differ between conversions; the shapes say which is which.
        by_shape = {(o.shape[1], o.shape[2]): o.name for o in self.session.get_outputs()}
        self.output_names: list[str] = []
        for grid in GRIDS:
            cells = grid * grid
            self.output_names += [by_shape[(cells, NUM_CLASSES)], by_shape[(cells, 4 * (REG_MAX + 1))]]
        self.centres = [_cell_centres(grid) for grid in GRIDS]

    def detect_one(self, image: np.ndarray) -> Detections:
        height, width = image.shape[:2]
        canvas, scale = letterbox(image, INPUT_SIZE)
        # RGB 0..1, channels first: how the TF.js export of the model is fed upstream.
        blob = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        outputs = self.session.run(self.output_names, {self.input_name: blob})
        boxes, scores, classes = [], [], []
        for level, grid in enumerate(GRIDS):
            class_scores, bins = outputs[2 * level][0], outputs[2 * level + 1][0]
            cells, class_ids = np.nonzero(class_scores >= SCORE_FLOOR)
            if not len(cells):
                continue
            # Decode each candidate cell once, however many classes it scores for.
            unique_cells, rows = np.unique(cells, return_inverse=True)
            dist = decode_distances(bins[unique_cells], INPUT_SIZE / grid)[rows]
            centres = self.centres[level][cells]
            boxes.append(np.concatenate([centres - dist[:, :2], centres + dist[:, 2:]], axis=1))
            scores.append(class_scores[cells, class_ids])
            classes.append(class_ids)
        if not scores:
            return Detections.empty()
        return self._suppress(
            np.concatenate(boxes) / scale, np.concatenate(scores), np.concatenate(classes), width, height
        )

    @staticmethod
    def _suppress(
        xyxy: np.ndarray, scores: np.ndarray, classes: np.ndarray, width: int, height: int
    ) -> Detections:
        """Class-wise NMS over the best candidates, boxes clipped to the frame."""
        if len(scores) > MAX_CANDIDATES:
            top = np.argpartition(-scores, MAX_CANDIDATES)[:MAX_CANDIDATES]
            xyxy, scores, classes = xyxy[top], scores[top], classes[top]
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
        xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        kept = cv2.dnn.NMSBoxesBatched(
            xywh.tolist(), scores.tolist(), classes.tolist(), SCORE_FLOOR, NMS_IOU, top_k=MAX_DETECTIONS
        )
        keep = np.asarray(kept, dtype=np.int64).reshape(-1)
        keep = keep[np.argsort(-scores[keep], kind="stable")]
        return Detections(xyxy[keep], scores[keep], classes[keep])
