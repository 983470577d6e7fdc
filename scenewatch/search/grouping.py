"""One result per walk: a camera's fragments of one object's walk, shown as one group.

The tracker loses people and finds them again (a missed detection, a post, a crossing), so one
walk can be stored as several tracks and a search would show the same person again and again.
Fragments join when one ends where and when the next begins (:func:`link_cost`: a gap of at
most :data:`MAX_GAP_S`, a distance the object could cover in it, a similar box size, and where
one was last seen at the border of the view, the next first seen at that border) and they
look alike (the colour shares of their body parts, from the index). A walk also goes on up to
:data:`MAX_RETURN_S` later (:func:`returns`), where the object is seen again where it was lost
(hidden behind something, or standing undetected) or comes back through the border it left by
(:func:`comes_back`), looks alike in every part (each side's whole walk so far), and looks more
alike than anyone else who could have come back there and than anyone seen at the same time as
either fragment: colour names alone do not tell two people in dark clothes apart, so an
ambiguous return is never joined. A walker who comes back facing the other way shows hair where
the face was: a return that fails on the head alone is then judged by the clothes, and so are
its rivals. So is a walker who turns round where the detector lost them (:func:`turns_in_place`),
who must also look more alike than anyone seen at the same time as either fragment. Each track
continues into at most one later track, best links first, so a group is a chain in time, never
two objects seen at once. Groups never cross cameras: there is no identity across cameras.

>>> a = Fragment(1, 1, "person", 0.0, 2.0, (100.0, 300.0, 80.0), (160.0, 300.0, 80.0), (30.0, 0.0))
>>> b = Fragment(2, 1, "person", 2.5, 6.0, (176.0, 301.0, 82.0), (280.0, 300.0, 80.0), (30.0, 0.0))
>>> round(link_cost(a, b), 2), link_cost(b, a)  # a bit off its path, colours unknown
(0.68, None)
>>> chains({1: a, 2: b})
[[1, 2]]
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, replace

from sqlalchemy import Connection

from scenewatch.search.fragments import Fragment, load_fragments, walk_colours
from scenewatch.search.loading import TrackFacts
from scenewatch.search.neighbours import neighbour_ids
from scenewatch.search.scope import Scope

MAX_GAP_S = 4.0  # longest time unseen between two fragments of one walk
MAX_OVERLAP_S = 0.3  # the next fragment may begin this much before the last one ended
# how far the next fragment may begin from where the last one, carried on at its speed, would be:
# in box heights, plus this many heights per second of gap (a walker turns or stops)
SLACK_H = 0.4
SLACK_H_PER_S = {"person": 0.35, "vehicle": 1.0}
SIZE_RATIO = 1.4  # box heights at the join differ by at most this factor
MOVING_H_S = 0.25  # box heights per second above which an end counts as moving in a direction
# two moving ends heading more than 90 degrees apart (one leaving as another comes, or one person
# turning back) join only when they look this much alike; vehicles never (same-coloured cars
# drive both ways, and one leaving at the horizon is where the next oncoming one appears)
TURN_LOOK = 0.9
MIN_LOOK = 0.7  # colour likeness (Bhattacharyya coefficient, 0..1) two fragments must reach
LOOK_WEIGHT = 2.0  # how much unlikeness costs against distance (heights) when links compete
UNSEEN_LOOK = 0.75  # the likeness assumed where a fragment has no colours (too short to describe)
PART_WEIGHT = {"upper": 1.0, "lower": 0.8, "head": 0.3, "body": 1.0}
HOPS = 1  # rounds of looking for fragments next to the ones found (a walk through a non-matching one)
# Returns: the same object seen again after more than MAX_GAP_S unseen.
MAX_RETURN_S = 30.0  # longest time unseen
STAY_H = 1.0  # seen again where it was lost: within this many box heights of the end
EDGE_SPAN_H = 3.0  # back through the border it left by: within this many heights along it
RETURN_LOOK = 0.9  # colour likeness a return needs (weighted over the parts) ...
RETURN_PART_LOOK = 0.7  # ... and in each part both show (the upper and lower body at least)
RETURN_PARTS = ("upper", "lower")
# A walker who comes back facing the other way shows the back of the head where the face was (hair
# against skin): a head unlike then says nothing, and such a return is judged by the clothes alone.
VIEW_PARTS: tuple[str, ...] = ("head",)
Looks = dict[tuple[str, ...], float | None]  # parts left out -> return likeness
RETURN_MARGIN = 0.05  # likeness over every other fragment that could be the same return
RETURN_COST = 2.0  # added to a return's cost: continuous links are taken first


def likeness(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> float | None:
    """Bhattacharyya coefficient of the colour shares, averaged over the parts both show (weighted
    by how well a part tells people apart); None when they share no described part."""
    return _weighted(part_likeness(a, b))


def _weighted(parts: dict[str, float]) -> float | None:
    weight = sum(PART_WEIGHT[part] for part in parts)
    return sum(PART_WEIGHT[part] * look for part, look in parts.items()) / weight if weight else None


def part_likeness(
    a: dict[str, dict[str, float]], b: dict[str, dict[str, float]], skip: tuple[str, ...] = ()
) -> dict[str, float]:
    """part -> Bhattacharyya coefficient of its colour shares, for the parts both show (but ``skip``)."""
    out = {}
    for part in PART_WEIGHT:
        if part in skip:
            continue
        pa, pb = a.get(part), b.get(part)
        if pa and pb:
            na, nb = sum(pa.values()), sum(pb.values())
            out[part] = sum(math.sqrt(pa[c] / na * pb[c] / nb) for c in pa if c in pb)
    return out


def link_cost(a: Fragment, b: Fragment) -> float | None:
    """How well ``b`` continues ``a``'s walk (0 is perfect); None when it cannot."""
    if a.camera_id != b.camera_id or a.kind != b.kind or a.track_id == b.track_id:
        return None
    gap = b.first_ts - a.last_ts
    if not -MAX_OVERLAP_S <= gap <= MAX_GAP_S or b.last_ts <= a.last_ts:
        return None
    if a.exits is not None and b.enters != a.exits:
        return None  # last seen at the border, it may have left the view: it comes back only through it
    h = (a.end[2] + b.start[2]) / 2
    if h <= 0 or max(a.end[2], b.start[2]) > SIZE_RATIO * max(min(a.end[2], b.start[2]), 1e-6):
        return None
    look = likeness(a.colours, b.colours)
    if look is not None and look < MIN_LOOK:
        return None
    if _heads_apart(a.velocity, b.start_velocity, h) and (a.kind == "vehicle" or (look or 0.0) < TURN_LOOK):
        return None  # a vehicle does not turn round in a gap: one leaves as another comes
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


