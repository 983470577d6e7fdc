"""MoveNet MultiPose: up to six people's 17 COCO keypoints from one picture or a person crop."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from scenewatch.vision.detector import open_session

# COCO keypoint order, as MoveNet emits it.
KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
# The model's strides need both input sides to be multiples of this.
SIDE_MULTIPLE = 32


class Pose(NamedTuple):
    """One person: ``keypoints`` float32 [17, 3] = x, y (frame pixels), score; ``box`` xyxy pixels."""

    keypoints: np.ndarray
    box: np.ndarray
    score: float


def _round_up(value: int, multiple: int) -> int:
    return max(multiple, -(-value // multiple) * multiple)


class PoseEstimator:
    """Runs MoveNet MultiPose Lightning on BGR images.

    The longer side is scaled to ``size`` pixels; the picture keeps its aspect and is padded at the
    right and bottom up to multiples of 32, so thin person crops are not squashed.

    >>> poses = PoseEstimator(ModelStore().path("movenet-multipose.onnx")).estimate(crop)  # doctest: +SKIP
    >>> keypoints, box, score = poses[0]  # doctest: +SKIP
    """

    def __init__(
        self, model_path: Path, size: int = 256, threads: int = 2, providers: list[str] | None = None
    ):
        if size % SIDE_MULTIPLE:
            raise ValueError(f"size must be a multiple of {SIDE_MULTIPLE}, got {size}")
        self.size = size
        self.session = open_session(Path(model_path), threads, providers)
        self.input_name = self.session.get_inputs()[0].name

    def estimate(self, image: np.ndarray, min_score: float = 0.1) -> list[Pose]:
        """People in a BGR image whose person score is at least ``min_score``, best first."""
        height, width = image.shape[:2]
        scale = self.size / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        pad_w, pad_h = _round_up(new_w, SIDE_MULTIPLE), _round_up(new_h, SIDE_MULTIPLE)
        canvas = np.zeros((pad_h, pad_w, 3), dtype=np.uint8)
        canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        blob = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.int32)[None]
        rows = self.session.run(None, {self.input_name: blob})[0][0]  # [6, 56]
        rows = rows[rows[:, 55] >= min_score]
        rows = rows[np.argsort(-rows[:, 55])]
        # Outputs are 0..1 of the padded input; this maps them to the original picture's pixels.
        to_px = np.array([pad_w, pad_h], dtype=np.float32) / scale
        keypoints = rows[:, :51].reshape(-1, 17, 3)
        xy = keypoints[:, :, 1::-1] * to_px  # (y, x) -> (x, y)
        xy[..., 0] = np.clip(xy[..., 0], 0, width)
        xy[..., 1] = np.clip(xy[..., 1], 0, height)
        points = np.concatenate([xy, keypoints[:, :, 2:]], axis=2).astype(np.float32)
        boxes = rows[:, [52, 51, 54, 53]] * np.tile(to_px, 2)  # (ymin, xmin, ymax, xmax) -> xyxy
        boxes = np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
        return [Pose(p, b, float(s)) for p, b, s in zip(points, boxes, rows[:, 55], strict=True)]
