"""Wide frames detected in square crops (``detector.tiles``): the crops' geometry, how their boxes
are merged, and on the real detector and labelled footage, more of the small people found."""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest
from conftest import ROOT, VIDEO, VTEST, needs, needs_models, needs_samples

from scenewatch.config import AppConfig
from scenewatch.flow.detect import build_detector
from scenewatch.types import Detections
from scenewatch.vision.tiling import OVERLAP, TiledDetector, crops, merge

sys.path.insert(0, str(ROOT / "bench" / "labels"))
from make_mot import ground_truth  # noqa: E402

CONCOURSE = VIDEO / "crowd_concourse.mp4"


@pytest.mark.parametrize("size", [(960, 540), (640, 360), (2560, 1080), (540, 960), (1280, 500)])
def test_wide_frames_are_cut_into_overlapping_squares_covering_them(size: tuple[int, int]) -> None:
    width, height = size
    regions = crops(width, height)
    side = min(width, height)
    assert len(regions) >= 2
    assert all(x1 - x0 == side and y1 - y0 == side for x0, y0, x1, y1 in regions)
    covered = np.zeros((height, width), bool)
    for x0, y0, x1, y1 in regions:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    axis = 0 if width >= height else 1
    for a, b in zip(regions, regions[1:], strict=False):
        assert a[axis + 2] - b[axis] >= OVERLAP * side - 1  # neighbours share a fifth of their side


@pytest.mark.parametrize("size", [(640, 480), (768, 576), (512, 512), (480, 640)])
def test_frames_that_are_not_wide_are_detected_whole(size: tuple[int, int]) -> None:
    assert crops(*size) == [(0, 0, size[0], size[1])]


def test_a_box_cut_by_the_seam_gives_way_to_the_whole_one_and_duplicates_merge() -> None:
    regions = crops(960, 540)  # (0-540) and (420-960)
    left = Detections(
        [[500, 100, 540, 200], [100, 100, 140, 200], [470, 300, 510, 400]], [0.9, 0.8, 0.6], [0, 0, 0]
    )
    right = Detections(
        [[500, 100, 545, 200], [471, 301, 511, 401], [900, 50, 930, 120]], [0.7, 0.5, 0.4], [0, 0, 0]
    )
    merged = merge([left, right], regions, 960, 540)
    boxes = {tuple(np.round(b).astype(int)) for b in merged.xyxy}
    # the left crop cut the person at x 500-545 (its box ends on the seam): the right crop's box stays
    assert (500, 100, 545, 200) in boxes and (500, 100, 540, 200) not in boxes
    assert (470, 300, 510, 400) in boxes and (471, 301, 511, 401) not in boxes  # one box per person
    assert len(merged) == 4


def test_an_object_wider_than_the_overlap_cut_by_both_crops_is_joined_into_one_box() -> None:
    """A lorry wider than the shared band (420-540) is cut by both crops: each half reaches the
    other crop's edge, their rows agree, so they are one box spanning both at the better score."""
    regions = crops(960, 540)
    left = Detections([[300, 100, 540, 500], [100, 50, 160, 120]], [0.6, 0.9], [7, 0])
    right = Detections([[420, 110, 700, 505]], [0.8], [7])
    merged = merge([left, right], regions, 960, 540)
    assert len(merged) == 2
    lorry = merged[merged.class_ids == 7]
    np.testing.assert_allclose(lorry.xyxy, [[300, 100, 700, 505]])
    np.testing.assert_allclose(lorry.scores, [0.8])


def test_cut_boxes_that_are_not_halves_of_one_object_stay_apart() -> None:
    regions = crops(960, 540)
    # another class; rows that do not agree (one above the other); a left box that does not reach
    # across the band (its left end is inside the right crop, which would have seen it whole)
    left = Detections(
        [[300, 100, 540, 300], [300, 320, 540, 520], [450, 100, 540, 200]], [0.8] * 3, [2, 0, 0]
    )
    right = Detections([[420, 100, 700, 300], [420, 100, 700, 250]], [0.7, 0.7], [7, 0])
    merged = merge([left, right], regions, 960, 540)
    assert len(merged) == 5
    assert merged.xyxy[:, 2].max() == 700 and merged.xyxy[:, 0].min() == 300  # nothing spans both


