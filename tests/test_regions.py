"""Detecting where things move: the regions mosaic, the planner around motion and moving tracks,
the cost of a still scene, and accelerator providers."""

from __future__ import annotations

import subprocess
import sys

import av
import cv2
import numpy as np
import pytest
from conftest import MOT, ROOT, needs_models, needs_mot
from pydantic import ValidationError

from scenewatch.config import AppConfig
from scenewatch.config.capacity import CapacityConfig
from scenewatch.eval.mot import load_mot
from scenewatch.runtime import AdaptiveSampler, DetectionPlanner, MotionGate
from scenewatch.runtime.regions import grow, pack
from scenewatch.runtime.wiring import build_planner
from scenewatch.types import Detections, Frame

# -- the mosaic ------------------------------------------------------------------------------------


def test_mosaic_maps_boxes_back_and_drops_those_cut_by_an_inner_tile_edge():
    image = np.zeros((480, 640, 3), np.uint8)
    image[100:200, 100:140] = 255  # a walker near the top left
    image[300:400, 500:540] = 128  # another bottom right
    mosaic = pack(grow(np.array([[100, 100, 140, 200], [500, 300, 540, 400]]), 640, 480), 640, 480, 512)
    assert mosaic is not None and len(mosaic.tiles) == 2 and mosaic.scale == 2.0  # small: enlarged
    canvas = mosaic.render(image)
    assert canvas.shape == (512, 512, 3)
    first, second = sorted(mosaic.tiles, key=lambda t: t.region[0])
    # The walker's pixels are where the mosaic says (the tile's corner plus twice its offset).
    wx, wy = first.x + 2 * (100 - first.region[0]), first.y + 2 * (100 - first.region[1])
    assert canvas[wy + 10, wx + 10].tolist() == [255, 255, 255]
    whole = [wx, wy, wx + 80, wy + 200]  # the walker as the detector would box it, canvas pixels
    cut = [second.x, second.y + 20, second.x + 30, second.y + 60]  # touches the tile's inner left edge
    gap = [500, 500, 510, 510]  # in no tile
    found, cuts = mosaic.to_frame(Detections([whole, cut, gap], [0.9, 0.8, 0.7], [0, 0, 0]))
    assert np.allclose(found.xyxy, [[100, 100, 140, 200]], atol=1.0)
    assert len(cuts) == 1 and cuts[0][0] == pytest.approx(second.region[0])


def test_regions_too_large_for_the_input_fall_back_to_the_whole_frame():
    everywhere = np.array([[0, 0, 300, 400], [340, 80, 640, 480]], np.float32)
    assert pack(everywhere, 640, 480, 512, least_scale=512 / 480) is None


# -- the planner ---------------------------------------------------------------------------------------


def planner(**kw) -> DetectionPlanner:
    return DetectionPlanner(AdaptiveSampler(1, 5, 8, hold_s=0), MotionGate(), input_size=512, **kw)


def test_planner_detects_motion_and_moving_tracks_but_not_a_parked_car():
    p = planner(refresh_s=100)
    image = np.full((480, 640, 3), 80, np.uint8)
    parked = Detections([[500, 50, 600, 120]], [0.9], [2])
    first = Frame(image, "c", 0, 0.0, 0.0)
    plan = p.plan(first)
    assert plan.kind == "full"
    cache = p.merge(plan, first, parked)
    # a tracked cyclist riding right at 50 px/s, seen twice, in a part of the frame that shows no motion
    for t, x in ((0.0, 200), (0.2, 210)):
        tracked = Detections(
            [[500, 50, 600, 120], [x, 200, x + 40, 260]], [0.9, 0.8], [2, 1], track_ids=[1, 2]
        )
        p.observe(tracked, Frame(image, "c", 0, t, t))
    moved = image.copy()
    moved[300:400, 100:140] = 200  # a walker appears bottom left
    frame = Frame(moved, "c", 1, 1.0, 1.0)
    plan = p.plan(frame)
    assert plan.kind == "crop" and plan.mosaic is not None
    regions = np.array([t.region for t in plan.mosaic.tiles])

    def covered(box):
        return bool(
            (
                (regions[:, 0] <= box[0])
                & (regions[:, 1] <= box[1])
                & (regions[:, 2] >= box[2])
                & (regions[:, 3] >= box[3])
            ).any()
        )

    assert covered([100, 300, 140, 400])  # the motion
    # where the cyclist is predicted at t = 1.0: 50 px/s seen once, half of it trusted (x = 230)
    assert covered([230, 200, 270, 260])
    assert not any(r[2] > 500 and r[3] > 50 and r[0] < 600 and r[1] < 120 for r in regions)  # not the car
    assert plan.image(moved).shape == (512, 512, 3)
    # The detector answers in canvas pixels; the walker comes back in frame pixels, the car from the cache.
    tile = next(
        t for t in plan.mosaic.tiles if t.region[0] <= 100 and t.region[2] >= 140 and t.region[1] <= 300
    )
    sx = tile.w / (tile.region[2] - tile.region[0])
    sy = tile.h / (tile.region[3] - tile.region[1])
    walker = [
        tile.x + sx * (100 - tile.region[0]),
        tile.y + sy * (300 - tile.region[1]),
        tile.x + sx * (140 - tile.region[0]),
        tile.y + sy * (400 - tile.region[1]),
    ]
    merged = p.merge(plan, frame, Detections([walker], [0.8], [0]))
    assert sorted(merged.class_ids.tolist()) == [0, 2]
    assert np.allclose(merged.xyxy[merged.class_ids == 0], [[100, 300, 140, 400]], atol=1.0)
    assert np.allclose(merged.xyxy[merged.class_ids == 2], cache.xyxy)


