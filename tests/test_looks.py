"""Looks on real crops: shades, headwear and bags the detector did not box, for labelled people of
vtest.avi (bench/labels/vtest.json sightings, bench/labels/people_looks.json fields, both set by
eye on the crops of bench/labels/make_crops.py)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import VTEST

from scenewatch.errors import SceneWatchError
from scenewatch.models import ModelStore
from scenewatch.vision.attributes import AttributeDescriber
from scenewatch.vision.attributes.crops import Crop, crop_around
from scenewatch.vision.attributes.looks import look_groups
from scenewatch.vision.colours import dominant, scene_lightness

LABELS = json.loads((Path(__file__).parent.parent / "bench" / "labels" / "vtest.json").read_text())["labels"]
PEOPLE = ("p111", "p13", "p7", "p2", "p1", "p8", "p20", "p28", "p29", "p15", "p113")


@pytest.fixture(scope="module")
def crops() -> dict[str, list[Crop]]:
    """The crops of each person in PEOPLE at their labelled sightings."""
    try:
        ModelStore().path("movenet-multipose.onnx")
    except SceneWatchError as exc:
        pytest.skip(f"pose model missing: {exc}")
    if not VTEST.is_file():
        pytest.skip(f"sample footage not found: {VTEST}")
    sightings = {p: [LABELS[p]["sighting"], *LABELS[p]["also_seen"]] for p in PEOPLE}
    wanted = {s[0] for seen in sightings.values() for s in seen}
    frames = {}
    with av.open(str(VTEST)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames[i] = frame.to_ndarray(format="bgr24")
            if i >= max(wanted):
                break
    out: dict[str, list[Crop]] = {}
    for person, seen in sightings.items():
        out[person] = []
        for frame, *box in seen:
            box = np.asarray(box, np.float32)
            image, inner = crop_around(frames[frame], box, 0.15)
            context, _ = crop_around(frames[frame], box, 1.0)
            out[person].append(Crop(image, inner, frame, frame / 10, 1.0, scene_lightness(context)))
    return out


@pytest.fixture(scope="module")
def describer() -> AttributeDescriber:
    return AttributeDescriber()


@pytest.fixture(scope="module")
def looks(crops: dict[str, list[Crop]], describer: AttributeDescriber) -> dict[str, dict]:
    """The describer's looks of each person in PEOPLE from their labelled sightings."""
    return {person: describer.person_looks(seen) for person, seen in crops.items()}


def test_light_blue_and_navy_jackets_are_told_apart_within_blue(looks):
    """p111's jacket is light blue, p7's puffer navy: both are blue, in opposite shades."""
    light, navy = looks["p111"]["shades"]["upper"], looks["p7"]["shades"]["upper"]
    assert looks["p111"]["colours"]["upper"]["blue"] > 0.3 and looks["p7"]["colours"]["upper"]["blue"] > 0.3
    assert light["blue:light"] > 0.8 > navy.get("blue:light", 0.0) + 0.5
    assert navy["blue:dark"] > 0.8 > light.get("blue:dark", 0.0) + 0.5
    assert looks["p2"]["shades"]["upper"]["dark"] > 0.9  # black coat
    assert looks["p111"]["shades"]["upper"]["light"] > 0.8


def test_white_hood_is_a_covered_head_and_hair_is_not(looks):
    """p111 wears a white hood up; the others show hair (dark, blond, grey) or a bald crown."""
    hooded = looks["p111"]["headwear"]["covered"]
    assert hooded > 0.5
    for bare in ("p2", "p1", "p8", "p20", "p28", "p29", "p15"):
        assert looks[bare].get("headwear", {}).get("covered", 0.0) < 0.5 * hooded, bare


def test_bag_in_hand_without_a_detector_box_is_seen_by_the_hip(looks):
    """p29 carries a brown paper bag and p111 a dark shoulder bag at the hip (COCO boxes
    neither); p2 and p1 carry nothing."""
    for carrier in ("p29", "p111"):
        assert looks[carrier]["bag_signs"]["hip"] > 0.5, carrier
    for empty in ("p2", "p1"):
        assert looks[empty].get("bag_signs", {}).get("hip", 0.0) < 0.2, empty


def test_a_bag_only_the_pose_saw_keeps_its_colour(looks):
    """p111's dark shoulder bag at the hip (no detector box) is named black where it showed."""
    assert dominant(looks["p111"]["bag_colours"], 1)[0][0] == "black"


def test_a_pale_blue_jacket_named_white_keeps_its_blue_tint(looks):
    """p111 / p13's jacket is a pale sky blue, mostly named white; the tint is kept as
    'blue:pale'. Black, navy, grey and dark clothes show no pale tint of any hue."""
    for pale in ("p111", "p13"):
        upper = looks[pale]["shades"]["upper"]
        assert looks[pale]["colours"]["upper"]["white"] > 0.4, pale
        assert upper["blue:pale"] > 0.3, pale
    for other in ("p7", "p2", "p1", "p20", "p28", "p29", "p15", "p113"):
        tints = {k: v for k, v in looks[other]["shades"]["upper"].items() if k.endswith(":pale")}
        assert max(tints.values(), default=0.0) < 0.1, (other, tints)


def test_a_track_showing_two_people_keeps_each_look(crops, describer):
    """A tracker identity switch (vtest: the hooded woman p13 and the man in black p113 on one
    track, his two views outnumbering hers): each person's looks stay as strong as on their own
    rather than averaged into neither. One person's own views stay one look."""
    mixed = crops["p13"][:1] + crops["p113"][:2]
    woman, man = describer.person_looks(crops["p13"][:1]), describer.person_looks(crops["p113"][:2])
    both = describer.person_looks(mixed)
    assert woman["headwear"]["covered"] > 0.5 and man["colours"]["upper"]["black"] > 0.7
    assert both["headwear"]["covered"] == pytest.approx(woman["headwear"]["covered"], abs=0.01)
    assert both["shades"]["upper"]["blue:pale"] == pytest.approx(
        woman["shades"]["upper"]["blue:pale"], abs=0.01
    )
    assert both["colours"]["upper"]["black"] == pytest.approx(man["colours"]["upper"]["black"], abs=0.01)
    assert both["colours"]["upper"]["white"] > 0.5
    views = [describer.view(c, True).colours for c in mixed]
    assert look_groups(views) == [[0], [1, 2]]
    for one in ("p7", "p2", "p29"):
        assert len(look_groups([describer.view(c, True).colours for c in crops[one]])) == 1, one