def test_an_object_across_three_crops_is_joined_seam_by_seam() -> None:
    regions = crops(2560, 1080)  # (0-1080), (740-1820), (1480-2560)
    parts = [
        Detections([[500, 200, 1080, 700]], [0.5], [5]),
        Detections([[740, 210, 1820, 690]], [0.9], [5]),
        Detections([[1480, 190, 2000, 700]], [0.6], [5]),
    ]
    merged = merge(parts, regions, 2560, 1080)
    np.testing.assert_allclose(merged.xyxy, [[500, 190, 2000, 700]])
    np.testing.assert_allclose(merged.scores, [0.9])


def test_halves_join_across_a_horizontal_seam_of_a_tall_frame() -> None:
    regions = crops(540, 960)  # (0-540), (420-960) down the frame
    top = Detections([[100, 300, 400, 540]], [0.7], [0])
    bottom = Detections([[105, 420, 395, 800]], [0.6], [0])
    merged = merge([top, bottom], regions, 540, 960)
    np.testing.assert_allclose(merged.xyxy, [[100, 300, 400, 800]])


@needs_models
@needs_samples
def test_a_frame_that_is_not_wide_gets_exactly_the_plain_detection() -> None:
    plain = build_detector(AppConfig())
    tiled = build_detector(AppConfig.model_validate({"detector": {"tiles": True}}))
    assert isinstance(tiled, TiledDetector) and not isinstance(plain, TiledDetector)
    capture = cv2.VideoCapture(str(VTEST))  # 768x576
    ok, image = capture.read()
    assert ok
    a, b = plain.detect_one(image), tiled.detect_one(image)
    np.testing.assert_allclose(a.xyxy, b.xyxy)
    np.testing.assert_allclose(a.scores, b.scores)


@needs_models
@needs(CONCOURSE)
def test_tiles_find_more_of_the_labelled_small_people_in_a_wide_frame() -> None:
    """On labelled concourse frames (960x540, people 30-100 px tall), the square crops find more of
    the people at the score the tracker starts tracks from, and few boxes that are nobody."""
    label = json.loads((ROOT / "bench" / "labels" / "concourse_keyframes.json").read_text())
    gt = ground_truth(label)
    gt = gt[gt[:, 6] == 1]
    plain = build_detector(AppConfig())
    tiled = build_detector(AppConfig.model_validate({"detector": {"tiles": True}}))
    capture = cv2.VideoCapture(str(CONCOURSE))
    found = {"plain": [0, 0], "tiled": [0, 0]}  # people found, boxes matching nobody
    total = 0
    for frame in range(1, 51):
        ok, image = capture.read()
        assert ok
        if frame % 10 != 1:
            continue
        g = gt[gt[:, 0] == frame]
        truth = np.hstack([g[:, 2:4], g[:, 2:4] + g[:, 4:6]])
        total += len(truth)
        for name, detector in (("plain", plain), ("tiled", tiled)):
            d = detector.detect_one(image)
            boxes = d.xyxy[(d.class_ids == 0) & (d.scores >= 0.4)]
            overlap = _iou(truth, boxes)
            found[name][0] += int((overlap >= 0.5).any(axis=1).sum())
            found[name][1] += int((overlap < 0.5).all(axis=0).sum())
    assert found["tiled"][0] >= 1.5 * found["plain"][0], found
    assert found["tiled"][0] >= 0.5 * total, (found, total)
    assert found["tiled"][1] <= 0.1 * found["tiled"][0], found


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)[:, None]
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)[None]
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def test_the_option_is_off_by_default_and_validated() -> None:
    assert AppConfig().detector.tiles is False
    with pytest.raises(ValueError):
        AppConfig.model_validate({"detector": {"tiles": "sometimes"}})
