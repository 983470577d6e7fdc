"""Perceptual colour naming: pixels -> a distribution over the basic colour terms people use.

Why not one label or RGB thresholds: footage is shadowed, overcast and small, so the same
jacket gives different pixels from frame to frame. We name colours in CIELAB/LCh (OpenCV's
``cvtColor`` on float32 0..1 BGR gives L in 0..100 and a, b in about -128..127), where
distances follow perception, and keep a soft distribution that a search ranks against.

Per pixel, vectorised:

1. **Shadow-aware lightness.** Lightness is divided by the illumination: given the scene's
   bright level (``reference_lightness``, e.g. :func:`scene_lightness` of the frame around
   the object), lightness is stretched so that level reaches L=80 (at most x2), so a white
   van in shade or on an overcast day stays white rather than turning grey. Without a
   reference the crop's own bright end is used with a small cap (x1.25), because a uniform
   crop cannot tell grey from white in shadow.
2. **Chromatic vs achromatic.** Colourfulness is judged by LCh saturation
   ``C / sqrt(C^2 + L^2)`` together with chroma, so dark but coloured pixels (a navy coat, a red
   car in shadow) still count as coloured, and grey-ish JPEG noise does not. The achromatic
   share splits softly into black / grey / white by normalised lightness.
3. **Hue sectors.** The chromatic share splits softly (Gaussian on hue angle) among red,
   orange, yellow, green, blue, purple, pink. Then *brown* takes the dark share of warm hues
   (red weakly, orange and yellow strongly), and *pink* the light, softer share of red and
   purple.

Lightness is also an attribute of its own (:func:`describe_colours`): each term's mean lightness
in the part, judged against that hue's plain shade (``shade_of``: sky blue is light blue, navy
dark blue, royal blue neither), and the part's overall light / dark degree ("light coloured").

>>> import numpy as np
>>> swatch = np.full((8, 8, 3), (0, 0, 200), np.uint8)  # BGR red
>>> dominant(colour_distribution(swatch), 1)[0][0]
'red'
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

TERMS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "grey", "white")
_INDEX = {t: i for i, t in enumerate(TERMS)}

# Hue centres (degrees of CIELAB hue angle, measured on sRGB colours) and widths for the
# chromatic terms; blue is wide because sky blue (~240) through pure blue (~305) are all blue.
_HUES = (
    ("red", 30.0, 12.0),
    ("orange", 58.0, 12.0),
    ("yellow", 97.0, 14.0),
    ("green", 142.0, 24.0),
    ("blue", 265.0, 34.0),
    ("purple", 322.0, 10.0),
    ("pink", 352.0, 12.0),
)
_MAX_STRETCH = 2.0  # lightness normalisation never more than this, so black stays black
_MAX_SELF_STRETCH = 1.25  # ... and much less when judged from the crop alone
BROWN_HUES = (5.0, 95.0)  # CIELAB hue span of browns: dark red-orange through dark yellow
BROWN_MAX_VIVID = 1.75  # chroma / lightness above which a dark warm pixel is red/orange, not brown
BROWN_MIN_CHROMA = 3.5  # chroma a dark pixel needs before its hue is trusted as warm
_MAX_PIXELS = 4096  # larger crops are subsampled: the distribution does not need every pixel


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))  # clipped: no float32 overflow


def image_lab(image_bgr: np.ndarray) -> np.ndarray:
    """Float CIELAB (L 0..100, a/b about -128..127) of a BGR uint8 image, shape kept."""
    return cv2.cvtColor(image_bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)


def _to_lab(pixels_bgr: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """[N, 3] Lab values of the (masked, subsampled) pixels."""
    px = np.asarray(pixels_bgr)
    if px.ndim == 2 and px.shape[-1] == 3:  # already a pixel list
        px = px[None]
    if px.ndim != 3 or px.shape[-1] != 3:
        raise ValueError(f"expected an HxWx3 BGR image or Nx3 pixels, got shape {px.shape}")
    if mask is not None:
        m = np.asarray(mask).astype(bool).reshape(px.shape[:2])
        px = px[m][None]
    else:
        px = px.reshape(1, -1, 3)
    if px.shape[1] > _MAX_PIXELS:
        step = int(np.ceil(px.shape[1] / _MAX_PIXELS))
        px = px[:, ::step]
    if px.shape[1] == 0:
        return np.zeros((0, 3), np.float32)
    f = px.astype(np.float32)
    if px.dtype == np.uint8 or f.max(initial=0.0) > 1.0:
        f /= 255.0
    return cv2.cvtColor(np.clip(f, 0.0, 1.0), cv2.COLOR_BGR2Lab).reshape(-1, 3)


def _achromatic(light: np.ndarray) -> np.ndarray:
    """[N, 3] soft black / grey / white memberships from lightness 0..100."""
    black = _sigmoid((28.0 - light) / 5.0)
    white = _sigmoid((light - 76.0) / 5.0)
    grey = np.clip(1.0 - black - white, 0.0, None)
    out = np.stack([black, grey, white], axis=1)
    return out / out.sum(axis=1, keepdims=True)


def _dark_warm(light: np.ndarray, chroma: np.ndarray, hue: np.ndarray) -> np.ndarray:
    """[N] how far an achromatic-looking pixel is dark brown rather than black or dark grey.

    A dark brown coat in shade has little chroma (C 4-8) and fails the 'coloured' test, yet its
    hue is steadily warm (red-orange to yellow) where black cloth's is neutral or cool; below
    L~6 (after shadow correction) the hue is codec noise and the pixel stays black.
    """
    warm = _sigmoid((hue - BROWN_HUES[0]) / 3.0) * _sigmoid((BROWN_HUES[1] - hue) / 6.0)
    faint = _sigmoid((chroma - BROWN_MIN_CHROMA) / 1.0)  # above JPEG/codec chroma noise
    lit = _sigmoid((light - 7.0) / 2.0) * _sigmoid((45.0 - light) / 4.0)  # dark, not pitch black
    return warm * faint * lit


def _chromatic(light: np.ndarray, chroma: np.ndarray, hue: np.ndarray) -> np.ndarray:
    """[N, 8] soft memberships over red..pink and brown (columns in TERMS order, without achromatics)."""
    w = np.zeros((len(hue), 8), np.float32)
    for term, centre, width in _HUES:
        d = np.abs((hue - centre + 180.0) % 360.0 - 180.0)
        w[:, _INDEX[term]] = np.exp(-0.5 * (d / width) ** 2)
    w /= w.sum(axis=1, keepdims=True) + 1e-9
    # brown is dark orange/yellow (and, less so, dark red), and never vivid: a red jacket in shade
    # keeps chroma well above its lightness (C/L ~2), browns stay under ~1.5 (saddle brown 1.3)
    vivid = chroma / np.maximum(light, 1.0)
    dark = _sigmoid((52.0 - light) / 5.0) * _sigmoid((BROWN_MAX_VIVID - vivid) / 0.15)
    for term, share in (("red", 0.2), ("orange", 1.0), ("yellow", 0.9)):
        moved = w[:, _INDEX[term]] * dark * share
        w[:, _INDEX[term]] -= moved
        w[:, _INDEX["brown"]] += moved
    # pink is light, not too vivid red / purple (a vivid orange-red suit is not pink)
    light_share = _sigmoid((light - 68.0) / 4.0) * _sigmoid((60.0 - chroma) / 10.0)
    for term in ("red", "purple"):
        moved = w[:, _INDEX[term]] * light_share
        w[:, _INDEX[term]] -= moved
        w[:, _INDEX["pink"]] += moved
    return w


def scene_lightness(frame_bgr: np.ndarray) -> float:
    """The bright level (95th percentile of CIELAB L) of a frame or region, for shadow correction."""
    lab = _to_lab(frame_bgr, None)
    return float(np.percentile(lab[:, 0], 95)) if len(lab) else 100.0


def colour_distribution(
    pixels_bgr: np.ndarray, mask: np.ndarray | None = None, reference_lightness: float | None = None
) -> dict[str, float]:
    """Share of each basic colour term in the pixels (summing to 1; all zero when no pixels).

    ``pixels_bgr``: HxWx3 (or Nx3) BGR, uint8 0..255 or float 0..1. ``mask``: HxW, non-zero
    where the object is (e.g. the upper-body part of a person's box). ``reference_lightness``:
    the illumination level around the object (see :func:`scene_lightness`).
    """
    return describe_colours(pixels_bgr, mask, reference_lightness).shares


@dataclass(frozen=True, slots=True)
class ColourReading:
    """What the pixels of one part look like: the term shares, and lightness as its own attribute.

    ``tones``: per term with a share >= :data:`TONE_MIN_SHARE`, the mean shadow-corrected
    lightness (0..100) of its pixels, so "light blue" and "navy" are told apart within blue.
    ``shade``: how light and how dark the part is as a whole (for "light coloured", "深色").
    """

    shares: dict[str, float]
    tones: dict[str, float] = field(default_factory=dict)
    shade: dict[str, float] = field(default_factory=dict)
    tints: dict[str, float] = field(default_factory=dict)  # pale hues named white / grey: share


TONE_MIN_SHARE = 0.05  # a term this rare in a part gets no lightness of its own
# A pale colour (sky-blue anorak, mint, blush) is too faint for the 'coloured' test and is named
# white or grey, yet its hue is steady: light pixels with chroma above what white balance and
# the codec leave on white cloth (C ~2-4 measured on white and beige coats) are that hue's tint.
TINT_MIN_CHROMA = 7.0
TINT_MIN_LIGHT = 55.0  # shadow-corrected L*: darker faint colour is grey or dark, not pale
LIGHT_FROM, DARK_TO = 62.0, 42.0  # shadow-corrected L* where a part is half 'light' / half 'dark'
SHADE_STEP = 14.0  # within a hue: this far above / below its plain lightness is half light / dark
SHADE_SOFTNESS = 5.0
# The lightness of each term's plain shade on clothing (CIELAB L*): pure blue is only L* 32 and
# yellow 97, so 'light' and 'dark' are judged against the hue's own middle, not one level.
PLAIN_LIGHTNESS = {
    "red": 48.0,
    "orange": 62.0,
    "yellow": 80.0,
    "green": 50.0,
    "blue": 45.0,
    "purple": 42.0,
    "pink": 70.0,
    "brown": 38.0,
    "black": 18.0,
    "grey": 52.0,
    "white": 88.0,
}


def shade_of(lightness: float, term: str | None = None) -> dict[str, float]:
    """Soft light / dark degrees of a lightness (0..100): of a whole part when ``term`` is None
    (absolute: white and pale colours are light, black and navy dark), else within the term's
    hue (sky blue ~75 is light blue, navy ~25 dark blue, royal blue ~45 neither)."""
    if term is None:
        hi, lo = LIGHT_FROM, DARK_TO
    else:
        hi, lo = PLAIN_LIGHTNESS[term] + SHADE_STEP, PLAIN_LIGHTNESS[term] - SHADE_STEP
    light = float(_sigmoid(np.array((lightness - hi) / SHADE_SOFTNESS, np.float32)))
    dark = float(_sigmoid(np.array((lo - lightness) / SHADE_SOFTNESS, np.float32)))
    return {"light": round(light, 3), "dark": round(dark, 3)}


def tone_of(dark: float, term: str) -> float:
    """The lightness (0..100) whose within-``term`` dark degree (:func:`shade_of`) is ``dark``:
    stored shades keep a term's mean lightness only as that degree (clamped to 0.001..0.999)."""
    d = min(max(float(dark), 1e-3), 1.0 - 1e-3)
    return PLAIN_LIGHTNESS[term] - SHADE_STEP + SHADE_SOFTNESS * float(np.log((1.0 - d) / d))


def describe_colours(
    pixels_bgr: np.ndarray, mask: np.ndarray | None = None, reference_lightness: float | None = None
) -> ColourReading:
    """:func:`colour_distribution` with each term's lightness and the part's shade (same arguments)."""
    lab = _to_lab(pixels_bgr, mask)
    if len(lab) == 0:
        return ColourReading(dict.fromkeys(TERMS, 0.0))
    weights, light_n = _memberships(lab, reference_lightness)
    total = weights.sum(axis=0)
    shares = total / total.sum()
    tones = {
        t: round(float(np.average(light_n, weights=weights[:, i])), 1)
        for i, t in enumerate(TERMS)
        if shares[i] >= TONE_MIN_SHARE
    }
    return ColourReading(
        {t: float(v) for t, v in zip(TERMS, shares, strict=True)},
        tones,
        shade_of(float(np.median(light_n))),
        _tints(lab, light_n, weights[:, 8:].sum(axis=1)),
    )


def _tints(lab: np.ndarray, light_n: np.ndarray, achromatic: np.ndarray) -> dict[str, float]:
    """Share of the pixels that are a pale tint of each hue term (of those named black, grey or
    white: ``achromatic``), for terms with at least :data:`TONE_MIN_SHARE`."""
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    hue = np.degrees(np.arctan2(lab[:, 2], lab[:, 1])) % 360.0
    pale = (
        achromatic * _sigmoid((chroma - TINT_MIN_CHROMA) / 1.5) * _sigmoid((light_n - TINT_MIN_LIGHT) / 4.0)
    )
    shares = (_chromatic(light_n, chroma, hue) * pale[:, None]).sum(axis=0) / len(lab)
    return {
        t: round(float(shares[i]), 3)
        for i, t in enumerate(TERMS[:8])
        if t != "brown" and shares[i] >= TONE_MIN_SHARE
    }


def _memberships(lab: np.ndarray, reference_lightness: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: [N, 11] term memberships and shadow-corrected lightness."""
    light, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    # shadow-aware lightness normalisation over the crop
    if reference_lightness is None:
        bright, cap = float(np.percentile(light, 95)), _MAX_SELF_STRETCH
    else:
        bright, cap = float(reference_lightness), _MAX_STRETCH
    stretch = float(np.clip(80.0 / max(bright, 1.0), 1.0, cap))
    light_n = np.clip(light * stretch, 0.0, 100.0)
    chroma = np.hypot(a, b)
    saturation = chroma / np.sqrt(chroma**2 + light**2 + 1e-6)
    coloured = _sigmoid((saturation - 0.22) / 0.04) * _sigmoid((chroma - 9.0) / 2.5)
    hue = np.degrees(np.arctan2(b, a)) % 360.0
    weights = np.zeros((len(lab), len(TERMS)), np.float32)
    weights[:, :8] = _chromatic(light_n, chroma, hue) * coloured[:, None]
    achromatic = 1.0 - coloured
    brown = _dark_warm(light_n, chroma, hue) * achromatic
    weights[:, _INDEX["brown"]] += brown
    weights[:, 8:] = _achromatic(light_n) * (achromatic - brown)[:, None]
    return weights, light_n


def dominant(dist: dict[str, float], k: int = 2, min_share: float = 0.0) -> list[tuple[str, float]]:
    """The ``k`` largest terms of a distribution, largest first, leaving out those below ``min_share``."""
    ranked = sorted(dist.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(t, w) for t, w in ranked[: max(k, 0)] if w > 0 and w >= min_share]
