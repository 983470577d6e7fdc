"""Where a boxed bag hung on the body, as signs of what kind of bag it is.

The detector's class does not tell bags apart the way people name them: a backpack seen from
behind is often boxed as a handbag. Where the track's bag boxes sat relative to the person's box
(``CarriedItems.pop_place``: 0 at the top of the head, 1 at the feet) does: a backpack sits
between the shoulders and the waist, while a handbag hangs at the hip or from the hand, lower.
"""

from __future__ import annotations

import numpy as np

# bottom edge, in person heights: a bag ending above the hip (about half the height) is worn on
# the back; a shoulder bag or a handbag hangs to the hip or below
BACK_BOTTOM = (0.48, 0.56)  # fully on the back at the first, not at all from the second
BACK_TOP = 0.3  # ... and its top at the shoulders, not lower


def carry_signs(place: np.ndarray, strength: float) -> dict[str, float]:
    """Signs, in [0, 1], from the relative box ``place`` of a track's boxed bags (see
    :func:`~scenewatch.vision.attributes.carried.relative_box`) whose report is ``strength``:
    ``place:back``, a bag worn on the back (scaled by ``strength``: a backpack credited from a
    handbag box is no surer than the box), and ``place:off_back``, how far it is not (not
    scaled: the kind of a bag that is there)."""
    top, bottom = float(place[1]), float(place[3])
    above_hip = (BACK_BOTTOM[1] - bottom) / (BACK_BOTTOM[1] - BACK_BOTTOM[0])
    back = float(np.clip(above_hip, 0.0, 1.0)) if top <= BACK_TOP else 0.0
    return {"place:back": round(back * strength, 3), "place:off_back": round(1.0 - back, 3)}
