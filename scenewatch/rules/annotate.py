"""Snapshot drawing: ``annotate(scene, ...) -> scene`` with the event's boxes and its zone or line."""

from __future__ import annotations

import cv2
import numpy as np

ZONE_COLOUR = (0, 200, 255)  # BGR amber
LINE_COLOUR = (255, 160, 0)
BOX_COLOUR = (0, 0, 255)


def annotate(
    scene: np.ndarray,
    boxes: np.ndarray,
    labels: list[str] | None = None,
    polygon: np.ndarray | None = None,
    line: tuple[np.ndarray, np.ndarray] | None = None,
    title: str = "",
) -> np.ndarray:
    """A copy of ``scene`` with the zone (filled lightly) or line, the boxes and a title drawn."""
    out = scene.copy()
    thick = max(2, round(max(scene.shape[:2]) / 400))
    if polygon is not None:
        pts = np.round(polygon).astype(np.int32).reshape(-1, 1, 2)
        fill = out.copy()
        cv2.fillPoly(fill, [pts], ZONE_COLOUR)
        cv2.addWeighted(fill, 0.25, out, 0.75, 0, dst=out)
        cv2.polylines(out, [pts], True, ZONE_COLOUR, thick, cv2.LINE_AA)
    if line is not None:
        a, b = (tuple(int(round(v)) for v in p) for p in line)
        cv2.line(out, a, b, LINE_COLOUR, thick, cv2.LINE_AA)
        for p in (a, b):
            cv2.circle(out, p, thick * 2, LINE_COLOUR, -1)
    for number, box in enumerate(np.asarray(boxes).reshape(-1, 4)):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), BOX_COLOUR, thick)
        cv2.circle(out, ((x1 + x2) // 2, y2), thick + 1, BOX_COLOUR, -1)  # the point the rules test
        if labels and number < len(labels):
            cv2.putText(
                out, labels[number], (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, BOX_COLOUR, 1
            )
    if title:
        cv2.putText(out, title, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 4, cv2.LINE_AA)
        cv2.putText(out, title, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out
