"""A person's looks from several views: each view's colours, shades, headwear and bag signs,
the views told apart by the person they show, and their quality-weighted means."""

from __future__ import annotations

from dataclasses import dataclass, field

from scenewatch.vision.attributes.parts import PARTS
from scenewatch.vision.colours import ColourReading, shade_of


def mix(dists: list[dict[str, float]], weights: list[float]) -> dict[str, float]:
    """Weighted mean of distributions, rounded to 3 decimals, near-zero terms left out."""
    total = float(sum(weights))
    if not dists or total <= 0:
        return {}
    keys = sorted({k for d in dists for k in d})  # the union: a term one view lacks counts as 0 there
    mean = {k: sum(w * d.get(k, 0.0) for d, w in zip(dists, weights, strict=True)) / total for k in keys}
    return {k: round(float(v), 3) for k, v in mean.items() if round(float(v), 3) > 0}


def shades(reading: ColourReading) -> dict[str, float]:
    """A part's light / dark degrees, each present term's ('blue:light': light blue), and the
    share of pale tints named white or grey ('blue:pale': a sky-blue anorak)."""
    out = dict(reading.shade)
    for term, lightness in reading.tones.items():
        for shade, degree in shade_of(lightness, term).items():
            out[f"{term}:{shade}"] = degree
    out.update((f"{term}:pale", share) for term, share in reading.tints.items())
    return out


@dataclass
class View:
    """One crop's looks (per part: colour shares, shades and the part's weight)."""

    weight: float
    posture: dict[str, float]
    colours: dict[str, dict[str, float]] = field(default_factory=dict)
    shades: dict[str, dict[str, float]] = field(default_factory=dict)
    part_weight: dict[str, float] = field(default_factory=dict)
    head: dict[str, float] | None = None
    bags: dict[str, float] | None = None
    bag_colours: dict[str, float] = field(default_factory=dict)  # the bag-like patch at the hip
    facing: float | None = None  # > 0 front, < 0 back (motion.facing)


SAME_LOOK = 0.3  # colour overlap of a part above which two views may show the same clothes


def look_groups(colours: list[dict[str, dict[str, float]]]) -> list[list[int]]:
    """Views grouped by the person they show: a view joins the first group whose first view
    shares its colours on the upper or the lower part (overlap >= :data:`SAME_LOOK`; light and
    a turned body change one part's reading, not both), else starts a group of its own."""
    groups: list[list[int]] = []
    for i, view in enumerate(colours):
        for group in groups:
            first = colours[group[0]]
            shared = [_overlap(view[p], first[p]) for p in ("upper", "lower") if p in view and p in first]
            if not shared or max(shared) >= SAME_LOOK:
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


def _overlap(a: dict[str, float], b: dict[str, float]) -> float:
    return float(sum(min(v, b.get(k, 0.0)) for k, v in a.items()))


def mean_looks(views: list[View]) -> dict:
    """The quality-weighted mean looks of views of one person."""
    looks: dict = {
        "colours": {
            p: mix(
                [v.colours[p] for v in views if p in v.colours],
                [v.part_weight[p] for v in views if p in v.colours],
            )
            for p in PARTS
        },
        "shades": {
            p: mix(
                [v.shades[p] for v in views if p in v.shades],
                [v.part_weight[p] for v in views if p in v.shades],
            )
            for p in PARTS
            if any(p in v.shades for v in views)
        },
    }
    for key, attr in (("headwear", "head"), ("bag_signs", "bags")):
        found = [(getattr(v, attr), v.weight) for v in views if getattr(v, attr)]
        if found:
            looks[key] = mix([f for f, _ in found], [w for _, w in found])
    # a bag only the pose saw: its colour where it showed, each view by how clearly it showed
    if seen := [(v.bag_colours, v.weight * (v.bags or {}).get("hip", 0.0)) for v in views if v.bag_colours]:
        looks["bag_colours"] = mix([c for c, _ in seen], [w for _, w in seen])
    return looks


def strongest(values: list[dict]) -> dict:
    """Every key at its largest value over several looks (nested maps key by key)."""
    out: dict = {}
    for value in values:
        for k, v in value.items():
            if isinstance(v, dict):
                out[k] = strongest([out.get(k, {}), v])
            else:
                out[k] = max(out.get(k, 0.0), v)
    return out
