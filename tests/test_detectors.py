"""CenterNet, NanoDet and MoveNet on real pictures, against boxes checked by eye."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import IMAGES, MODELS, VTEST, needs, needs_models, needs_samples

from scenewatch.model_checks import SMOKE_FRAME
from scenewatch.types import Detections
from scenewatch.vision.centernet import CenterNetDetector
from scenewatch.vision.labels import class_id
from scenewatch.vision.nanodet import NanoDetDetector, decode_distances, letterbox
from scenewatch.vision.pose import PoseEstimator

DOG = IMAGES / "darknet_dog.jpg"
PERSON = IMAGES / "darknet_person.jpg"
pytestmark = [needs_models, needs_samples]

# Checked by eye on darknet_dog.jpg (768x576): the red bicycle, the dog, the white pickup.
DOG_OBJECTS = {
    "bicycle": ([125, 140, 565, 420], {"bicycle"}),
    "dog": ([130, 220, 310, 540], {"dog"}),
    "pickup": ([465, 75, 690, 170], {"car", "truck"}),
}
# Checked by eye on frame 100 of vtest.avi: six walkers clear of the sign post.
VTEST_PEOPLE = np.array(
    [[345, 198, 380, 275], [375, 178, 410, 258], [491, 150, 521, 219], [511, 151, 541, 219],
     [587, 156, 619, 235], [221, 60, 237, 95]], dtype=np.float32,
)  # fmt: skip


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[len(a), len(b)] IoU of xyxy boxes."""
    a, b = np.asarray(a, np.float32).reshape(-1, 4), np.asarray(b, np.float32).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


def of_classes(found: Detections, names: set[str], min_score: float) -> Detections:
    keep = np.isin(found.class_ids, [class_id(n) for n in names]) & (found.scores >= min_score)
    return found[keep]


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    capture = cv2.VideoCapture(str(VTEST))
    capture.set(cv2.CAP_PROP_POS_FRAMES, SMOKE_FRAME)
    ok, image = capture.read()
    assert ok
    return image


@pytest.fixture(scope="module", params=["centernet", "nanodet"])
def detector(request):
    cls = {"centernet": CenterNetDetector, "nanodet": NanoDetDetector}[request.param]
    return cls(MODELS / cls.model_file)


@pytest.fixture(scope="module")
def both():
    return CenterNetDetector(MODELS / "centernet.onnx"), NanoDetDetector(MODELS / "nanodet.onnx")


@needs(DOG)
@pytest.mark.parametrize("name", list(DOG_OBJECTS))
def test_finds_the_objects_of_the_dog_picture(detector, name):
    region, classes = DOG_OBJECTS[name]
    found = of_classes(detector.detect_one(cv2.imread(str(DOG))), classes, 0.3)
    assert len(found), f"no {classes} at score >= 0.3"
    assert iou(found.xyxy, region).max() >= 0.6, found.xyxy


def test_finds_the_people_of_a_vtest_frame(detector, frame):
    found = detector.detect_one(frame)
    assert found.xyxy.dtype == np.float32 and found.class_ids.dtype == np.int32
    assert (found.scores >= 0.05).all() and len(found) <= 100
    people = of_classes(found, {"person"}, 0.3)
    matched = (iou(VTEST_PEOPLE, people.xyxy).max(axis=1) >= 0.5).sum()
    assert matched >= 5, people.xyxy
    # Boxes come in frame pixels, inside the frame.
    assert (found.xyxy[:, 2] <= frame.shape[1]).all() and (found.xyxy[:, 3] <= frame.shape[0]).all()


@needs(DOG)
def test_nanodet_and_centernet_agree_on_the_main_objects(both, frame):
    centernet, nanodet = both
    for image, names in [(cv2.imread(str(DOG)), ["bicycle", "dog"]), (frame, ["person"])]:
        a, b = centernet.detect_one(image), nanodet.detect_one(image)
        for name in names:
            ours, theirs = of_classes(a, {name}, 0.4), of_classes(b, {name}, 0.3)
            assert len(ours), name
            overlap = iou(ours.xyxy, theirs.xyxy).max(axis=1) if len(theirs) else np.zeros(len(ours))
            assert (overlap >= 0.5).mean() >= 0.8, (name, ours.xyxy, theirs.xyxy)


def test_nanodet_finds_nothing_confident_in_a_blank_picture(both):
    found = both[1].detect_one(np.full((480, 640, 3), 127, np.uint8))
    assert (found.scores < 0.3).all()


def test_distance_bins_decode_to_their_expectation():
    logits = np.full((2, 44), -50.0, dtype=np.float32)
    logits[0, [3, 11 + 0, 22 + 10, 33 + 5]] = 50.0  # sure: 3, 0, 10, 5 strides
    logits[1] = 0.0  # uniform over 0..10: 5 strides each side
    distances = decode_distances(logits, stride=8.0)
    np.testing.assert_allclose(distances, [[24, 0, 80, 40], [40, 40, 40, 40]], atol=1e-3)


def test_letterbox_keeps_the_aspect():
    canvas, scale = letterbox(np.full((300, 600, 3), 255, np.uint8), 416)
    assert canvas.shape == (416, 416, 3) and scale == pytest.approx(416 / 600)
    assert canvas[:208].min() == 255 and canvas[209:].max() == 0


@pytest.fixture(scope="module")
def pose() -> PoseEstimator:
    return PoseEstimator(MODELS / "movenet-multipose.onnx")


@needs(PERSON)
def test_pose_finds_the_keypoints_of_a_person(pose):
    image = cv2.imread(str(PERSON))
    poses = pose.estimate(image)
    assert poses
    keypoints, box, score = poses[0]
    assert keypoints.shape == (17, 3) and score >= 0.3
    # The man in the blue jacket, checked by eye: about x 186-275, y 109-375.
    assert iou(box, [186, 109, 275, 375])[0, 0] >= 0.6, box
    sure = keypoints[keypoints[:, 2] >= 0.3]
    assert len(sure) >= 12
    assert ((sure[:, 0] > 170) & (sure[:, 0] < 290) & (sure[:, 1] > 95) & (sure[:, 1] < 390)).all()
    nose, ankles = keypoints[0], keypoints[15:17]
    assert nose[1] < ankles[:, 1].min() - 150  # standing: head far above the feet


def test_pose_maps_keypoints_back_to_a_wide_frame(frame):
    wide = PoseEstimator(MODELS / "movenet-multipose.onnx", size=512)
    boxes = np.array([p.box for p in wide.estimate(frame, min_score=0.25)])
    assert len(boxes) >= 3
    # Each confident pose sits on one of the walkers, so padding and scale were undone right.
    assert (iou(boxes, VTEST_PEOPLE).max(axis=1) >= 0.5).all(), boxes
