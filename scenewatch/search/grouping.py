"""One result per walk: a camera's fragments of one object's walk, shown as one group.

The tracker loses people and finds them again (a missed detection, a post, a crossing), so one
walk can be stored as several tracks and a search would show the same person again and again.
Fragments join when one ends where and when the next begins (:func:`link_cost`: a gap of at
most :data:`MAX_GAP_S`, a distance the object could cover in it, a similar box size) and they
look alike (the colour shares of their body parts, from the index). Each track continues into at
most one later track, best links first, so a group is a chain in time, never two objects seen
at once. Groups never cross cameras: there is no identity across cameras, by design.

>>> a = Fragment(1, 1, "person", 0.0, 2.0, (100.0, 300.0, 80.0), (160.0, 300.0, 80.0), (30.0, 0.0))
>>> b = Fragment(2, 1, "person", 2.5, 6.0, (176.0, 301.0, 82.0), (280.0, 300.0, 80.0), (30.0, 0.0))
>>> round(link_cost(a, b), 2), link_cost(b, a)  # a bit off its path, colours unknown
(0.68, None)
>>> chains({1: a, 2: b})
[[1, 2]]
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, or_, select

from scenewatch.search.facts import COLOUR_PARTS, VEHICLE_CLASSES
from scenewatch.search.loading import TrackFacts, id_pages, load_facts
from scenewatch.search.scope import LOOKBACK_S, Scope, in_window
from scenewatch.store.schema import boxes, tracks
from scenewatch.vision.colours import TERMS as BASIC_COLOURS

MAX_GAP_S = 4.0  # longest time unseen between two fragments of one walk
MAX_OVERLAP_S = 0.3  # the next fragment may begin this much before the last one ended
# how far the next fragment may begin from where the last one, carried on at its speed, would be:
# in box heights, plus this many heights per second of gap (a walker turns or stops)
SLACK_H = 0.4
SLACK_H_PER_S = {"person": 0.35, "vehicle": 1.0}
SIZE_RATIO = 1.4  # box heights at the join differ by at most this factor
MOVING_H_S = 0.25  # box heights per second above which an end counts as moving in a direction
# two moving ends heading more than 90 degrees apart (one leaving as another comes, or one person
# turning back) join only when they look this much alike
TURN_LOOK = 0.9
MIN_LOOK = 0.7  # colour likeness (Bhattacharyya coefficient, 0..1) two fragments must reach
LOOK_WEIGHT = 2.0  # how much unlikeness costs against distance (heights) when links compete
UNSEEN_LOOK = 0.75  # the likeness assumed where a fragment has no colours (too short to describe)
PART_WEIGHT = {"upper": 1.0, "lower": 0.8, "head": 0.3, "body": 1.0}
VELOCITY_SPAN_S = 1.0  # end velocities are measured over about this much of the path
HOPS = 1  # rounds of looking for fragments next to the ones found (a walk through a non-matching one)
MAX_NEIGHBOURS = 2000  # fragments read per round, so a crowded hour cannot flood a search

Point = tuple[float, float, float]  # bottom-centre x, y and box height, in pixels


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

    @property
    def kind(self) -> str:
        """Person, vehicle (a van may be a car in one fragment and a truck in the next), or the class."""
        return "vehicle" if self.cls in VEHICLE_CLASSES else self.cls


def likeness(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> float | None:
    """Bhattacharyya coefficient of the colour shares, averaged over the parts both show (weighted
    by how well a part tells people apart); None when they share no described part."""
    total = weight = 0.0
    for part, w in PART_WEIGHT.items():
        pa, pb = a.get(part), b.get(part)
        if not pa or not pb:
            continue
        na, nb = sum(pa.values()), sum(pb.values())
        total += w * sum(math.sqrt(pa[c] / na * pb[c] / nb) for c in pa if c in pb)
        weight += w
    return total / weight if weight else None


def link_cost(a: Fragment, b: Fragment) -> float | None:
    """How well ``b`` continues ``a``'s walk (0 is perfect); None when it cannot."""
    if a.camera_id != b.camera_id or a.kind != b.kind or a.track_id == b.track_id:
        return None
    gap = b.first_ts - a.last_ts
    if not -MAX_OVERLAP_S <= gap <= MAX_GAP_S or b.last_ts <= a.last_ts:
        return None
    h = (a.end[2] + b.start[2]) / 2
    if h <= 0 or max(a.end[2], b.start[2]) > SIZE_RATIO * max(min(a.end[2], b.start[2]), 1e-6):
        return None
    look = likeness(a.colours, b.colours)
    if look is not None and look < MIN_LOOK:
        return None
    if _heads_apart(a.velocity, b.start_velocity, h) and (look or 0.0) < TURN_LOOK:
        return None
    # each end carried at its own velocity to the middle of the gap, where they should meet
    half = max(gap, 0.0) / 2
    ax, ay = a.end[0] + a.velocity[0] * half, a.end[1] + a.velocity[1] * half
    bx, by = b.start[0] - b.start_velocity[0] * half, b.start[1] - b.start_velocity[1] * half
    miss = math.hypot(bx - ax, by - ay) / h
    dt = max(gap, 0.0)
    allowed = SLACK_H + SLACK_H_PER_S.get(a.kind, SLACK_H_PER_S["vehicle"]) * dt
    if miss > allowed:
        return None
    return miss / allowed + LOOK_WEIGHT * (1.0 - (UNSEEN_LOOK if look is None else look))


def _heads_apart(u: tuple[float, float], v: tuple[float, float], h: float) -> bool:
    """Whether two ends both move, in directions more than 90 degrees apart."""
    nu, nv = math.hypot(*u), math.hypot(*v)
    if min(nu, nv) < MOVING_H_S * h:
        return False
    return u[0] * v[0] + u[1] * v[1] < 0


