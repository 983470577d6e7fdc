"""Candidate key frames for a hand-checked MOT ground truth (the starting point, not the truth).

Run: ``.venv/bin/python bench/labels/propose_mot.py VIDEO OUT.json [--every 12] [--score 0.35] [--cache DETS.npz]``

Both ONNX detectors (CenterNet and NanoDet) run on every frame at a low score (with ``--tiles``
also on overlapping crops enlarged to the model's input, for crowds of small far people), their
person boxes are pooled (non-maximum suppression across the two), and a plain greedy IoU linker with a
constant-velocity guess joins them into candidate identities. This is deliberately not the
product's tracker: the truth must not be what the tracker would have made. The output is a key-frame
file in the format ``make_mot.py`` reads; every box and id in it is then checked by eye on frames
rendered with ``render_keys.py`` and corrected by hand.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from scenewatch.config import AppConfig
from scenewatch.flow.detect import build_detector

PERSON = 0  # COCO-80 class index


def crops(width: int, height: int, side: int) -> list[tuple[int, int, int, int]]:
    """Square ``side`` crops (x0, y0, x1, y1) covering the picture, overlapping by a quarter."""

    def starts(extent: int) -> list[int]:
        if extent <= side:
            return [0]
        n = int(np.ceil((extent - side) / (side * 0.75))) + 1
        return [round(i * (extent - side) / (n - 1)) for i in range(n)]

    return [
        (x, y, min(x + side, width), min(y + side, height)) for y in starts(height) for x in starts(width)
    ]


def detect_in(detector, image: np.ndarray, tile: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(xyxy, scores) of people in the whole picture, plus in each ``tile`` crop when asked; boxes
    cut by a crop's inner edge are left to the whole picture or a neighbouring crop."""
    d = detector.detect_one(image)
    keep = d.class_ids == PERSON
    boxes, scores = [d.xyxy[keep]], [d.scores[keep]]
    height, width = image.shape[:2]
    for x0, y0, x1, y1 in crops(width, height, tile) if tile else []:
        c = detector.detect_one(image[y0:y1, x0:x1])
        b = c.xyxy + [x0, y0, x0, y0]
        inner = ((b[:, 0] <= x0 + 2) & (x0 > 0)) | ((b[:, 1] <= y0 + 2) & (y0 > 0))
        inner |= ((b[:, 2] >= x1 - 2) & (x1 < width)) | ((b[:, 3] >= y1 - 2) & (y1 < height))
        keep = (c.class_ids == PERSON) & ~inner
        boxes.append(b[keep])
        scores.append(c.scores[keep])
    return np.concatenate(boxes), np.concatenate(scores)


def detect_people(
    video: Path, score: float, limit: int | None = None, tile: int | None = None
) -> list[np.ndarray]:
    """Per frame, [N, 5] xyxy + score of people found by either detector (cross-model NMS), for
    the first ``limit`` frames (all without); with ``tile``, also in crops of that side."""
    detectors = [
        build_detector(AppConfig.model_validate({"detector": {"type": t}})) for t in ("centernet", "nanodet")
    ]
    capture = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    while limit is None or len(frames) < limit:
        ok, image = capture.read()
        if not ok:
            break
        found = [detect_in(detector, image, tile) for detector in detectors]
        xyxy = np.concatenate([b for b, _ in found]).astype(np.float32)
        s = np.concatenate([v for _, v in found]).astype(np.float32)
        xyxy, s = xyxy[s >= score], s[s >= score]
        tlwh = np.hstack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]).tolist()
        kept = cv2.dnn.NMSBoxes(tlwh, s.tolist(), score, 0.5) if len(s) else []
        kept = np.asarray(kept, dtype=int).reshape(-1)
        frames.append(np.hstack([xyxy[kept], s[kept, None]]))
    return frames


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[A, B] IoU of xyxy boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:4], b[None, :, 2:4])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:4] - x[:, :2], axis=1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)


