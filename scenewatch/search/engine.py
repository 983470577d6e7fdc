"""Search over stored tracks: the Python API behind ``scenewatch search`` and the HTTP layer.

A search is read (``query.parse_query``) with the camera and zone names the asker may see
(``scope``), each object clause becomes needs (``rank``), candidates come from the index with
bounded statements (``candidates``; on PostgreSQL day by day, ``day_paging``), their facts are
read by id (``loading``) and re-ranked exactly, a camera's fragments of one walk are shown
once (``grouping``), and the best are shaped as the answer (``results``). ``more_like`` finds
tracks resembling one track (``similar``).

>>> # search(store, "person in a red top yesterday", limit=10).results[0].reasons
>>> # ['person 0.91', 'upper body red 0.82']
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, select

from scenewatch.search.candidates import candidates
from scenewatch.search.facts import track_facts
from scenewatch.search.grouping import walks_of
from scenewatch.search.loading import TrackFacts, load_facts, load_tracks
from scenewatch.search.model import ObjectClause, Query
from scenewatch.search.query import parse_query
from scenewatch.search.rank import Need, clause_needs, score_clause
from scenewatch.search.results import SearchResult, make_group_hit, query_result
from scenewatch.search.scope import Scope, Window, camera_names, in_window, search_scope, zone_names
from scenewatch.search.similar import rank_similar, similar_candidates, similarity_vector, strongest
from scenewatch.search.term_stats import TermShares
from scenewatch.search.vectors import VectorRanker
from scenewatch.store.data import DataStore
from scenewatch.store.schema import tracks

MAX_LIMIT = 200  # results per search
MAX_CLAUSES = 4  # object clauses searched per query
MIN_SCORE = 0.02  # below this a candidate is noise, not a result
GROUP_WINDOW = 2  # ranked tracks read for walks per result wanted (more while walks fill fewer)

Ranked = dict[int, tuple[float, list[str]]]  # track id -> (best score, its reasons)


def search(
    store: DataStore,
    text: object,
    now: datetime | None = None,
    cameras: list[str] | tuple[str, ...] | None = None,
    limit: int = 20,
    tz: tzinfo | None = None,
    visible: Collection[str] | None = None,
    shares: TermShares | None = None,
    group: bool = True,
    window: Window = (None, None),
    vectors: VectorRanker | None = None,
) -> SearchResult:
    """Search the store's tracks with a plain-language query (English or Chinese).

    ``cameras`` restricts the search to these camera names (unknown names are noted, not
    raised). ``visible`` are the cameras the asking user may see (None: all): other cameras and
    their zones are unknown words to the query, so the answer reads as if they did not exist.
    ``shares``: the term statistics a caller searching repeatedly keeps (PostgreSQL; None: read
    afresh when needed). ``group``: show a camera's fragments of one walk as one result, ranked
    by its best fragment (``grouping``). ``window``: a time range picked beside the text, which
    narrows the text's own time. ``vectors``: fuse image-text similarity into the ranking (the
    config's ``embeddings``; ``vectors.py``). Never raises on bad text; an unusable query gives no results
    and says why.
    """
    limit = _clamp(limit)
    now = now or datetime.now(tz).astimezone(tz)
    with store.engine.connect() as conn:
        names = camera_names(conn, visible)
        zones = zone_names(conn, None if visible is None else list(names))
        query = parse_query(text, now, list(names.values()), zones, tz)
        notes = list(query.notes)
        scope = search_scope(query, names, cameras, notes, visible is not None, window)
        if not query.usable or scope is None:
            return query_result(query, notes, [], tz)
        best, known = _rank_clauses(conn, query, scope, limit, notes, shares or TermShares())
        if vectors is not None:
            best = vectors.fuse(conn, query.text, best, notes)
        order = sorted(best, key=lambda i: (-best[i][0], -known[i].first_ts, i))
        picked, first_ts = _walks(conn, order, known, scope, limit, group)
        rows = load_tracks(conn, first_ts)
        hits = [make_group_hit(store.media, rows, names, best, i, w) for i, w in picked if i in rows]
    if not hits:
        notes.append("no tracks match")
    return query_result(query, notes, hits, tz)


def _walks(
    conn: Connection, order: list[int], known: dict[int, TrackFacts], scope: Scope, limit: int, group: bool
) -> tuple[list[tuple[int, list[int]]], dict[int, float | None]]:
    """The first ``limit`` results as (best fragment, its walk), and the first_ts of every
    fragment shown. A walk shows at the rank of its best fragment; its other fragments do not
    show again."""
    if not group:
        return [(i, [i]) for i in order[:limit]], {i: known[i].first_ts for i in order[:limit]}
    window = limit * GROUP_WINDOW
    while True:
        walks = walks_of(conn, order[:window], known, scope)
        picked: list[tuple[int, list[int]]] = []
        seen: set[int] = set()
        for track_id in order[:window]:
            if track_id not in seen:
                walk = walks.of[track_id]
                seen.update(walk)
                picked.append((track_id, walk))
        if len(picked) >= limit or window >= len(order):
            break
        window *= 2
    picked = picked[:limit]
    shown = {i for _, walk in picked for i in walk}
    first_ts = {i: walks.first_ts.get(i, known[i].first_ts if i in known else None) for i in shown}
    return picked, first_ts


def query_clauses(query: Query) -> list[ObjectClause]:
    """The object clauses a search ranks by (any object when the query names none)."""
    return (query.objects or [ObjectClause(None)])[:MAX_CLAUSES]


def rank_track(needs: list[Need], track: TrackFacts) -> tuple[float, list[str]]:
    """One track's score against one clause's needs, with the reasons a result shows."""
    score, reasons = score_clause(needs, track.facts)
    return score, reasons or [f"{track.class_name} seen in the time and place asked"]


def _rank_clauses(
    conn: Connection, query: Query, scope: Scope, limit: int, notes: list[str], shares: TermShares
) -> tuple[Ranked, dict[int, TrackFacts]]:
    """Each clause's candidates ranked exactly from their facts; a track keeps its best clause."""
    if len(query.objects) > MAX_CLAUSES:
        notes.append(f"only the first {MAX_CLAUSES} objects of the query are searched")
    best: Ranked = {}
    known: dict[int, TrackFacts] = {}
    for clause in query_clauses(query):
        notes += _clause_notes(clause)
        needs = clause_needs(clause, query.zones)
        ids = candidates(conn, needs, scope, limit, shares)
        known.update(load_facts(conn, {i: ts for i, ts in ids.items() if i not in known}))
        for track_id in ids:
            track = known.get(track_id)
            if track is None or not in_window(track, scope):
                continue
            score, reasons = rank_track(needs, track)
            if score >= MIN_SCORE and score > best.get(track_id, (0.0, []))[0]:
                best[track_id] = (score, reasons)
    return best, known


