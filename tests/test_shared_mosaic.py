"""Cameras sharing one detector inference: their region mosaics side by side on one canvas, the boxes
split back by tile, fairness in the pool, and the counts in the metrics."""

from __future__ import annotations

import threading
import time

import av
import numpy as np
import pytest
from conftest import MOT, VTEST, needs_models, needs_mot, needs_samples
from scipy.optimize import linear_sum_assignment

from scenewatch.runtime import DetectorPool, MetricsRegistry
from scenewatch.runtime.regions import Mosaic, compose, grow, pack, share, split
from scenewatch.tracking.matching import iou_matrix
from scenewatch.types import Detections

SIZE = 512


def mosaic_of(boxes, width: int, height: int) -> Mosaic:
    """A camera's own mosaic of ``boxes`` as its planner packs it (never below the whole frame's scale)."""
    least = max(SIZE / width, SIZE / height)
    mosaic = pack(grow(np.array(boxes, np.float32), width, height), width, height, SIZE, least)
    assert mosaic is not None
    return mosaic


class Gated:
    """Wraps a detector: holds a call on a 2x2 image until ``gate`` is set (so frames queue up
    behind it), and records the size of every canvas it is given."""

    def __init__(self, detector):
        self.detector, self.gate, self.calls = detector, threading.Event(), []

    def detect_one(self, image):
        if image.shape[:2] == (2, 2):
            self.gate.wait(60)
            return Detections.empty()
        self.calls.append(image.shape)
        return self.detector.detect_one(image)


def queued_behind_a_blocker(pool: DetectorPool, gated: Gated, jobs):
    """Submit ``jobs`` [(client, image, mosaic)] while the only worker is busy, then let it go:
    the first job's camera leads and the others wait, as on a loaded node."""
    blocker = pool.client("blocker")
    blocker.submit(np.zeros((2, 2, 3), np.uint8))
    deadline = time.monotonic() + 60
    while not blocker.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    for client, image, mosaic in jobs:
        client.submit(image, token=client.camera, mosaic=mosaic)
    gated.gate.set()
    for client, _, _ in jobs:
        assert client.wait_idle(60)
    return [client.results()[0] for client, _, _ in jobs]


# -- the canvas: packing and splitting ----------------------------------------------------------------


def test_small_mosaics_share_a_canvas_and_a_full_one_does_not():
    a = mosaic_of([[100, 100, 140, 200]], 640, 480)  # one walker: a small tile at scale 2
    b = mosaic_of([[400, 200, 450, 320]], 640, 480)
    # as tall as the frame: drawn at the least scale, it fills the canvas's height alone
    full = mosaic_of([[200, 40, 330, 440]], 640, 480)
    placed = share([a, b])
    assert placed is not None and [len(m.tiles) for m in placed] == [1, 1]
    assert [(t.w, t.h) for m in placed for t in m.tiles] == [(t.w, t.h) for m in (a, b) for t in m.tiles]
    first, second = sorted((m.tiles[0] for m in placed), key=lambda t: (t.y, t.x))
    assert first.x + first.w < second.x or first.y + first.h < second.y  # side by side, apart
    # each tile keeps its place modulo the detector's coarsest stride: the detector sees it as alone
    assert all(
        (t.x - o.x) % 32 == (t.y - o.y) % 32 == 0
        for m, n in zip(placed, (a, b), strict=True)
        for t, o in zip(m.tiles, n.tiles, strict=True)
    )
    assert share([full, a]) is None  # never shrunk to make room


