"""Evidence before a track counts: a confident score history, and a box that has ever moved.

Two checks the tracker applies to a track before it first reports it (``Tracker`` keeps such a
track running, so its detections are absorbed instead of starting new tracks, but reports nothing):

- **score evidence** (Frigate's ``threshold`` over ``min_score``): the median score of the track's
  last ``confirm_detections`` detections reaches its class's confirm score, so a stone that the
  detector calls a person at 0.4 in every frame never counts;
- **static background**: for classes that move (people), a track whose box has not moved or changed
  shape since it was born is an object of the scene (a bollard, a drum, a poster), not a person. The
  box of a real person standing still changes (breathing, swaying, turning, gestures change its
  width and height), and one who walked in moved; either releases the track. The box is compared as
  the median of its first detections against the median of its latest ones, so single noisy boxes
  neither hold nor release it.

Once a track counts it keeps counting: a person who walks in and stands still stays a person.

>>> history = [(t / 10, t, np.array([100.0, 100, 130, 127]), 0.42) for t in range(20)]
>>> evidence_median([s for *_, s in history], 5) >= 0.5
False
>>> has_moved(np.array([b for _, _, b, _ in history]), 5, 0.05)
False
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scenewatch.vision.labels import class_id, coco_names


def evidence_median(scores: Sequence[float], window: int) -> float:
    """Median of the last ``window`` detection scores."""
    return float(np.median(scores[-window:]))


def _cxcywh(boxes: np.ndarray) -> np.ndarray:
    return np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], axis=1)


# Detections kept of a track that is held (besides its first ones, which the movement check
# compares against): about two minutes at 25 fps; a held track that is confirmed later is stored
# with what is left of its history.
HELD_HISTORY = 3000
# A detector's box edges wobble by a pixel or so on a still picture: on a small box that alone is
# several percent of its height, so changes up to this many pixels never count as movement.
NOISE_PX = 2.0


def has_moved(boxes: np.ndarray, window: int, tolerance: float) -> bool:
    """Whether the latest boxes (xyxy, time order) differ from the first ones by more than
    ``tolerance`` of the box height (plus ``NOISE_PX``) in centre x, centre y, width or height.

    The first and the latest ``min(window, len // 2)`` boxes are each summarised by their median.
    """
    k = min(window, len(boxes) // 2)
    if k < 1:
        return False
    first = np.median(_cxcywh(boxes[:k]), axis=0)
    latest = np.median(_cxcywh(boxes[-k:]), axis=0)
    return bool(np.any(np.abs(latest - first) > tolerance * first[3] + NOISE_PX))


def confirm_table(default: float, per_class: dict[str, float]) -> np.ndarray:
    """COCO index -> the median score a track of that class needs to count."""
    table = np.full(len(coco_names()), default)
    for name, score in per_class.items():
        table[class_id(name)] = score
    return table


def static_table(names: list[str]) -> np.ndarray:
    """COCO index -> whether tracks of that class are held while they have not moved."""
    table = np.zeros(len(coco_names()), dtype=bool)
    table[[class_id(n) for n in names]] = True
    return table
