"""What detecting regions costs and finds, against whole frames: the per-camera half of capacity.

Run: ``.venv/bin/python bench/regions.py [--detector centernet|nanodet] [--skip cost|small]``

Frames go through one camera's path as ``flow/camera.py`` runs it (planner with the capacity
settings, the detector on what the plan submits, the filter, the tracker feeding the planner back),
in frame time, not real time, so the figures do not depend on the machine's load.

1. Cost: detector CPU seconds per camera-second on a busy scene (vtest.avi, people always walking)
   and on a quiet one (vtest's first frame held still for the same time, with sensor noise: nothing
   moves), and their ratio (target <= 5 %).
2. Small objects: TUD sequences shrunk to a quarter (people 30-46 px high) on a 640x480 grey view,
   as a far corner of a wide camera looks. On every frame the planner detected, recall of the
   people under 40 px high (IoU >= 0.5, after the configured filter) from the planner's answer
   (regions mosaic) against detecting the same whole frame. Also recall of everyone on the
   unshrunk sequences. TUD-Campus is the dev part (where the settings were chosen), TUD-Stadtmitte
   the test part.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from scenewatch.config import AppConfig
from scenewatch.config.capacity import CapacityConfig
from scenewatch.eval.mot import load_mot
from scenewatch.flow.detect import build_detector, build_filter
from scenewatch.runtime.wiring import build_planner
from scenewatch.tracking.matching import iou_matrix
from scenewatch.tracking.tracker import Tracker
from scenewatch.types import Detections, Frame

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEQUENCES = {"TUD-Campus": "dev", "TUD-Stadtmitte": "test"}
SHRINK, VIEW, CORNER = 0.25, (640, 480), (440, 330)  # the far corner: a quarter-size sequence at x, y
SMALL_PX = 40.0
PERSON = 0  # COCO class id


def frames(video: Path, fps: float | None = None) -> Iterator[tuple[np.ndarray, float]]:
    """(BGR image, pts) of every frame; ``fps`` overrides the container's timing."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        rate = fps or float(stream.average_rate or 25)
        for i, frame in enumerate(container.decode(stream)):
            yield frame.to_ndarray(format="bgr24"), i / rate


def far(image: np.ndarray) -> np.ndarray:
    """``image`` shrunk into the far corner of a grey wide view."""
    view = np.full((VIEW[1], VIEW[0], 3), 114, np.uint8)
    small = cv2.resize(image, None, fx=SHRINK, fy=SHRINK, interpolation=cv2.INTER_AREA)
    x, y = CORNER
    view[y : y + small.shape[0], x : x + small.shape[1]] = small
    return view


def run_camera(
    source: Iterator[tuple[np.ndarray, float]],
    settings: AppConfig,
    capacity: CapacityConfig,
    detector,
    visit: Callable[[int, Frame, str, Detections], None] | None = None,
) -> tuple[float, float, int]:
    """(detector CPU seconds, camera seconds, detections) of one camera's path over ``source``;
    ``visit(index, frame, kind, kept)`` sees every frame the plan detected."""
    planner = build_planner(capacity, "bench", settings.detector)
    assert planner is not None
    filt = build_filter(settings, None)
    tracker = Tracker(settings.tracker)
    cpu = 0.0
    detections = 0
    pts = 0.0
    for index, (image, pts) in enumerate(source):
        frame = Frame(image, "bench", index, 1000.0 + pts, pts)
        plan = planner.plan(frame)
        if plan.kind == "skip":
            continue
        raw = None
        if plan.detects:
            started = time.thread_time()
            detect = detector.detect_canvas if plan.mosaic is not None else detector.detect_one
            raw = detect(plan.image(image))
            cpu += time.thread_time() - started
            detections += 1
        merged = planner.merge(plan, frame, raw)
        kept = filt.keep(merged, image.shape)
        if plan.detects and visit is not None:
            visit(index, frame, plan.kind, kept)
        planner.observe(tracker.update(kept, frame.timestamp, index), frame)
    return cpu, pts, detections


