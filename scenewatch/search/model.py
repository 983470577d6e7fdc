"""The structured query: what a plain-language search was understood to ask for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# ---------------------------------------------------------------- result types


@dataclass(frozen=True, slots=True)
class Colour:
    """A basic colour term, its shade (``dark``/``light``) and other basic terms that also fit."""

    term: str
    shade: str | None = None
    also: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"term": self.term, "shade": self.shade, "also": list(self.also)}


@dataclass(slots=True)
class CarriedItem:
    item: str  # backpack | handbag | suitcase | umbrella | bag (any of the first three)
    colour: Colour | None = None

    def to_dict(self) -> dict:
        return {"item": self.item, "colour": self.colour.to_dict() if self.colour else None}


@dataclass(slots=True)
class Motion:
    state: str | None = None  # running | walking | stopped | moving
    direction: str | None = None  # left | right | towards | away (relative to the camera)
    speed: str | None = None  # fast | slow

    def to_dict(self) -> dict:
        return {"state": self.state, "direction": self.direction, "speed": self.speed}


@dataclass(slots=True)
class ObjectClause:
    """One object the user asks for and everything said about it.

    ``cls`` is ``person``, ``vehicle`` (with ``vehicle_type``), an animal, or ``None`` for any
    object. ``colours`` maps a part (head, upper, lower for people; body for vehicles; any) to
    colours that must all be present there. ``count`` is the least number wanted together
    (``None``: at least one).
    """

    cls: str | None
    vehicle_type: str | None = None
    count: int | None = None
    colours: dict[str, list[Colour]] = field(default_factory=dict)
    garments: list[str] = field(default_factory=list)
    carried: list[CarriedItem] = field(default_factory=list)
    posture: str | None = None
    motion: Motion = field(default_factory=Motion)

    def add_colour(self, part: str, colour: Colour) -> None:
        colours = self.colours.setdefault(part, [])
        if colour not in colours:
            colours.append(colour)

    def to_dict(self) -> dict:
        return {
            "class": self.cls,
            "vehicle_type": self.vehicle_type,
            "count": self.count,
            "colours": {p: [c.to_dict() for c in cs] for p, cs in self.colours.items()},
            "garments": list(self.garments),
            "carried": [c.to_dict() for c in self.carried],
            "posture": self.posture,
            "motion": self.motion.to_dict(),
        }


@dataclass(slots=True)
class Query:
    """What was understood from a query (``to_dict`` is the ``understood`` part of the search JSON)."""

    text: str
    language: str  # en | zh | mixed | unknown
    objects: list[ObjectClause] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    cameras: list[str] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """Whether anything constrains the search; an unusable query must not scan everything."""
        return bool(self.objects or self.start or self.end or self.cameras or self.zones)

    def to_dict(self) -> dict:
        window = None
        if self.start or self.end:
            window = {
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
            }
        return {
            "text": self.text,
            "language": self.language,
            "objects": [o.to_dict() for o in self.objects],
            "time": window,
            "cameras": list(self.cameras),
            "zones": list(self.zones),
            "ignored": list(self.ignored),
            "notes": list(self.notes),
            "usable": self.usable,
        }
