"""Vehicle body colour and type on real crops of the traffic clips, and how vehicle queries read.

The vehicles are labelled in ``bench/labels/vehicles.json`` (sighting boxes from the pipeline's
tracks, colour and type set by eye); each test crops one labelled view as the describer does.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import VIDEO, needs, needs_models

from scenewatch.search.query import parse_query
from scenewatch.search.rank import clause_needs, score_clause
from scenewatch.vision.attributes.crops import crop_around
from scenewatch.vision.attributes.vehicle import (
    Provisional,
    VehicleSizes,
    body_colours,
    corrected_class,
    vehicle_type,
)
from scenewatch.vision.colours import scene_lightness
from scenewatch.vision.constancy import WhiteBalance
from scenewatch.vision.labels import class_id

LABELS = json.loads((Path(__file__).resolve().parent.parent / "bench/labels/vehicles.json").read_text())[
    "labels"
]
HIGHWAY = VIDEO / "traffic_highway_twoway.mp4"
NOW = datetime(2024, 5, 15, 10, 30)
DEV_HIGHWAY = [lab for k, lab in LABELS.items() if k.startswith("hw") and lab["split"] == "dev"]


@cache
def highway() -> tuple[dict[int, np.ndarray], WhiteBalance]:
    """The highway frames the tests crop, and the camera's white balance learned from its frames."""
    keys = (
        "hw66",
        "hw9",
        "hw16",
        "hw11",
        "hw21",
        "hw13",
        "hw52",
        "hw65",
        "hw69",
        "hw76",
        "hw56",
        "hw79",
        "hw35",
    )
    wanted = {LABELS[k]["sighting"][0] for k in keys}
    frames, balance = {}, WhiteBalance()
    with av.open(str(HIGHWAY)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            image = frame.to_ndarray(format="bgr24")
            balance.observe(image)
            if index in wanted:
                frames[index] = image
            if index >= max(wanted):
                break
    return frames, balance


def colours_of(key: str) -> dict[str, float]:
    frames, balance = highway()
    frame, *box = LABELS[key]["sighting"]
    image, inner = crop_around(frames[frame], np.array(box, np.float32), 0.15)
    context, _ = crop_around(frames[frame], np.array(box, np.float32), 1.0)
    return body_colours(image, inner, "car", scene_lightness(context), balance)


def top(dist: dict[str, float]) -> str:
    return max(dist, key=dist.get)


@needs(HIGHWAY)
def test_white_van_is_white_not_its_windscreen_or_the_road() -> None:
    body = colours_of("hw66")  # white high-roof panel van, oncoming
    assert top(body) == "white"
    assert body["white"] > 0.6


@needs(HIGHWAY)
@pytest.mark.parametrize("key", ["hw9", "hw16"])
def test_maroon_cars_are_red_not_pink(key: str) -> None:
    body = colours_of(key)
    assert top(body) == "red"
    assert body.get("pink", 0.0) < 0.1 and body.get("purple", 0.0) < 0.1


@needs(HIGHWAY)
@pytest.mark.parametrize(("key", "colour"), [("hw11", "black"), ("hw21", "black"), ("hw13", "white")])
def test_colourless_paint_by_its_panels(key: str, colour: str) -> None:
    """Black paint reflecting the sky is still black; white paint with dark glass still white."""
    assert top(colours_of(key)) == colour


@needs(HIGHWAY)
@pytest.mark.parametrize("key", ["hw52", "hw65", "hw69"])
def test_silver_mirroring_the_sky_is_grey_not_blue_or_white(key: str) -> None:
    """Light metallic paint mirrors the sky: chroma like a dark blue car's at three times its
    lightness. Nor is it white: white paint fills the body with the camera's top lightness."""
    body = colours_of(key)
    assert top(body) == "grey"
    assert body.get("blue", 0.0) < 0.1 and body["white"] < 0.35


@needs(HIGHWAY)
def test_dark_grey_is_told_from_black_by_its_lit_panels() -> None:
    """Dark grey and black paint are as dark at their typical lightness (glass and shade fill the
    lower half of both); a dark grey body's lit roof and bonnet are lighter than black paint's."""
    assert top(colours_of("hw56")) == "grey"  # dark grey minivan, oncoming
    assert colours_of("hw79")["grey"] > 0.4  # dark silver saloon, bright glass: nearly a tie
    assert top(colours_of("hw35")) == "black"  # black saloon, a little lighter than most


@needs(HIGHWAY)
def test_dark_blue_paint_stays_blue() -> None:
    body = colours_of("hw76")  # dark blue saloon: chroma like silver's, a third of its lightness
    assert top(body) == "blue"


@cache
def highway_sizes() -> VehicleSizes:
    """The camera's car sizes as the describer learns them: the real detector's car boxes on
    every 10th frame up to the last labelled one (score >= 0.2, this camera's setting)."""
    from scenewatch.config import AppConfig
    from scenewatch.flow.detect import build_detector

    detector = build_detector(AppConfig())
    sizes = VehicleSizes(every=1)
    last = max(lab["sighting"][0] for lab in DEV_HIGHWAY)
    with av.open(str(HIGHWAY)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 10 == 0:
                found = detector.detect([frame.to_ndarray(format="bgr24")])[0]
                keep = (found.scores >= 0.2) & (found.class_ids == class_id("car"))
                for box in found.xyxy[keep]:  # each box a car of its own: no tracker here
                    sizes.add_track(box[None], 640, 360, track_id=sizes.cars())
            if index >= last:
                break
    return sizes


@needs(HIGHWAY)
@needs_models
def test_van_is_told_by_its_size_against_the_cameras_cars() -> None:
    sizes = highway_sizes()
    van = np.array([LABELS["hw66"]["sighting"][1:]])  # a high-roof panel van; COCO calls it a car
    rel = sizes.relative(van, 640, 360)
    assert rel is not None and rel[1] > 1.25
    types = vehicle_type("car", van[0], relative=rel)
    assert types.get("car", 0.0) < 0.1 and types["van"] + types.get("minibus", 0.0) > 0.6
    # one view each (the describer takes a track's median), so most, not all, of the cars
    cars = [lab["sighting"][1:] for lab in DEV_HIGHWAY if lab["vehicle_type"] == "car"]
    tops = []
    for box in np.array(cars):
        types = vehicle_type("car", box, relative=sizes.relative(box[None], 640, 360))
        tops.append(max(types, key=types.get))
    assert tops.count("car") >= 0.6 * len(tops)


@needs(HIGHWAY)
@needs_models
def test_a_car_sized_bus_is_a_misread_car() -> None:
    sizes = highway_sizes()
    box = np.array([LABELS["hw9"]["sighting"][1:]])  # the detector's votes said bus
    assert corrected_class("bus", sizes.relative(box, 640, 360)) == "car"
    assert corrected_class("bus", (2.5, 2.8)) == "bus"
    assert corrected_class("bus", None) == "bus"  # too few cars seen: the detector's word stands


def test_sizes_need_enough_cars_and_skip_cut_off_boxes() -> None:
    sizes = VehicleSizes(every=1, min_cars=3)
    edge = np.array([[0, 100, 80, 180]], np.float32)  # touches the frame's left edge
    for tid in range(5):
        sizes.add_track(edge, 640, 360, tid)
    assert sizes.relative(np.array([[100, 100, 180, 180]]), 640, 360) is None


def read(text: str) -> tuple[list[tuple], list[str], list[str]]:
    q = parse_query(text, NOW)
    objects = [
        (o.cls, o.vehicle_type, {p: [c.term for c in cs] for p, cs in o.colours.items()}) for o in q.objects
    ]
    return objects, q.notes, q.ignored


@pytest.mark.parametrize(
    ("text", "vtype", "body"),
    [
        ("a minibus", "minibus", None),
        ("小巴", "minibus", None),
        ("a white box truck", "box_truck", "white"),
        ("白色厢式货车", "box_truck", "white"),
        ("a blue pickup", "pickup", "blue"),
        ("蓝色皮卡", "pickup", "blue"),
        ("一辆白色的面包车", "van", "white"),
        ("a white van", "van", "white"),
        ("白色MPV", "van", "white"),
        ("a white mpv", "van", "white"),
        ("灰色的七座车", "van", "grey"),
        ("黑色吉普车", "car", "black"),
        ("a black jeep", "car", "black"),
    ],
)
def test_vehicle_types_in_both_languages(text: str, vtype: str, body: str | None) -> None:
    objects, notes, ignored = read(text)
    assert objects == [("vehicle", vtype, {"body": [body]} if body else {})]
    assert notes == [] and ignored == []


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("a car with a hood", "hood"),
        ("a red car in a black hat", "hat"),
        ("a van carrying a backpack", "backpack"),
        ("戴帽子的白色面包车", "帽子"),
    ],
)
def test_person_words_on_a_vehicle_are_noted_and_dropped(text: str, word: str) -> None:
    q = parse_query(text, NOW)
    clause = q.objects[0]
    assert clause.cls == "vehicle" and not clause.garments and not clause.carried
    assert any(word in n and "not vehicles" in n for n in q.notes)
    assert word in q.ignored
    assert "black" not in [c.term for c in clause.colours.get("body", [])]  # the hat's colour


