"""The plain data types passed between pipeline stages.

Every stage takes and returns these, so any stage can be tested alone on recorded input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class Frame:
    """One decoded picture.

    ``image`` is BGR uint8 (OpenCV's order), ``index`` the decoded frame index in its source
    (0-based, counting every decoded frame even when some are skipped), ``timestamp`` the
    wall-clock time in seconds since the epoch and ``pts`` the position in the source in seconds.
    """

    image: np.ndarray
    camera: str
    index: int
    timestamp: float
    pts: float

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(slots=True)
class Detections:
    """Parallel arrays, one row per object.

    ``xyxy`` float32 [N, 4] in pixels of the frame, ``scores`` float32 [N],
    ``class_ids`` int32 [N] (COCO-80 indices), ``track_ids`` int64 [N] (-1 where untracked).

    >>> d = Detections.empty()
    >>> len(d)
    0
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    track_ids: np.ndarray = field(default=None)  # type: ignore[arg-type]  # set in __post_init__

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.class_ids = np.asarray(self.class_ids, dtype=np.int32).reshape(-1)
        if self.track_ids is None:
            self.track_ids = np.full(len(self.scores), -1, dtype=np.int64)
        else:
            self.track_ids = np.asarray(self.track_ids, dtype=np.int64).reshape(-1)
        n = len(self.xyxy)
        if not (len(self.scores) == len(self.class_ids) == len(self.track_ids) == n):
            raise ValueError("Detections arrays must have the same length")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index: np.ndarray | slice) -> Detections:
        return Detections(self.xyxy[index], self.scores[index], self.class_ids[index], self.track_ids[index])

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.class_ids for p in parts]),
            np.concatenate([p.track_ids for p in parts]),
        )

    @property
    def bottom_centre(self) -> np.ndarray:
        """[N, 2] points where objects touch the ground; what zones and lines test."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    @property
    def areas(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]
