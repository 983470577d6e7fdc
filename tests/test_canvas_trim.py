"""Region mosaics on a canvas cut to their tiles: CenterNet with a free input size, the same boxes as
on the model's full square, and the pool and planner handing canvases to ``detect_canvas``."""

from __future__ import annotations

import av
import cv2
import numpy as np
import onnxruntime as ort
import pytest
from conftest import MOT, VTEST, needs_models, needs_mot, needs_samples
from scipy.optimize import linear_sum_assignment

from scenewatch.config.capacity import CapacityConfig
from scenewatch.config.detector import DetectorConfig
from scenewatch.models import ModelStore
from scenewatch.runtime import DetectorPool
from scenewatch.runtime.regions import compose, grow, pack, share, split
from scenewatch.runtime.wiring import build_planner
from scenewatch.tracking.matching import iou_matrix
from scenewatch.types import Detections
from scenewatch.vision.centernet import CenterNetDetector

SIZE = 512


@pytest.fixture(scope="module")
def centernet() -> CenterNetDetector:
    return CenterNetDetector(ModelStore().path(CenterNetDetector.model_file), threads=1)


def frames(path, picks: list[int]) -> list[np.ndarray]:
    out = []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in picks:
                out.append(frame.to_ndarray(format="bgr24"))
            if len(out) == len(picks):
                break
    return out


def people(found: Detections) -> Detections:
    return found[(found.class_ids == 0) & (found.scores >= 0.3)]


def matched_iou(a: Detections, b: Detections) -> np.ndarray:
    if not len(a) or not len(b):
        return np.zeros(0)
    iou = iou_matrix(a.xyxy, b.xyxy)
    rows, cols = linear_sum_assignment(-iou)
    return iou[rows, cols]


