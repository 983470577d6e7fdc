"""The motion gate's blob boxes: outlines give the same boxes as connected-component labelling.

Against ``cv2.connectedComponentsWithStats`` (8-connected) on hand-made masks (a blob inside
another's hole, blobs touching only at a corner, blobs on the frame's edges) and on the dilated
motion masks of real footage."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from scenewatch.runtime.motion import ALWAYS_KEPT_PX, MotionGate, blob_boxes
from tests.conftest import VTEST, needs_samples


def labelled(mask: np.ndarray, min_px: float) -> set[tuple[float, ...]]:
    """The boxes connected-component labelling gives (the reference)."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return {
        (float(x), float(y), float(x + w), float(y + h))
        for x, y, w, h, area in stats[1:].tolist()
        if area >= min_px
    }


def as_set(boxes: np.ndarray) -> set[tuple[float, ...]]:
    return {tuple(b) for b in boxes.tolist()}


def test_a_blob_inside_another_blobs_hole_is_its_own_blob():
    mask = np.zeros((60, 80), np.uint8)
    mask[10:40, 10:40] = 1
    mask[15:35, 15:35] = 0  # a ring ...
    mask[20:30, 20:30] = 1  # ... with a blob in its hole
    boxes = blob_boxes(mask, 1.0)
    assert as_set(boxes) == {(10.0, 10.0, 40.0, 40.0), (20.0, 20.0, 30.0, 30.0)}
    assert as_set(boxes) == labelled(mask, 1.0)


def test_corner_touching_pixels_are_one_blob_and_edges_count():
    mask = np.zeros((30, 40), np.uint8)
    mask[5, 5] = mask[6, 6] = 1  # 8-connected: one blob
    mask[0:3, 37:40] = 1  # the top right corner
    mask[27:30, 0:2] = 1  # the bottom left corner
    boxes = blob_boxes(mask, 1.0)
    assert as_set(boxes) == {(5.0, 5.0, 7.0, 7.0), (37.0, 0.0, 40.0, 3.0), (0.0, 27.0, 2.0, 30.0)}
    assert as_set(boxes) == labelled(mask, 1.0)
    # row by row, in the order of each blob's first pixel
    assert boxes[:, 1].tolist() == sorted(boxes[:, 1].tolist())


def test_an_area_limit_above_what_dilation_guarantees_drops_small_blobs():
    mask = np.zeros((40, 40), np.uint8)
    mask[2:5, 2:5] = 1  # 9 pixels
    mask[20:30, 20:30] = 1  # 100 pixels
    assert as_set(blob_boxes(mask, ALWAYS_KEPT_PX)) == labelled(mask, ALWAYS_KEPT_PX)
    assert as_set(blob_boxes(mask, 50.0)) == {(20.0, 20.0, 30.0, 30.0)} == labelled(mask, 50.0)
    assert blob_boxes(np.zeros((10, 10), np.uint8), 1.0).shape == (0, 4)


@needs_samples
@pytest.mark.parametrize("min_area", [0.0004, 0.003])
def test_the_gate_finds_the_blobs_labelling_finds_on_real_footage(min_area):
    gate = MotionGate(min_area=min_area)
    seen = 0
    with av.open(str(VTEST)) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n >= 120:
                break
            image = frame.to_ndarray(format="bgr24")
            background = None if gate._background is None else gate._background.copy()
            motion = gate.update(image, n / 10)
            if background is None or motion.global_change:
                continue
            # the gate's own mask of this frame, labelled the reference way
            small = cv2.resize(image, (160, 120), interpolation=cv2.INTER_LINEAR)
            grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0).astype(np.float32)
            mask = (cv2.absdiff(grey, background) > gate.threshold).astype(np.uint8)
            if not mask.any():
                assert len(motion.boxes) == 0
                continue
            joined = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=2)
            expected = labelled(joined, max(1.0, min_area * 160 * 120))
            scaled = {tuple(np.float32(v) * np.float32(4.8) for v in box) for box in expected}
            assert as_set(motion.boxes) == {tuple(float(v) for v in b) for b in scaled}
            seen += len(expected)
    assert seen > 100  # people walk through the scene: many blobs were compared
