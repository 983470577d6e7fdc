"""Smoke inference: each model must see the people in a real frame of the sample footage.

Used for every fetched model, and as the only check for files converted from the npm package,
whose bytes differ from the pinned checksums.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np

from scenewatch.errors import ModelError, SourceError
from scenewatch.samples import sample_video

# Frame 100 of vtest.avi shows six people walking; the one at this box (checked by eye) is upright
# and clear, so pose models get a crop of her with some margin.
SMOKE_FRAME = 100
PERSON_CROP = (560, 140, 645, 250)  # x1, y1, x2, y2
MIN_PERSON_SCORE = 0.3
# Mean keypoint score on the crop is ~0.64 for both MoveNets; broken graphs give ~0.0-0.1.
MIN_KEYPOINT_SCORE = 0.3
NOSE, LEFT_ANKLE, RIGHT_ANKLE = 0, 15, 16


@cache
def smoke_frame() -> np.ndarray:
    """The BGR frame the checks run on."""
    path = sample_video("vtest.avi")
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, SMOKE_FRAME)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise SourceError(f"cannot read frame {SMOKE_FRAME} of {path}", "the sample file may be damaged")
    return frame


def person_crop() -> np.ndarray:
    x1, y1, x2, y2 = PERSON_CROP
    return smoke_frame()[y1:y2, x1:x2]


def _check_detector(name: str, path: Path) -> str:
    from scenewatch.vision.detector_types import DETECTORS

    detector_cls = next(cls for cls in DETECTORS.values() if cls.model_file == name)
    found = detector_cls(path).detect_one(smoke_frame())
    people = found[(found.class_ids == 0) & (found.scores >= MIN_PERSON_SCORE)]
    if not len(people):
        raise ModelError(f"{name} found no person (score >= {MIN_PERSON_SCORE}) in the sample frame")
    return f"{len(people)} people found, best score {people.scores.max():.2f}"


def _check_upright(name: str, keypoints: np.ndarray) -> str:
    """``keypoints`` [17, 3] (x, y, score): confident, and the nose above both ankles."""
    mean = float(keypoints[:, 2].mean())
    if mean < MIN_KEYPOINT_SCORE:
        raise ModelError(f"{name} keypoints are unsure (mean score {mean:.2f} < {MIN_KEYPOINT_SCORE})")
    if not keypoints[NOSE, 1] < min(keypoints[LEFT_ANKLE, 1], keypoints[RIGHT_ANKLE, 1]):
        raise ModelError(f"{name} puts the nose below the ankles of a standing person")
    return f"person keypoints found, mean score {mean:.2f}"


def _check_multipose(name: str, path: Path) -> str:
    from scenewatch.vision.pose import PoseEstimator

    poses = PoseEstimator(path).estimate(person_crop())
    if not poses:
        raise ModelError(f"{name} found no person in the sample crop")
    return _check_upright(name, poses[0].keypoints)


def _check_singlepose(name: str, path: Path) -> str:
    from scenewatch.vision.detector import open_session

    session = open_session(path)
    size = int(session.get_inputs()[0].shape[1])
    crop = person_crop()
    # Pad the crop to a square so the fixed-size input keeps the person's proportions.
    side = max(crop.shape[:2])
    square = np.zeros((side, side, 3), dtype=np.uint8)
    square[: crop.shape[0], : crop.shape[1]] = crop
    blob = cv2.cvtColor(cv2.resize(square, (size, size)), cv2.COLOR_BGR2RGB).astype(np.int32)[None]
    yx_score = session.run(None, {session.get_inputs()[0].name: blob})[0].reshape(17, 3)
    keypoints = np.concatenate([yx_score[:, 1::-1] * side, yx_score[:, 2:]], axis=1)
    return _check_upright(name, keypoints)


CHECKS = {
    "centernet.onnx": _check_detector,
    "nanodet.onnx": _check_detector,
    "movenet-multipose.onnx": _check_multipose,
    "movenet-lightning.onnx": _check_singlepose,
}


def smoke_check(name: str, path: Path) -> str:
    """Runs the model in ``path`` as model ``name``; a ModelError says what looked wrong."""
    try:
        return CHECKS[name](name, Path(path))
    except SourceError:
        raise
    except ModelError as exc:
        if exc.hint:  # open_session's errors already say what to do
            raise
        message = exc.message
    except Exception as exc:  # a wrong graph fails in ONNX Runtime or in the decoding
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = f"{name} failed a test inference: {first_line}"
    raise ModelError(f"{message} ({path})", "run `scenewatch models fetch --force` to replace it")