def _clause_notes(clause: ObjectClause) -> list[str]:
    """What of a clause is read but not searched."""
    notes = []
    if clause.count:
        notes.append(f"counts are not searched yet; showing single {clause.cls or 'object'}s")
    if any(c.colour for c in clause.carried):
        notes.append("colours of carried items are not known; matching the item only")
    return notes


def more_like(
    store: DataStore,
    track_id: int,
    limit: int = 20,
    cameras: list[str] | None = None,
    tz: tzinfo | None = None,
    visible: Collection[str] | None = None,
) -> SearchResult:
    """Tracks whose attributes resemble track ``track_id`` (cosine over weighted facts);
    ``cameras`` and ``visible`` as in :func:`search`."""
    limit = _clamp(limit)
    understood: dict[str, Any] = {"like": track_id}
    with store.engine.connect() as conn:
        names = camera_names(conn, visible)
        notes: list[str] = []
        scope = search_scope(None, names, cameras, notes, restricted=visible is not None)
        columns = (tracks.c.class_name, tracks.c.attributes, tracks.c.score)
        target = conn.execute(select(*columns).where(tracks.c.id == track_id)).first()
        if target is None or scope is None:
            notes.append(f"no track with id {track_id}" if target is None else "no cameras to search")
            return SearchResult(understood, [], notes, [], tz)
        mine = similarity_vector(track_facts(target.class_name, target.attributes, target.score))
        understood["class"] = target.class_name
        understood["facts"] = dict(strongest(mine, 8))
        ids = similar_candidates(conn, mine, scope)
        ids.pop(track_id, None)
        hits = rank_similar(conn, store.media, names, mine, ids, limit)
    return SearchResult(understood, [], notes, hits, tz)


def _clamp(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))
