"""Soft scoring of a track against one object clause, with the reasons in words and numbers.

A clause becomes a list of :class:`Need` (class, each colour on its part, each colour's shade,
headwear, each carried item, posture, motion, heading, speed, zone). Each need reads the track's
facts (``facts.py``) and gives a factor in [0, 1]; the score is the product of the factors, each
floored at :data:`FLOOR` so that a track missing one need still ranks by the others (soft AND).

Shades are needs of their own: "light blue" asks for blue and, softly, for its blue being light
(a plain blue keeps :data:`SHADE_FLOOR`, so it ranks next); a pale tint the colour names call white
or grey (``upper:blue:pale``) counts as the colour in its light shade. "dark clothes" / "浅色" ask
for the lightness alone. An outfit ("all in black", "白衣服") asks every visible part for the colour: its
factor leans on the worst part (:data:`OUTFIT_ALL`). Headwear and bags the detector did not box
come from the pose-located signs the describer wrote (``headwear:*``, ``bagsign:*``).

>>> from scenewatch.search import parse_query
>>> from datetime import datetime
>>> clause = parse_query("person in a red top", datetime(2024, 5, 1)).objects[0]
>>> score, reasons = score_clause(clause_needs(clause), {"class:person": 0.9, "upper:red": 0.82})
>>> round(score, 2), reasons
(0.85, ['person 0.90', 'upper body red 0.82'])
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from scenewatch.search.facts import COLOUR_PARTS, PERSON_PARTS, VEHICLE_CLASSES
from scenewatch.search.lexicon import CARRIED_COCO, VEHICLE_COCO
from scenewatch.search.model import Colour, ObjectClause
from scenewatch.vision.colours import tone_of

FLOOR = 0.05  # a missing attribute costs a factor of 20, it does not remove the track
SOFT_FLOOR = 0.5  # a hint (vehicle type, speed) can halve a score, never bury a track
# A named type other than car ('a grey van') keeps less: a vehicle surely read as something
# else would otherwise outrank one of uncertain type on a surer colour. A car keeps SOFT_FLOOR:
# people say car for SUVs and estates, which sizes read as vans or pickups.
TYPE_FLOOR = 0.3
ALSO_CREDIT = 0.5  # a neighbouring colour term ('also': maroon is red, also brown) counts half
ADJACENT_CREDIT = 0.25  # a perceptually adjacent term (see ADJACENT) counts a quarter
ADJACENT: dict[str, tuple[str, ...]] = {
    "brown": ("black",),  # a dark brown coat in shade reads as black
    "black": ("brown", "grey"),
    "grey": ("black", "white"),  # charcoal / silver
    "white": ("grey",),  # white in overcast light or shade
    "blue": ("purple",),  # navy and violet-blue
}
# A stand-in named across a lightness boundary counts by how light its own pixels were (the
# mean lightness of the pixels named by it, CIELAB L*): (asked, named) -> the lightness where
# it keeps only EVIDENCE_FLOOR of its credit and the one where it keeps all of it. Grey and
# dark brown are lighter than black: a 'black' coat at L* 12 is a likelier charcoal or dark
# brown than a pitch-black one at L* 1, however surely either is named black.
NEAR_LIGHTNESS: dict[tuple[str, str], tuple[float, float]] = {
    ("grey", "black"): (2.0, 14.0),
    ("brown", "black"): (2.0, 14.0),
}
EVIDENCE_FLOOR = 0.3
HEAD_CREDIT = 0.3  # 'person in red': hair or a hat counts 0.3, the clothes in full
COLOUR_GRADE = 0.3  # ... and this part of a colour factor grows with the share up to 1
COLOUR_FULL = 0.5  # half the part in the colour is a full match (the rest is shadow, skin, bags)
# A vehicle's body colour is read from its panels alone (glass, tyres and road left out), so a
# full match asks for more of it, and a neighbouring term ('silver': also white) at its credit
# never reaches a full match.
BODY_FULL = 0.8
PART_NAMES = {
    "head": "head",
    "upper": "upper body",
    "lower": "lower body",
    "body": "body",
    "outfit": "outfit",
}
SHADE_FLOOR = 0.4  # the asked colour in another shade keeps this factor: it ranks right after
SHADE_ONLY = {("black", "dark"): "dark", ("white", "light"): "light"}  # 'dark clothes', '浅色'
SHADE_NAMED_CREDIT = 0.8  # ... the colour those words name (black, white) also counts: tracks
# described before shades were kept have only their colour names
OUTFIT_PARTS = ("upper", "lower")
OUTFIT_ALL = 0.6  # share of an outfit's factor taken from its worst part (all parts must agree)
# head garments -> (fact, credit): a covered head counts for each, the told-apart kind in full
HEADWEAR: dict[str, tuple[tuple[str, float], ...]] = {
    "hood": (("headwear:hood", 1.0), ("headwear:covered", 0.8)),
    "hat": (("headwear:hat", 1.0), ("headwear:covered", 0.8)),
    "cap": (("headwear:hat", 1.0), ("headwear:covered", 0.8)),
    "helmet": (("headwear:covered", 0.8),),
}
HEADWEAR_FULL = 0.8
# a bag the detector did not box confidently: pose-located signs and its weak handbag boxes,
# weaker than a confident box (which counts 1.0)
BAG_SIGNS: dict[str, tuple[tuple[str, float], ...]] = {
    "bag": (("bagsign:hip", 0.6), ("bagsign:strap", 0.6), ("bagsign:box:handbag", 0.6)),
    "handbag": (("bagsign:hip", 0.6), ("bagsign:strap", 0.6), ("bagsign:box:handbag", 0.6)),
    # a bag boxed (as a handbag, often) on the back, between the shoulders and the waist
    "backpack": (("bagsign:hip", 0.3), ("bagsign:place:back", 0.6)),
}
BAG_UNSEEN = 0.5  # 'a black bag' where no boxed bag's colour was read: between a match and a miss
# 'a handbag', 'a shoulder bag': a bag boxed on the back is a backpack, whatever its box's class,
# so a handbag box there keeps this factor; a bag no box placed is not judged
PLACE_FLOOR = 0.5
SIGN_WORDS = {
    "bagsign:hip": "a bag-like patch by the hip",
    "bagsign:strap": "a strap across the torso",
    "bagsign:box:handbag": "a handbag boxed only weakly",
    "bagsign:place:back": "a bag boxed on the back",
}


@dataclass(frozen=True, slots=True)
class Need:
    """One thing a clause asks for: any of ``terms`` (term, credit), scaled so ``full`` is 1."""

    kind: str  # class | vtype | colour | shade | headwear | carried | bag colour | bag place | posture | motion | heading | speed | zone
    label: str
    terms: tuple[tuple[str, float], ...]
    required: bool = True  # candidates must have one of the terms (strict pass of the engine)
    full: float = 1.0
    floor: float | None = None  # the factor's floor; None: FLOOR if required, else SOFT_FLOOR
    outfit: bool = False  # terms per part ('upper:..', 'lower:..'), every part must agree

    @property
    def term_names(self) -> list[str]:
        return [t for t, _ in self.terms]

    def factor(self, facts: dict[str, float]) -> float:
        if self.outfit:
            per_part = [
                self._factor(facts, tuple((t, c) for t, c in self.terms if t.startswith(f"{p}:")))
                for p in OUTFIT_PARTS
            ]
            return OUTFIT_ALL * min(per_part) + (1.0 - OUTFIT_ALL) * float(sum(per_part) / len(per_part))
        return self._factor(facts, self.terms)

    def bag_unseen(self, facts: dict[str, float]) -> bool:
        """A bag colour asked of a track whose bag's colour was never read (no boxed bag)."""
        return self.kind == "bag colour" and not any(t.startswith("bag:") for t in facts)

    def unplaced(self, facts: dict[str, float]) -> bool:
        """A bag's place asked of a track with no boxed bag (see :data:`PLACE_FLOOR`)."""
        return self.kind == "bag place" and not any(t.startswith("bagsign:place:") for t in facts)

    def _factor(self, facts: dict[str, float], terms: tuple[tuple[str, float], ...]) -> float:
        if self.bag_unseen(facts):
            return BAG_UNSEEN  # a bag only the pose saw (or none): its colour is unknown, not wrong
        if self.unplaced(facts):
            return 1.0
        if self.kind == "colour":
            best = colour_match(facts, terms)
            # Saturating at ``full`` lets a two-colour garment match both colours, but then a coat
            # 95 % black ties with jeans half in shadow: a share of the factor keeps growing.
            return (1.0 - COLOUR_GRADE) * min(1.0, best / self.full) + COLOUR_GRADE * min(1.0, best)
        best = max((facts.get(t, 0.0) * credit for t, credit in terms), default=0.0)
        return min(1.0, best / self.full)