def link(
    frames: list[np.ndarray], max_gap: int = 12, min_iou: float = 0.3
) -> dict[int, dict[int, np.ndarray]]:
    """Greedy IoU linking (best pairs first) against each open track's velocity-extrapolated box."""
    tracks: dict[int, dict[int, np.ndarray]] = {}
    for f, dets in enumerate(frames):
        open_ids = [t for t, boxes in tracks.items() if f - max(boxes) <= max_gap]
        guesses = [extrapolate(tracks[t], f) for t in open_ids]
        given: set[int] = set()
        if open_ids and len(dets):
            overlap = iou(np.array(guesses), dets[:, :4])
            for flat in np.argsort(-overlap, axis=None):
                i, j = (int(v) for v in np.unravel_index(flat, overlap.shape))
                if overlap[i, j] < min_iou:
                    break
                if f in tracks[open_ids[i]] or j in given:
                    continue
                tracks[open_ids[i]][f] = dets[j]
                given.add(j)
        for j in sorted(set(range(len(dets))) - given):
            tracks[len(tracks) + 1] = {f: dets[j]}
    return tracks


def extrapolate(boxes: dict[int, np.ndarray], frame: int) -> np.ndarray:
    """The track's box moved on to ``frame`` at its last velocity."""
    last = max(boxes)
    before = [k for k in boxes if k < last]
    if not before:
        return boxes[last][:4]
    velocity = (boxes[last][:4] - boxes[max(before)][:4]) / (last - max(before))
    return boxes[last][:4] + velocity * (frame - last)


def key_frames(tracks: dict[int, dict[int, np.ndarray]], every: int, min_len: int) -> dict[str, dict]:
    """Tracks of at least ``min_len`` frames as key frames (1-based, MOT) every ``every`` frames."""
    out: dict[str, dict] = {}
    for boxes in tracks.values():
        frames = sorted(boxes)
        if len(frames) < min_len:
            continue
        picks = [k for k in frames if (k - frames[0]) % every == 0] + [frames[-1]]
        keys = []
        for k in sorted(set(picks)):
            x0, y0, x1, y1 = (round(float(v)) for v in boxes[k][:4])
            keys.append([k + 1, x0, y0, x1 - x0, y1 - y0, 1])
        out[str(len(out) + 1)] = {"class": 1, "note": "", "keys": keys}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--every", type=int, default=12, help="key frame spacing in frames")
    parser.add_argument("--score", type=float, default=0.35, help="lowest detector score linked")
    parser.add_argument("--frames", type=int, help="only the first N frames (a clip labelled from its start)")
    parser.add_argument(
        "--cache", type=Path, help="keep the detections here (.npz) to relink without detecting"
    )
    parser.add_argument("--tiles", type=int, help="also detect in square crops of this side (pixels)")
    parser.add_argument("--min-len", type=int, default=6, help="shortest candidate track kept, frames")
    args = parser.parse_args()
    if args.cache and args.cache.is_file():
        saved = np.load(args.cache)
        frames = [saved[str(i)] for i in range(len(saved.files))]
    else:
        frames = detect_people(args.video, 0.05, args.frames, args.tiles)
        if args.cache:
            np.savez_compressed(args.cache, **{str(i): f for i, f in enumerate(frames)})
    frames = [f[f[:, 4] >= args.score] for f in frames]
    tracks = link(frames)
    capture = cv2.VideoCapture(str(args.video))
    size = [int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))]
    label = {
        "sequence": args.video.stem,
        "clip": f"video/{args.video.name}",
        "fps": capture.get(cv2.CAP_PROP_FPS),
        "size": size,
        "frames": len(frames),
        "tracks": key_frames(tracks, args.every, args.min_len),
    }
    args.out.write_text(json.dumps(label, indent=1))
    print(f"{len(label['tracks'])} candidate tracks over {len(frames)} frames -> {args.out}")


if __name__ == "__main__":
    main()
