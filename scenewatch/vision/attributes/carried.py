"""Bags and umbrellas attached to the person who carries them, over the track's life.

Each frame, every bag/umbrella the detector saw (``raw``, before the class filter) goes to the
person box that contains most of it. A track's confidence for an item is the fraction of its
sightings with that item attached; the item is reported when it was seen twice, once confidently
(a handbag or backpack: twice confidently where a carried one can be, :func:`where_carried`).
Where a boxed bag sat on the body (relative to the person's box) is kept too, so that its colour
can be read from the track's best views when it ends (:func:`bag_colours`: "a black bag").

Bags the detector misses (small, dark, side-on) leave other traces that the pose locates: a
patch beside the hip that is neither the clothes nor the background, or a strap across the
torso (:func:`bag_evidence`). They are weaker evidence than a detector box and kept apart from it,
as are handbags the detector boxed only below the report score (:meth:`CarriedItems.weak`).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from scenewatch.types import Detections
from scenewatch.vision.attributes.parts import L_HIP, L_SHOULDER, MIN_KEYPOINT, R_HIP, R_SHOULDER, box_masks
from scenewatch.vision.colours import describe_colours, image_lab

ITEMS = {24: "backpack", 25: "umbrella", 26: "handbag", 28: "suitcase"}  # COCO-80 indices
PERSON = 0
MIN_CONTAINED = 0.5  # share of the item box that must fall inside the (grown) person box
MAX_PERSON_COVER = 0.5  # an item covering this much of a person's box is that person, re-labelled
BAGS = ("backpack", "handbag", "suitcase")  # items whose colour a query may ask ("a black bag")
WEAK = ("handbag",)  # items kept as a sign when boxed only weakly (see CarriedItems.weak)
BAG_UNLIKE = 0.25  # share of a bag's place unlike the clothes above which those pixels are the bag
# Handbag and backpack boxes count where a carried one can be: centred over the body (or just
# off its side, a bag swinging at the hip) and not the height of a person. Boxes centred
# beyond that are a neighbour's bag or the background, caught by the grown box.
PLACED = ("backpack", "handbag")
PLACE_MARGIN = 0.1  # the box's centre may lie this many person widths beyond either side
PLACE_HEIGHT = 0.6  # ... and the box be at most this many person heights tall
SURE = 2  # in-place sightings at the report score that make a handbag or backpack confident


def grow_person_boxes(xyxy: np.ndarray) -> np.ndarray:
    """Person boxes grown where carried things stick out: sideways (backpacks, suitcases
    pulled alongside) and above the head (umbrellas)."""
    w = xyxy[:, 2] - xyxy[:, 0]
    h = xyxy[:, 3] - xyxy[:, 1]
    return np.stack([xyxy[:, 0] - 0.3 * w, xyxy[:, 1] - 0.3 * h, xyxy[:, 2] + 0.3 * w, xyxy[:, 3]], axis=1)


def attach(people: np.ndarray, items: np.ndarray) -> np.ndarray:
    """[M] index of the person each item belongs to, -1 for none (people [N,4], items [M,4]).

    An item never attaches to a person whose box it mostly covers (see ``MAX_PERSON_COVER``)."""
    if len(people) == 0 or len(items) == 0:
        return np.full(len(items), -1, dtype=np.int64)
    grown = grow_person_boxes(people.astype(np.float64))
    it = items.astype(np.float64)
    top_left = np.maximum(it[:, None, :2], grown[None, :, :2])
    bottom_right = np.minimum(it[:, None, 2:], grown[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)  # [M, N]
    area = np.maximum(np.prod(it[:, 2:] - it[:, :2], axis=1), 1e-6)
    contained = inter / area[:, None]
    # Between people who both contain it, the one whose centre is nearer the item wins.
    centres = (people[:, :2] + people[:, 2:]) / 2
    item_c = (it[:, :2] + it[:, 2:]) / 2
    width = np.maximum(people[:, 2] - people[:, 0], 1.0)
    near = np.hypot(*(item_c[:, None, :] - centres[None, :, :]).transpose(2, 0, 1)) / width[None, :]
    # An item box covering most of a person's box is the detector naming that body (a dark coat)
    # a second time, not something it carries: a bag is at most about half a person's size.
    person_area = np.maximum(np.prod(people[:, 2:] - people[:, :2], axis=1), 1e-6)
    same_body = (inter / person_area[None, :] >= MAX_PERSON_COVER) & (contained >= MIN_CONTAINED)
    score = np.where((contained >= MIN_CONTAINED) & ~same_body, contained - 0.1 * near, -np.inf)
    best = np.argmax(score, axis=1)
    # Where people overlap, an item inside two of their boxes cannot be given to either from
    # boxes alone: it is left out rather than credited to a bystander the carrier walks past.
    ambiguous = np.isfinite(score).sum(axis=1) >= 2
    return np.where(np.isfinite(score[np.arange(len(it)), best]) & ~ambiguous, best, -1)


class CarriedItems:
    """Counts, per person track, sightings and the sightings with each item attached."""

    def __init__(self, min_score: float = 0.15, report_score: float = 0.3):
        self.min_score = min_score
        self.report_score = report_score
        self.sightings: Counter[int] = Counter()
        self.seen: dict[int, Counter[str]] = defaultdict(Counter)
        self.best: dict[int, dict[str, float]] = defaultdict(dict)
        # frames with an in-place sighting (see PLACED), those at the report score, best score
        self.placed: dict[int, Counter[str]] = defaultdict(Counter)
        self.sure: dict[int, Counter[str]] = defaultdict(Counter)
        self.placed_best: dict[int, dict[str, float]] = defaultdict(dict)
        # where the bags sat on the body: sum of boxes relative to the person's box, and a count
        self.places: dict[int, tuple[np.ndarray, int]] = {}

    def observe(self, tracked: Detections, raw: Detections) -> None:
        people = tracked[tracked.class_ids == PERSON]
        if len(people) == 0:
            return
        self.sightings.update(people.track_ids.tolist())
        is_item = np.isin(raw.class_ids, list(ITEMS)) & (raw.scores >= self.min_score)
        items = raw[is_item]
        owner = attach(people.xyxy, items.xyxy)
        per_frame: dict[int, dict[str, float]] = defaultdict(dict)
        in_place: dict[int, dict[str, float]] = defaultdict(dict)
        for k in np.flatnonzero(owner >= 0).tolist():
            track_id = int(people.track_ids[owner[k]])
            name, score = ITEMS[int(items.class_ids[k])], float(items.scores[k])
            per_frame[track_id][name] = max(per_frame[track_id].get(name, 0.0), score)
            if name in BAGS:
                rel = relative_box(people.xyxy[owner[k]], items.xyxy[k])
                total, n = self.places.get(track_id, (np.zeros(4), 0))
                self.places[track_id] = (total + rel, n + 1)
                if name in PLACED and where_carried(rel):
                    in_place[track_id][name] = max(in_place[track_id].get(name, 0.0), score)
        for track_id, found in per_frame.items():
            self.seen[track_id].update(found.keys())  # once per frame, however many boxes
            best = self.best[track_id]
            for name, score in found.items():
                best[name] = max(best.get(name, 0.0), score)
        for track_id, found in in_place.items():
            self.placed[track_id].update(found.keys())
            self.sure[track_id].update(n for n, score in found.items() if score >= self.report_score)
            best = self.placed_best[track_id]
            for name, score in found.items():
                best[name] = max(best.get(name, 0.0), score)

    def _confident(self, track_id: int, name: str) -> bool:
        """Boxed at the report score in two frames (handbags and backpacks: where carried)."""
        if name in PLACED:
            return self.sure.get(track_id, Counter())[name] >= SURE
        seen = self.seen.get(track_id, Counter())[name]
        return seen >= 2 and self.best.get(track_id, {}).get(name, 0.0) >= self.report_score

    def pop(self, track_id: int) -> dict[str, float]:
        """item -> fraction of the track's sightings it was attached (confident items only)."""
        total = self.sightings.get(track_id, 0)
        seen = self.seen.get(track_id, Counter())
        sure = [name for name in sorted(seen) if self._confident(track_id, name)]
        for book in (self.sightings, self.seen, self.best, self.placed, self.sure, self.placed_best):
            book.pop(track_id, None)
        return {name: round(seen[name] / total, 3) for name in sure} if total else {}

    def weak(self, track_id: int) -> dict[str, float]:
        """Items the detector boxed but not confidently, each a sign in [0, 1]: the fraction of
        sightings with the item where a carried one can be (see PLACED; boxes off the body are
        a neighbour's bag) times the best such score's share of the report score. Small people's
        bags are boxed weakly; only handbags count (weak 'backpack' boxes on people seen from
        behind are their dark backs), and none beside a confidently boxed bag (the detector
        naming that bag another class). Read it before :meth:`pop` forgets the track."""
        total = self.sightings.get(track_id, 0)
        seen = self.seen.get(track_id, Counter())
        if not total or any(self._confident(track_id, name) for name in BAGS if seen[name]):
            return {}
        placed, best = self.placed.get(track_id, Counter()), self.placed_best.get(track_id, {})
        return {
            name: round(placed[name] / total * min(best[name] / self.report_score, 1.0), 3)
            for name in WEAK
            if placed[name] >= 2
        }

    def pop_place(self, track_id: int) -> np.ndarray | None:
        """Where the track's bags were seen, as a box relative to the person's box (0..1 spans
        it; see :func:`relative_box`), or None when no bag was attached."""
        total, n = self.places.pop(track_id, (np.zeros(4), 0))
        return total / n if n else None

    def discard(self, keep: set[int]) -> None:
        for track_id in set(self.sightings) - keep:
            self.pop(track_id)
        for track_id in set(self.places) - keep:
            del self.places[track_id]