def test_a_box_never_crosses_into_another_cameras_tile():
    a = mosaic_of([[100, 100, 140, 200]], 640, 480)  # the smaller tile: drawn right of b's
    b = mosaic_of([[400, 200, 450, 320]], 640, 480)
    placed = share([a, b])
    assert placed is not None
    ta, tb = placed[0].tiles[0], placed[1].tiles[0]
    assert tb.x + tb.w < ta.x and ta.y == tb.y == 0  # one row: b's tile, the gap, a's tile
    images = [a.render(np.full((480, 640, 3), 60, np.uint8)), b.render(np.full((480, 640, 3), 200, np.uint8))]
    canvas = compose(images, [a, b], placed)
    assert (
        canvas[ta.y + 5, ta.x + 5].tolist() == [60] * 3 and canvas[tb.y + 5, tb.x + 5].tolist() == [200] * 3
    )
    inside_a = [ta.x + 10, ta.y + 10, ta.x + ta.w - 20, ta.y + ta.h // 2]
    # centred in a's tile, reaching over the gap deep into b's: a's alone, clipped to its tile
    left = tb.x + tb.w - 20
    straddles = [left, ta.y + 20, 2 * ta.x - left + 40, ta.y + 60]  # centre: 20 px into a's tile
    in_b = [tb.x + 10, tb.y + 10, tb.x + 30, tb.y + 60]
    raw = Detections([inside_a, straddles, in_b], [0.9, 0.8, 0.7], [0, 0, 0])
    got_a, got_b = split(raw, [a, b], placed)
    assert sorted(got_a.scores.tolist()) == pytest.approx([0.8, 0.9])
    assert got_b.scores.tolist() == pytest.approx([0.7])
    for mine, got in ((a, got_a), (b, got_b)):
        tile = mine.tiles[0]  # in each camera's own canvas pixels, inside its own tile
        assert (got.xyxy[:, :2] >= [tile.x, tile.y]).all()
        assert (got.xyxy[:, 2:] <= [tile.x + tile.w, tile.y + tile.h]).all()
    # in frame pixels: a's boxes stay in a's region; the straddling one reached a's inner edge: cut
    found, cut = a.to_frame(got_a)
    x0, y0, x1, y1 = a.tiles[0].region
    assert len(found) == 1 and len(cut) == 1
    assert (found.xyxy >= [x0, y0, x0, y0]).all() and (found.xyxy <= [x1, y1, x1, y1]).all()


# -- the pool ------------------------------------------------------------------------------------------


class Echo:
    def __init__(self) -> None:
        self.calls = 0

    def detect_one(self, image):
        if image.shape[:2] != (2, 2):
            self.calls += 1
        return Detections.empty()


def test_pool_shares_waiting_mosaics_but_a_full_one_and_a_whole_frame_run_alone():
    echo = Echo()
    gated = Gated(echo)
    pool = DetectorPool([gated])
    small = [mosaic_of([[100 + 200 * i, 100, 140 + 200 * i, 200]], 640, 480) for i in range(2)]
    full = mosaic_of([[200, 40, 330, 440]], 640, 480)
    clients = [pool.client(name) for name in ("s0", "full", "s1", "whole")]
    frame = np.full((480, 640, 3), 90, np.uint8)
    jobs = [
        (clients[0], small[0].render(frame), small[0]),
        (clients[1], full.render(frame), full),
        (clients[2], small[1].render(frame), small[1]),
        (clients[3], frame, None),  # a whole frame: never shares
    ]
    queued_behind_a_blocker(pool, gated, jobs)
    pool.close()
    assert echo.calls == 3  # s0 with s1, full alone, the whole frame alone
    s0, f, s1, whole = clients
    assert (s0.shared, s1.shared, f.shared, whole.shared) == (1, 1, 0, 0)
    assert s0.inferences == s1.inferences == pytest.approx(0.5) and f.inferences == whole.inferences == 1
    assert (s0.tiles, f.tiles, whole.tiles) == (1, 1, 0)


def test_sharing_can_be_switched_off():
    echo = Echo()
    gated = Gated(echo)
    pool = DetectorPool([gated], share_mosaics=False)
    small = [mosaic_of([[100 + 200 * i, 100, 140 + 200 * i, 200]], 640, 480) for i in range(2)]
    clients = [pool.client(f"s{i}") for i in range(2)]
    frame = np.full((480, 640, 3), 90, np.uint8)
    queued_behind_a_blocker(
        pool, gated, [(c, m.render(frame), m) for c, m in zip(clients, small, strict=True)]
    )
    pool.close()
    assert echo.calls == 2 and [c.shared for c in clients] == [0, 0]


def test_sharing_costs_no_camera_its_turn_and_an_all_motion_camera_keeps_its_share():
    """A camera whose regions fill the canvas (rain, a tree in wind) and floods frames is served once
    a round like the others; the small ones ride along whenever they have a frame waiting."""

    class Slow(Echo):
        def detect_one(self, image):
            time.sleep(0.01)
            return super().detect_one(image)

    detector = Slow()
    pool = DetectorPool([detector], depth=2)
    flood = pool.client("rain", depth=8)
    quiet = [pool.client(f"q{i}") for i in range(3)]
    frame = np.full((480, 640, 3), 90, np.uint8)
    full = mosaic_of([[200, 40, 330, 440]], 640, 480)
    walker = mosaic_of([[300, 100, 340, 200]], 640, 480)
    stop = threading.Event()

    def raining():
        canvas = full.render(frame)
        while not stop.is_set():
            flood.submit(canvas, mosaic=full)
            time.sleep(0.001)

    thread = threading.Thread(target=raining)
    thread.start()
    canvas = walker.render(frame)
    for _ in range(20):  # the quiet cameras at 10 fps
        for client in quiet:
            client.submit(canvas, mosaic=walker)
        time.sleep(0.1)
    stop.set()
    thread.join()
    for client in (flood, *quiet):
        assert client.wait_idle(60)
    pool.close()
    for client in quiet:
        assert client.dropped == 0 and client.detected == 20
    assert sum(client.shared > 0 for client in quiet) >= 2  # two walkers' tiles fit one canvas
    assert flood.shared == 0 and flood.dropped > flood.detected  # held to its turn, the rest dropped
    # fewer runs than frames detected: the quiet ones shared
    assert detector.calls < flood.detected + sum(c.detected for c in quiet)


def test_metrics_count_shared_inferences_and_tiles():
    registry = MetricsRegistry()
    cam = registry.camera("gate")
    cam.detector_inferences, cam.detections_shared, cam.tiles_detected = 2.5, 3, 7
    snap = cam.snapshot()
    assert (snap["detector_inferences"], snap["detections_shared"], snap["tiles_detected"]) == (2.5, 3, 7)
    text = registry.render_prometheus()
    assert 'scenewatch_camera_detections_shared_total{camera="gate"} 3.0' in text
    assert 'scenewatch_camera_tiles_detected_total{camera="gate"} 7.0' in text


# -- the real detector on real frames ------------------------------------------------------------------


def decoded(path, index: int) -> np.ndarray:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="bgr24")
    raise AssertionError(f"{path} has no frame {index}")