def asked_colour(terms: tuple[tuple[str, float], ...]) -> str:
    """The colour a clause asked for: its first term's (``part:colour``)."""
    return terms[0][0].split(":", 1)[1] if terms else ""


def colour_match(facts: dict[str, float], terms: tuple[tuple[str, float], ...]) -> float:
    """The best term's share times its credit (the first term is the asked colour), a stand-in
    across a lightness boundary (:data:`NEAR_LIGHTNESS`) scaled by :func:`lightness_evidence`."""
    asked = asked_colour(terms)
    best = 0.0
    for term, credit in terms:
        share = facts.get(term, 0.0) * credit
        if share > best:
            part, colour = term.split(":", 1)
            share *= lightness_evidence(facts, part, colour, asked)
            best = max(best, share)
    return min(1.0, best)


def lightness_evidence(facts: dict[str, float], part: str, named: str, asked: str) -> float:
    """How far the pixels named ``named`` on ``part`` had the lightness of ``asked``, in
    [EVIDENCE_FLOOR, 1]: 1 where the pair crosses no lightness boundary or the track was described
    before shades were kept; the floor where the named colour had too few pixels for a lightness
    of its own. The mean lightness is kept as the within-colour dark degree (``colours.tone_of``)."""
    ramp = NEAR_LIGHTNESS.get((asked, named))
    if ramp is None:
        return 1.0
    degree = facts.get(f"{part}:{named}:dark")
    if degree is None:
        described = f"{part}:dark" in facts or f"{part}:light" in facts
        return EVIDENCE_FLOOR if described else 1.0
    lo, hi = ramp
    along = min(1.0, max(0.0, (tone_of(degree, named) - lo) / (hi - lo)))
    return EVIDENCE_FLOOR + (1.0 - EVIDENCE_FLOOR) * along


