"""Vehicles: body colour from the painted panels (``vehicle_colour``), type from the COCO class,
the box's shape and its size against the camera's other vehicles (``VehicleSizes``)."""

from __future__ import annotations

import threading
from collections import Counter, deque

import numpy as np

from scenewatch.vision.attributes.vehicle_colour import panel_colours, surround
from scenewatch.vision.colours import colour_distribution, image_lab
from scenewatch.vision.constancy import WhiteBalance
from scenewatch.vision.labels import class_id

# Two-wheelers' band of the box (top, bottom, left, right as fractions): frame and fairing.
BAND = (0.2, 0.8, 0.15, 0.85)
TWO_WHEELERS = ("bicycle", "motorcycle")
CAR_ID = class_id("car")
FRAME_QUANTILE = 90  # two-wheelers: the most colourful tenth of the band is the frame/fairing
COLOURLESS_CHROMA = 15.0  # ... unless even that is hardly coloured: a black or silver bike


def _band(shape: tuple[int, ...], box: np.ndarray) -> np.ndarray:
    height, width = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    top, bottom, left, right = BAND
    mask = np.zeros((height, width), dtype=bool)
    r0, r1 = int(round(y1 + top * h)), int(round(y1 + bottom * h))
    c0, c1 = int(round(x1 + left * w)), int(round(x1 + right * w))
    mask[max(r0, 0) : max(r1, r0 + 1), max(c0, 0) : max(c1, c0 + 1)] = True
    return mask