def _take(links: list[tuple[float, int, int]], after: dict[int, int], before: dict[int, int]) -> None:
    """Links into ``after``/``before``, best first, where both ends are still free."""
    for _, first, then in sorted(links):
        if first not in after and then not in before:
            after[first], before[then] = then, first


def _heads_apart(u: tuple[float, float], v: tuple[float, float], h: float) -> bool:
    """Whether two ends both move, in directions more than 90 degrees apart."""
    nu, nv = math.hypot(*u), math.hypot(*v)
    if min(nu, nv) < MOVING_H_S * h:
        return False
    return u[0] * v[0] + u[1] * v[1] < 0


def comes_back(a: Fragment, b: Fragment) -> bool:
    """Whether ``b`` could be ``a``'s object seen again: on the same camera, at most MAX_RETURN_S
    unseen, either where it was lost (at a similar size, after more than MAX_GAP_S) or through
    the border it left by, near where it left (after any gap: one who turns back at once is
    judged as a return too, not as a walk carried on)."""
    if a.camera_id != b.camera_id or a.kind != b.kind or a.track_id == b.track_id:
        return False
    gap = b.first_ts - a.last_ts
    if not 0.0 <= gap <= MAX_RETURN_S:
        return False
    h = (a.end[2] + b.start[2]) / 2
    if h <= 0:
        return False
    dx, dy = b.start[0] - a.end[0], b.start[1] - a.end[1]
    sized = max(a.end[2], b.start[2]) <= SIZE_RATIO * min(a.end[2], b.start[2])
    if gap > MAX_GAP_S and sized and math.hypot(dx, dy) <= STAY_H * h:
        return True
    along = abs(dy) if a.exits in ("left", "right") else abs(dx)
    return a.exits is not None and a.exits == b.enters and along <= EDGE_SPAN_H * h


def turned(a: Fragment, b: Fragment) -> bool:
    """Whether ``b`` would be ``a``'s walker facing the other way: back through the border ``a``
    left by, or moving off in a direction more than 90 degrees from ``a``'s."""
    h = (a.end[2] + b.start[2]) / 2
    return (a.exits is not None and a.exits == b.enters) or _heads_apart(a.velocity, b.start_velocity, h)


