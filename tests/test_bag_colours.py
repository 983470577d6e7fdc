"""A carried bag's colour: read where the detector's bag boxes sat on the body (or where the pose
saw a bag at the hip), scored by 'a black bag'; bags the detector boxed only weakly."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from scenewatch.search import parse_query
from scenewatch.search.facts import track_facts
from scenewatch.search.rank import BAG_UNSEEN, clause_needs, score_clause
from scenewatch.types import Detections
from scenewatch.vision.attributes.carried import (
    CarriedItems,
    bag_colours,
    bag_evidence,
    place_in,
    relative_box,
)
from scenewatch.vision.attributes.parts import pose_masks
from scenewatch.vision.colours import dominant

HANDBAG, BACKPACK = 26, 24


def test_a_bag_keeps_its_place_on_the_body_as_the_person_moves_and_grows():
    items = CarriedItems()
    for step in range(4):  # the person walks right and nears the camera: the bag moves with them
        x, scale = 100.0 + 20 * step, 1.0 + 0.1 * step
        person = np.array([x, 50, x + 40 * scale, 50 + 120 * scale])
        bag = np.array([x + 30 * scale, 50 + 60 * scale, x + 50 * scale, 50 + 85 * scale])
        tracked = Detections([person], [0.9], [0], [7])
        items.observe(tracked, Detections([person, bag], [0.9, 0.6], [0, HANDBAG]))
    assert items.pop(7) == {"handbag": 1.0}
    place = items.pop_place(7)
    assert place is not None and np.allclose(place, [0.75, 0.5, 1.25, 60 / 120 + 25 / 120], atol=1e-6)
    assert items.pop_place(7) is None  # forgotten once taken


def test_no_place_without_an_attached_bag():
    items = CarriedItems()
    person = np.array([0, 0, 40, 120])
    items.observe(Detections([person], [0.9], [0], [3]), Detections([person], [0.9], [0]))
    assert items.pop_place(3) is None


def test_place_round_trips_through_another_box():
    person, bag = np.array([10.0, 20, 50, 140]), np.array([40.0, 80, 60, 110])
    place = relative_box(person, bag)
    mask = place_in(person + 5, place, (200, 100, 3))  # the same place on a box 5 px further on
    rows, cols = np.nonzero(mask)
    assert (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1) == (45, 85, 65, 115)


def _walker(bag_bgr: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A person in black on grey pavement, a bag of ``bag_bgr`` hanging beside the right hip;
    the bag's place box also covers the black coat and the trousers beside it."""
    image = np.full((160, 100, 3), 150, np.uint8)
    image[20:150, 30:70] = (20, 20, 20)  # coat and trousers
    image[75:105, 62:82] = bag_bgr
    return image, np.array([30.0, 20, 70, 150])


def test_a_yellow_bag_beside_black_clothes_is_named_yellow():
    image, box = _walker((0, 220, 230))
    place = relative_box(box, np.array([55.0, 70, 85, 110]))  # the detector's box: bag, coat, pavement
    shares = bag_colours(image, box, place, 80.0)
    assert dominant(shares, 1)[0][0] == "yellow"


def test_a_black_bag_on_black_clothes_stays_black():
    image, box = _walker((15, 15, 15))
    place = relative_box(box, np.array([58.0, 72, 84, 106]))
    assert dominant(bag_colours(image, box, place, 80.0), 1)[0][0] == "black"


def _score(query: str, attributes: dict) -> float:
    clause = parse_query(query, datetime(2024, 5, 1)).objects[0]
    return score_clause(clause_needs(clause), track_facts("person", attributes))[0]


def test_a_black_bag_ranks_a_black_bag_over_an_unseen_one_over_a_yellow_one():
    black = {"carried": {"handbag": 0.8}, "bag_colours": {"black": 0.7, "grey": 0.2}}
    unseen = {"carried": {"handbag": 0.8}}  # no colour read: neither a match nor a miss
    yellow = {"carried": {"handbag": 0.8}, "bag_colours": {"yellow": 0.6, "black": 0.1}}
    scores = [_score("person with a black bag", a) for a in (black, unseen, yellow)]
    assert scores[0] > scores[1] > scores[2]
    assert _score("背黑色包的人", black) > _score("背黑色包的人", yellow)
    # a bag asked without a colour ignores the colour read
    assert _score("person carrying a bag", black) == _score("person carrying a bag", yellow)
    assert 0 < BAG_UNSEEN < 1


def test_the_reasons_say_when_the_bag_colour_was_not_seen():
    clause = parse_query("person with a black bag", datetime(2024, 5, 1)).objects[0]
    needs = clause_needs(clause)
    _, unseen = score_clause(needs, track_facts("person", {"carried": {"handbag": 0.8}}))
    _, seen = score_clause(
        needs, track_facts("person", {"carried": {"handbag": 0.8}, "bag_colours": {"black": 0.7}})
    )
    assert unseen[-1] == "black bag: the bag's colour was not seen"
    assert seen[-1] == "black bag 0.70"


