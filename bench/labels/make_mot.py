"""MOTChallenge ground truth from a hand-checked key-frame file, and the checks it must pass.

Run: ``.venv/bin/python bench/labels/make_mot.py bench/labels/walkway_keyframes.json``
writes ``bench/labels/<sequence>/gt.txt`` and ``seqinfo.ini`` and prints the checks' verdict
(exit 1 on a problem). ``--check`` only checks the existing gt.txt against the key-frame file.

Key-frame file (JSON): ``sequence``, ``clip`` (under ../shared/data), ``fps``, ``size`` [w, h],
``frames`` (count), and ``tracks``: id -> ``{"class": 1, "keys": [[frame, left, top, width,
height, visibility], ...]}`` with 1-based frames as in MOTChallenge. A track exists from its first
to its last key frame, every frame in between (a person fully hidden keeps a box with visibility
0, as MOT17 does); boxes and visibility are interpolated linearly between key frames and clipped
to the picture. Classes follow MOT17: 1 pedestrian, 2 person on a vehicle (a cyclist: the
detectors' "person" class includes riders, so it is scored), 8 distractor (a person too small or
too hidden to ask a detector for): ignore rows, consider flag 0, as are the rows of any person
whose box in the picture is under ``MIN_HEIGHT`` pixels tall.

gt.txt rows: ``frame, id, left, top, width, height, consider, class, visibility``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SCORED_CLASSES = (1, 2)
# A person whose box in the picture is shorter than this (far away, or entering with only the
# legs in view) is an ignore row, as MOTChallenge marks what no detector can be asked to find.
MIN_HEIGHT = 15


def interpolate(keys: list[list[float]]) -> np.ndarray:
    """[K, 6] key rows -> [N, 6] rows (frame, left, top, width, height, visibility), one per frame
    from the first key to the last."""
    k = np.array(sorted(keys, key=lambda r: r[0]), dtype=np.float64)
    frames = np.arange(int(k[0, 0]), int(k[-1, 0]) + 1)
    columns = [np.interp(frames, k[:, 0], k[:, c]) for c in range(1, 6)]
    return np.column_stack([frames, *columns])


def clip_to_picture(rows: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes (columns 1-4, tlwh) cut to the picture; rows that fall outside entirely are dropped."""
    x0 = np.clip(rows[:, 1], 0, width)
    y0 = np.clip(rows[:, 2], 0, height)
    x1 = np.clip(rows[:, 1] + rows[:, 3], 0, width)
    y1 = np.clip(rows[:, 2] + rows[:, 4], 0, height)
    out = rows.copy()
    out[:, 1:5] = np.column_stack([x0, y0, x1 - x0, y1 - y0])
    return out[(out[:, 3] >= 1) & (out[:, 4] >= 1)]


def ground_truth(label: dict) -> np.ndarray:
    """[N, 9] MOT rows (frame, id, left, top, width, height, consider, class, visibility), sorted."""
    width, height = label["size"]
    parts = []
    for track_id, track in label["tracks"].items():
        rows = clip_to_picture(interpolate(track["keys"]), width, height)
        cls = int(track["class"])
        consider = (rows[:, 4] >= MIN_HEIGHT) & (cls in SCORED_CLASSES)
        n = len(rows)
        parts.append(
            np.column_stack(
                [rows[:, 0], np.full(n, int(track_id)), rows[:, 1:5], consider, np.full(n, cls), rows[:, 5]]
            )
        )
    gt = np.concatenate(parts)
    return gt[np.lexsort((gt[:, 1], gt[:, 0]))]


def problems(gt: np.ndarray, size: tuple[int, int], frames: int) -> list[str]:
    """What is wrong with MOT ground-truth rows (empty when nothing): frames out of range, boxes
    outside the picture or empty, an id twice in a frame, an id with a gap, visibility outside 0-1."""
    width, height = size
    found = []
    frame, ids = gt[:, 0].astype(int), gt[:, 1].astype(int)
    for i in np.flatnonzero((frame < 1) | (frame > frames)):
        found.append(f"row {i + 1}: frame {frame[i]} outside 1-{frames}")
    outside = (
        (gt[:, 2] < 0)
        | (gt[:, 3] < 0)
        | (gt[:, 2] + gt[:, 4] > width + 0.5)
        | (gt[:, 3] + gt[:, 5] > height + 0.5)
    )
    for i in np.flatnonzero(outside | (gt[:, 4] <= 0) | (gt[:, 5] <= 0)):
        found.append(
            f"row {i + 1}: id {ids[i]} frame {frame[i]} box {gt[i, 2:6].tolist()} not inside {width}x{height}"
        )
    pairs, counts = np.unique(np.column_stack([frame, ids]), axis=0, return_counts=True)
    for f, t in pairs[counts > 1]:
        found.append(f"id {t} appears more than once in frame {f}")
    for t in np.unique(ids):
        seen = np.unique(frame[ids == t])
        if len(seen) != seen[-1] - seen[0] + 1:
            found.append(f"id {t} has gaps: {len(seen)} frames between {seen[0]} and {seen[-1]}")
    for i in np.flatnonzero((gt[:, 8] < 0) | (gt[:, 8] > 1)):
        found.append(f"row {i + 1}: visibility {gt[i, 8]} outside 0-1")
    return found


def write(label: dict, gt: np.ndarray, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{int(r[0])},{int(r[1])},{r[2]:.1f},{r[3]:.1f},{r[4]:.1f},{r[5]:.1f},{int(r[6])},{int(r[7])},{r[8]:.2f}"
        for r in gt
    ]
    (folder / "gt.txt").write_text("\n".join(lines) + "\n")
    width, height = label["size"]
    (folder / "seqinfo.ini").write_text(
        "[Sequence]\n"
        f"name={label['sequence']}\n"
        f"imDir=../../../../shared/data/{label['clip']}\n"
        f"frameRate={label['fps']:g}\n"
        f"seqLength={label['frames']}\n"
        f"imWidth={width}\n"
        f"imHeight={height}\n"
        f"imExt={Path(label['clip']).suffix}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keyframes", type=Path)
    parser.add_argument("--check", action="store_true", help="check the written gt.txt, write nothing")
    args = parser.parse_args()
    label = json.loads(args.keyframes.read_text())
    folder = HERE / label["sequence"]
    gt = ground_truth(label)
    if args.check:
        written = np.loadtxt(folder / "gt.txt", delimiter=",", ndmin=2)
        if written.shape != gt.shape or not np.allclose(written, gt, atol=0.06):
            print(f"{folder / 'gt.txt'} is not what {args.keyframes.name} gives: run make_mot.py again")
            sys.exit(1)
    else:
        write(label, gt, folder)
    found = problems(gt, tuple(label["size"]), label["frames"])
    scored = gt[gt[:, 6] == 1]
    print(
        f"{label['sequence']}: {len(np.unique(scored[:, 1]))} people, {len(scored)} scored boxes,"
        f" {int((gt[:, 6] == 0).sum())} ignore rows, frames {int(gt[:, 0].min())}-{int(gt[:, 0].max())}"
        f" of {label['frames']} ({label['frames'] / label['fps']:.1f} s)"
    )
    for p in found:
        print(f"  problem: {p}")
    if found:
        sys.exit(1)
    print("  checks passed: ids continuous, boxes inside the picture, one box per id and frame")


if __name__ == "__main__":
    main()
