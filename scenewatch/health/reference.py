"""The camera's reference view and feature matching against it, for the 'moved' check."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(slots=True)
class ViewMatch:
    """How the current view relates to the reference: ``matches`` RANSAC inliers of a similarity
    transform, ``shift`` the largest corner displacement as a share of the width, ``angle`` degrees."""

    matches: int
    shift: float
    angle: float

    def moved(self, min_matches: int, max_shift: float) -> bool:
        return self.matches < min_matches or self.shift > max_shift


class ReferenceView:
    """ORB features of one analysis-size grey frame, matched against later frames.

    ORB is free of patents, needs no model and takes ~4 ms on a 320x240 frame.
    """

    _orb = cv2.ORB_create(nfeatures=500, fastThreshold=10)  # type: ignore[attr-defined]  # not in cv2's stubs
    _matcher = cv2.BFMatcher(cv2.NORM_HAMMING)

    def __init__(self, grey: np.ndarray, snapshot: np.ndarray | None = None) -> None:
        self.shape = grey.shape
        self.keypoints, self.descriptors = self._features(grey)
        self.snapshot = snapshot

    @classmethod
    def _features(cls, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        keypoints, descriptors = cls._orb.detectAndCompute(grey.astype(np.uint8), None)
        points = np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2)
        return points, descriptors

    @property
    def usable(self) -> bool:
        """Too few features (a blank wall, a dark night) and the check cannot say anything."""
        return self.descriptors is not None and len(self.keypoints) >= 30

    def match(self, grey: np.ndarray) -> ViewMatch:
        """Compare a frame of the same analysis size with the reference."""
        if grey.shape != self.shape or self.descriptors is None:
            return ViewMatch(0, 1.0, 0.0)
        points, descriptors = self._features(grey)
        if descriptors is None or len(points) < 4:
            return ViewMatch(0, 1.0, 0.0)
        pairs = self._matcher.knnMatch(self.descriptors, descriptors, k=2)
        # Lowe's ratio test: keep a match only when it is clearly better than the runner-up.
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
        if len(good) < 4:
            return ViewMatch(len(good), 1.0, 0.0)
        src = self.keypoints[[g.queryIdx for g in good]]
        dst = points[[g.trainIdx for g in good]]
        transform, inliers = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0
        )
        if transform is None:
            return ViewMatch(0, 1.0, 0.0)
        h, w = self.shape
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float32)
        moved = corners @ transform.T - corners[:, :2]
        shift = float(np.linalg.norm(moved, axis=1).max()) / w
        angle = float(np.degrees(np.arctan2(transform[1, 0], transform[0, 0])))
        return ViewMatch(int(inliers.sum()), shift, angle)
