"""Bare head or headwear (hood, hat, cap), from the colours around the head that the pose locates.

Hair comes in few colours (black, brown, blond, auburn, grey) and a bald crown is skin; cloth
over the head is often a colour hair never is (blue, green, red) or a clean bright white. And
cloth is one colour: on small people the crown's pixels mix hair, skin and the background above
the head, while a hood or hat fills them with one colour. So a covered crown is one dominant
colour (:data:`UNIFORM`), weighed by how little hair-like that colour is. Dark headwear on dark
hair is beyond colour: it reads as hair. A hood differs from a
hat or cap by wrapping the face: its cloth is also beside the face (where short hair leaves
background) and joins the upper garment under the chin, so the crown's colours recurring at the
sides and neck make it a hood.
"""

from __future__ import annotations

import numpy as np

from scenewatch.vision.attributes.parts import head_rings
from scenewatch.vision.colours import describe_colours

# How readily each colour term is hair (or a bald crown's skin) rather than cloth.
HAIR_LIKE = {
    "black": 1.0,
    "brown": 1.0,
    "grey": 0.8,  # grey hair
    "orange": 0.7,  # ginger, and skin
    "yellow": 0.6,  # blond
    "red": 0.4,  # auburn
    "white": 0.3,  # white hair is rarer than a white hood, and seldom this uniformly bright
    "pink": 0.6,  # skin in warm light
}
UNIFORM = (0.55, 0.9)  # the crown's dominant colour share: mixed below, one cloth above
MIN_PIXELS = 4  # fewer crown pixels than this say nothing


def _overlap(a: dict[str, float], b: dict[str, float]) -> float:
    """Histogram intersection of two colour-share distributions (1: the same colours)."""
    return float(sum(min(v, b.get(k, 0.0)) for k, v in a.items()))


def headwear(
    image: np.ndarray, box: np.ndarray, kp: np.ndarray, lightness: float | None, upper: dict[str, float]
) -> dict[str, float] | None:
    """``{"covered", "hood", "hat"}`` degrees for one view, or None where the pose shows no head.

    ``upper``: the upper garment's colour shares in this view (a hood is part of the jacket)."""
    rings = head_rings(image.shape, box, kp)
    if not rings or rings["crown"].sum() < MIN_PIXELS:
        return None
    crown = describe_colours(image, rings["crown"], lightness)
    term, share = max(crown.shares.items(), key=lambda kv: kv[1])
    uniform = float(np.clip((share - UNIFORM[0]) / (UNIFORM[1] - UNIFORM[0]), 0.0, 1.0))
    cloth = uniform * (1.0 - HAIR_LIKE.get(term, 0.0))
    sides = describe_colours(image, rings["sides"], lightness).shares if rings["sides"].any() else {}
    neck = describe_colours(image, rings["neck"], lightness).shares if rings["neck"].any() else {}
    # wrapping: the crown's colours beside the face, or continuing into the jacket under the chin
    wrap = max(_overlap(crown.shares, sides), min(_overlap(crown.shares, neck), _overlap(neck, upper)))
    covered = float(np.clip(cloth, 0.0, 1.0))
    return {"covered": covered, "hood": covered * wrap, "hat": covered * (1.0 - wrap)}