def test_mosaic_canvas_ends_where_its_tiles_do_on_multiples_of_the_step():
    walker = grow(np.array([[100, 100, 140, 200]], np.float32), 640, 480)
    full = pack(walker, 640, 480, SIZE, 0.8)
    cut = pack(walker, 640, 480, SIZE, 0.8, step=32)
    assert full is not None and cut is not None
    assert full.canvas == (SIZE, SIZE) and full.render(np.zeros((480, 640, 3), np.uint8)).shape == (
        SIZE,
        SIZE,
        3,
    )
    tile = cut.tiles[0]
    assert [(t.w, t.h, t.x, t.y) for t in cut.tiles] == [
        (t.w, t.h, t.x, t.y) for t in full.tiles
    ]  # same scale
    width, height = cut.canvas
    assert (
        width % 32 == height % 32 == 0
        and tile.w + 16 <= width < tile.w + 48
        and tile.h + 16 <= height < tile.h + 48
    )
    assert width * height < 0.5 * SIZE * SIZE
    assert cut.render(np.zeros((480, 640, 3), np.uint8)).shape == (height, width, 3)
    # two cameras on one shared canvas: it covers both tiles, still cut
    other = pack(grow(np.array([[400, 200, 450, 320]], np.float32), 640, 480), 640, 480, SIZE, 0.8, step=32)
    assert other is not None
    placed = share([cut, other])
    assert placed is not None
    images = [m.render(np.full((480, 640, 3), 60 + 100 * i, np.uint8)) for i, m in enumerate((cut, other))]
    canvas = compose(images, [cut, other], placed)
    right = max(t.x + t.w for m in placed for t in m.tiles)
    bottom = max(t.y + t.h for m in placed for t in m.tiles)
    assert canvas.shape[1] == -(-(right + 16) // 32) * 32 and canvas.shape[0] == -(-(bottom + 16) // 32) * 32
    assert canvas.shape[1] * canvas.shape[0] < SIZE * SIZE
    raw = Detections(
        [[t.x + 2, t.y + 2, t.x + 10, t.y + 20] for m in placed for t in m.tiles], [0.9, 0.8], [0, 0]
    )
    assert [len(part) for part in split(raw, [cut, other], placed)] == [1, 1]


def test_capacity_planner_cuts_canvases_for_centernet_unless_switched_off():
    on = build_planner(CapacityConfig(enabled=True), "cam", DetectorConfig())
    off = build_planner(CapacityConfig(enabled=True, trim_canvas=False), "cam", DetectorConfig())
    nanodet = build_planner(CapacityConfig(enabled=True), "cam", DetectorConfig(type="nanodet"))
    assert on.canvas_step == 32 and off.canvas_step is None and nanodet.canvas_step is None


class Recorder:
    """Which entry a pool worker used, and the shape it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def detect_one(self, image):
        self.calls.append(("one", image.shape))
        return Detections.empty()

    def detect_canvas(self, image):
        self.calls.append(("canvas", image.shape))
        return Detections.empty()


def test_pool_detects_a_mosaic_as_drawn_and_a_frame_as_a_frame():
    recorder = Recorder()
    pool = DetectorPool([recorder])
    mosaic = pack(grow(np.array([[100, 100, 140, 200]], np.float32), 640, 480), 640, 480, SIZE, 0.8, step=32)
    assert mosaic is not None
    client = pool.client("cam")
    frame = np.zeros((480, 640, 3), np.uint8)
    client.submit(mosaic.render(frame), token=1, mosaic=mosaic)
    assert client.wait_idle(60)
    client.submit(frame, token=2)
    assert client.wait_idle(60)
    pool.close()
    width, height = mosaic.canvas
    assert recorder.calls == [("canvas", (height, width, 3)), ("one", (480, 640, 3))]


@needs_models
def test_centernet_with_a_free_input_size_gives_the_whole_graphs_boxes_at_512(centernet):
    image = np.random.default_rng(0).integers(0, 255, (576, 768, 3), np.uint8)
    if VTEST.is_file():
        image = frames(VTEST, [50])[0]
    found = centernet.detect_one(image)
    session = ort.InferenceSession(str(centernet.model_path), providers=["CPUExecutionProvider"])
    blob = cv2.cvtColor(cv2.resize(image, (SIZE, SIZE)), cv2.COLOR_BGR2RGB).astype(np.float32)[None]
    rows = session.run(["tower_0/detections"], {session.get_inputs()[0].name: blob})[0][0]
    rows = rows[rows[:, 4] >= 0.05]
    scale = np.array([768, 576, 768, 576], np.float32) / SIZE
    assert len(found) == len(rows)
    assert np.abs(found.scores - rows[:, 4]).max() < 1e-4
    assert np.abs(found.xyxy - np.clip(rows[:, :4] * scale, 0, [768, 576, 768, 576])).max() < 0.05


@needs_models
@needs_samples
@needs_mot
def test_people_in_a_cut_canvas_are_found_as_on_the_full_one(centernet):
    """Real frames (vtest and TUD-Stadtmitte), regions around one, two and three of the people the
    whole frame shows: the cut canvas finds the same people at the same places."""
    clips = [frames(VTEST, [40, 200, 400]), frames(MOT / "TUD-Stadtmitte" / "TUD-Stadtmitte.mp4", [20, 120])]
    compared = 0
    for image in (img for clip in clips for img in clip):
        height, width = image.shape[:2]
        whole = people(centernet.detect_one(image))
        least = max(SIZE / width, SIZE / height)
        for count in (1, 2, 3):
            boxes = grow(whole.xyxy[:count], width, height)
            full = pack(boxes, width, height, SIZE, least)
            cut = pack(boxes, width, height, SIZE, least, step=32)
            if full is None or cut is None:
                continue
            assert cut.canvas[0] * cut.canvas[1] <= SIZE * SIZE
            on_full = people(full.to_frame(centernet.detect_one(full.render(image)))[0])
            on_cut = people(cut.to_frame(centernet.detect_canvas(cut.render(image)))[0])
            assert abs(len(on_full) - len(on_cut)) <= 1
            iou = matched_iou(on_full, on_cut)
            assert len(iou) >= min(len(on_full), len(on_cut)) and (iou >= 0.8).all(), iou
            compared += 1
    assert compared >= 8
