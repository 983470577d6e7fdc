"""Contact sheets of a key-frame file's boxes and ids on the real frames, to check them by eye.

Run: ``.venv/bin/python bench/labels/render_keys.py bench/labels/walkway_keyframes.json
[--frames 1 13 25 | --every 12] [--dets CACHE.npz] [--out test-artifacts/labels]``

Each sheet holds four frames (2 x 2, full size) with every track's interpolated box, its id and
visibility; a thick box is a key frame of that track, a thin one interpolated. A faint 50-px grid
with coordinates helps read off a box for a person the proposals missed; ``--dets`` adds the raw
detector boxes (score >= 0.3, grey) from ``propose_mot.py --cache``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from make_mot import interpolate

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def colour(track_id: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(track_id * 7919)
    return tuple(int(c) for c in rng.integers(60, 256, 3))


def draw_grid(image: np.ndarray) -> None:
    h, w = image.shape[:2]
    for x in range(50, w, 50):
        cv2.line(image, (x, 0), (x, h), (90, 90, 90), 1)
        cv2.putText(image, str(x), (x + 1, 9), cv2.FONT_HERSHEY_PLAIN, 0.7, (0, 0, 0), 1)
    for y in range(50, h, 50):
        cv2.line(image, (0, y), (w, y), (90, 90, 90), 1)
        cv2.putText(image, str(y), (1, y - 1), cv2.FONT_HERSHEY_PLAIN, 0.7, (0, 0, 0), 1)


def annotate(image: np.ndarray, frame: int, label: dict, dets: np.ndarray | None) -> np.ndarray:
    out = image.copy()
    draw_grid(out)
    if dets is not None:
        for i, (x0, y0, x1, y1, s) in enumerate(dets):
            if s >= 0.3:  # numbered as in the cache, to pick a box by its index
                cv2.rectangle(out, (int(x0), int(y0)), (int(x1), int(y1)), (160, 160, 160), 1)
                cv2.putText(
                    out, f"d{i}", (int(x0), int(y1) + 9), cv2.FONT_HERSHEY_PLAIN, 0.7, (200, 200, 200), 1
                )
    for tid, track in label["tracks"].items():
        keys = track["keys"]
        rows = interpolate(keys)
        at = np.flatnonzero(rows[:, 0] == frame)
        if not len(at):
            continue
        _, x, y, w, h, vis = rows[at[0]]
        is_key = any(int(k[0]) == frame for k in keys)
        c = colour(int(tid))
        cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), c, 2 if is_key else 1)
        text = (
            f"{tid}"
            + ("" if vis >= 0.99 else f" v{vis:.1f}")
            + ("" if track["class"] == 1 else f" c{track['class']}")
        )
        cv2.putText(out, text, (int(x), max(int(y) - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3)
        cv2.putText(out, text, (int(x), max(int(y) - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, c, 1)
    cv2.putText(out, f"frame {frame}", (5, out.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3)
    cv2.putText(out, f"frame {frame}", (5, out.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 255), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keyframes", type=Path)
    parser.add_argument("--frames", type=int, nargs="*", help="1-based frames to draw")
    parser.add_argument("--every", type=int, default=12, help="draw every Nth frame (without --frames)")
    parser.add_argument("--dets", type=Path, help="detections cache from propose_mot.py --cache")
    parser.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "labels")
    parser.add_argument("--tag", default="", help="added to the sheets' file names")
    parser.add_argument(
        "--zoom", type=int, nargs=4, metavar=("X0", "Y0", "X1", "Y1"), help="crop, 2x, stacked"
    )
    args = parser.parse_args()
    label = json.loads(args.keyframes.read_text())
    wanted = args.frames or list(range(1, label["frames"] + 1, args.every))
    dets = np.load(args.dets) if args.dets else None
    capture = cv2.VideoCapture(str(DATA / label["clip"]))
    drawn: list[np.ndarray] = []
    index = 0
    while len(drawn) < len(wanted):
        ok, image = capture.read()
        if not ok:
            break
        index += 1
        if index in wanted:
            drawn.append(annotate(image, index, label, dets[str(index - 1)] if dets is not None else None))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = label.get("sequence", args.keyframes.stem)
    if args.zoom:  # one column of enlarged crops, e.g. the top edge where people enter cut off
        x0, y0, x1, y1 = args.zoom
        crops = [cv2.resize(d[y0:y1, x0:x1], None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC) for d in drawn]
        for start in range(0, len(crops), 6):
            path = args.out / f"{stem}{args.tag}_zoom_{sorted(wanted)[start]:03d}.png"
            cv2.imwrite(str(path), np.vstack(crops[start : start + 6]))
            print(path)
        return
    for start in range(0, len(drawn), 4):
        tiles = drawn[start : start + 4] + [np.zeros_like(drawn[0])] * (4 - len(drawn[start : start + 4]))
        sheet = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])
        path = args.out / f"{stem}{args.tag}_{sorted(wanted)[start]:03d}.png"
        cv2.imwrite(str(path), sheet)
        print(path)


if __name__ == "__main__":
    main()