def test_bag_colours_are_facts():
    facts = track_facts("person", {"bag_colours": {"black": 0.7}})
    assert facts["bag:black"] == 0.7


def test_weak_handbag_boxes_are_a_sign_not_an_item():
    """Handbags boxed only below the report score are kept as a sign (fraction of sightings times
    the best score's share of the report score); weak backpacks are dark backs and left out, and
    so is a weak handbag beside a confidently boxed backpack (the same bag, named twice)."""
    items = CarriedItems(min_score=0.15, report_score=0.3)
    people = [[100, 100, 140, 220], [300, 100, 340, 220], [500, 100, 540, 220]]
    for frame in range(10):
        tracked = Detections(people, [0.9] * 3, [0] * 3, [1, 2, 3])
        boxes, scores, classes = [*people], [0.9] * 3, [0] * 3
        if frame < 6:  # a weak handbag at person 1's hip, a weak backpack on person 2
            boxes += [[130, 150, 145, 180], [305, 110, 335, 160]]
            scores += [0.2, 0.25]
            classes += [HANDBAG, BACKPACK]
        boxes += [[505, 110, 535, 160], [530, 150, 545, 180]]  # person 3: a backpack, a weak handbag
        scores += [0.6, 0.2]
        classes += [BACKPACK, HANDBAG]
        items.observe(tracked, Detections(boxes, scores, classes))
    assert items.weak(1) == {"handbag": 0.4}
    assert items.weak(2) == {} and items.weak(3) == {}
    assert items.pop(1) == {} and items.pop(3) == {"backpack": 1.0}


def test_a_weakly_boxed_handbag_ranks_between_a_boxed_bag_and_none():
    boxed = {"carried": {"handbag": 0.6}}
    weak = {"carried": {}, "bag_signs": {"box:handbag": 0.6}}
    nothing: dict = {"carried": {}}
    for query in ("person carrying a bag", "挎着单肩包的人"):
        scores = [_score(query, a) for a in (boxed, weak, nothing)]
        assert scores[0] > scores[1] > scores[2], query
    clause = parse_query("person carrying a bag", datetime(2024, 5, 1)).objects[0]
    _, said = score_clause(clause_needs(clause), track_facts("person", weak))
    assert "a handbag boxed only weakly 0.60" in said
    assert _score("person with a backpack", weak) == _score("person with a backpack", nothing)


BLUE_JACKET, JEANS, RED_JACKET, BLACK = (235, 205, 160), (130, 70, 30), (40, 40, 200), (20, 20, 20)


def _figure(jacket: tuple[int, int, int], jacket_to: int, bag: bool) -> tuple[np.ndarray, ...]:
    """A standing person on grey pavement seen from the front: a jacket down to row ``jacket_to``,
    jeans below it (as wide as the jacket at the hips), and with ``bag`` a black bag at the left
    hip. Returns the image, the person's box and the pose keypoints [17, 3]."""
    image = np.full((200, 100, 3), 128, np.uint8)
    image[45:jacket_to, 30:70] = jacket
    image[jacket_to:185, 30:70] = JEANS
    image[185:190, 35:65] = BLACK  # shoes
    if bag:
        image[85:112, 25:38] = BLACK
    kp = np.zeros((17, 3), np.float32)
    at = {5: (38, 50), 6: (62, 50), 7: (34, 75), 8: (66, 75), 9: (34, 98), 10: (66, 98)}
    at |= {11: (42, 100), 12: (58, 100), 13: (42, 140), 14: (58, 140), 15: (42, 182), 16: (58, 182)}
    at |= {0: (50, 25), 1: (47, 22), 2: (53, 22), 3: (44, 24), 4: (56, 24)}
    for k, (x, y) in at.items():
        kp[k] = (x, y, 0.9)
    return image, np.array([22.0, 12, 70, 190]), kp  # the box holds the bag


def test_jeans_beside_the_hip_under_a_short_jacket_are_no_bag():
    """The hip patch is neither the jacket nor the trousers: jeans showing beside the hip under a
    short jacket once read as a bag there."""
    image, box, kp = _figure(RED_JACKET, 92, bag=False)
    signs, colours = bag_evidence(image, box, kp, pose_masks(image.shape, box, kp), 80.0)
    assert signs["hip"] < 0.2 and signs["strap"] == 0.0
    assert colours == {}  # no patch: no colour


def test_a_bag_only_the_pose_saw_is_named_by_its_colour_at_the_hip():
    image, box, kp = _figure(BLUE_JACKET, 100, bag=True)
    signs, colours = bag_evidence(image, box, kp, pose_masks(image.shape, box, kp), 80.0)
    assert signs["hip"] > 0.5
    assert dominant(colours, 1)[0][0] == "black"
