"""Fragments of walks: a track as a piece of one object's walk (where and when it begins and ends,
which border of the view it touches there, how it moves and how it looks), read from the store
for :mod:`scenewatch.search.grouping`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, or_, select

from scenewatch.search.facts import COLOUR_PARTS, VEHICLE_CLASSES
from scenewatch.search.loading import TrackFacts, id_pages
from scenewatch.store.schema import boxes, cameras, track_terms, tracks
from scenewatch.vision.colours import TERMS as BASIC_COLOURS

VELOCITY_SPAN_S = 1.0  # end velocities are measured over about this much of the path
EDGE_SHARE = 0.02  # a box this close to the frame's border (share of its width or height) touches it


Point = tuple[float, float, float]  # bottom-centre x, y and box height, in pixels
Box = tuple[float, float, float, float]  # x1, y1, x2, y2


@dataclass(slots=True)
class Fragment:
    """A track as a piece of a walk: where and when it begins and ends, and how it looks."""

    track_id: int
    camera_id: int
    cls: str
    first_ts: float
    last_ts: float
    start: Point
    end: Point
    velocity: tuple[float, float] = (0.0, 0.0)  # pixels per second near its end
    start_velocity: tuple[float, float] = (0.0, 0.0)  # pixels per second near its start
    colours: dict[str, dict[str, float]] = field(default_factory=dict)  # part -> colour -> share
    enters: str | None = None  # the frame border its first box touches (left, right, top, bottom)
    exits: str | None = None  # the border its last box touches

    @property
    def kind(self) -> str:
        """Person, vehicle (a van may be a car in one fragment and a truck in the next), or the class."""
        return "vehicle" if self.cls in VEHICLE_CLASSES else self.cls


def colour_shares(facts: dict[str, float]) -> dict[str, dict[str, float]]:
    """part -> colour -> share from a track's index facts (``upper:red`` ...): the basic colour
    terms only, which share one part between them (shades such as ``upper:blue:dark`` do not)."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for term, weight in facts.items():
        part, _, colour = term.partition(":")
        if part in COLOUR_PARTS and colour in BASIC_COLOURS and weight > 0:
            out[part][colour] = weight
    return dict(out)


def walk_colours(walk: list[Fragment]) -> dict[str, dict[str, float]]:
    """part -> colour -> share over a walk's fragments: each fragment's shares of a part (scaled
    to sum to 1) averaged over the fragments that show it, each described from its own few crops."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    seen: dict[str, int] = defaultdict(int)
    for f in walk:
        for part, shares in f.colours.items():
            total = sum(shares.values())
            if total > 0:
                seen[part] += 1
                for colour, share in shares.items():
                    sums[part][colour] += share / total
    return {part: {c: v / seen[part] for c, v in got.items()} for part, got in sums.items()}


def _velocity(path: list, at_end: bool) -> tuple[float, float]:
    """Pixels per second over about VELOCITY_SPAN_S of the path's end (or start); the path is
    read from that end only, however long the track."""
    points = reversed(path) if at_end else iter(path)
    first = last = None
    for p in points:
        if not isinstance(p, (list, tuple)) or len(p) < 3:
            continue
        last = (float(p[0]), float(p[1]), float(p[2]))
        if first is None:
            first = last
        elif abs(first[0] - last[0]) >= VELOCITY_SPAN_S:
            break
    if first is None or last is None or first[0] == last[0]:
        return (0.0, 0.0)
    dt = first[0] - last[0]  # negative from the start: the signs then come out right
    return ((first[1] - last[1]) / dt, (first[2] - last[2]) / dt)


def load_fragments(
    conn: Connection, ids: Iterable[int], facts: dict[int, TrackFacts] | None = None
) -> dict[int, Fragment]:
    """Fragments by track id: the track row, its first and last boxes, and its colours (from
    ``facts`` where given, else read from the index)."""
    ids = list(dict.fromkeys(ids))
    facts = facts or {}
    looks = {i: colour_shares(facts[i].facts) for i in ids if i in facts}
    looks.update(_read_colours(conn, [i for i in ids if i not in facts]))
    t, b = tracks.c, boxes.c
    rows = {}
    for where in id_pages(conn, t.id, t.first_ts, ids):
        cols = (t.id, t.camera_id, t.class_name, t.first_ts, t.last_ts, t.first_frame, t.last_frame, t.path)
        for row in conn.execute(select(*cols).where(where)):
            rows[row.id] = row
    ends: dict[int, dict[int, Box]] = defaultdict(dict)
    at_ends = or_(b.frame == t.first_frame, b.frame == t.last_frame)
    for where in id_pages(conn, t.id, t.first_ts, list(rows)):
        q = select(b.track_id, b.frame, b.x1, b.y1, b.x2, b.y2).join(tracks, t.id == b.track_id)
        for track_id, frame, *box in conn.execute(q.where(and_(where, at_ends))):
            ends[track_id][frame] = tuple(box)
    c = cameras.c
    in_use = {row.camera_id for row in rows.values()}
    sizes = conn.execute(select(c.id, c.width, c.height).where(c.id.in_(in_use)))
    views = {i: (w, h) for i, w, h in sizes if w and h}
    out = {}
    for i, row in rows.items():
        first, last = ends[i].get(row.first_frame), ends[i].get(row.last_frame)
        if first is None or last is None:  # no boxes (a track kept without them): never joined
            continue
        path = row.path if isinstance(row.path, list) else []
        colours = looks.get(i, {})
        view = views.get(row.camera_id)
        out[i] = Fragment(
            i, row.camera_id, row.class_name, row.first_ts, row.last_ts, _point(first), _point(last),
            _velocity(path, True), _velocity(path, False), colours, border(first, view), border(last, view),
        )  # fmt: skip
    return out


def _read_colours(conn: Connection, ids: list[int]) -> dict[int, dict[str, dict[str, float]]]:
    """:func:`colour_shares` of tracks read from the index: their colour terms only (a part's
    terms, shades left out), not the other facts a track holds."""
    t = track_terms.c
    parts = or_(*(t.term.like(f"{part}:%") for part in COLOUR_PARTS))  # any collation: no ranges
    terms: dict[int, dict[str, float]] = defaultdict(dict)
    for where in id_pages(conn, t.track_id, t.first_ts, ids):
        q = select(t.track_id, t.term, t.weight).where(where, parts, t.term.not_like("%:%:%"))
        for track_id, term, weight in conn.execute(q).all():
            terms[track_id][term] = weight
    return {i: colour_shares(got) for i, got in terms.items()}


def _point(box: Box) -> Point:
    x1, _, x2, y2 = box
    return ((x1 + x2) / 2, y2, y2 - box[1])


def border(box: Box, view: tuple[int, int] | None) -> str | None:
    """The border of the frame (``view``: width, height; unknown: None) a box touches, sides first."""
    if view is None:
        return None
    w, h = view
    x1, y1, x2, y2 = box
    for name, touches in (
        ("left", x1 <= EDGE_SHARE * w),
        ("right", x2 >= (1 - EDGE_SHARE) * w),
        ("bottom", y2 >= (1 - EDGE_SHARE) * h),
        ("top", y1 <= EDGE_SHARE * h),
    ):
        if touches:
            return name
    return None
