"""Where a boxed bag sat on the body names its kind: a handbag box on the back is a backpack's,
whatever the detector's class, and no handbag's."""

from __future__ import annotations

import numpy as np
from test_rank_looks import ranked, reasons

from scenewatch.vision.attributes.bag_place import carry_signs
from scenewatch.vision.attributes.describer import AttributeDescriber

BACK = np.array([0.15, 0.2, 0.5, 0.46])  # shoulders to waist
HIP = np.array([0.0, 0.35, 0.45, 0.6])  # beside the hip
HAND = np.array([0.7, 0.5, 1.2, 0.8])  # below the hand, beside the thigh


def test_carry_signs_by_place() -> None:
    assert carry_signs(BACK, 0.5) == {"place:back": 0.5, "place:off_back": 0.0}
    assert carry_signs(HIP, 0.8) == {"place:back": 0.0, "place:off_back": 1.0}
    assert carry_signs(HAND, 0.8) == {"place:back": 0.0, "place:off_back": 1.0}
    # a bag low on the torso that starts below the shoulders is no backpack
    assert carry_signs(np.array([0.2, 0.35, 0.6, 0.46]), 1.0)["place:back"] == 0.0
    # between the waist and the hip: partly
    assert 0.0 < carry_signs(np.array([0.15, 0.2, 0.5, 0.52]), 1.0)["place:back"] < 1.0


def test_describer_writes_place_signs_only_for_a_reported_bag() -> None:
    describer = AttributeDescriber()
    facts = describer.bag_facts([], {"handbag": 0.6}, {}, BACK, {"hip": 0.2})
    assert facts["bag_signs"] == {"hip": 0.2, "place:back": 0.6, "place:off_back": 0.0}
    weak = describer.bag_facts([], {}, {"handbag": 0.4}, HIP, {})
    assert weak["bag_signs"] == {"box:handbag": 0.4, "place:back": 0.0, "place:off_back": 1.0}
    # bag boxes seen but none reported (an umbrella, or boxes too weak): no place signs
    assert describer.bag_facts([], {"umbrella": 0.5}, {}, HIP, {}) == {}


def person(**more) -> dict:
    return {"class": "person", "class_conf": 0.9, "colours": {}, **more}


def boxed(place: np.ndarray, item: str = "handbag", share: float = 0.8) -> dict:
    return person(carried={item: share}, bag_signs=carry_signs(place, share))


PEOPLE = {
    "at the hip": boxed(HIP, share=0.6),
    "on the back": boxed(BACK),
    "in the hand": boxed(HAND, share=0.7),
    "pose only": person(bag_signs={"hip": 0.9}),
    "nothing": person(),
}


def test_a_handbag_is_no_bag_boxed_on_the_back() -> None:
    for query in ("person with a shoulder bag", "person with a handbag", "挎着单肩包的人"):
        order = ranked(query, PEOPLE)
        assert order[:2] == ["in the hand", "at the hip"], (query, order)
        # the pose-seen bag has no box to place: not judged by place
        assert order.index("pose only") < order.index("on the back") < order.index("nothing"), (query, order)
    said = reasons("person with a handbag", PEOPLE["on the back"])
    assert "bag boxed on the back 1.00" in said, said


def test_a_handbag_box_on_the_back_counts_for_a_backpack() -> None:
    order = ranked("person with a backpack", PEOPLE)
    assert order.index("on the back") < min(order.index("at the hip"), order.index("in the hand")), order
    assert order.index("on the back") < order.index("nothing")
    assert "a bag boxed on the back 0.80" in reasons("person with a backpack", PEOPLE["on the back"])


def test_any_bag_keeps_every_place() -> None:
    assert ranked("person carrying a bag", PEOPLE)[:3] == ["on the back", "in the hand", "at the hip"]
