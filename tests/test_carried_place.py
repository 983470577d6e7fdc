"""Bag boxes count where a carried bag can be, and a shaded sleeve by the hip is no bag."""

from __future__ import annotations

import numpy as np

from scenewatch.types import Detections
from scenewatch.vision.attributes.carried import CarriedItems, bag_evidence, where_carried
from scenewatch.vision.attributes.parts import pose_masks
from tests.test_bag_colours import BLACK, RED_JACKET, _figure

HANDBAG = 26
PERSON = [100, 100, 140, 220]  # 40 wide, 120 tall


def _observe(bags: list[tuple[list[float], float]]) -> CarriedItems:
    """Ten frames of one person (track 1); frame i shows ``bags[i]`` (a handbag box and score)."""
    items = CarriedItems(min_score=0.15, report_score=0.3)
    for frame in range(10):
        boxes, scores, classes = [PERSON], [0.9], [0]
        if frame < len(bags):
            boxes.append(bags[frame][0])
            scores.append(bags[frame][1])
            classes.append(HANDBAG)
        items.observe(Detections([PERSON], [0.9], [0], [1]), Detections(boxes, scores, classes))
    return items


def test_a_handbag_box_beside_the_body_is_a_neighbours_not_carried():
    """A confident handbag box centred a fifth of the person's width beyond their side (inside the
    grown box that catches suitcases) is someone else's bag; the same box at the hip is theirs."""
    beside = _observe([([140, 150, 156, 180], 0.5)] * 8)
    assert beside.weak(1) == {} and beside.pop(1) == {}
    at_hip = _observe([([130, 150, 146, 180], 0.5)] * 8)
    assert at_hip.pop(1) == {"handbag": 0.8}


def test_one_confident_sighting_is_a_sign_not_an_item():
    """A handbag boxed at the report score once, then weakly, is kept as a weak sign (the
    in-place sightings' share), not reported as carried."""
    hip = [130, 150, 146, 180]
    items = _observe([(hip, 0.5)] + [(hip, 0.2)] * 5 + [([140, 150, 156, 180], 0.2)] * 3)
    assert items.weak(1) == {"handbag": 0.6}
    assert items.pop(1) == {}


def test_where_carried():
    assert where_carried(np.array([0.7, 0.4, 1.3, 0.6]))  # swinging just off the side
    assert not where_carried(np.array([0.9, 0.4, 1.5, 0.6]))  # centred beyond it
    assert not where_carried(np.array([0.2, 0.1, 0.8, 0.8]))  # a person's height: a body


def test_a_red_sleeve_in_shadow_by_the_hip_is_no_bag():
    """The arm hanging beside the hip wears the jacket's sleeve, darker and duller in shadow than
    the lit jacket: not a bag-like patch. A black bag there still is."""
    image, box, kp = _figure(RED_JACKET, 100, bag=False)
    image[85:112, 25:38] = (15, 15, 95)  # the sleeve, red in shadow
    signs, colours = bag_evidence(image, box, kp, pose_masks(image.shape, box, kp), 80.0)
    assert signs["hip"] < 0.2 and colours == {}
    image, box, kp = _figure(RED_JACKET, 100, bag=True)
    assert bag_evidence(image, box, kp, pose_masks(image.shape, box, kp), 80.0)[0]["hip"] > 0.5
    assert tuple(image[90, 30]) == BLACK
