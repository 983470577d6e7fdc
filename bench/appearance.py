"""The tracker's appearance cue in isolation: CPU milliseconds a frame, and what it changes.

Run: ``.venv/bin/python bench/appearance.py [--video PATH] [--frames N] [--repeat N]``. Detects people
on the first N frames of the clip once (centernet), then times, in CPU time of this process:

- the cue itself (``scenewatch.tracking.appearance.describe`` on every frame's person boxes);
- the tracker over the same detections with the cue on and off (association, learning, joins),
  so the difference is everything the cue adds to a frame.

Prints the median of ``--repeat`` runs, boxes per frame, the ids each setting gave out and the
machine. Speed only: quality is ``bench/tracking.py --appearance`` (``tracker.appearance``, off by default).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402

from scenewatch.config import AppConfig  # noqa: E402
from scenewatch.config.tracker import TrackerConfig  # noqa: E402
from scenewatch.pipeline import build_detector  # noqa: E402
from scenewatch.tracking import Tracker  # noqa: E402
from scenewatch.tracking.appearance import describe  # noqa: E402
from scenewatch.types import Detections  # noqa: E402

VTEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "vtest.avi"


def detected(video: Path, count: int) -> list[tuple[np.ndarray, Detections]]:
    """(frame, person detections) of the first ``count`` frames."""
    detector = build_detector(AppConfig())
    capture = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        found = detector.detect_one(image)
        frames.append((image, found[(found.class_ids == 0) & (found.scores >= 0.3)]))
    if not frames:
        raise SystemExit(f"no frames decoded from {video} (check the path)")
    return frames


def cpu_ms(work, frames: list, repeat: int) -> float:
    """Median CPU milliseconds a frame of ``work(frames)`` over ``repeat`` runs."""
    runs = []
    for _ in range(repeat):
        start = time.process_time()
        work(frames)
        runs.append((time.process_time() - start) * 1000 / len(frames))
    return statistics.median(runs)


def track(config: TrackerConfig, with_image: bool):
    def work(frames: list) -> set[int]:
        tracker, ids = Tracker(config), set()
        for n, (image, dets) in enumerate(frames):
            out = tracker.update(dets, n / 10, n, image if with_image else None)
            ids |= set(out.track_ids.tolist())
        return ids

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=VTEST)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {describe_machine()}")
    frames = detected(args.video, args.frames)
    boxes = np.mean([len(d) for _, d in frames])
    cue = cpu_ms(lambda fs: [describe(image, d.xyxy) for image, d in fs], frames, args.repeat)
    on, off = TrackerConfig(appearance=True), TrackerConfig(appearance=False)
    with_cue = cpu_ms(track(on, True), frames, args.repeat)
    without = cpu_ms(track(off, False), frames, args.repeat)
    ids_on, ids_off = len(track(on, True)(frames)), len(track(off, False)(frames))
    print(f"{args.video.name}: {len(frames)} frames, {boxes:.1f} person boxes a frame")
    print(
        f"  the cue alone (colour histograms): {cue:.3f} ms CPU a frame, {1000 * cue / max(boxes, 1e-9):.0f} us a box"
    )
    print(
        f"  tracker with the cue {with_cue:.3f} ms, without {without:.3f} ms CPU a frame"
        f" (+{with_cue - without:.3f} ms); track ids given out {ids_on} with, {ids_off} without"
    )


if __name__ == "__main__":
    main()