def test_a_box_cut_by_a_tile_edge_keeps_the_cached_detection():
    p = planner(refresh_s=100)
    image = np.full((480, 640, 3), 80, np.uint8)
    first = Frame(image, "c", 0, 0.0, 0.0)
    person = Detections([[300, 100, 360, 260]], [0.9], [0])
    p.merge(p.plan(first), first, person)
    moved = image.copy()
    moved[150:200, 330:370] = 200  # the person's arm moves; the person straddles the region's edge
    frame = Frame(moved, "c", 1, 1.0, 1.0)
    plan = p.plan(frame)
    assert plan.kind == "crop" and plan.mosaic is not None
    tile = plan.mosaic.tiles[0]
    x0, y0, _, _ = tile.region
    assert y0 > 100  # the region starts below the head: the person is cut by its top edge
    cut = [tile.x + 2, tile.y, tile.x + tile.w // 2, tile.y + tile.h // 2]
    merged = p.merge(plan, frame, Detections([cut], [0.7], [0]))
    assert len(merged) == 1 and np.allclose(merged.xyxy, person.xyxy)


def test_a_still_scene_with_people_costs_almost_nothing():
    p = planner()
    image = np.full((480, 640, 3), 80, np.uint8)
    standing = Detections([[300, 100, 340, 200], [400, 120, 440, 220]], [0.9, 0.9], [0, 0], track_ids=[1, 2])
    kinds = []
    for i in range(300):  # 30 s at 10 fps: two people standing, nothing moves
        noisy = image + np.random.default_rng(i).integers(0, 3, image.shape, dtype=np.uint8)
        frame = Frame(noisy, "c", i, i / 10, i / 10)
        plan = p.plan(frame)
        kinds.append(plan.kind)
        if plan.kind != "skip":
            p.merge(plan, frame, standing if plan.detects else None)
            p.observe(standing, frame)
    detected = sum(k in ("crop", "full") for k in kinds)
    assert kinds[0] == "full" and detected <= 4, kinds  # the first frame and one refresh each 10 s
    assert kinds.count("reuse") >= 25  # the tracks are still fed, from the cache


def test_frames_between_detections_carry_tracks_along_their_motion_but_not_while_one_is_in_flight():
    p = DetectionPlanner(AdaptiveSampler(5, 5, 5, hold_s=0), None, input_size=512, carry_s=1.0)
    image = np.full((480, 640, 3), 80, np.uint8)
    walker = Detections([[100, 200, 140, 300]], [0.8], [0], track_ids=[7])
    for i, x in ((0, 100), (5, 120)):  # detected at 0.0 s and 0.2 s (5 a second of 25 fps): 100 px/s
        frame = Frame(image, "c", i, i / 25, i / 25)
        plan = p.plan(frame)
        assert plan.kind == "full"
        seen = Detections([[x, 200, x + 40, 300]], [0.8], [0], track_ids=[7])
        newcomer = Detections([[400, 50, 420, 100]], [0.5], [0])  # not yet a track
        p.merge(plan, frame, Detections.concat([seen, newcomer]))
        p.observe(seen, frame)
    frame = Frame(image, "c", 6, 6 / 25, 6 / 25)
    plan = p.plan(frame)
    assert plan.kind == "reuse" and not plan.detects
    # half of the first estimate (0) and half of 100 px/s: the box moved 50 px/s x 0.04 s
    # the newcomer is carried too (a new track needs it on consecutive frames), where it was
    assert np.allclose(plan.reuse.xyxy, [[122, 200, 162, 300], [400, 50, 420, 100]], atol=0.01)
    assert plan.reuse.class_ids.tolist() == [0, 0] and plan.reuse.scores.tolist() == pytest.approx([0.8, 0.5])
    p.merge(plan, frame)
    p.observe(plan.reuse, frame)  # a carried frame teaches nothing: the prediction stays anchored
    assert np.allclose(p.carried(0.28).xyxy[0], [124, 200, 164, 300], atol=0.01)
    due = Frame(image, "c", 10, 0.4, 0.4)
    assert p.plan(due).kind == "full"  # submitted to a pool; its answer has not come back
    assert p.plan(Frame(image, "c", 11, 0.44, 0.44)).kind == "skip"
    assert len(p.carried(2.0)) == 0  # detected too long ago: nothing is carried
    plain = DetectionPlanner(AdaptiveSampler(5, 5, 5, hold_s=0), None)  # carry_s 0: as before
    plain.merge(plain.plan(Frame(image, "c", 0, 0.0, 0.0)), Frame(image, "c", 0, 0.0, 0.0), walker)
    plain.observe(walker, Frame(image, "c", 0, 0.0, 0.0))
    assert plain.plan(Frame(image, "c", 1, 0.04, 0.04)).kind == "skip"


def test_capacity_settings_build_a_regions_planner_at_the_detectors_input_size():
    settings = AppConfig()
    on = build_planner(CapacityConfig(enabled=True), "c", settings.detector)
    off = build_planner(CapacityConfig(enabled=True, regions=False), "c", settings.detector)
    assert on is not None and on.input_size == 512  # centernet's input
    nanodet = AppConfig.model_validate({"detector": {"type": "nanodet"}}).detector
    assert build_planner(CapacityConfig(enabled=True), "c", nanodet).input_size == 416
    assert off is not None and off.input_size is None


# -- small objects ---------------------------------------------------------------------------------


@needs_mot
@needs_models
def test_small_far_people_are_found_in_the_mosaic_as_well_as_in_the_whole_frame():
    from scenewatch.flow.detect import build_detector, build_filter
    from scenewatch.tracking.matching import iou_matrix

    name = "TUD-Stadtmitte"
    with av.open(str(MOT / name / f"{name}.mp4")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == 40:
                image = frame.to_ndarray(format="bgr24")
                break
    gt = load_mot(MOT / name / "gt.txt", ground_truth=True)
    rows = gt[gt[:, 0] == 41]
    # The sequence shrunk to a quarter in the corner of a grey wide view: people 30-46 px high.
    view = np.full((480, 640, 3), 114, np.uint8)
    view[330:450, 440:600] = cv2.resize(image, (160, 120), interpolation=cv2.INTER_AREA)
    truth = rows[:, 2:6].astype(np.float32) * 0.25 + [440, 330, 0, 0]
    truth[:, 2:] += truth[:, :2]
    truth = truth[truth[:, 3] - truth[:, 1] < 40]
    assert len(truth) >= 3
    settings = AppConfig()
    detector, keep = build_detector(settings), build_filter(settings, None)
    mosaic = pack(grow(truth, 640, 480), 640, 480, 512, least_scale=512 / 480)
    assert mosaic is not None and mosaic.scale > 512 / 480  # more pixels than the whole frame gives

    def found(dets: Detections) -> int:
        people = keep.keep(dets, view.shape)
        people = people.xyxy[people.class_ids == 0]
        return int((iou_matrix(truth, people).max(axis=1) >= 0.5).sum()) if len(people) else 0

    in_mosaic = found(mosaic.to_frame(detector.detect_one(mosaic.render(view)))[0])
    in_whole = found(detector.detect_one(view))
    assert in_mosaic >= in_whole and in_mosaic >= len(truth) // 2, (in_mosaic, in_whole, len(truth))


# -- accelerators ----------------------------------------------------------------------------------


def test_detector_providers_accept_short_names_and_name_what_is_installed():
    import onnxruntime as ort

    available = ort.get_available_providers()
    assert AppConfig.model_validate({"detector": {"providers": ["cpu"]}}).detector.providers == [
        "CPUExecutionProvider"
    ]
    if "CUDAExecutionProvider" in available:
        pytest.skip("this onnxruntime has CUDA: nothing to refuse")
    with pytest.raises(ValidationError) as info:
        AppConfig.model_validate({"detector": {"providers": ["cuda", "cpu"]}})
    message = str(info.value)
    assert "detector.providers" in message and "CUDAExecutionProvider not available" in message
    assert "CPUExecutionProvider" in message.split("available:")[1]  # what is installed
    with pytest.raises(ValidationError, match="at least one provider"):
        AppConfig.model_validate({"detector": {"providers": []}})


def test_capacity_bench_device_mode_says_when_there_is_no_accelerator():
    import onnxruntime as ort

    if {"CUDAExecutionProvider", "TensorrtExecutionProvider"} & set(ort.get_available_providers()):
        pytest.skip("an accelerator is installed: the device run would start")
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "capacity.py"), "--device"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1].startswith("no accelerator: ")
    assert "CPUExecutionProvider" in out.stdout