def clause_needs(clause: ObjectClause, zones: list[str] | tuple[str, ...] = ()) -> list[Need]:
    """What a clause asks for, as needs (the query's zones apply to every clause)."""
    needs: list[Need] = []
    cls = clause.cls
    if cls == "vehicle":
        # Every COCO class a type is detected as is a full match and the vehicle type decides:
        # COCO's truck holds SUVs and estates as well as pickups and vans, and the vehicle type
        # was read with the detector's class already weighed in (``vehicle.CLASS_WEIGHT``), so
        # crediting the class again would bury a black SUV the detector called a truck under
        # black pickups it called cars.
        classes = VEHICLE_COCO.get(clause.vehicle_type or "", VEHICLE_CLASSES)
        label = clause.vehicle_type or "vehicle"
        needs.append(Need("class", label, tuple((f"class:{c}", 1.0) for c in classes)))
        if clause.vehicle_type:
            t = clause.vehicle_type
            label = f"looks like a {t.replace('_', ' ')}"  # box_truck: 'looks like a box truck'
            floor = SOFT_FLOOR if t == "car" else TYPE_FLOOR
            needs.append(Need("vtype", label, ((f"vtype:{t}", 1.0),), required=False, floor=floor))
    elif cls is not None:
        needs.append(Need("class", cls, ((f"class:{cls}", 1.0),)))
    for part, colours in clause.colours.items():
        for colour in colours:
            needs.extend(_colour_needs(part, colour, cls))
    for garment in clause.garments:
        if garment in HEADWEAR and cls in ("person", None):
            needs.append(Need("headwear", f"wearing a {garment}", HEADWEAR[garment], full=HEADWEAR_FULL))
    for item in clause.carried:
        items = CARRIED_COCO.get(item.item, (item.item,))
        boxed = tuple((f"carried:{i}", 1.0) for i in items)
        needs.append(Need("carried", f"carrying {item.item}", boxed + BAG_SIGNS.get(item.item, ())))
        if item.item == "handbag":
            off_back = (("bagsign:place:off_back", 1.0),)
            needs.append(Need("bag place", "off the back", off_back, required=False, floor=PLACE_FLOOR))
        if item.colour is not None and item.item in CARRIED_COCO and item.item != "umbrella":
            near = tuple((f"bag:{n}", ADJACENT_CREDIT) for n in ADJACENT.get(item.colour.term, ()))
            terms = ((f"bag:{item.colour.term}", 1.0), *near)
            needs.append(
                Need("bag colour", f"{item.colour.term} bag", terms, required=False, full=COLOUR_FULL)
            )
    if clause.posture:
        needs.append(Need("posture", clause.posture, ((f"posture:{clause.posture}", 1.0),)))
    motion = clause.motion
    if motion.state:
        needs.append(Need("motion", motion.state, ((f"motion:{motion.state}", 1.0),), full=0.8))
    if motion.direction:
        needs.append(Need("heading", f"heading {motion.direction}", ((f"heading:{motion.direction}", 1.0),)))
    if motion.speed:
        needs.append(Need("speed", motion.speed, ((f"speed:{motion.speed}", 1.0),), required=False))
    if zones:
        needs.append(
            Need("zone", "in zone " + " or ".join(zones), tuple((f"zone:{z.lower()}", 1.0) for z in zones))
        )
    return needs


