"""Where a person's head, upper and lower body are in a crop: from pose keypoints, else the box.

Masks cover the *middle* of each part (a shrunken torso, thick lines along the legs, the top of
the head above the eyes), so background between the legs and beside the arms, and the face's
skin, hardly enter the colours.
"""

from __future__ import annotations

import cv2
import numpy as np

PARTS = ("head", "upper", "lower")
MIN_KEYPOINT = 0.25  # weaker keypoints are ignored; MoveNet is unsure on small, blurred people
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 5, 6, 11, 12
L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 13, 14, 15, 16
# Fallback part bands of a standing person's box: (top, bottom, left, right) as box fractions.
BOX_PARTS = {
    "head": (0.0, 0.10, 0.35, 0.65),
    "upper": (0.18, 0.48, 0.25, 0.75),
    "lower": (0.56, 0.88, 0.3, 0.7),
}


def box_masks(shape: tuple[int, ...], box: np.ndarray) -> dict[str, np.ndarray]:
    """Part masks from the box alone: a central column of each part's height band."""
    height, width = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    masks = {}
    for part, (top, bottom, left, right) in BOX_PARTS.items():
        mask = np.zeros((height, width), dtype=bool)
        r0, r1 = int(round(y1 + top * h)), int(round(y1 + bottom * h))
        c0, c1 = int(round(x1 + left * w)), int(round(x1 + right * w))
        mask[max(r0, 0) : max(r1, r0 + 1), max(c0, 0) : max(c1, c0 + 1)] = True
        masks[part] = mask
    return masks


def _ok(kp: np.ndarray, *idx: int) -> bool:
    return bool(np.all(kp[list(idx), 2] >= MIN_KEYPOINT))


def pose_masks(shape: tuple[int, ...], box: np.ndarray, kp: np.ndarray) -> dict[str, np.ndarray]:
    """Part masks from keypoints [17, 3] (crop pixels); parts whose keypoints are weak use the box."""
    height, width = shape[:2]
    masks = box_masks(shape, box)
    box_w = float(box[2] - box[0])
    if _ok(kp, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP):
        quad = kp[[L_SHOULDER, R_SHOULDER, R_HIP, L_HIP], :2].astype(np.float64)
        centre = quad.mean(axis=0)
        shrunk = centre + 0.65 * (quad - centre)  # the middle of the torso: no arms, no background
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [np.round(shrunk).astype(np.int32)], 1)
        if mask.any():
            masks["upper"] = mask.astype(bool)
    if _ok(kp, L_HIP, R_HIP, L_KNEE, R_KNEE):
        hip_w = float(np.hypot(*(kp[L_HIP, :2] - kp[R_HIP, :2])))
        thick = max(2, int(round(max(0.3 * hip_w, 0.12 * box_w))))
        mask = np.zeros((height, width), np.uint8)
        for hip, knee, ankle in ((L_HIP, L_KNEE, L_ANKLE), (R_HIP, R_KNEE, R_ANKLE)):
            # Start a little below the hip so a jacket's hem does not count as trousers.
            start = kp[hip, :2] + 0.2 * (kp[knee, :2] - kp[hip, :2])
            chain = [start, kp[knee, :2]] + ([kp[ankle, :2]] if _ok(kp, ankle) else [])
            pts = np.round(np.array(chain)).astype(np.int32)
            cv2.polylines(mask, [pts], False, 1, thickness=thick)
        if mask.any():
            masks["lower"] = mask.astype(bool)
    head = [i for i in (NOSE, L_EYE, R_EYE, L_EAR, R_EAR) if kp[i, 2] >= MIN_KEYPOINT]
    if len(head) >= 2 and _ok(kp, L_SHOULDER, R_SHOULDER):
        shoulder_w = float(np.hypot(*(kp[L_SHOULDER, :2] - kp[R_SHOULDER, :2])))
        size = max(0.5 * shoulder_w, 0.2 * box_w, 3.0)  # about a head's width
        cx = float(kp[head, 0].mean())
        eyes = [i for i in (L_EYE, R_EYE, NOSE) if kp[i, 2] >= MIN_KEYPOINT]
        eye_y = float(kp[eyes, 1].mean()) if eyes else float(kp[head, 1].mean())
        # Hair or headwear: the part of the head above the eyes.
        top = max(eye_y - 0.9 * size, float(box[1]))
        rows = slice(int(round(top)), max(int(round(eye_y - 0.15 * size)), int(round(top)) + 1))
        cols = slice(
            int(round(cx - 0.35 * size)), max(int(round(cx + 0.35 * size)), int(round(cx - 0.35 * size)) + 1)
        )
        mask = np.zeros((height, width), dtype=bool)
        mask[rows, cols] = True
        if mask.any():
            masks["head"] = mask
    return masks


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def posture(box: np.ndarray, kp: np.ndarray | None = None) -> dict[str, float]:
    """Soft standing / sitting / lying from keypoint geometry, else from the box's aspect.

    Lying: the torso (hip centre to shoulder centre) is far from vertical, or the box is wide.
    Sitting: the thighs are short in the image against the torso (horizontal, or pointing at
    the camera), or the box is squat. A person cut off at the frame edge looks squat too: that
    is why keypoints win where they are confident.
    """
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    aspect = h / max(w, 1.0)
    lying = _sigmoid((1.0 - aspect) / 0.12)
    sitting = (1.0 - lying) * _sigmoid((1.5 - aspect) / 0.12)
    if kp is not None and _ok(kp, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP):
        shoulders = kp[[L_SHOULDER, R_SHOULDER], :2].mean(axis=0)
        hips = kp[[L_HIP, R_HIP], :2].mean(axis=0)
        torso = shoulders - hips
        length = max(float(np.hypot(*torso)), 1.0)
        tilt = float(np.degrees(np.arctan2(abs(torso[0]), -torso[1])))  # 0 upright, 90 flat, 180 head down
        lying = 0.7 * _sigmoid((tilt - 55.0) / 8.0) + 0.3 * lying
        thighs = [(knee, hip) for knee, hip in ((L_KNEE, L_HIP), (R_KNEE, R_HIP)) if _ok(kp, knee, hip)]
        if thighs:
            drop = float(np.mean([kp[knee, 1] - kp[hip, 1] for knee, hip in thighs])) / length
            sitting = (1.0 - lying) * (0.75 * _sigmoid((0.45 - drop) / 0.1) + 0.25 * sitting)
        else:
            sitting = (1.0 - lying) * sitting
    standing = max(0.0, 1.0 - lying - sitting)
    return {"standing": standing, "sitting": sitting, "lying": lying}