def cost(settings: AppConfig, capacity: CapacityConfig, detector, seconds: float) -> None:
    video = DATA / "video" / "vtest.avi"
    busy = []
    for image, pts in frames(video, 10.0):
        if pts >= seconds:
            break
        busy.append((image, pts))
    rng = np.random.default_rng(0)
    still = busy[0][0].astype(np.int16)
    quiet = [
        (np.clip(still + rng.normal(0, 2, still.shape), 0, 255).astype(np.uint8), pts) for _, pts in busy
    ]
    figures = {}
    for name, source in (("busy", busy), ("quiet", quiet)):
        cpu, span, n = run_camera(iter(source), settings, capacity, detector)
        figures[name] = cpu / span
        print(
            f"  {name:5s} ({video.name}, {span:.0f} s at 10 fps): {n} detections, "
            f"{1000 * cpu / span:.1f} ms detector CPU per camera-second",
            flush=True,
        )
    print(
        f"quiet / busy detector CPU per camera-second: {100 * figures['quiet'] / figures['busy']:.1f} % "
        "(target <= 5 %)"
    )


class Recall:
    """A planner visitor: ground truth of each detected frame against the planner's answer and
    against detecting the whole frame."""

    def __init__(self, gt: np.ndarray, shrunk: bool, settings: AppConfig, detector) -> None:
        self.gt, self.shrunk, self.detector = gt, shrunk, detector
        self.filter = build_filter(settings, None)
        self.counts = {"regions": 0, "whole": 0, "total": 0}
        self.kinds: dict[str, int] = {}

    def __call__(self, index: int, frame: Frame, kind: str, kept: Detections) -> None:
        rows = self.gt[self.gt[:, 0] == index + 1]  # gt frame N is decoded frame N-1
        boxes = rows[:, 2:6].astype(np.float32).copy()
        boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
        if self.shrunk:
            boxes = boxes * SHRINK + np.array(CORNER * 2, np.float32)
            boxes = boxes[boxes[:, 3] - boxes[:, 1] < SMALL_PX]
        if not len(boxes):
            return
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        whole = self.filter.keep(self.detector.detect_one(frame.image), frame.image.shape)
        for label, found in (("regions", kept), ("whole", whole)):
            self.counts[label] += recalled(boxes, found.xyxy[found.class_ids == PERSON])
        self.counts["total"] += len(boxes)


def small(settings: AppConfig, capacity: CapacityConfig, detector) -> None:
    for name, part in SEQUENCES.items():
        video = DATA / "mot" / name / f"{name}.mp4"
        gt = load_mot(DATA / "mot" / name / "gt.txt", ground_truth=True)
        for shrunk in (True, False):
            recall = Recall(gt, shrunk, settings, detector)
            source = ((far(image), pts) for image, pts in frames(video)) if shrunk else frames(video)
            run_camera(source, settings, capacity, detector, recall)
            c = recall.counts
            what = f"people < {SMALL_PX:.0f} px, far view" if shrunk else "all people, as filmed"
            print(
                f"  {name} ({part}), {what}: recall with regions {c['regions'] / max(c['total'], 1):.3f} vs "
                f"whole frame {c['whole'] / max(c['total'], 1):.3f} ({c['total']} boxes on the frames the "
                f"planner detected: {', '.join(f'{k} {v}' for k, v in sorted(recall.kinds.items()))})",
                flush=True,
            )


def recalled(truth: np.ndarray, found: np.ndarray, threshold: float = 0.5) -> int:
    """Ground-truth boxes matched one-to-one (greedy by IoU) by a found box with IoU >= threshold."""
    if not len(truth) or not len(found):
        return 0
    overlap = iou_matrix(truth, found)
    hits = 0
    while overlap.size and overlap.max() >= threshold:
        i, j = np.unravel_index(int(overlap.argmax()), overlap.shape)
        overlap[i, :] = overlap[:, j] = 0.0
        hits += 1
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="centernet", choices=["centernet", "nanodet"])
    parser.add_argument("--seconds", type=float, default=60.0, help="camera-seconds of each cost scene")
    parser.add_argument("--no-regions", action="store_true", help="the single motion crop, as before")
    parser.add_argument("--no-trim", action="store_true", help="mosaics on the detector's full input")
    parser.add_argument("--skip", choices=["cost", "small"], action="append", default=[])
    args = parser.parse_args()
    settings = AppConfig.model_validate({"detector": {"type": args.detector, "threads": 1}})
    capacity = CapacityConfig(enabled=True, regions=not args.no_regions, trim_canvas=not args.no_trim)
    detector = build_detector(settings)
    print(f"detector {args.detector}, 1 thread; regions {'off' if args.no_regions else 'on'}")
    if "cost" not in args.skip:
        cost(settings, capacity, detector, args.seconds)
    if "small" not in args.skip:
        small(settings, capacity, detector)


if __name__ == "__main__":
    main()
