"""A file camera's first frame, for drawing zones while no pipeline runs, with its people found.

The pipeline's live frames carry the boxes of the people its detector kept, so a masked viewer
sees the scene with only its people pixelated. A file camera's first frame has no run behind it:
the node's configured detector runs on it once (per file, frame size and detector settings),
outside the event loop and one still at a time, and the answer is kept. When the detector cannot
run, the people are unknown and the caller masks the whole frame (fail closed), with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.errors import SceneWatchError
from scenewatch.vision.labels import class_id

log = logging.getLogger(__name__)
PERSON = class_id("person")
# A still stays on screen as long as the page is open and no tracker confirms anyone on it:
# people are kept down to this score (or the camera's own person threshold, if lower), since a
# false person costs a patch of mosaic and a missed one a readable person.
PERSON_SCORE = 0.25
RETRY_S = 60.0  # a detector that failed is tried again after this long, not on every request


@dataclass(frozen=True)
class Still:
    image: np.ndarray  # BGR, camera pixels
    people: np.ndarray | None  # N x 4 person boxes; None: not known (mask the whole frame)
    note: str | None = None  # why the people are not known


class FileStills:
    """The first frame of each file camera with its people, each found once and kept."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[tuple, Still, float]] = {}  # camera -> (key, still, when)
        self._lock = threading.Lock()  # one detection at a time: the cost stays one inference

    def get(self, settings: AppConfig, camera: CameraConfig, size: tuple[int, int] | None) -> Still | None:
        """``size``: (width, height) the camera's frames are stored at (the picture is scaled to
        it), or None to keep the file's own size. None when the file gives no picture."""
        key = (camera.source.url, size, settings.detector.model_dump_json(), camera.score_threshold)
        with self._lock:
            kept = self._kept.get(camera.name)
            if kept is not None and kept[0] == key:
                still, when = kept[1], kept[2]
                if still.people is not None or time.monotonic() - when < RETRY_S:
                    return still
            image = first_frame(camera.source.url, size)
            if image is None:
                return None
            people, note = find_people(settings, camera, image)
            still = Still(image, people, note)
            self._kept[camera.name] = (key, still, time.monotonic())
            return still


def first_frame(url: str, size: tuple[int, int] | None) -> np.ndarray | None:
    capture = cv2.VideoCapture(url)
    ok, image = capture.read()
    capture.release()
    if not ok:
        return None
    if size is not None and (image.shape[1], image.shape[0]) != size:
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image


def find_people(
    settings: AppConfig, camera: CameraConfig, image: np.ndarray
) -> tuple[np.ndarray | None, str | None]:
    """(person boxes, None), or (None, why) when the detector cannot run."""
    from scenewatch.flow.detect import build_detector  # the detector stack only once asked for

    try:
        found = build_detector(settings).detect_one(image)
    except Exception as exc:  # a missing model, or ONNX Runtime's own (private) errors
        # the viewer learns what to do; the server's paths and internals go to its log only
        log.warning("no people found on %s's still: %s", camera.name, exc)
        hint = exc.hint if isinstance(exc, SceneWatchError) and exc.hint else "see the server log"
        return None, (
            f"people could not be found, the whole picture is masked: the {settings.detector.type} "
            f"detector cannot run ({hint})"
        )
    return found.xyxy[(found.class_ids == PERSON) & (found.scores >= person_score(settings, camera))], None


def person_score(settings: AppConfig, camera: CameraConfig) -> float:
    """The lowest score a person on a still is masked at: the lowest of ``PERSON_SCORE`` and the
    thresholds the config gives people on this camera."""
    det = settings.detector
    configured = [det.score_threshold, det.class_thresholds.get("person", 1.0), camera.score_threshold]
    return min(PERSON_SCORE, *(t for t in configured if t is not None))