def return_look(a: Fragment, b: Fragment, skip: tuple[str, ...] = ()) -> float | None:
    """The likeness of a return (the parts in ``skip`` left out): None unless both show
    RETURN_PARTS and every part both show reaches RETURN_PART_LOOK (one alike part does not make
    two people one)."""
    parts = part_likeness(a.colours, b.colours, skip)
    if any(p not in parts for p in RETURN_PARTS) or min(parts.values()) < RETURN_PART_LOOK:
        return None
    return _weighted(parts)


def returns(
    ends: list[Fragment], starts: list[Fragment], everyone: list[Fragment]
) -> list[tuple[float, int, int]]:
    """Returns as (cost, end's track, start's track): ``ends`` are the last fragments of walks,
    ``starts`` the first, ``everyone`` all fragments. A return must look alike enough
    (RETURN_LOOK) and more alike, by RETURN_MARGIN, than every rival: any other start the same
    end could return as, any other end that could return as the same start (a rival passes the
    same path and part tests), and anyone seen at the same time as either (certainly another
    object: where such a one looks as alike, as in a crowd in dark clothes or on a camera
    without colour, the colours say nothing). A walker who :func:`turned` and fails on the
    head (VIEW_PARTS) is judged without it, and so are the rivals of that return."""
    by_camera: dict[int, list[Fragment]] = defaultdict(list)
    for f in sorted(starts, key=lambda f: f.first_ts):
        by_camera[f.camera_id].append(f)
    begins = {camera: [f.first_ts for f in group] for camera, group in by_camera.items()}
    pairs: list[tuple[Fragment, Fragment, Looks]] = []
    for a in ends:
        group = by_camera.get(a.camera_id, [])
        reach = STAY_H * SIZE_RATIO * a.end[2]  # no farther where it was lost (a quick first sieve)
        for b in group[bisect_right(begins.get(a.camera_id, []), a.last_ts) :]:
            if b.first_ts > a.last_ts + MAX_RETURN_S:
                break
            if (a.exits is None or b.enters != a.exits) and abs(b.start[0] - a.end[0]) > reach:
                continue
            if not comes_back(a, b) or (a.kind == "vehicle" and turned(a, b)):
                continue
            both: Looks = {skip: return_look(a, b, skip) for skip in ((), VIEW_PARTS)}
            if any(v is not None for v in both.values()):
                pairs.append((a, b, both))
    rivals: dict[tuple[str, int], list[tuple[int, Looks]]] = defaultdict(list)
    for a, b, looks in pairs:
        rivals["end", a.track_id].append((b.track_id, looks))
        rivals["start", b.track_id].append((a.track_id, looks))
    # (fragment, parts left out) -> its best return likeness to anyone seen at once
    crowd: dict[tuple[int, tuple[str, ...]], float] = {}
    links = []
    for a, b, looks in pairs:
        # the head counts where it passes; against a walker who turned, it is never held
        skip = VIEW_PARTS if looks[()] is None and turned(a, b) else ()
        look = looks[skip]
        others = [v[skip] or 0.0 for i, v in rivals["end", a.track_id] if i != b.track_id]
        others += [v[skip] or 0.0 for i, v in rivals["start", b.track_id] if i != a.track_id]
        if look is None or look < RETURN_LOOK or any(look - v < RETURN_MARGIN for v in others):
            continue
        for f in (a, b):
            if (f.track_id, skip) not in crowd:
                crowd[f.track_id, skip] = _alike_at_once(f, everyone, skip)
        if all(look - crowd[f.track_id, skip] >= RETURN_MARGIN for f in (a, b)):
            late = (b.first_ts - a.last_ts) / MAX_RETURN_S
            links.append((RETURN_COST + LOOK_WEIGHT * (1.0 - look) + late, a.track_id, b.track_id))
    return links