def kept(filter_, mosaic: Mosaic, raw: Detections, shape) -> Detections:
    return filter_.keep(mosaic.to_frame(raw)[0], shape)


def assert_same_boxes(alone: Detections, shared: Detections) -> None:
    """Counts within one, and every box of the smaller set matched one-to-one at IoU >= 0.9."""
    assert len(alone) >= 1 and abs(len(alone) - len(shared)) <= 1, (len(alone), len(shared))
    overlap = iou_matrix(alone.xyxy, shared.xyxy)
    rows, cols = linear_sum_assignment(-overlap)
    matched = overlap[rows, cols]
    assert len(matched) == min(len(alone), len(shared)) and (matched >= 0.9).all(), matched
    assert (alone.class_ids[rows] == shared.class_ids[cols]).all()


@needs_samples
@needs_mot
@needs_models
@pytest.mark.parametrize("walkers", [[[551, 216, 584, 302]], [[370, 178, 402, 258]]])
def test_two_cameras_in_one_shared_mosaic_find_what_each_finds_alone(walkers):
    from scenewatch.config import AppConfig
    from scenewatch.flow.detect import build_detector, build_filter

    settings = AppConfig()
    detector, filter_ = build_detector(settings), build_filter(settings, None)
    campus = decoded(VTEST, 50)  # 768x576: a walker on the campus road
    street = decoded(MOT / "TUD-Stadtmitte" / "TUD-Stadtmitte.mp4", 40)  # 640x480: a near pedestrian
    a = mosaic_of(walkers, 768, 576)
    b = mosaic_of([[345, 95, 413, 296]], 640, 480)
    gated = Gated(detector)
    pool = DetectorPool([gated])
    cam_a, cam_b = pool.client("campus"), pool.client("street")
    jobs = [(cam_a, a.render(campus), a), (cam_b, b.render(street), b)]
    (_, raw_a, err_a), (_, raw_b, err_b) = queued_behind_a_blocker(pool, gated, jobs)
    pool.close()
    assert err_a is None and err_b is None
    assert gated.calls == [(SIZE, SIZE, 3)]  # one inference for both cameras
    assert cam_a.shared == cam_b.shared == 1
    for mosaic, image, raw in ((a, campus, raw_a), (b, street, raw_b)):
        alone = kept(filter_, mosaic, detector.detect_one(mosaic.render(image)), image.shape)
        assert_same_boxes(alone, kept(filter_, mosaic, raw, image.shape))