def body_colours(
    image: np.ndarray,
    box: np.ndarray,
    cls: str,
    lightness: float | None,
    balance: WhiteBalance | None = None,
) -> dict[str, float]:
    """Body colour distribution of a vehicle crop (``box`` in crop pixels).

    Cars, vans, trucks, buses: the painted panels (``vehicle_colour.panel_colours``), under the
    camera's white ``balance`` when given. Bicycles and motorcycles are mostly see-through: their box is background, rider and black
    tyres, and what people call a bike's colour is its frame. So only the most colourful pixels
    of the band count, less whatever equally colourful pixels around the box show (a yellow wall
    behind the bike is background, not frame).
    """
    if cls not in TWO_WHEELERS:
        return panel_colours(image, box, cls, lightness, balance)
    band = _band(image.shape, box)
    lab = image_lab(image)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    threshold = float(np.percentile(chroma[band], FRAME_QUANTILE)) if band.any() else 0.0
    if threshold < COLOURLESS_CHROMA:
        return colour_distribution(image, band, lightness)
    frame = colour_distribution(image, band & (chroma >= threshold), lightness)
    ring = surround(image.shape, box) & (chroma >= threshold)
    if ring.sum() < 16:
        return frame
    around = colour_distribution(image, ring, lightness)
    left = {t: max(v - around[t], 0.0) for t, v in frame.items()}
    total = sum(left.values())
    return {t: v / total for t, v in left.items()} if total > 0.05 else frame


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def cut_off(box: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Whether a crop's box touches the crop's border: crops are padded on every side unless
    clipped by the frame, so such a box is cut off by the frame edge and its shape is not the
    object's."""
    height, width = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = max(3.0, 0.03 * (x2 - x1)), max(3.0, 0.03 * (y2 - y1))  # detector boxes stop short
    return x1 <= mx or y1 <= my or x2 >= width - mx or y2 >= height - my


MIN_ROWS = 3  # car boxes a size needs at all
PLANE_CARS = 3  # distinct cars for a plane (3 terms) ...
QUADRATIC_CARS = 6  # ... and for the quadratic surface (6 terms)
NEAR_HEIGHTS, NEAR_WIDTHS = 0.5, 2.0  # fewer cars: only those this near a box (its height, width)
NEAREST = 3  # a vehicle's size: at least this many of its nearest boxes (the nearest third)


class VehicleSizes:
    """One camera's car sizes: the expected car box height and width at each place in the view.

    Perspective makes a car's box shrink with distance, so a van or a box truck is only "big"
    against the cars around the same place (the same lane, the same distance). Each finished
    track whose voted class is car adds its steady boxes (:meth:`add_track`; per-frame classes
    flicker: a van's or a truck's frames read "car" now and then, and one such frame makes it
    a car of the reference), kept with their track ids; a least-squares surface over the box bottoms gives the expected car width and height anywhere
    in the view. The surface has no more terms than the cars seen can pin down: a plane from
    three cars, the full quadratic from six (a quadratic fitted to two cars extrapolates wildly
    everywhere else, and a quiet camera's first tracks end while it has seen only a few); with
    fewer, the median size of those that stood at about the same place, if any.
    """

    def __init__(self, keep: int = 3000, every: int = 5, min_cars: int = 12):
        # x, y2, w, h, track id
        self._rows: deque[tuple[float, float, float, float, int]] = deque(maxlen=keep)
        self._rows_of: Counter[int] = Counter()  # rows held per track id: the cars in the reference
        self.every, self.min_cars = every, min_cars
        self._scale = 1.0
        self._lock = threading.Lock()  # described in worker threads, fed as the camera's tracks end
        # the rows as an array and their fitted surfaces by term count, until the rows change:
        # typing many vehicles again against one reference fits it once
        self._version = 0
        self._fitted: tuple[int, np.ndarray, dict[int, np.ndarray]] = (0, np.zeros((0, 5)), {})

    def add_track(self, xyxy: np.ndarray, width: int, height: int, track_id: int) -> None:
        """A finished car track's boxes (frame pixels, time order): the median box of each run of
        ``every`` whole boxes (not cut off by the frame edge), so a track adds about as many rows
        as its frames would, each without the frame-to-frame jitter of its box."""
        b = np.asarray(xyxy, dtype=float).reshape(-1, 4)
        b = b[[not frame_cut(box, width, height) for box in b]]
        if not len(b):
            return
        rows = np.column_stack([(b[:, 0] + b[:, 2]) / 2, b[:, 3], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]])
        steady = [np.median(rows[i : i + self.every], axis=0) for i in range(0, len(rows), self.every)]
        with self._lock:
            self._scale = float(max(width, height))
            for r in steady:
                if len(self._rows) == self._rows.maxlen:  # the oldest row falls out
                    gone = self._rows[0][4]
                    self._rows_of[gone] -= 1
                    if not self._rows_of[gone]:
                        del self._rows_of[gone]
                self._rows.append((float(r[0]), float(r[1]), float(r[2]), float(r[3]), int(track_id)))
                self._rows_of[int(track_id)] += 1
            self._version += 1

    def cars(self) -> int:
        """How many distinct cars the reference holds."""
        with self._lock:
            return len(self._rows_of)

    def expected(self, boxes: np.ndarray, track_id: int | None = None) -> np.ndarray | None:
        """[N, 2] expected car (width, height) at each box's bottom centre, or None (fewer than
        :data:`MIN_ROWS` boxes of cars other than ``track_id``); NaN where too few cars were seen
        for a surface and none of the others stood near the box."""
        with self._lock:
            if self._fitted[0] != self._version:
                self._fitted = (self._version, np.array(self._rows, dtype=float).reshape(-1, 5), {})
            _, rows, surfaces = self._fitted
        # Other cars decide whether there is a reference at all (on a quiet street a car-class
        # pickup would otherwise be measured against itself); in a surface a track's own boxes
        # are a few among many.
        others = rows[rows[:, 4] != track_id] if track_id is not None else rows
        if len(others) < MIN_ROWS:
            return None
        cars = len(np.unique(others[:, 4]))
        terms = 1 if cars < PLANE_CARS or len(others) < self.min_cars else 3 if cars < QUADRATIC_CARS else 6
        b = np.asarray(boxes, dtype=float).reshape(-1, 4)
        if terms == 1:
            return _nearby_size(others, b)
        coef = surfaces.get(terms)
        if coef is None:
            design = _design(rows[:, 0], rows[:, 1], self._scale)[:, :terms]
            coef = surfaces[terms] = np.linalg.lstsq(design, rows[:, 2:4], rcond=None)[0]
        at = _design((b[:, 0] + b[:, 2]) / 2, b[:, 3], self._scale)[:, :terms]
        return np.maximum(at @ coef, 1.0)

    def relative(
        self, boxes: np.ndarray, width: int, height: int, track_id: int | None = None
    ) -> tuple[float, float] | None:
        """Median (width, height) of a track's nearest boxes relative to the camera's cars there:
        the third (at least 3) where a car would be tallest; boxes cut off by the frame edge left
        out; None when nothing is left or the camera has too few cars (other than ``track_id``,
        the track's own id in :meth:`add_track`). Far boxes are a few pixels across and the
        detector's slack and blur pull every vehicle there towards a car's size."""
        b = np.asarray(boxes, dtype=float).reshape(-1, 4)
        b = b[[not frame_cut(box, width, height) for box in b]]
        expected = self.expected(b, track_id) if len(b) else None
        if expected is None or np.isnan(expected).all():
            return None
        ratio = np.column_stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]]) / expected
        known = ~np.isnan(ratio).any(axis=1)
        near = np.argsort(-expected[known, 1])[: max(NEAREST, -(-int(known.sum()) // 3))]
        return float(np.median(ratio[known][near, 0])), float(np.median(ratio[known][near, 1]))


def _nearby_size(rows: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """[N, 2] median (width, height) of the car boxes (``rows``: x, y2, w, h) standing at about
    each box's place: bottoms within half its height, centres within twice its width (the next
    parking bay, the next lane over); NaN where there are none. One or two cars seen elsewhere
    say nothing of the size here: perspective alone may make them half or twice as big."""
    out = np.full((len(boxes), 2), np.nan)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        near = (np.abs(rows[:, 1] - y2) <= NEAR_HEIGHTS * (y2 - y1)) & (
            np.abs(rows[:, 0] - (x1 + x2) / 2) <= NEAR_WIDTHS * (x2 - x1)
        )
        if near.any():
            out[i] = np.maximum(np.median(rows[near, 2:4], axis=0), 1.0)
    return out


def _design(x: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
    """Quadratic terms of the box bottom centre (scaled to the frame): the side lanes of a road
    seen from above show the cars' sides too, so sizes grow towards both edges, not along a plane."""
    x, y = x / scale, y / scale
    return np.column_stack([np.ones(len(x)), x, y, x * x, x * y, y * y])


def frame_cut(box: np.ndarray, width: int, height: int, margin: float = 3.0) -> bool:
    """Whether a box (frame pixels) touches the frame's border: its size is not the object's."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return x1 <= margin or y1 <= margin or x2 >= width - margin or y2 >= height - margin


# Size against the camera's cars at the same place (geometric mean of relative width and
# height, nearest third of the track) of each type: (centre, spread in log units). Chosen on the
# dev labels of bench/labels/vehicles.json (highway: cars 0.92-1.15 around 0.98, pickups
# 1.20-1.24, a panel van 1.43); minibus, box truck and bus follow their usual lengths and
# heights against a car.
SIZES = {
    "car": (0.98, 0.07),
    "pickup": (1.22, 0.06),
    "van": (1.35, 0.12),
    "minibus": (1.7, 0.12),
    "box_truck": (2.1, 0.18),
    "bus": (2.7, 0.25),
}
# How far the detector's class makes each type likelier: COCO's truck holds pickups, vans and
# box trucks, its bus minibuses; a bus the detector did not call one is unlikely.
CLASS_WEIGHT = {
    "car": {"pickup": 0.7, "box_truck": 0.3, "bus": 0.2},
    "truck": {"pickup": 1.5, "box_truck": 1.5, "bus": 0.2},
    "bus": {"minibus": 1.5},
}
CAR_SIZED = 1.3  # a 'bus' no bigger than this against the camera's cars is a misread car


def vehicle_type(
    cls: str, box: np.ndarray, cut: bool = False, relative: tuple[float, float] | None = None
) -> dict[str, float]:
    """Soft vehicle type. Heuristic, said plainly: COCO has no van, pickup, minibus or box truck
    class, so the box's shape and, when the camera has seen enough cars (``relative``: this
    vehicle's median width and height against them), its size decide among the types the
    detector's class allows. Box shape depends on the viewing angle, so these are weak hints,
    never certainties. A box ``cut`` off by the frame edge gives no shape hint at all: just the
    detector's class (or its size, when other views were whole)."""
    if cls in ("motorcycle", "bicycle"):
        return {cls: 1.0}
    if relative is not None:
        return _by_size(cls, relative)
    if cls == "bus" or (cut and cls in ("car", "truck")):
        return {cls: 1.0}
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    aspect = h / max(w, 1.0)
    if cls == "car":
        van = 0.5 * _sigmoid((aspect - 0.95) / 0.1)
        return {"car": 1.0 - van, "van": van}
    if cls == "truck":
        van = 0.5 * _sigmoid((aspect - 0.85) / 0.1)
        pickup = 0.4 * _sigmoid((0.55 - aspect) / 0.08)
        return {"truck": 1.0 - van - pickup, "van": van, "pickup": pickup}
    return {}


def _by_size(cls: str, relative: tuple[float, float]) -> dict[str, float]:
    """Types from the size against the camera's cars, weighted by the detector's class."""
    rel_w, rel_h = relative
    size = float(np.sqrt(max(rel_w, 1e-3) * max(rel_h, 1e-3)))
    weights = CLASS_WEIGHT.get(cls, {})
    scores = {
        t: weights.get(t, 1.0) * float(np.exp(-0.5 * (np.log(size / c) / s) ** 2))
        for t, (c, s) in SIZES.items()
    }
    total = sum(scores.values())
    if total < 1e-6:  # far outside every size: the detector's class alone
        return {cls: 1.0}
    return {t: round(v / total, 3) for t, v in scores.items() if v / total >= 0.01}


def corrected_class(cls: str, relative: tuple[float, float] | None) -> str:
    """The detector's class, except a 'bus' the size of the camera's cars, which is a car."""
    if cls == "bus" and relative is not None and float(np.sqrt(relative[0] * relative[1])) < CAR_SIZED:
        return "car"
    return cls


KEEP_BOXES = 64  # boxes a waiting vehicle keeps for its next typing


class Provisional:
    """A camera's recent vehicles, to be typed again as its car reference grows: a vehicle is
    only as well typed as the cars seen by the time its track ends, and a camera's first vans read
    as cars (by shape alone, or against a handful of cars) until it has seen enough cars.

    :meth:`note` keeps each typed vehicle with the number of cars it was typed against;
    :meth:`retype` types again those whose reference has since at least doubled (and is no
    longer a handful: :data:`PLANE_CARS`), or all of them when ``final`` (the run ends). At most
    ``keep`` vehicles wait (the oldest go first); a reference that no longer grows (it holds a
    bounded number of boxes) retypes nothing."""

    def __init__(self, sizes: VehicleSizes, keep: int = 500):
        self.sizes, self.keep = sizes, keep
        self._waiting: dict[int, tuple[np.ndarray, str, int]] = {}
        self._lock = threading.Lock()

    def note(self, track_id: int, xyxy: np.ndarray, cls: str) -> None:
        """A vehicle of detector class ``cls`` (before :func:`corrected_class`) just typed."""
        if cls in TWO_WHEELERS:
            return
        b = np.asarray(xyxy, dtype=float).reshape(-1, 4)
        step = max(1, -(-len(b) // KEEP_BOXES))
        cars = self.sizes.cars()
        with self._lock:
            self._waiting[track_id] = (b[::step].copy(), cls, cars)
            while len(self._waiting) > self.keep:
                del self._waiting[next(iter(self._waiting))]

    def retype(self, width: int, height: int, final: bool = False) -> dict[int, dict]:
        """Track id -> new ``class`` and ``vehicle_type`` of the vehicles due (see the class)
        that the reference can size."""
        cars = self.sizes.cars()
        with self._lock:
            due = {t: w for t, w in self._waiting.items() if final or cars >= max(2 * w[2], PLANE_CARS)}
            for t, (boxes, cls, _) in due.items():
                self._waiting[t] = (boxes, cls, cars)
            if final:
                self._waiting.clear()
        out = {}
        for track_id, (boxes, voted, _) in due.items():
            relative = self.sizes.relative(boxes, width, height, track_id)
            if relative is not None:
                cls = corrected_class(voted, relative)
                out[track_id] = {"class": cls, "vehicle_type": vehicle_type(cls, boxes[0], relative=relative)}
        return out


SURE_SCORE = 0.5  # a mean detection score from which a vehicle is certain
SCORE_WEIGHT = 0.3  # how much of a vehicle's class confidence the detection score decides


def vehicle_confidence(vehicle_share: float, mean_score: float) -> float:
    """Confidence that a track is the vehicle it is described as. COCO's car, truck and bus
    are confused with each other far more often than with anything else (and ``vehicle_type``
    and ``corrected_class`` sort them out), so the votes for any vehicle class count; the mean
    detection score, low on cameras whose far, small cars need lowered thresholds, only
    tempers it, so it does not outweigh the colour and type a search asks for."""
    sure = min(1.0, mean_score / SURE_SCORE)
    return round(float(vehicle_share * (1.0 - SCORE_WEIGHT + SCORE_WEIGHT * sure)), 3)