def test_person_words_stay_with_the_person_beside_a_vehicle() -> None:
    q = parse_query("a person in a hood next to a red car", NOW)
    assert [o.cls for o in q.objects] == ["person", "vehicle"]
    assert q.objects[0].garments and not any("not vehicles" in n for n in q.notes)


def test_vehicle_confidence_counts_any_vehicle_vote_and_tempers_low_scores() -> None:
    from scenewatch.vision.attributes.vehicle import vehicle_confidence

    # a far car the detector scores 0.3 stays well above half: colour and type decide the rank
    assert vehicle_confidence(1.0, 0.3) > 0.8
    assert vehicle_confidence(1.0, 0.3) < vehicle_confidence(1.0, 0.6) == 1.0
    assert vehicle_confidence(0.5, 0.6) == 0.5  # half its votes for a non-vehicle class


def ranked(text: str, tracks: dict[str, dict[str, float]]) -> list[str]:
    needs = clause_needs(parse_query(text, NOW).objects[0])
    return sorted(tracks, key=lambda name: -score_clause(needs, tracks[name])[0])


# Facts of dev tracks of the highway clip as the describer reads them (bench/labels/vehicles.json).
BLACK_SUV_CALLED_TRUCK = {"class:truck": 0.909, "vtype:car": 0.77, "vtype:pickup": 0.19, "body:black": 0.85}
GREEN_PICKUP_READ_BLACK = {"class:car": 0.94, "vtype:pickup": 0.55, "vtype:car": 0.09, "body:black": 0.96}
BLACK_SALOON = {"class:car": 0.918, "vtype:car": 0.97, "body:black": 0.86, "body:grey": 0.11}
SILVER_WITH_BLACK_TOP = {"class:car": 0.942, "vtype:car": 0.99, "body:black": 0.75, "body:grey": 0.24}


