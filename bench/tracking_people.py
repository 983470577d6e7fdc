"""Wrong joins made visible on vtest.avi, the search bench's dev footage, which has no tracking
ground truth: the search labels (``bench/labels/vtest.json``) box each labelled walk on a few
frames (its sighting and ``also_seen``), and a track whose box covers one of them at IoU >= 0.5 on
that frame holds that label, exactly as ``bench/search.py`` maps tracks (``map_vtest``).

Printed per run: the person tracks, the *mixed* tracks (holding labels of two or more different
people, after ``people_of`` merges labels of one person; pairs the search bench cannot tell apart,
``LOOK_ALIKE``, are counted apart as unsure) and the distinct track ids per labelled walk (each
label is one walk; only its few labelled frames count, so this sees splits near them only).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from search import LOOK_ALIKE, SOURCES, _iou, people_of

VTEST = SOURCES["vtest"]
LABELS = Path(__file__).resolve().parent / "labels" / "vtest.json"


def vtest_labels() -> dict[str, dict]:
    """The labelled people of vtest, keyed as the search bench keys them (``vtest:p1``)."""
    labels = json.loads(LABELS.read_text())["labels"]
    return {f"vtest:{k}": v for k, v in labels.items() if v.get("class", "person") == "person"}


def label_tracks(rows: np.ndarray, labels: dict[str, dict]) -> dict[int, Counter]:
    """Track id -> labels whose sightings its boxes cover (IoU >= 0.5, the best box on that frame),
    from MOT ``rows`` (frame = decoded frame + 1, id, left, top, width, height, ...)."""
    by_frame: dict[int, np.ndarray] = {int(f): rows[rows[:, 0] == f] for f in np.unique(rows[:, 0]).tolist()}
    covered: dict[int, Counter] = defaultdict(Counter)
    for key, lab in labels.items():
        for frame, *box in [lab["sighting"], *(lab.get("also_seen") or [])]:
            cands = by_frame.get(int(frame) + 1)
            if cands is None or not len(cands):
                continue
            xyxy = np.concatenate([cands[:, 2:4], cands[:, 2:4] + cands[:, 4:6]], axis=1)
            ious = _iou(np.array(box, dtype=float), xyxy)
            if ious.max() >= 0.5:
                covered[int(cands[int(ious.argmax()), 1])][key] += 1
    return covered


def mixed_summary(rows: np.ndarray) -> str:
    """One line: person tracks, mixed tracks (which labels), ids per labelled walk."""
    labels = vtest_labels()
    person = people_of(labels)
    covered = label_tracks(rows, labels)
    mixed, unsure = [], []
    for tid, held in sorted(covered.items()):
        people = {person[k] for k in held}
        if len(people) < 2:
            continue
        names = "+".join(sorted(k.split(":")[1] for k in held))
        (unsure if people <= LOOK_ALIKE else mixed).append(f"{tid}:{names}")
    per_label = Counter(k for held in covered.values() for k in held)
    ids = [per_label.get(k, 0) for k in labels]
    found = [n for n in ids if n]
    return (
        f"{len(np.unique(rows[:, 1]))} person tracks; mixed tracks {len(mixed)}"
        f" [{', '.join(mixed) or '-'}]; look-alike only {len(unsure)}; track ids per labelled walk"
        f" {np.mean(found) if found else float('nan'):.2f} (max {max(ids, default=0)};"
        f" {len(found)} of {len(labels)} walks found)"
    )
