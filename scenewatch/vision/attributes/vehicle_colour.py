"""Vehicle body colour from the painted panels only.

A vehicle's box holds much that is not its paint: windows and windscreen (dark, reflecting the
sky), tyres, the road showing at the box's corners and under the car, its shadow, number plates
and lights, and specular highlights on the paint itself. Naming the colour of the whole box
(or a fixed band of it) gives a white van "blue" from its windscreen and a red car "pink" from
its highlights. So, per view:

1. **White balance**: the camera's cast, learned from its frames' near-neutral pixels (road,
   kerb, concrete; :mod:`scenewatch.vision.constancy`, shared with people's colours), is removed.
2. **Geometry**: an ellipse inscribed in the box (the box's corners are road), without the
   bottom band (tyres, the road under the car, shadow).
3. **The car's own edges**: painted panels are smooth; window frames, grilles, plates, lights
   and reflections are not. Pixels with a strong local lightness gradient are dropped.
4. **Road and shadow**: pixels close in colour to the surroundings just outside the box are
   background showing through (unless that is most of the box: a grey car on a grey road).
5. **Coloured or colourless paint**, decided for the body as a whole by the panels' upper
   chroma quartile (glass, tyres and shadow are colourless and lower the median; codec noise
   does not reach the quartile), taken against their lightness: silver mirroring the sky is as
   chromatic as dark blue paint, at three times its lightness. Coloured paint is named by the
   hue of its most colourful pixels, sharpened towards the dominant hue (a body is painted one
   colour; the sky in its glass is not). Colourless paint is black or not by an upper-middle
   lightness percentile of the panels (above the dark glass, below the highlights), and white
   rather than grey/silver when much of it reaches the top of the camera's range.
6. **Priors per class**: survey-typical paint colours (white, black, grey/silver, blue, red)
   are common, pink and purple cars rare, so a pinkish maroon in daylight is named red.
"""

from __future__ import annotations

import cv2
import numpy as np

from scenewatch.vision.colours import TERMS, colour_distribution, image_lab
from scenewatch.vision.constancy import WhiteBalance

# Relative prior of each body colour per class (multiplied into the distribution, renormalised).
_CAR_PRIOR = {
    "white": 1.0,
    "grey": 1.0,
    "black": 1.0,
    "blue": 0.8,
    "red": 0.8,
    "green": 0.3,
    "brown": 0.3,
    "yellow": 0.25,
    "orange": 0.25,
    "purple": 0.05,
    "pink": 0.02,
}
PRIORS = {
    "car": _CAR_PRIOR,
    "truck": _CAR_PRIOR | {"yellow": 0.5, "orange": 0.5, "green": 0.5},
    "bus": _CAR_PRIOR | {"yellow": 1.0, "orange": 0.6, "green": 0.6},
}
FOLD = {"pink": "red", "purple": "red"}  # rare paints and the common one they are read for
TYRE_BAND = 0.14  # bottom share of the box: tyres, the road under the car, its shadow
ELLIPSE = 0.5  # half-axes of the panel ellipse as shares of the box's width and height
EDGE_QUANTILE = 70  # pixels above this percentile of local gradient are edges, not panels
ROAD_DISTANCE = 7.0  # Lab distance to the surroundings' median under which a pixel is road
ROAD_MAX_SHARE = 0.6  # ... unless that is more of the panels than this: a road-grey car
# Chosen on the dev labels of bench/labels/vehicles.json (highway rear views): colourless
# paint reaches an upper chroma quartile of 5-10, maroon 14-22, bright red 55.
CHROMATIC = 11.0  # upper chroma quartile of the panels at which paint counts as coloured
CHROMATIC_SOFTNESS = 1.0
# Silver mirroring the sky: saturation 0.15-0.19 (C ~12 at L 60-80); dark blue 0.42, maroon
# 0.47-0.64 (dev). The midpoint of that gap:
PAINT_SATURATION = 0.3
SATURATION_SOFTNESS = 0.03
PAINT_CHROMA_SHARE = 0.6  # coloured paint: pixels with this share of that quartile's chroma
LIGHT_QUANTILE = 60  # colourless paint: this lightness percentile of the panels ...
# ... and the lit panels' (roof, bonnet) one: black and dark grey paint reach the same typical
# lightness (glass and shade fill the lower half of both), but a dark grey body's lit panels are
# lighter (dev, one sighting each: 80th percentile black 34-46, dark grey 48-55). The mean of the
# two is black below BLACK_L (dev: black 30-39, dark grey 40.5-44.5, silver 60 and up).
LIT_QUANTILE = 80
BLACK_L = 40.0
# White against silver: both reach the same typical lightness (dev: a small far white van 73,
# silver 77-80), but white paint fills much of the body with the top of the camera's range where
# silver shows it in a few highlights only. So the panels' 90th lightness percentile decides
# (dev: white 99-100, silver 78-88); the threshold is the middle of that gap.
WHITE_QUANTILE = 90
WHITE_L = 94.0
WHITE_SOFTNESS = 2.0
ACHROMATIC_SOFTNESS = 4.0
HUE_SHARPEN = 2.0  # power on the paint's hue shares
MIN_PIXELS = 12
ACHROMATIC = ("black", "grey", "white")