def test_a_car_the_detector_calls_a_truck_is_still_a_car() -> None:
    """COCO calls many SUVs trucks; the vehicle type (read with the class weighed in) decides,
    so a black SUV ranks above a pickup the detector called a car."""
    tracks = {"suv": BLACK_SUV_CALLED_TRUCK, "pickup": GREEN_PICKUP_READ_BLACK}
    assert ranked("a black car", tracks) == ["suv", "pickup"]
    assert ranked("黑色轿车", tracks) == ["suv", "pickup"]
    assert ranked("a pickup", tracks) == ["pickup", "suv"]


def test_a_body_mostly_of_the_colour_ranks_above_one_partly_of_it() -> None:
    """A vehicle's colour comes from its panels alone: three quarters black (a silver convertible
    under a black soft top) is not yet a full match for 'a black car'."""
    tracks = {"top": SILVER_WITH_BLACK_TOP, "saloon": BLACK_SALOON}
    assert ranked("a black car", tracks) == ["saloon", "top"]


def test_few_cars_size_only_what_stands_near_them_and_never_a_track_by_itself() -> None:
    """Two cars seen at one place: a box beside them is measured against them, one elsewhere
    against nothing (a quadratic fitted to two cars extrapolates to nonsense), and a track is
    never its own reference; six cars along the road give a surface that follows the perspective."""
    sizes = VehicleSizes(every=1)
    steps = np.arange(10)[:, None]  # two cars side by side, slowly moving down the view
    sizes.add_track(np.array([300, 140, 380, 200]) + steps * [0, 1, 0, 1], 640, 360, 1)
    sizes.add_track(np.array([420, 138, 504, 200]) + steps * [0, 1, 0, 1], 640, 360, 2)
    beside = np.array([[160, 140, 262, 210]])  # the next lane over: the nearer car is the reference
    assert sizes.relative(beside, 640, 360) == pytest.approx((102 / 80, 70 / 60), abs=0.01)
    assert sizes.relative(np.array([[100, 60, 140, 90]]), 640, 360) is None  # far up the view
    alone = VehicleSizes(every=1)
    alone.add_track(np.array([300, 140, 400, 210]) + steps * [0, 1, 0, 1], 640, 360, 7)
    assert alone.relative(np.array([[300, 140, 400, 210]]), 640, 360, track_id=7) is None

    sizes = VehicleSizes(every=1)
    for tid, y in enumerate(range(120, 360, 40)):  # six cars, bigger the nearer (lower) they are
        h = 0.25 * y
        sizes.add_track(
            np.array([[300, y - h, 300 + 1.3 * h, y], [302, y - h, 302 + 1.3 * h, y]]), 640, 360, tid
        )
    near, high = sizes.expected(np.array([[300, 250, 380, 330], [300, 90, 330, 130]]))
    assert near[1] == pytest.approx(0.25 * 330, rel=0.1) and high[1] == pytest.approx(0.25 * 130, rel=0.1)