def chains(fragments: dict[int, Fragment]) -> list[list[int]]:
    """The fragments joined into walks (each in time order), best links first: a fragment
    continues into at most one later fragment and is continued by at most one."""
    by_camera: dict[int, list[Fragment]] = defaultdict(list)
    for f in fragments.values():
        by_camera[f.camera_id].append(f)
    links: list[tuple[float, int, int]] = []
    for group in by_camera.values():
        group.sort(key=lambda f: f.first_ts)
        starts = [f.first_ts for f in group]
        for a in group:
            # only fragments beginning within the gap after a's end can continue it
            lo = bisect_left(starts, a.last_ts - MAX_OVERLAP_S)
            for b in group[lo:]:
                if b.first_ts > a.last_ts + MAX_GAP_S:
                    break
                cost = link_cost(a, b)
                if cost is not None:
                    links.append((cost, a.track_id, b.track_id))
    after: dict[int, int] = {}
    before: dict[int, int] = {}
    for _, first, then in sorted(links):
        if first not in after and then not in before:
            after[first], before[then] = then, first
    walks = []
    for track_id in sorted(fragments, key=lambda i: (fragments[i].first_ts, i)):
        if track_id in before:
            continue
        walk = [track_id]
        while walk[-1] in after:
            walk.append(after[walk[-1]])
        walks.append(walk)
    return walks


# ---------------------------------------------------------------- reading fragments


def colour_shares(facts: dict[str, float]) -> dict[str, dict[str, float]]:
    """part -> colour -> share from a track's index facts (``upper:red`` ...): the basic colour
    terms only, which share one part between them (shades such as ``upper:blue:dark`` do not)."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for term, weight in facts.items():
        part, _, colour = term.partition(":")
        if part in COLOUR_PARTS and colour in BASIC_COLOURS and weight > 0:
            out[part][colour] = weight
    return dict(out)


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
    facts = dict(facts or {})
    missing = [i for i in ids if i not in facts]
    if missing:
        facts.update(load_facts(conn, missing))
    t, b = tracks.c, boxes.c
    rows = {}
    for where in id_pages(conn, t.id, t.first_ts, ids):
        cols = (t.id, t.camera_id, t.class_name, t.first_ts, t.last_ts, t.first_frame, t.last_frame, t.path)
        for row in conn.execute(select(*cols).where(where)):
            rows[row.id] = row
    ends: dict[int, dict[int, Point]] = defaultdict(dict)
    at_ends = or_(b.frame == t.first_frame, b.frame == t.last_frame)
    for where in id_pages(conn, t.id, t.first_ts, list(rows)):
        q = select(b.track_id, b.frame, b.x1, b.y1, b.x2, b.y2).join(tracks, t.id == b.track_id)
        for track_id, frame, x1, y1, x2, y2 in conn.execute(q.where(and_(where, at_ends))):
            ends[track_id][frame] = ((x1 + x2) / 2, y2, y2 - y1)
    out = {}
    for i, row in rows.items():
        first, last = ends[i].get(row.first_frame), ends[i].get(row.last_frame)
        if first is None or last is None:  # no boxes (a track kept without them): never joined
            continue
        path = row.path if isinstance(row.path, list) else []
        colours = colour_shares(facts[i].facts) if i in facts else {}
        out[i] = Fragment(
            i, row.camera_id, row.class_name, row.first_ts, row.last_ts, first, last,
            _velocity(path, True), _velocity(path, False), colours,
        )  # fmt: skip
    return out


def neighbour_ids(conn: Connection, fragments: Iterable[Fragment], scope: Scope) -> set[int]:
    """Tracks of the same cameras, within the scope, that begin or end within a join's reach of
    one of ``fragments``' ends (one statement per camera and stretch of time)."""
    windows: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for f in fragments:
        windows[f.camera_id].append((f.first_ts - MAX_GAP_S, f.last_ts + MAX_GAP_S))
    t = tracks.c
    found: set[int] = set()
    for camera_id, spans in windows.items():
        for lo, hi in _merged(spans):
            q = (
                select(t.id, t.camera_id, t.first_ts, t.last_ts)
                .where(t.camera_id == camera_id)
                .where(t.first_ts.between(lo - LOOKBACK_S, hi))  # a day partition's bound (PostgreSQL)
                .where(or_(t.first_ts.between(lo, hi), t.last_ts.between(lo, hi)))
                .limit(MAX_NEIGHBOURS - len(found))
            )
            found.update(row.id for row in conn.execute(q) if in_window(row, scope))
            if len(found) >= MAX_NEIGHBOURS:
                return found
    return found


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


@dataclass(slots=True)
class Walks:
    """Track id -> its walk (fragment ids in time order), and each fragment's first_ts."""

    of: dict[int, list[int]]
    first_ts: dict[int, float]


def walks_of(conn: Connection, ids: list[int], facts: dict[int, TrackFacts], scope: Scope) -> Walks:
    """The walks of ``ids``, through the fragments next to them (up to :data:`HOPS` steps away)
    within the scope; ``facts`` are the index facts already read (others are read here)."""
    fragments = load_fragments(conn, ids, facts)
    fresh = list(fragments.values())
    for _ in range(HOPS):
        new = neighbour_ids(conn, fresh, scope) - set(fragments)
        if not new:
            break
        loaded = load_fragments(conn, new, facts)
        fragments.update(loaded)
        fresh = list(loaded.values())
    walks: dict[int, list[int]] = {}
    for walk in chains(fragments):
        for track_id in walk:
            walks[track_id] = walk
    first_ts = {i: f.first_ts for i, f in fragments.items()}
    return Walks({i: walks.get(i, [i]) for i in ids}, first_ts)
