"""Contact sheets of the hand-labelled people, so anyone can check the labels by eye.

    .venv/bin/python bench/labels/make_crops.py [--out /tmp/scenewatch-label-sheets]

Writes one PNG per labelled person (``tud_<gt id>.png``, ``campus_<gt id>.png``,
``vtest_<label>.png``): a row of crops (5 frames spread over the gt track for TUD-Stadtmitte and
TUD-Campus; the sighting and ``also_seen`` boxes for vtest) above the label text and the
person's looks (``people_looks.json``). Open them with any image viewer next to the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import av
import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1].parent / "shared" / "data"
TILE_H = 240


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def tile(image: np.ndarray, frame: int, box: list[float]) -> np.ndarray:
    """The box with a little context, scaled to TILE_H pixels high, the frame number in a corner."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    px, py = 0.15 * (x2 - x1), 0.06 * (y2 - y1)
    left, top = int(max(x1 - px, 0)), int(max(y1 - py, 0))
    right, bottom = int(min(x2 + px, width)), int(min(y2 + py, height))
    crop = image[top:bottom, left:right]
    scale = TILE_H / max(crop.shape[0], 1)
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), TILE_H), interpolation=cv2.INTER_CUBIC)
    cv2.putText(crop, str(frame), (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
    return np.pad(crop, ((0, 0), (0, 4), (0, 0)))


LOOKS = json.loads((HERE / "people_looks.json").read_text())["labels"]  # keyed like bench/search.py


def sheet(tiles: list[np.ndarray], label: dict, title: str, key: str = "") -> np.ndarray:
    label = {**label, **{f"looks {k}": v for k, v in LOOKS.get(key, {}).items() if k != "note"}}
    row = np.concatenate(tiles, axis=1)
    keys = ("upper", "lower", "head", "head_note", "carried", "carried_unsure", "posture", "direction")
    keys += tuple(k for k in label if k.startswith("looks "))
    lines = [title] + [f"{k}: {label.get(k)}" for k in keys if label.get(k) not in (None, [])]
    if label.get("note"):
        lines.append(f"note: {label['note']}"[:110])
    width = max(row.shape[1], 640)
    text = np.full((16 * len(lines) + 6, width, 3), 255, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(text, line, (4, 16 * i + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1)
    row = np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)))
    return np.concatenate([row, text], axis=0)


def tud_sheets(out: Path, sequence: str = "TUD-Stadtmitte", prefix: str = "tud") -> int:
    folder = DATA / "mot" / sequence
    labels = json.loads((HERE / f"{sequence.lower().replace('-', '_')}.json").read_text())["labels"]
    frames = decode(folder / f"{sequence}.mp4")
    gt = np.loadtxt(folder / "gt.txt", delimiter=",")
    gt = gt[gt[:, 6] != 0]
    for pid, label in labels.items():
        rows = gt[gt[:, 1] == int(pid)]
        picks = rows[np.linspace(0, len(rows) - 1, 5).astype(int)]
        tiles = [
            tile(frames[int(r[0]) - 1], int(r[0]) - 1, [r[2], r[3], r[2] + r[4], r[3] + r[5]]) for r in picks
        ]
        sheet_image = sheet(tiles, label, f"{sequence} gt id {pid}", f"{prefix}:{pid}")
        cv2.imwrite(str(out / f"{prefix}_{pid}.png"), sheet_image)
    return len(labels)


def vtest_sheets(out: Path) -> int:
    labels = json.loads((HERE / "vtest.json").read_text())["labels"]
    frames = decode(DATA / "video" / "vtest.avi")
    for name, label in labels.items():
        seen = sorted([label["sighting"], *label.get("also_seen", [])])
        tiles = [tile(frames[s[0]], s[0], s[1:]) for s in seen]
        cv2.imwrite(
            str(out / f"vtest_{name}.png"),
            sheet(tiles, label, f"vtest {name} at {label['sighting']}", f"vtest:{name}"),
        )
    return len(labels)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/scenewatch-label-sheets"))
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"team footage not found at {DATA}")
    args.out.mkdir(parents=True, exist_ok=True)
    n_tud, n_campus = tud_sheets(args.out), tud_sheets(args.out, "TUD-Campus", "campus")
    n_vtest = vtest_sheets(args.out)
    print(f"{n_tud} TUD-Stadtmitte, {n_campus} TUD-Campus and {n_vtest} vtest sheets in {args.out}")


if __name__ == "__main__":
    main()