def turns_in_place(a: Fragment, b: Fragment) -> float | None:
    """Where ``b`` could be ``a``'s walker turned round where it was lost (a detection gap, not
    an exit and an entry): people only, both ends inside the view, within MAX_GAP_S, at a similar
    size, moving off the other way; how far ``b`` is first seen from ``a``'s last box, as a share
    of what a link allows (at most 1), else None."""
    gap = b.first_ts - a.last_ts
    if a.kind != "person" or b.kind != "person" or a.camera_id != b.camera_id or a.track_id == b.track_id:
        return None
    if a.exits is not None or b.enters is not None or not -MAX_OVERLAP_S <= gap <= MAX_GAP_S:
        return None
    h = (a.end[2] + b.start[2]) / 2
    if h <= 0 or max(a.end[2], b.start[2]) > SIZE_RATIO * min(a.end[2], b.start[2]) or b.last_ts <= a.last_ts:
        return None
    far = math.hypot(b.start[0] - a.end[0], b.start[1] - a.end[1]) / h
    share = far / (SLACK_H + SLACK_H_PER_S["person"] * max(gap, 0.0))
    return share if share <= 1.0 and _heads_apart(a.velocity, b.start_velocity, h) else None


def _turn_links(
    turns: list[tuple[float, Fragment, Fragment]], everyone: list[Fragment]
) -> list[tuple[float, int, int]]:
    """Links for walkers who :func:`turns_in_place` (the share of the reach, and both ends):
    judged by the clothes (the other side of the head shows), alike in each part as a return
    must be, and more alike than anyone seen at the same time as either fragment (in a crossing,
    the other walker is on camera too)."""
    links = []
    for share, a, b in turns:
        look = return_look(a, b, VIEW_PARTS)
        if look is not None and all(
            look - _alike_at_once(f, everyone, VIEW_PARTS) >= RETURN_MARGIN for f in (a, b)
        ):
            links.append((share + LOOK_WEIGHT * (1.0 - look), a.track_id, b.track_id))
    return links


def _alike_at_once(f: Fragment, everyone: list[Fragment], skip: tuple[str, ...] = ()) -> float:
    """The best return likeness to ``f`` (the parts in ``skip`` left out) of the fragments of its
    camera and kind seen at the same time (for longer than a link's overlap); 0 when none passes
    the part tests."""
    best = 0.0
    for c in everyone:
        at_once = c.first_ts < f.last_ts - MAX_OVERLAP_S and c.last_ts > f.first_ts + MAX_OVERLAP_S
        if at_once and c.camera_id == f.camera_id and c.kind == f.kind and c.track_id != f.track_id:
            best = max(best, return_look(f, c, skip) or 0.0)
    return best


def chains(fragments: dict[int, Fragment]) -> list[list[int]]:
    """The fragments joined into walks (each in time order), best links first: a fragment
    continues into at most one later fragment and is continued by at most one. Continuous
    links (:func:`link_cost`, and walkers who :func:`turns_in_place`) first, then returns
    (:func:`returns`) from a walk's last fragment to a later walk's first, each judged by the
    look of its whole walk so far (:func:`walk_colours`: a short fragment's few crops say less)."""
    after: dict[int, int] = {}
    before: dict[int, int] = {}
    _take(_continuous(fragments), after, before)
    pooled: dict[int, Fragment] = {}
    for walk in _walks(fragments, after, before):
        colours = walk_colours([fragments[i] for i in walk])
        pooled.update((i, replace(fragments[i], colours=colours)) for i in walk)
    heads = [pooled[i] for i in fragments if i not in before]
    tails = [pooled[i] for i in fragments if i not in after]
    _take(returns(tails, heads, list(pooled.values())), after, before)
    return _walks(fragments, after, before)


def _continuous(fragments: dict[int, Fragment]) -> list[tuple[float, int, int]]:
    """Continuous links (cost, earlier track, later track) between fragments of one camera."""
    by_camera: dict[int, list[Fragment]] = defaultdict(list)
    for f in fragments.values():
        by_camera[f.camera_id].append(f)
    links: list[tuple[float, int, int]] = []
    turns: list[tuple[float, Fragment, Fragment]] = []
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
                elif (share := turns_in_place(a, b)) is not None:
                    turns.append((share, a, b))
    return links + _turn_links(turns, list(fragments.values()))


def _walks(fragments: dict[int, Fragment], after: dict[int, int], before: dict[int, int]) -> list[list[int]]:
    """The chains of links, each in time order, ordered by when they begin."""
    walks = []
    for track_id in sorted(fragments, key=lambda i: (fragments[i].first_ts, i)):
        if track_id in before:
            continue
        walk = [track_id]
        while walk[-1] in after:
            walk.append(after[walk[-1]])
        walks.append(walk)
    return walks


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
        new = neighbour_ids(conn, fresh, scope, MAX_RETURN_S) - set(fragments)
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