def _ellipse(shape: tuple[int, ...], box: np.ndarray) -> np.ndarray:
    height, width = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    bottom = y2 - TYRE_BAND * (y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    rx, ry = max(ELLIPSE * (x2 - x1), 1.0), max(ELLIPSE * (y2 - y1), 1.0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    inside = ((xx + 0.5 - cx) / rx) ** 2 + ((yy + 0.5 - cy) / ry) ** 2 <= 1.0
    return inside & (yy + 0.5 <= bottom)


def surround(shape: tuple[int, ...], box: np.ndarray) -> np.ndarray:
    """The crop outside the box: the vehicle's surroundings."""
    ring = np.ones(shape[:2], dtype=bool)
    x1, y1, x2, y2 = (float(v) for v in box)
    ring[max(int(y1), 0) : int(np.ceil(y2)), max(int(x1), 0) : int(np.ceil(x2))] = False
    return ring


def _smooth(light: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``mask`` without its edge pixels (strong local lightness gradient)."""
    blurred = cv2.GaussianBlur(light, (3, 3), 0)
    grad = np.hypot(cv2.Sobel(blurred, cv2.CV_32F, 1, 0), cv2.Sobel(blurred, cv2.CV_32F, 0, 1))
    limit = np.percentile(grad[mask], EDGE_QUANTILE)
    return mask & (grad <= limit)


def panel_mask(lab: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Pixels of the crop (``lab``, white-balanced) that show the vehicle's panels (glass still in)."""
    geometry = _ellipse(lab.shape, box)
    if int(geometry.sum()) < MIN_PIXELS:
        return geometry
    panels = _smooth(lab[..., 0], geometry)
    ring = surround(lab.shape, box)
    if int(ring.sum()) >= MIN_PIXELS:
        road = np.median(lab[ring], axis=0)
        near = np.linalg.norm(lab - road, axis=-1) < ROAD_DISTANCE
        if (panels & near).sum() <= ROAD_MAX_SHARE * panels.sum():
            panels &= ~near
    return panels


def paint_coloured(c_high: float, light: float) -> float:
    """How far paint with this upper chroma quartile and typical lightness is coloured.

    Chroma alone is not enough: light metallic paint mirrors the sky, so a silver car reaches
    the chroma of a dark blue one (both C ~12) at three times its lightness. Paint counts as
    coloured only where its chroma is also large against its lightness (LCh saturation), as a
    dark blue or maroon body's is and a silver or white one's is not.
    """
    chroma = 1.0 / (1.0 + np.exp((CHROMATIC - c_high) / CHROMATIC_SOFTNESS))
    saturation = c_high / max(float(np.hypot(c_high, light)), 1e-6)
    vivid = 1.0 / (1.0 + np.exp((PAINT_SATURATION - saturation) / SATURATION_SOFTNESS))
    return float(chroma * vivid)


def _achromatic(light: float, top: float) -> dict[str, float]:
    """Black / grey / white of a colourless body from its panels' dark-or-not (``light``: the
    mean of the typical and the lit panels' lightness) and upper (``top``) lightness."""
    black = float(1.0 / (1.0 + np.exp((light - BLACK_L) / ACHROMATIC_SOFTNESS)))
    white = (1.0 - black) * float(1.0 / (1.0 + np.exp((WHITE_L - top) / WHITE_SOFTNESS)))
    grey = max(1.0 - black - white, 0.0)
    total = black + grey + white
    return {"black": black / total, "grey": grey / total, "white": white / total}


def _normalised(dist: dict[str, float]) -> dict[str, float]:
    total = sum(dist.values())
    return {t: v / total for t, v in dist.items()} if total > 0 else dist


def apply_prior(dist: dict[str, float], cls: str) -> dict[str, float]:
    """The distribution under the class's colour prior: a rare paint keeps ``prior`` of its
    share, the rest goes to the common paint it is mistaken for (``FOLD``: a pinkish or purplish
    red car in daylight is a red car), and other terms are weighted by their prior."""
    prior = PRIORS.get(cls)
    if prior is None:
        return dist
    out = dict(dist)
    for rare, common in FOLD.items():
        moved = out.get(rare, 0.0) * (1.0 - prior.get(rare, 1.0))
        out[rare] = out.get(rare, 0.0) - moved
        out[common] = out.get(common, 0.0) + moved
    weighted = _normalised({t: v * (1.0 if t in FOLD else prior.get(t, 1.0)) for t, v in out.items()})
    return weighted if sum(weighted.values()) > 0 else dist


def panel_colours(
    image: np.ndarray,
    box: np.ndarray,
    cls: str,
    lightness: float | None,
    balance: WhiteBalance | None = None,
) -> dict[str, float]:
    """Body colour distribution of a car, van, truck or bus crop (``box`` in crop pixels).

    ``balance``: the camera's white balance; without one the crop is taken as it is.
    """
    if balance is not None:
        image = balance.apply(image)
    lab = image_lab(image)
    mask = panel_mask(lab, box)
    if int(mask.sum()) < MIN_PIXELS:
        return dict.fromkeys(TERMS, 0.0)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    # Paint is coloured or not as a whole: the panels' upper chroma quartile decides (glass,
    # tyres and shadow lower the median, a few codec-noise pixels do not reach the quartile).
    c_high = float(np.percentile(chroma[mask], 75))
    light = float(np.percentile(lab[..., 0][mask], LIGHT_QUANTILE))
    coloured_share = paint_coloured(c_high, light)
    out = dict.fromkeys(TERMS, 0.0)
    paint = mask & (chroma >= PAINT_CHROMA_SHARE * c_high)
    hues = {}
    if coloured_share > 0.01 and int(paint.sum()) >= MIN_PIXELS:
        named = colour_distribution(image, paint, lightness)
        hues = apply_prior({t: v for t, v in named.items() if t not in ACHROMATIC}, cls)
        # a body is painted one colour: the dominant hue over sky reflections in the glass
        hues = _normalised({t: v**HUE_SHARPEN for t, v in hues.items()})
    if sum(hues.values()) <= 0:
        coloured_share = 0.0
    for t, v in hues.items():  # the paint's hue; its lightness is judged below, for all paint
        out[t] += coloured_share * v
    # Colourless paint: the panels' upper-middle lightness (the dark glass below it, the sky's
    # highlights above) says black, grey/silver or white.
    top = float(np.percentile(lab[..., 0][mask], WHITE_QUANTILE))
    lit = float(np.percentile(lab[..., 0][mask], LIT_QUANTILE))
    for t, v in _achromatic((light + lit) / 2, top).items():
        out[t] += (1.0 - coloured_share) * v
    return out