def _colour_needs(part: str, colour: Colour, cls: str | None) -> list[Need]:
    """A colour's needs: the colour on its part(s), and its shade when one is asked; a shade
    with no hue of its own ('dark clothes') asks for the lightness alone."""
    parts = _parts(part, cls)
    outfit = part == "outfit"
    label = PART_NAMES.get(part, part)
    only = SHADE_ONLY.get((colour.term, colour.shade or ""))
    if only and cls in ("person", None) and part != "head":
        terms = tuple((f"{p}:{only}", 1.0) for p in parts)
        terms += tuple((f"{p}:{colour.term}", SHADE_NAMED_CREDIT) for p in parts)
        return [Need("shade", f"{label} {only}" if part != "any" else only, terms, outfit=outfit)]
    needs = [_colour_need(part, colour, cls)]
    if colour.shade and cls in ("person", None):
        words = f"{colour.shade} {colour.term}"
        terms = tuple((f"{p}:{colour.term}:{colour.shade}", 1.0) for p in parts)
        if colour.shade == "light":  # a pale tint (named white or grey) is the colour, light
            pale = tuple((f"{p}:{colour.term}:pale", 1.0) for p in parts)
            needs[0] = replace(needs[0], terms=needs[0].terms + pale)
            terms += pale
        text = words if part == "any" else f"{label} {words}"
        needs.append(Need("shade", text, terms, required=False, floor=SHADE_FLOOR, outfit=outfit))
    return needs


def _parts(part: str, cls: str | None) -> tuple[str, ...]:
    if part in COLOUR_PARTS:
        return (part,)
    if part == "outfit":
        return OUTFIT_PARTS
    return PERSON_PARTS if cls == "person" else COLOUR_PARTS  # 'any': the best part wins


def _colour_need(part: str, colour: Colour, cls: str | None) -> Need:
    parts = _parts(part, cls)
    terms = [(f"{p}:{colour.term}", _part_credit(p, part, cls)) for p in parts]
    terms += [(f"{p}:{a}", ALSO_CREDIT * _part_credit(p, part, cls)) for a in colour.also for p in parts]
    # Perceptually adjacent basic terms (dark brown vs black, charcoal vs black, navy vs blue)
    # blur into each other in shade and at low resolution: a small partial credit, so a track
    # named by the neighbour still ranks, below every track named by the asked term.
    named = {colour.term, *colour.also}
    for near in ADJACENT.get(colour.term, ()):
        if near not in named:
            terms += [(f"{p}:{near}", ADJACENT_CREDIT * _part_credit(p, part, cls)) for p in parts]
    label = colour.term if part == "any" else f"{PART_NAMES.get(part, part)} {colour.term}"
    full = BODY_FULL if cls == "vehicle" else COLOUR_FULL
    return Need("colour", label, tuple(terms), full=full, outfit=part == "outfit")


