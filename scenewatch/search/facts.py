"""A track's searchable facts: its attributes JSON flattened into ``term -> weight`` in [0, 1].

The same facts feed the index (``index.py``: the terms worth a row), the exact ranking
(``rank.py``) and "more like this" (cosine similarity of two fact vectors), so the three can
never disagree about what a track is.

Terms: ``class:person``, ``vtype:van``, ``upper:red`` (head, upper, lower, body), ``upper:light``,
``upper:blue:dark`` (shades: of the part, and within a colour; ``upper:blue:pale``: a pale tint
named white or grey), ``headwear:hood``, ``bagsign:strap``,
``carried:backpack``, ``bag:black`` (the carried bag's colour),
``posture:lying``, ``heading:left``, ``motion:running|walking|moving|stopped``,
``speed:fast|slow``, ``zone:<name>``.

>>> facts = track_facts("person", {"colours": {"upper": {"red": 0.8}}, "carried": {"backpack": 0.7}})
>>> facts["upper:red"], facts["carried:backpack"], facts["class:person"]
(0.8, 0.7, 1.0)
"""

from __future__ import annotations

import math
from typing import Any

COLOUR_PARTS = ("head", "upper", "lower", "body")
PERSON_PARTS = ("head", "upper", "lower")
VEHICLE_CLASSES = ("car", "truck", "bus", "motorcycle", "bicycle")

# Speeds in object heights per second (scale-free): a walker covers ~0.8 of their height a
# second, a runner 2+; a car is slow below ~3 heights (~15 km/h) and fast above ~8 (~45 km/h).
_FAST = {"person": (1.2, 2.2), "vehicle": (3.0, 8.0)}
HEADINGS = ("left", "right", "towards", "away")
HEADING_FULL = 0.5  # share of a track's movement in one direction that is a full match
# A person's facing (shoulder order, the describer's ``facing``: > 0 front, < 0 back) says which
# way along the view they walk, where the image foreshortens that motion: a back view scales the
# away share up by as much again and the towards share down, a front view the other way round.
# From this lead (box widths) on it counts, in full from FACING_FULL; side-on shoulders say nothing.
FACING_FROM, FACING_FULL = 0.1, 0.4
_SLOW = {"person": (0.2, 0.7), "vehicle": (1.0, 3.0)}


def _clamp(x: float) -> float:
    return 0.0 if not math.isfinite(x) or x < 0 else 1.0 if x > 1 else x


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 below ``lo``, 1 above ``hi``, linear between."""
    return _clamp((x - lo) / (hi - lo))


def _num(value: Any, default: float = 0.0) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def _dist(value: Any) -> dict[str, float]:
    """A {label: share} mapping, tolerant of missing or malformed attributes."""
    if not isinstance(value, dict):
        return {}
    return {str(k).lower(): _clamp(_num(v)) for k, v in value.items()}


def track_facts(class_name: str, attributes: dict | None, score: float = 1.0) -> dict[str, float]:
    """All facts of one track; a track without attributes still has its class."""
    attrs = attributes if isinstance(attributes, dict) else {}
    cls = str(attrs.get("class") or class_name)
    facts: dict[str, float] = {f"class:{cls}": _clamp(_num(attrs.get("class_conf"), score))}
    colours = attrs.get("colours")
    colours = colours if isinstance(colours, dict) else {}
    for part in COLOUR_PARTS:
        for term, share in _dist(colours.get(part)).items():
            facts[f"{part}:{term}"] = share
    shades = attrs.get("shades")
    for part, degrees in (shades if isinstance(shades, dict) else {}).items():
        if part in PERSON_PARTS:  # 'upper:light', 'upper:blue:dark' (light / dark within blue)
            facts.update((f"{part}:{k}", v) for k, v in _dist(degrees).items())
    for key, prefix in (
        ("carried", "carried"),
        ("posture", "posture"),
        ("vehicle_type", "vtype"),
        ("headwear", "headwear"),  # covered, hood, hat
        ("bag_signs", "bagsign"),  # hip, strap, box:handbag: a bag the detector did not box (well)
        ("bag_colours", "bag"),  # 'bag:black': colours where the boxed bags sat on the body
    ):
        for label, p in _dist(attrs.get(key)).items():
            facts[f"{prefix}:{label}"] = p
    facts.update(_motion_facts(cls, attrs.get("motion"), _num(attrs.get("facing"))))
    for zone in attrs.get("zones") or ():
        facts[f"zone:{str(zone).lower()}"] = 1.0
    return facts


def _motion_facts(cls: str, motion: Any, facing: float = 0.0) -> dict[str, float]:
    if not isinstance(motion, dict):
        return {}
    moving = _clamp(_num(motion.get("moving_fraction"), 1.0))
    running = _clamp(_num(motion.get("running")))
    facts = {"motion:moving": moving, "motion:stopped": 1.0 - moving}
    if cls == "person":
        facts["motion:running"] = running
        facts["motion:walking"] = moving * (1.0 - running)
    heading = motion.get("heading")
    shares = _dist(motion.get("headings"))
    if shares:
        # Share of the movement in each direction; half of it is a full match, so a diagonal walk
        # (left and towards) matches both, and a slight drift ranks below a clear one.
        front, back = _ramp(facing, FACING_FROM, FACING_FULL), _ramp(-facing, FACING_FROM, FACING_FULL)
        shares["towards"] = shares.get("towards", 0.0) * max(1.0 + front - back, 0.0)
        shares["away"] = shares.get("away", 0.0) * max(1.0 + back - front, 0.0)
        for direction in HEADINGS:
            if shares.get(direction, 0.0) > 0:
                facts[f"heading:{direction}"] = max(moving, 0.5) * _ramp(shares[direction], 0.0, HEADING_FULL)
    elif heading in HEADINGS:  # attributes written before 'headings' existed
        facts[f"heading:{heading}"] = max(moving, 0.5)  # a heading is only given when it moved
    kind = "person" if cls == "person" else "vehicle"
    speed = _num(motion.get("speed_h_s"), -1.0)
    if speed >= 0:
        facts["speed:fast"] = _ramp(speed, *_FAST[kind])
        lo, hi = _SLOW[kind]
        facts["speed:slow"] = moving * (1.0 - _ramp(speed, lo, hi))
    return {k: round(v, 4) for k, v in facts.items()}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine similarity of two sparse fact vectors."""
    dot = sum(w * b[t] for t, w in a.items() if t in b)
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb) if na and nb else 0.0