def where_carried(rel: np.ndarray) -> bool:
    """Whether a bag box (relative to the person's, see :func:`relative_box`) sits where a
    carried bag can: centred over the body or just off its side, not a person's height."""
    centre = (rel[0] + rel[2]) / 2
    return bool(-PLACE_MARGIN <= centre <= 1 + PLACE_MARGIN and rel[3] - rel[1] <= PLACE_HEIGHT)


def relative_box(person: np.ndarray, item: np.ndarray) -> np.ndarray:
    """The item's box in units of the person's box: (0, 0) its top left, (1, 1) its bottom right."""
    x1, y1, x2, y2 = (float(v) for v in person)
    size = np.array([max(x2 - x1, 1.0), max(y2 - y1, 1.0)] * 2)
    return (np.asarray(item, np.float64) - np.array([x1, y1, x1, y1])) / size


def place_in(box: np.ndarray, place: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """[H, W] mask of a relative ``place`` (see :func:`relative_box`) put back on a person's
    ``box`` in an image of ``shape``."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    bx = np.array([x1 + place[0] * w, y1 + place[1] * h, x1 + place[2] * w, y1 + place[3] * h])
    c0, r0 = int(max(np.floor(bx[0]), 0)), int(max(np.floor(bx[1]), 0))
    c1, r1 = int(min(np.ceil(bx[2]), shape[1])), int(min(np.ceil(bx[3]), shape[0]))
    mask = np.zeros(shape[:2], bool)
    if c1 > c0 and r1 > r0:
        mask[r0:r1, c0:c1] = True
    return mask


def bag_colours(image: np.ndarray, box: np.ndarray, place: np.ndarray, lightness: float) -> dict[str, float]:
    """Colour shares of the bag in one view: the pixels where the track's bags were seen on the
    body (``place``, relative to the person's ``box``); the views' frames are not the ones the
    detector boxed the bag in, but a carried bag keeps its place on the body."""
    mask = place_in(box, place, image.shape)
    if not mask.any():
        return {}
    # The place also holds the arm and coat beside the bag: pixels unlike the clothes are the
    # bag where there are enough of them (a bag like the coat leaves the place's own colours).
    lab = image_lab(image)
    parts = box_masks(image.shape, box)
    cloth = _palette(lab[(parts["upper"] | parts["lower"]) & ~mask])
    unlike = np.zeros_like(mask)
    unlike[mask] = _nearest(lab[mask], cloth) > CLOTH_DIST
    if unlike.sum() >= BAG_UNLIKE * mask.sum():
        mask = unlike
    return describe_colours(image, mask, lightness).shares


# ---------------------------------------------------------------- bags the detector misses

L_ELBOW, R_ELBOW = 7, 8  # COCO keypoints
HIP_REACH = 0.7  # a bag at the hip sticks out up to this many shoulder widths beside the hip
LEG_DIST = 6.5  # ... nor the trousers (nearer: a paper bag beside grey trousers is not them)
CLOTH_DIST = 14.0  # CIELAB distance beyond which a pixel is not the garment next to it
BACKGROUND_DIST = 14.0  # ... and not the background at the same height
SHADE_CHROMA, SHADE_HUE = 35.0, 25.0  # a garment this colourful, in shadow: its hue within this many degrees
STRAP_DIST = 12.0  # a strap pixel differs this much from the torso's own median colour


def _nearest(px: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """[N] CIELAB distance of each pixel to its nearest reference colour."""
    if len(refs) == 0:
        return np.full(len(px), np.inf, np.float32)
    # per channel (no [N, K, 3] temporary), added in sum(axis=2)'s order, one root per pixel: same floats
    d = [(px[:, c, None] - refs[:, c]) ** 2 for c in range(3)]
    return np.sqrt(((d[0] + d[1]) + d[2]).min(axis=1))


def _unlike(region: np.ndarray, keep: np.ndarray, tests: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """``keep`` less pixels within a test's distance of its colours (measuring only those kept)."""
    for refs, dist in tests:
        idx = np.flatnonzero(keep)
        keep[idx] = _nearest(region[idx], refs) > dist
    return keep


def _shaded(px: np.ndarray, sleeves: np.ndarray) -> np.ndarray:
    """[N] pixels that are a strongly coloured sleeve in shadow (a red arm hanging by the hip,
    darker and duller than where the light falls on it): the hue of a sleeve colour, at most
    its lightness, keeping some of its chroma."""
    refs = sleeves[np.hypot(sleeves[:, 1], sleeves[:, 2]) >= SHADE_CHROMA]
    if len(refs) == 0 or len(px) == 0:
        return np.zeros(len(px), bool)
    chroma, ref_chroma = np.hypot(px[:, 1], px[:, 2]), np.hypot(refs[:, 1], refs[:, 2])
    hue, ref_hue = np.arctan2(px[:, 2], px[:, 1]), np.arctan2(refs[:, 2], refs[:, 1])
    turn = np.abs((hue[:, None] - ref_hue[None, :] + np.pi) % (2 * np.pi) - np.pi)
    return (
        (turn <= np.deg2rad(SHADE_HUE))
        & (px[:, None, 0] <= refs[None, :, 0] + 2)
        & (chroma[:, None] >= 0.3 * ref_chroma[None, :])
    ).any(axis=1)


def _palette(px: np.ndarray, k: int = 24) -> np.ndarray:
    """A few representative colours of a pixel set (every n-th of them sorted by lightness)."""
    if len(px) <= k:
        return px
    return px[np.argsort(px[:, 0])][np.linspace(0, len(px) - 1, k).astype(int)]


def bag_evidence(
    image: np.ndarray,
    box: np.ndarray,
    kp: np.ndarray,
    masks: dict[str, np.ndarray],
    lightness: float | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """Signs of a bag without a detector box in one view, each in [0, 1], and (given the scene's
    ``lightness``) the colour shares of the bag-like patch at the hip with the stronger sign:

    ``hip``: beside either hip (out to HIP_REACH shoulder widths, inside the person's box, from
    the waist to just below the hip) a patch that is neither the jacket (the upper part mask:
    the arm hanging there wears it), nor the trousers (read from mid-thigh to knee, and nearer
    than the jacket: a short jacket leaves the jeans beside the hip, while a light paper bag
    beside grey trousers stays; a dark bag against dark trousers is lost), nor a skin-coloured
    hand, nor the background at the same height (the crop's margin outside the box), nor
    bright white (a sheet of paper in hand), nor a colourful sleeve in shadow (the arm);
    ``strap``: along the line from a shoulder to the opposite hip, inside the torso, pixels
    unlike the torso's own colour and the upper arms' (a strap across a coat, not a two-tone
    jacket's sleeves and yoke: red shoulders on a navy puffer), on both halves of the line.
    Needs the shoulders and hips; empty otherwise.
    """
    if np.any(kp[[L_SHOULDER, R_SHOULDER, L_HIP, R_HIP], 2] < MIN_KEYPOINT) or "upper" not in masks:
        return {}, {}
    lab = image_lab(image)
    signs: dict[str, float] = {}
    sleeves = _sleeves(lab, kp)
    hip, patch = _hip_patch(lab, box, kp, masks, sleeves)
    if hip is not None:
        signs["hip"] = round(_ramp(hip, 0.12, 0.35), 3)
    colours = {}
    if patch is not None and lightness is not None and signs.get("hip", 0.0) > 0:
        colours = describe_colours(image, patch, lightness).shares
    torso_px = lab[masks["upper"]]
    if len(torso_px) >= 8:
        signs["strap"] = _strap(lab, kp, np.median(torso_px, axis=0), sleeves)
    return signs, colours


def _sleeves(lab: np.ndarray, kp: np.ndarray) -> np.ndarray:
    """[N, 3] CIELAB samples along the upper arms (shoulder to elbow) the pose found."""
    height, width = lab.shape[:2]
    found = []
    for shoulder, elbow in ((L_SHOULDER, L_ELBOW), (R_SHOULDER, R_ELBOW)):
        if min(kp[shoulder, 2], kp[elbow, 2]) >= MIN_KEYPOINT:
            pts = kp[shoulder, :2] + np.linspace(0.3, 0.8, 6)[:, None] * (kp[elbow, :2] - kp[shoulder, :2])
            cols = np.clip(np.round(pts[:, 0]).astype(int), 0, width - 1)
            rows = np.clip(np.round(pts[:, 1]).astype(int), 0, height - 1)
            found.append(lab[rows, cols])
    return np.concatenate(found) if found else np.zeros((0, 3), np.float32)


def _hip_patch(
    lab: np.ndarray,
    box: np.ndarray,
    kp: np.ndarray,
    masks: dict[str, np.ndarray],
    sleeves: np.ndarray | None = None,
) -> tuple[float | None, np.ndarray | None]:
    """The larger share of bag-like pixels beside a hip (None where neither side fits in the
    crop), and the mask of those pixels on that side."""
    height, width = lab.shape[:2]
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    shoulder_w = max(float(np.hypot(*(kp[L_SHOULDER, :2] - kp[R_SHOULDER, :2]))), 0.25 * (x2 - x1), 2.0)
    torso = max(float(np.mean(kp[[L_HIP, R_HIP], 1]) - np.mean(kp[[L_SHOULDER, R_SHOULDER], 1])), 4.0)
    # the trousers between mid-thigh and knee: a bag hanging at the hip covers the top of the
    # leg mask, and the shoes (often black) are at its bottom
    legs = np.zeros(lab.shape[:2], bool)
    top = int(round(float(np.mean(kp[[L_HIP, R_HIP], 1])) + 0.5 * torso))
    legs[max(top, 0) : max(int(round(top + 0.5 * torso)), 0)] = True
    legs &= masks.get("lower", legs)
    cloth, trousers = _palette(lab[masks["upper"]]), _palette(lab[legs])
    # the arm hanging by the hip wears the sleeve; only its strong colours are matched (a bag
    # under the arm, often dark, shows between the upper arm's samples too)
    sleeves = np.zeros((0, 3), np.float32) if sleeves is None else sleeves
    best: tuple[float | None, np.ndarray | None] = (None, None)
    for hip in (L_HIP, R_HIP):
        hx, hy = (float(v) for v in kp[hip, :2])
        side = 1.0 if hx >= float(np.mean(kp[[L_HIP, R_HIP], 0])) else -1.0
        c_near, c_far = hx + side * 0.15 * shoulder_w, hx + side * HIP_REACH * shoulder_w
        c0, c1 = int(round(min(c_near, c_far))), int(round(max(c_near, c_far)))
        c0, c1 = max(c0, x1, 0), min(c1, x2, width)
        r0, r1 = max(int(round(hy - 0.35 * torso)), 0), min(int(round(hy + 0.15 * torso)), height)
        if c1 - c0 < 2 or r1 - r0 < 2:
            continue
        region = lab[r0:r1, c0:c1].reshape(-1, 3)
        margin = np.concatenate(
            [lab[r0:r1, : max(x1, 0)].reshape(-1, 3), lab[r0:r1, min(x2, width) :].reshape(-1, 3)]
        )
        if len(margin) < 4:
            continue
        skin = (region[:, 1] > 8) & (region[:, 2] > 10) & (region[:, 0] > 35)  # warm mid-light: a hand
        paper = (region[:, 0] > 85) & (np.hypot(region[:, 1], region[:, 2]) < 10)
        tests = [(cloth, CLOTH_DIST), (trousers, LEG_DIST), (_palette(margin), BACKGROUND_DIST)]
        other = _unlike(region, ~skin & ~paper, tests)
        idx = np.flatnonzero(other)
        other[idx] = ~_shaded(region[idx], sleeves)
        if best[0] is None or float(other.mean()) > best[0]:
            mask = np.zeros((height, width), bool)
            mask[r0:r1, c0:c1] = other.reshape(r1 - r0, c1 - c0)
            best = (float(other.mean()), mask)
    return best


def _strap(lab: np.ndarray, kp: np.ndarray, median: np.ndarray, sleeves: np.ndarray) -> float:
    """How much of a diagonal from a shoulder to the opposite hip is unlike the torso's colour
    and the sleeves'."""
    height, width = lab.shape[:2]
    halves = []
    for shoulder, hip in ((L_SHOULDER, R_HIP), (R_SHOULDER, L_HIP)):
        pts = kp[shoulder, :2] + np.linspace(0.2, 0.8, 12)[:, None] * (kp[hip, :2] - kp[shoulder, :2])
        cols = np.clip(np.round(pts[:, 0]).astype(int), 0, width - 1)
        rows = np.clip(np.round(pts[:, 1]).astype(int), 0, height - 1)
        px = lab[rows, cols]
        off = (np.sqrt(((px - median) ** 2).sum(axis=1)) > STRAP_DIST) & (_nearest(px, sleeves) > STRAP_DIST)
        halves.append(min(off[:6].mean(), off[6:].mean()))  # the whole diagonal, not one patch
    return round(_ramp(max(halves), 0.5, 0.9), 3)


def _ramp(x: float, lo: float, hi: float) -> float:
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))