def _part_credit(p: str, asked: str, cls: str | None) -> float:
    """'A person in red' means their clothes: the head (hair, a few pixels on small people)
    counts only partly unless the query asks for it."""
    return HEAD_CREDIT if asked == "any" and cls == "person" and p == "head" else 1.0


def score_clause(needs: list[Need], facts: dict[str, float]) -> tuple[float, list[str]]:
    """The soft score of one track's facts against a clause's needs, and the reasons."""
    score, reasons = 1.0, []
    for need in needs:
        f = need.factor(facts)
        if need.kind == "class":
            if f <= 0:
                return 0.0, [f"not a {need.label}"]
            score *= f
        else:
            floor = need.floor if need.floor is not None else FLOOR if need.required else SOFT_FLOOR
            score *= floor + (1.0 - floor) * f
        reasons.append(_reason(need, facts, f))
    return score, reasons


def _reason(need: Need, facts: dict[str, float], factor: float) -> str:
    """Why a need scored what it did, with the numbers it read."""
    hits = sorted(
        ((facts[t], t, credit) for t, credit in need.terms if facts.get(t, 0.0) > 0.0),
        key=lambda h: -h[0] * h[2],
    )
    if need.kind == "colour":
        shown = [h for h in hits if h[0] >= 0.1][:3]
        if not shown:
            return f"no {need.label}"
        asked = asked_colour(need.terms)
        return ", ".join(_colour_words(t, w, asked, facts) for w, t, _ in shown)
    if need.bag_unseen(facts):
        return f"{need.label}: the bag's colour was not seen"
    if need.unplaced(facts):
        return "no boxed bag's place"
    if need.kind == "bag place":  # what was seen: how far the boxed bag sat on the back
        return f"bag boxed on the back {1.0 - facts.get(need.terms[0][0], 0.0):.2f}"
    if not hits or factor <= 0:
        return f"not {need.label}" if need.kind != "class" else f"not a {need.label}"
    weight, term, _ = hits[0]
    if need.kind == "class":
        return f"{term.split(':', 1)[1]} {weight:.2f}"
    if need.kind == "carried":
        if term in SIGN_WORDS:
            return f"{SIGN_WORDS[term]} {weight:.2f}"
        return f"carrying {term.split(':', 1)[1]} {weight:.2f}"
    if need.kind == "headwear":  # what was seen: the covered head, and how it sits
        garment = need.label.split()[-1]
        said = f"{garment}: covered head {facts.get('headwear:covered', 0.0):.2f}"
        kind = need.terms[0][0]
        if kind != "headwear:covered":
            how = "wrapped round the face" if kind == "headwear:hood" else "not wrapped round the face"
            said += f", {how} {facts.get(kind, 0.0):.2f}"
        return said
    if need.kind == "shade":
        if term.endswith(":pale"):  # what was seen: a pale tint, named white or grey
            return f"{need.label} {factor:.2f} (pale {term.split(':')[1]} tint {weight:.2f})"
        return f"{need.label} {factor:.2f}"
    if need.kind == "zone":
        return f"in zone {term.split(':', 1)[1]}"
    return f"{need.label} {weight:.2f}"


def _colour_words(term: str, weight: float, asked: str, facts: dict[str, float]) -> str:
    part, colour = term.split(":", 1)
    if colour.endswith(":pale"):  # a pale tint of the asked colour: named white or grey
        return f"{PART_NAMES.get(part, part)} pale {colour.split(':')[0]} {weight:.2f}"
    text = f"{PART_NAMES.get(part, part)} {colour} {weight:.2f}"
    if (asked, colour) in NEAR_LIGHTNESS:  # how far its lightness made it count
        return (
            text + f" (near match, as light as {asked} {lightness_evidence(facts, part, colour, asked):.2f})"
        )
    return text + " (near match)" if colour != asked else text
