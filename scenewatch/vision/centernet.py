"""MobileNetV3 CenterNet (COCO-80): a 512x512 RGB input, up to 100 boxes out, decoded in-graph."""

from __future__ import annotations

import cv2
import numpy as np

from scenewatch.types import Detections
from scenewatch.vision.detector import Detector

INPUT_SIZE = 512
# Boxes below this score are noise for every use here; the configured threshold sits above it.
SCORE_FLOOR = 0.05


class CenterNetDetector(Detector):
    name = "centernet"
    model_file = "centernet.onnx"
    summary = "more accurate"

    def detect_one(self, image: np.ndarray) -> Detections:
        height, width = image.shape[:2]
        # The model was trained on a plain (non-letterboxed) resize of the whole picture.
        resized = cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
        blob = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32)[None]
        input_name = self.session.get_inputs()[0].name
        rows = self.session.run(["tower_0/detections"], {input_name: blob})[0][0]
        rows = rows[rows[:, 4] >= SCORE_FLOOR]
        scale = np.array([width, height, width, height], dtype=np.float32) / INPUT_SIZE
        xyxy = rows[:, :4] * scale
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
        return Detections(xyxy, rows[:, 4], rows[:, 5].astype(np.int32))