@needs_samples
@needs_models
def test_people_of_one_camera_never_appear_in_another_cameras_answer():
    """An empty stretch of road shares the canvas with a busy one: it gets nothing back."""
    from scenewatch.config import AppConfig
    from scenewatch.flow.detect import build_detector, build_filter

    settings = AppConfig()
    detector, filter_ = build_detector(settings), build_filter(settings, None)
    campus = decoded(VTEST, 50)
    busy = mosaic_of([[551, 216, 584, 302]], 768, 576)
    empty = mosaic_of([[40, 420, 120, 540]], 768, 576)  # lower-left kerb: nobody there
    assert len(kept(filter_, empty, detector.detect_one(empty.render(campus)), campus.shape)) == 0
    placed = share([empty, busy])
    assert placed is not None
    raw_empty, raw_busy = split(
        detector.detect_one(compose([empty.render(campus), busy.render(campus)], [empty, busy], placed)),
        [empty, busy],
        placed,
    )
    assert len(kept(filter_, empty, raw_empty, campus.shape)) == 0
    assert len(kept(filter_, busy, raw_busy, campus.shape)) >= 1


# -- cameras through the node ------------------------------------------------------------------------


def walker_clip(path, seconds: float = 12.0, fps: int = 10) -> None:
    """A grey street with one small bright figure walking across: motion in a small region only."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    for i in range(int(seconds * fps)):
        image = np.full((480, 640, 3), 90, np.uint8)
        x = 40 + 2 * i % 560
        image[200:260, x : x + 24] = 130
        writer.write(image)
    writer.release()


def test_cameras_with_small_regions_share_the_detector_and_say_so_in_their_metrics(tmp_path):
    """Through the node: each camera submits its regions mosaic, the pool puts the waiting ones on
    one canvas, and every camera's metrics count its shared detections and tiles."""
    from scenewatch.config import AppConfig, CameraConfig
    from scenewatch.config.capacity import CapacityConfig
    from scenewatch.config.source import SourceConfig
    from scenewatch.pipeline import run_cameras
    from scenewatch.store.data import DataStore

    clip = tmp_path / "walker.avi"
    walker_clip(clip)
    source = SourceConfig(url=str(clip), realtime=True, loop=True)
    settings = AppConfig(cameras=[CameraConfig(name=f"c{i}", source=source) for i in range(8)])
    # one worker for eight cameras: frames wait, as on a busy node (with four, and once with six
    # on a fast host, the worker kept up and no two mosaics ever waited together)
    capacity = CapacityConfig(enabled=True, pool_workers=1)
    metrics = MetricsRegistry()
    run_cameras(
        DataStore.open(tmp_path / "data"), settings, threading.Event(), 8, capacity=capacity, metrics=metrics
    )
    snaps = metrics.snapshot()
    assert sum(s["tiles_detected"] for s in snaps.values()) > 0  # the cameras detected mosaics
    assert sum(s["detections_shared"] for s in snaps.values()) >= 2  # some on a shared canvas
    detected = sum(s["frames_detected"] for s in snaps.values())
    assert sum(s["detector_inferences"] for s in snaps.values()) < detected  # fewer runs than frames