CAR, TRUCK = class_id("car"), class_id("truck")


def _car_box(x: float, y2: float, scale: float = 1.0) -> np.ndarray:
    """A car's box with its bottom centre at (x, y2) in a 640x360 view: nearer (lower) cars are
    bigger; ``scale`` times a car's width and height (a van is about 1.4)."""
    h = 0.25 * y2 * scale
    w = 1.3 * 0.25 * y2 * scale
    return np.array([x - w / 2, y2 - h, x + w / 2, y2], np.float32)


def _drive(stage, tracks: list[tuple[int, list[int], np.ndarray]]) -> None:
    """Feed ``stage`` one track after another: (track id, per-frame class ids, start box); each
    moves 2 px down per frame and is finished after its last frame."""
    from scenewatch.tracking import FinishedTrack
    from scenewatch.types import Detections, Frame

    image = np.full((360, 640, 3), 120, np.uint8)
    index = 0
    for tid, classes, start in tracks:
        times, boxes = [], []
        for step, cls in enumerate(classes):
            box = start + np.array([0, 2 * step, 0, 2 * step], np.float32)
            frame = Frame(image, "road", index, 1000.0 + index * 0.1, index * 0.1)
            found = Detections(box[None], [0.9], [cls], [tid])
            stage.add(frame, found, [], found)
            times.append(frame.timestamp)
            boxes.append(box)
            index += 1
        finished = FinishedTrack(
            tid, classes[0], np.array(times), np.arange(len(times)), np.array(boxes), np.full(len(times), 0.9)
        )
        stage.finish([finished])


def _stage(tmp_path: Path, queue=None):
    from scenewatch.flow.finish import FinishStage
    from scenewatch.store import repo
    from scenewatch.store.data import DataStore
    from scenewatch.store.writer import TrackWriter
    from scenewatch.vision.attributes import AttributeDescriber

    store = DataStore.open(tmp_path / "data")
    camera_id = repo.ensure_camera(store.engine, "road", "file", 640, 360, 10.0)
    run_id = repo.start_run(store.engine, camera_id, "file", "live")
    describer = AttributeDescriber(use_pose=False)
    return FinishStage(
        TrackWriter(store, "road", camera_id, run_id), describer=describer, describe_queue=queue
    )


def _cars(first_id: int, n: int) -> list[tuple[int, list[int], np.ndarray]]:
    """``n`` car tracks of 10 frames each, spread over the lanes and distances of the view."""
    rng = np.random.default_rng(first_id)
    return [
        (first_id + i, [CAR] * 10, _car_box(float(rng.uniform(150, 490)), float(rng.uniform(140, 320))))
        for i in range(n)
    ]


def test_car_sizes_come_from_finished_tracks_by_their_voted_class(tmp_path) -> None:
    """A truck whose frames read 'car' now and then is not a car of the reference; a finished
    car track adds its boxes."""
    stage = _stage(tmp_path)
    truck = _car_box(320, 300, 2.0)
    _drive(stage, [(1, [TRUCK, CAR, TRUCK, TRUCK, CAR, TRUCK, TRUCK, TRUCK, CAR, TRUCK], truck)])
    sizes = stage.describer.sizes
    assert sizes.cars() == 0  # the truck's car-labelled frames taught nothing
    _drive(stage, _cars(10, 8))
    assert sizes.cars() == 8
    expected = sizes.expected(_car_box(320, 250)[None])
    assert expected is not None and expected[0] == pytest.approx([1.3 * 0.25 * 250, 0.25 * 250], rel=0.15)
    stage.close()


