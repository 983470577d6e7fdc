"""Is a person lying or upright? The torso's direction from MoveNet keypoints on the person's crop.

Used by the person-down rule to confirm what the box suggests: a box wider than tall may be a
person lying, but also someone pushing a bike or two people merged into one box; a box that
dropped fast may be a fall, or a person sitting down. The torso (shoulders to hips) settles it:
near horizontal is lying, near vertical is upright.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from scenewatch.config.camera import CameraConfig
from scenewatch.errors import SceneWatchError
from scenewatch.models import ModelStore
from scenewatch.vision.attributes.crops import crop_around
from scenewatch.vision.pose import PoseEstimator

log = logging.getLogger(__name__)

Posture = Literal["lying", "upright"]
SHOULDERS, HIPS = [5, 6], [11, 12]


class PostureCheck:
    """``posture(image, box)``: "lying", "upright", or None when the keypoints are unsure.

    Lying torsos are what the model sees least in training, so their keypoints score lower than
    upright ones: "lying" needs ``lying_score``, "upright" the stricter ``upright_score``.
    """

    def __init__(
        self,
        pose: PoseEstimator,
        lying_deg: float = 55.0,
        upright_deg: float = 30.0,
        lying_score: float = 0.15,
        upright_score: float = 0.3,
    ):
        self.pose = pose
        self.lying_deg, self.upright_deg = lying_deg, upright_deg
        self.lying_score, self.upright_score = lying_score, upright_score

    def posture(self, image: np.ndarray, box: np.ndarray) -> Posture | None:
        crop, _ = crop_around(image, box, pad=0.2)
        if crop.size == 0:
            return None
        poses = self.pose.estimate(crop, min_score=0.05)
        if not poses:
            return None
        keypoints = poses[0].keypoints
        shoulders, hips = keypoints[SHOULDERS], keypoints[HIPS]
        score = float(min(shoulders[:, 2].max(), hips[:, 2].max()))
        dx, dy = hips[:, :2].mean(axis=0) - shoulders[:, :2].mean(axis=0)
        angle = float(np.degrees(np.arctan2(abs(dx), abs(dy))))  # 0 = vertical torso
        if angle >= self.lying_deg and score >= self.lying_score:
            return "lying"
        if angle <= self.upright_deg and score >= self.upright_score:
            return "upright"
        return None


def posture_for(camera: CameraConfig, models: ModelStore | None = None) -> PostureCheck | None:
    """A posture check when one of the camera's person-down rules asks for it and the pose model
    is there; without the model the rule falls back to the box alone (logged once)."""
    if not any(rule.type == "person_down" and rule.pose for rule in camera.rules):
        return None
    try:
        path = (models or ModelStore()).path("movenet-multipose.onnx")
    except SceneWatchError as exc:
        log.warning("camera %s: person-down rules judge by the box alone: %s", camera.name, exc)
        return None
    return PostureCheck(PoseEstimator(path, size=192, threads=1))
