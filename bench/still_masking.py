"""Masking people on a still: how many people a file camera's still hides from a masked viewer
when the detector finds them (``scenewatch.api.file_still``), and how much of the scene stays.

Run: ``.venv/bin/python bench/still_masking.py [--every N] [--detector centernet|nanodet]``. Every
Nth frame of each sequence is taken as a still; the detector runs on it as the Zones page's still
does, and each person box is grown as the mosaic grows it (``privacy.MARGIN``, ``MIN_MARGIN``).
Against the hand-made ground truth, a person counts as hidden when the mosaic covers their head
(the top fifth of their box) whole and at least 90 % of their box. Printed per score floor: people
hidden, heads hidden, and the share of the picture pixelated (before: the whole frame, 100 %).

Split: TUD-Campus is dev: ``PERSON_SCORE`` (0.25) was set before measuring and checked there (the
floors 0.15-0.3 hide the same people on it); TUD-Stadtmitte and the walkway
(``bench/labels/walkway``) are test, never tuned on. Benchmarks print; they never fail a test run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402
from tracking import sequence_files  # noqa: E402

from scenewatch.api.file_still import PERSON, PERSON_SCORE, find_people  # noqa: E402
from scenewatch.api.privacy import MARGIN, MIN_MARGIN  # noqa: E402
from scenewatch.config import AppConfig, CameraConfig  # noqa: E402
from scenewatch.config.source import SourceConfig  # noqa: E402
from scenewatch.eval.mot import load_mot  # noqa: E402
from scenewatch.flow.detect import build_detector  # noqa: E402

SEQUENCES = {"TUD-Campus": "dev", "TUD-Stadtmitte": "test", "walkway": "test"}
FLOORS = (0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
BODY_COVERED = 0.9
HEAD_COVERED = 0.99  # a rounding pixel at the edge aside


def mosaic_mask(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The pixels ``privacy.apply`` pixelates for these person boxes."""
    mask = np.zeros(shape, bool)
    height, width = shape
    for x1, y1, x2, y2 in boxes:
        mx, my = max(MIN_MARGIN, (x2 - x1) * MARGIN), max(MIN_MARGIN, (y2 - y1) * MARGIN)
        a, b = max(0, int(np.floor(x1 - mx))), max(0, int(np.floor(y1 - my)))
        c, d = min(width, int(np.ceil(x2 + mx))), min(height, int(np.ceil(y2 + my)))
        if c - a >= 2 and d - b >= 2:
            mask[b:d, a:c] = True
    return mask


def covered(mask: np.ndarray, box: tuple[float, float, float, float]) -> float:
    height, width = mask.shape
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
    if x2 <= x1 or y2 <= y1:
        return 1.0  # outside the picture: nothing to hide
    return float(mask[y1:y2, x1:x2].mean())


def score_sequence(name: str, settings: AppConfig, every: int) -> dict[float, tuple[int, int, int, float]]:
    """floor -> (people, bodies hidden, heads hidden, share of the picture pixelated)."""
    video, gt_path = sequence_files(name)
    gt = load_mot(gt_path, ground_truth=True)
    detector = build_detector(settings)
    camera = CameraConfig(name=name, source=SourceConfig(url=str(video)))
    totals = {floor: [0, 0, 0, 0.0] for floor in FLOORS}
    frames = 0
    capture = cv2.VideoCapture(str(video))
    index = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        index += 1  # MOT frames count from 1
        if (index - 1) % every:
            continue
        people = gt[gt[:, 0] == index]
        if not len(people):
            continue
        frames += 1
        found = detector.detect_one(image)
        persons = found[found.class_ids == PERSON]
        if frames == 1:  # the bench measures the code the server runs
            served, _note = find_people(settings, camera, image)
            expected = persons.xyxy[persons.scores >= PERSON_SCORE]
            assert served is not None and np.allclose(np.sort(served, 0), np.sort(expected, 0))
        for floor in FLOORS:
            mask = mosaic_mask(persons.xyxy[persons.scores >= floor], image.shape[:2])
            total = totals[floor]
            for _f, _id, left, top, w, h, _s in people:
                body = (left, top, left + w, top + h)
                head = (left, top, left + w, top + h / 5)
                total[0] += 1
                total[1] += covered(mask, body) >= BODY_COVERED
                total[2] += covered(mask, head) >= HEAD_COVERED
            total[3] += float(mask.mean())
    capture.release()
    return {floor: (t[0], t[1], t[2], t[3] / max(frames, 1)) for floor, t in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=5, help="take every Nth frame as a still")
    parser.add_argument("--detector", default="centernet", help="detector.type")
    args = parser.parse_args()
    settings = AppConfig.model_validate({"detector": {"type": args.detector}})
    print(describe_machine())
    print(f"detector {args.detector}, every {args.every}th frame; served floor PERSON_SCORE = {PERSON_SCORE}")
    for name, part in SEQUENCES.items():
        video, gt_path = sequence_files(name)
        if not video.is_file() or not gt_path.is_file():
            print(f"{name} ({part}): video or gt.txt missing, skipped")
            continue
        print(f"{name} ({part}):")
        for floor, (people, bodies, heads, area) in score_sequence(name, settings, args.every).items():
            mark = "  <- served" if floor == PERSON_SCORE else ""
            print(
                f"  floor {floor:.2f}: people hidden {bodies / people:6.1%}, heads hidden {heads / people:6.1%} "
                f"of {people}; picture pixelated {area:5.1%} (whole-frame mask: 100 %){mark}"
            )


if __name__ == "__main__":
    main()
