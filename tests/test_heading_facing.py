"""Facing as a heading cue: the order of a person's shoulders says front or back to the camera,
and a back view makes a foreshortened walk away count as away (a front view as towards)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_mot
from test_attributes import describer, tud_crops  # noqa: F401 (the fixture)

from scenewatch.search.facts import track_facts
from scenewatch.vision.attributes.motion import facing

BOX = np.array([100.0, 50.0, 140.0, 170.0])  # 40 px wide


def shoulders(left_x: float, right_x: float, score: float = 0.6) -> np.ndarray:
    kp = np.zeros((17, 3), np.float32)
    kp[5] = (left_x, 80, score)  # the person's own left shoulder
    kp[6] = (right_x, 80, score)
    return kp


def test_shoulder_order_is_front_back_or_side():
    assert facing(shoulders(132, 108), BOX) == pytest.approx(0.6)  # left shoulder on the image right
    assert facing(shoulders(108, 132), BOX) == pytest.approx(-0.6)  # seen from behind
    assert abs(facing(shoulders(121, 119), BOX) or 1.0) < 0.1  # side on
    assert facing(shoulders(132, 108, score=0.1), BOX) is None  # guessed shoulders say nothing


def walker(away: float, face: float | None) -> dict:
    attrs: dict = {"motion": {"moving_fraction": 1.0, "headings": {"left": 1 - away, "away": away}}}
    if face is not None:
        attrs["facing"] = face
    return track_facts("person", attrs)


def test_back_view_lifts_a_foreshortened_walk_away_and_leaves_sideways_alone():
    """Left and a little away (a quarter of the movement): half a match from motion alone, a
    full one seen from behind, and less than half seen from the front."""
    plain, back, front, side = walker(0.25, None), walker(0.25, -0.45), walker(0.25, 0.45), walker(0.25, 0.05)
    assert plain["heading:away"] == pytest.approx(0.5)
    assert back["heading:away"] == pytest.approx(1.0)
    assert front.get("heading:away", 0.0) == 0.0
    assert side["heading:away"] == plain["heading:away"]
    assert back["heading:left"] == plain["heading:left"] == front["heading:left"]
    assert "heading:towards" not in back  # a back view makes no depth motion of its own


def test_front_view_lifts_towards_and_back_view_lowers_it():
    attrs = {"motion": {"moving_fraction": 1.0, "headings": {"right": 0.8, "towards": 0.2}}}
    plain = track_facts("person", attrs)["heading:towards"]
    assert track_facts("person", {**attrs, "facing": 0.3})["heading:towards"] > plain
    assert track_facts("person", {**attrs, "facing": -0.3})["heading:towards"] < plain


@needs_mot
def test_real_views_from_behind_and_in_front(describer):  # noqa: F811
    """TUD-Stadtmitte as labelled (bench/labels): gt 5 walks away, seen from behind, and gt 2 right
    and away; gt 6 and 8 walk left and towards the camera."""
    for gt_id in (5, 2):
        assert describer.person_looks(tud_crops(gt_id))["facing"] < -0.1
    for gt_id in (6, 8):
        assert describer.person_looks(tud_crops(gt_id))["facing"] > 0.1