def head_box(box: np.ndarray, kp: np.ndarray) -> tuple[float, float, float, float] | None:
    """The head's square (x1, y1, x2, y2, crop pixels) from the face keypoints and the shoulders'
    width, or None when the pose does not show the head."""
    head = [i for i in (NOSE, L_EYE, R_EYE, L_EAR, R_EAR) if kp[i, 2] >= MIN_KEYPOINT]
    if len(head) < 2 or not _ok(kp, L_SHOULDER, R_SHOULDER):
        return None
    shoulder_w = float(np.hypot(*(kp[L_SHOULDER, :2] - kp[R_SHOULDER, :2])))
    size = max(0.5 * shoulder_w, 0.2 * float(box[2] - box[0]), 3.0)
    cx = float(kp[head, 0].mean())
    eyes = [i for i in (L_EYE, R_EYE, NOSE) if kp[i, 2] >= MIN_KEYPOINT] or head  # the ears alone
    eye_y = float(kp[eyes, 1].mean())
    return cx - 0.5 * size, max(eye_y - 0.9 * size, float(box[1])), cx + 0.5 * size, eye_y + 0.6 * size


def head_rings(shape: tuple[int, ...], box: np.ndarray, kp: np.ndarray) -> dict[str, np.ndarray]:
    """Masks around the head: ``crown`` (above the eyes: hair or headwear), ``sides`` (beside the
    face at eye-to-chin height: background or short hair, but a hood's cloth) and ``neck`` (just
    under the chin, above the shoulders: where a hood joins the jacket). Empty without a head."""
    square = head_box(box, kp)
    if square is None:
        return {}
    x1, y1, x2, y2 = square
    size = x2 - x1
    eye_y = y2 - 0.6 * size
    height, width = shape[:2]

    def rect(c0: float, r0: float, c1: float, r1: float) -> np.ndarray:
        mask = np.zeros((height, width), dtype=bool)
        r0i, c0i = max(int(round(r0)), 0), max(int(round(c0)), 0)
        mask[r0i : max(int(round(r1)), r0i + 1), c0i : max(int(round(c1)), c0i + 1)] = True
        return mask

    cx = 0.5 * (x1 + x2)
    crown = rect(cx - 0.35 * size, y1, cx + 0.35 * size, eye_y - 0.15 * size)
    sides = rect(x1 - 0.05 * size, eye_y, x1 + 0.15 * size, y2) | rect(
        x2 - 0.15 * size, eye_y, x2 + 0.05 * size, y2
    )
    neck = rect(cx - 0.3 * size, y2, cx + 0.3 * size, y2 + 0.3 * size)
    return {"crown": crown, "sides": sides, "neck": neck}