@pytest.mark.parametrize("background", [False, True])
def test_first_van_is_typed_again_once_the_camera_knows_its_cars(tmp_path, background: bool) -> None:
    """The camera's first vehicle, a van COCO calls a car, ends before any car did: typed by its
    box shape alone it reads car. Once the camera has seen enough cars it is typed again against
    them: stored a van, and found as one in the search index (inline and background describing)."""
    from sqlalchemy import select

    from scenewatch.runtime import DescribeQueue
    from scenewatch.store.schema import track_terms, tracks

    queue = DescribeQueue() if background else None
    stage = _stage(tmp_path, queue)
    _drive(stage, [(1, [CAR] * 10, _car_box(320, 280, 1.4))])
    if queue is not None:
        assert stage.describe_queue.drain(stage, 120.0)
    store = stage.writer.store

    def van_reading() -> tuple[dict, dict[str, float]]:
        with store.engine.connect() as conn:
            van_id, attrs = conn.execute(
                select(tracks.c.id, tracks.c.attributes).where(tracks.c.tracker_id == 1)
            ).one()
            terms = conn.execute(
                select(track_terms.c.term, track_terms.c.weight).where(track_terms.c.track_id == van_id)
            )
            return attrs["vehicle_type"], dict(terms.all())

    first, _ = van_reading()
    assert max(first, key=first.get) == "car"  # by shape alone
    _drive(stage, _cars(10, 30))
    if queue is not None:
        assert stage.describe_queue.drain(stage, 300.0)
    types, terms = van_reading()  # typed again while the run goes on, not only at its end
    assert max(types, key=types.get) == "van" and types.get("car", 0.0) < 0.1
    assert terms.get("vtype:van", 0.0) == types["van"] and "vtype:car" not in terms
    stage.close()
    if queue is not None:
        queue.close()


def test_waiting_vehicles_are_typed_again_when_their_reference_doubled_or_the_run_ends() -> None:
    """A van typed before any car was seen waits; two cars beside it are not yet a reference worth
    typing again for (fewer than three), but the run's end types it with whatever is known."""
    sizes = VehicleSizes()
    waiting = Provisional(sizes)
    van = np.array([_car_box(320, 280, 1.4) + [0, 2 * i, 0, 2 * i] for i in range(10)])
    waiting.note(1, van, "car")
    for tid, x in ((2, 170.0), (3, 470.0)):
        sizes.add_track(np.array([_car_box(x, 270 + 2 * i) for i in range(10)]), 640, 360, tid)
    assert waiting.retype(640, 360) == {}
    final = waiting.retype(640, 360, final=True)
    assert max(final[1]["vehicle_type"], key=final[1]["vehicle_type"].get) == "van"
    assert waiting.retype(640, 360, final=True) == {}  # nothing waits after the run's end


def test_a_vehicle_is_sized_by_its_nearest_boxes() -> None:
    """Far boxes are a few pixels across, and the detector's slack and blur pull every vehicle
    there towards a car's size: a pickup 1.22 times a car when near, 1.0 at the horizon, is
    measured by its nearest third."""
    sizes = VehicleSizes()
    for tid in range(12):
        sizes.add_track(np.array([_car_box(300 + 4 * tid, y) for y in range(350, 60, -10)]), 640, 360, tid)
    path = range(350, 60, -10)  # driving away from the camera
    pickup = np.array([_car_box(320, y, 1.0 + 0.22 * (y - 60) / 290) for y in path])
    rel_w, rel_h = sizes.relative(pickup, 640, 360)
    assert rel_w > 1.17 and rel_h > 1.17
    types = vehicle_type("car", pickup[0], relative=(rel_w, rel_h))
    assert max(types, key=types.get) == "pickup"


def test_the_reference_counts_the_cars_whose_rows_it_still_holds() -> None:
    sizes = VehicleSizes(keep=4, every=1)
    walk = np.array([300, 140, 380, 200]) + np.arange(3)[:, None] * [0, 1, 0, 1]
    sizes.add_track(walk, 640, 360, 1)
    sizes.add_track(walk, 640, 360, 2)  # pushes out two of car 1's three rows
    assert sizes.cars() == 2
    sizes.add_track(np.vstack([walk, walk[:1]]), 640, 360, 3)  # four rows: only car 3 is left
    assert sizes.cars() == 1
