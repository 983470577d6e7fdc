"""Search over stored tracks: the Python API behind ``scenewatch search`` and the HTTP layer.

A search is read (``parse_query``), each object clause becomes needs (``rank.py``), candidates
come from the index (``track_terms``) with a bounded LIMIT, and the candidates are re-ranked
exactly from their facts. Every database statement carries a LIMIT: no query, however odd,
scans the whole store.

Candidate generation per clause: the need with the fewest index rows in the time window
(counted up to :data:`COUNT_CAP`) drives; the other needs filter by ``EXISTS`` on the primary key
(strict pass). If that yields fewer than the limit, each need drives alone (relaxed pass), so
near misses still rank below full matches (soft AND).

>>> # search(store, "person in a red top yesterday", limit=10).results[0].reasons
>>> # ['person 0.91', 'upper body red 0.82']
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, and_, exists, func, select, union_all

from scenewatch.central.partitions import PERIOD_S
from scenewatch.search.facts import cosine, track_facts
from scenewatch.search.model import ObjectClause, Query
from scenewatch.search.query import parse_query
from scenewatch.search.rank import Need, clause_needs, score_clause
from scenewatch.store.schema import cameras as cameras_table
from scenewatch.store.schema import search_zones, track_terms, tracks

MAX_LIMIT = 200  # results per search
MAX_CLAUSES = 4  # object clauses searched per query
CANDIDATES = 240  # candidates per clause and pass, shared by the driving terms
COUNT_CAP = 20000  # index rows counted to choose the driving need
LOOKBACK_S = 3600.0  # a track that began this long before a window and overlaps it is found
MIN_SCORE = 0.02  # below this a candidate is noise, not a result
MAX_NAMES = 1000  # cameras / zones loaded to recognise names in a query
IN_CHUNK = 500  # ids per IN (...) list
MAX_DAYS = 62  # PostgreSQL: longer windows are read in one statement, not day by day


@dataclass(slots=True)
class Hit:
    """One matching track: the same id as ``scenewatch tracks`` and ``export mot``."""

    track_id: int
    camera: str
    cls: str
    start: float  # epoch seconds (UTC)
    end: float
    score: float
    thumbnail: str | None  # absolute path of the JPEG, None when the track has none
    reasons: list[str] = field(default_factory=list)

    def to_dict(self, tz: tzinfo | None = None) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "camera": self.camera,
            "class": self.cls,
            "start": datetime.fromtimestamp(self.start, tz or UTC).isoformat(),
            "end": datetime.fromtimestamp(self.end, tz or UTC).isoformat(),
            "start_ts": self.start,
            "end_ts": self.end,
            "score": round(self.score, 4),
            "thumbnail": self.thumbnail,
            "reasons": list(self.reasons),
        }


@dataclass(slots=True)
class SearchResult:
    """What was understood, what was not, and the ranked hits (``to_dict`` is the JSON answer)."""

    understood: dict[str, Any]
    ignored: list[str]
    notes: list[str]
    results: list[Hit]
    tz: tzinfo | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "understood": self.understood,
            "ignored": list(self.ignored),
            "notes": list(self.notes),
            "results": [h.to_dict(self.tz) for h in self.results],
        }


@dataclass(slots=True)
class _Scope:
    """The filters every candidate statement shares."""

    start: float | None
    end: float | None
    camera_ids: list[int] | None  # None: all cameras


def search(
    store,
    text: object,
    now: datetime | None = None,
    cameras: list[str] | tuple[str, ...] | None = None,
    limit: int = 20,
    tz: tzinfo | None = None,
    visible: Collection[str] | None = None,
) -> SearchResult:
    """Search the store's tracks with a plain-language query (English or Chinese).

    ``cameras`` restricts the search to these camera names (unknown names are noted, not
    raised). ``visible`` are the cameras the asking user may see (None: all): other cameras and
    their zones are unknown words to the query, so the answer reads as if they did not exist.
    Never raises on bad text; an unusable query gives no results and says why.
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    now = now or datetime.now(tz).astimezone(tz)
    with store.engine.connect() as conn:
        names = _camera_names(conn, visible)
        zone_names = _zone_names(conn, None if visible is None else list(names))
        query = parse_query(text, now, list(names.values()), zone_names, tz)
        notes = list(query.notes)
        scope = _scope(query, names, cameras, notes, restricted=visible is not None)
        if not query.usable or scope is None:
            return _result(query, notes, [], tz)
        if len(query.objects) > MAX_CLAUSES:
            notes.append(f"only the first {MAX_CLAUSES} objects of the query are searched")
        best: dict[int, tuple[float, list[str]]] = {}
        known: dict[int, TrackFacts] = {}
        for clause in query_clauses(query):
            if clause.count:
                notes.append(f"counts are not searched yet; showing single {clause.cls or 'object'}s")
            if any(c.colour for c in clause.carried):
                notes.append("colours of carried items are not known; matching the item only")
            needs = clause_needs(clause, query.zones)
            ids = _candidates(conn, needs, scope, limit)
            known.update(load_facts(conn, {i: ts for i, ts in ids.items() if i not in known}))
            for track_id in ids:
                track = known.get(track_id)
                if track is None or not _in_window(track, scope):
                    continue
                score, reasons = rank_track(needs, track)
                if score >= MIN_SCORE and score > best.get(track_id, (0.0, []))[0]:
                    best[track_id] = (score, reasons)
        order = sorted(best, key=lambda i: (-best[i][0], -known[i].first_ts, i))[:limit]
        rows = _load_tracks(conn, {i: known[i].first_ts for i in order})
        hits = [_hit(store, rows[i], names, *best[i]) for i in order if i in rows]
    if not hits:
        notes.append("no tracks match")
    return _result(query, notes, hits, tz)


def query_clauses(query: Query) -> list[ObjectClause]:
    """The object clauses a search ranks by (any object when the query names none)."""
    return (query.objects or [ObjectClause(None)])[:MAX_CLAUSES]


def rank_track(needs: list[Need], track: TrackFacts) -> tuple[float, list[str]]:
    """One track's score against one clause's needs, with the reasons a result shows."""
    score, reasons = score_clause(needs, track.facts)
    return score, reasons or [f"{track.class_name} seen in the time and place asked"]


def more_like(
    store,
    track_id: int,
    limit: int = 20,
    cameras: list[str] | None = None,
    tz: tzinfo | None = None,
    visible: Collection[str] | None = None,
) -> SearchResult:
    """Tracks whose attributes resemble track ``track_id`` (cosine over weighted facts);
    ``cameras`` and ``visible`` as in :func:`search`."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    understood: dict[str, Any] = {"like": track_id}
    with store.engine.connect() as conn:
        names = _camera_names(conn, visible)
        notes: list[str] = []
        scope = _scope(None, names, cameras, notes, restricted=visible is not None)
        target = conn.execute(
            select(tracks.c.class_name, tracks.c.attributes, tracks.c.score).where(tracks.c.id == track_id)
        ).first()
        if target is None or scope is None:
            notes.append(f"no track with id {track_id}" if target is None else "no cameras to search")
            return SearchResult(understood, [], notes, [], tz)
        mine = _similarity_vector(track_facts(target.class_name, target.attributes, target.score))
        understood["class"] = target.class_name
        understood["facts"] = dict(sorted(mine.items(), key=lambda kv: -kv[1])[:8])
        seeds = sorted(mine.items(), key=lambda kv: -kv[1])[:5]
        ids: dict[int, float] = {}
        for term, weight in seeds:
            raw = weight / _KIND_WEIGHT.get(term.split(":")[0], 1.0)
            q = (
                select(track_terms.c.track_id, track_terms.c.first_ts)
                .where(track_terms.c.term == term)
                .where(track_terms.c.weight.between(raw - 0.3, raw + 0.3))
                .order_by(track_terms.c.weight.desc())
                .limit(CANDIDATES)
            )
            if scope.camera_ids is not None:
                q = q.where(track_terms.c.camera_id.in_(scope.camera_ids))
            ids.update(dict(conn.execute(q).all()))
        ids.pop(track_id, None)
        loaded = load_facts(conn, ids)
        facts = {i: f.facts for i, f in loaded.items()}
        scored = sorted(((cosine(mine, _similarity_vector(f)), i) for i, f in facts.items()), reverse=True)
        top = [(s, i) for s, i in scored[:limit] if s > 0]
        rows = _load_tracks(conn, {i: loaded[i].first_ts for _, i in top})
        hits = [
            _hit(store, rows[i], names, s, _shared(mine, _similarity_vector(facts[i]), s))
            for s, i in top
            if i in rows
        ]
    return SearchResult(understood, [], notes, hits, tz)


# ---------------------------------------------------------------- candidates


def _candidates(conn: Connection, needs: list[Need], scope: _Scope, limit: int) -> dict[int, float | None]:
    """Candidate track ids for one clause, bounded by LIMITs (see the module docstring), with
    their first_ts where the engine reads it along (PostgreSQL: it names the day partition)."""
    k = max(CANDIDATES, limit * 3)
    required = [n for n in needs if n.required]
    if not required:
        return _recent_tracks(conn, scope, k)
    sizes = [_count(conn, n, scope) for n in required]
    order = sizes.__getitem__
    if conn.dialect.name == "postgresql" and sizes.count(COUNT_CAP) > 1:
        # several needs reach the cap (a large store): the count no longer tells the rarest
        # need, and driving by the commonest ('person') reads most of the window. Break the tie
        # by the terms' shares in PostgreSQL's own statistics of the day partitions.
        shares = _term_shares(conn)
        share = [sum(shares.get(t, 0.0) for t in n.term_names) for n in required]
        order = lambda i: (sizes[i], share[i])  # noqa: E731
    driver = required[min(range(len(required)), key=order)]
    others = [n for n in required if n is not driver]
    ids = _driven(conn, driver, others, scope, k)
    if len(ids) < limit and others:
        cls = [n for n in required if n.kind == "class"]
        for need in [n for n in required if n.kind != "class"]:
            ids.update(_driven(conn, need, [c for c in cls if c is not need], scope, k))
    return ids


_shares: dict[str, tuple[float, dict[str, float]]] = {}  # database -> (when, share of each term)
SHARES_TTL_S = 600.0


def _term_shares(conn: Connection) -> dict[str, float]:
    """PostgreSQL: each common term's share of the term rows, averaged over the partitions'
    statistics (``pg_stats``, kept by autovacuum's ANALYZE); cached for a few minutes."""
    key = conn.engine.url.render_as_string(hide_password=True)
    now = time.monotonic()
    cached = _shares.get(key)
    if cached is not None and now - cached[0] < SHARES_TTL_S:
        return cached[1]
    rows = conn.exec_driver_sql(
        "SELECT most_common_vals::text::text[], most_common_freqs FROM pg_stats "
        "WHERE schemaname = current_schema() AND starts_with(tablename, 'track_terms_') "
        "AND attname = 'term' AND most_common_vals IS NOT NULL"
    ).all()
    total: dict[str, float] = {}
    for terms, freqs in rows:
        for term, freq in zip(terms, freqs, strict=False):
            total[term] = total.get(term, 0.0) + freq
    shares = {t: f / len(rows) for t, f in total.items()}
    _shares[key] = (now, shares)
    return shares


def _term_filter(alias, need: Need, scope: _Scope):
    terms = need.term_names
    conds = [alias.c.term == terms[0] if len(terms) == 1 else alias.c.term.in_(terms)]
    if scope.end is not None:
        conds.append(alias.c.first_ts <= scope.end)
    if scope.start is not None:
        conds += [alias.c.first_ts >= scope.start - LOOKBACK_S, alias.c.last_ts >= scope.start]
    if scope.camera_ids is not None:
        conds.append(alias.c.camera_id.in_(scope.camera_ids))
    return conds


def _count(conn: Connection, need: Need, scope: _Scope) -> int:
    """Index rows of a need in scope, counted up to COUNT_CAP (a bounded selectivity estimate)."""
    inner = select(track_terms.c.track_id).where(*_term_filter(track_terms, need, scope)).limit(COUNT_CAP)
    return conn.scalar(select(func.count()).select_from(inner.subquery())) or 0


def _driven(
    conn: Connection, driver: Need, filters: list[Need], scope: _Scope, k: int
) -> dict[int, float | None]:
    """Best ``k`` tracks by the driver's weight that also have a term of every filter need."""
    pg = conn.dialect.name == "postgresql"
    ids: dict[int, float | None] = {}
    # one statement per term: each reads its own index range in weight order and stops at k
    per_term = max(k // len(driver.terms), 60)  # 'red anywhere' reads three terms, not 3k rows
    recent = driver.kind == "class" and not filters  # a bare class: the most recent first
    for term, _ in driver.terms:
        single = Need(driver.kind, driver.label, ((term, 1.0),))
        days = _days(scope) if pg and not recent else None
        if days is not None and len(days) > 1:
            rows = _driven_by_day(conn, single, filters, scope, days, per_term)
        else:
            rows = conn.execute(_driven_query(single, filters, scope, pg, recent, per_term))
        ids.update((row[0], row[1] if pg else None) for row in rows)
    return ids


def _driven_query(single: Need, filters: list[Need], scope: _Scope, pg: bool, recent: bool, k: int, day=None):
    """Best ``k`` rows of one driving term that pass every filter need; ``day`` (PostgreSQL):
    only the part ``(lo, hi, hi_inclusive)`` of the window, within one day partition."""
    d = track_terms.alias("d")
    cols = (d.c.track_id, d.c.first_ts) if pg else (d.c.track_id,)
    q = select(*cols).where(*_term_filter(d, single, scope))
    if day is not None:
        q = q.where(*_day_bounds(d, day)).add_columns(d.c.weight)
    for f in filters:
        o = track_terms.alias()
        same = [o.c.track_id == d.c.track_id, o.c.term.in_(f.term_names)]
        if pg:
            # every term row of a track carries its first_ts, so the probe reads the days of
            # the window only (partition pruning), whichever way the planner joins
            same.append(o.c.first_ts == d.c.first_ts)
            if day is not None:
                same += _day_bounds(o, day)
            if scope.end is not None:
                same.append(o.c.first_ts <= scope.end)
            if scope.start is not None:
                same.append(o.c.first_ts >= scope.start - LOOKBACK_S)
        q = q.where(exists().where(*same))
    q = q.order_by(d.c.first_ts.desc() if recent else d.c.weight.desc())
    return q.limit(k)


def _days(scope: _Scope) -> list[tuple[float, float, bool]] | None:
    """The window of a search cut at the day partitions' bounds: ``(lo, hi, hi_inclusive)`` per
    day, together exactly ``first_ts`` in [start - LOOKBACK_S, end]; None without both ends."""
    if scope.start is None or scope.end is None or scope.end < scope.start:
        return None
    lo, end = scope.start - LOOKBACK_S, scope.end
    first, last = int(lo // PERIOD_S), int(end // PERIOD_S)
    if last - first > MAX_DAYS:
        return None
    days = []
    for day in range(first, last + 1):
        bound = (day + 1) * PERIOD_S
        days.append((max(lo, float(day * PERIOD_S)), min(end, float(bound)), bound > end))
    return days


def _day_bounds(alias, day: tuple[float, float, bool]) -> list:
    lo, hi, inclusive = day
    return [alias.c.first_ts >= lo, alias.c.first_ts <= hi if inclusive else alias.c.first_ts < hi]


def _driven_by_day(
    conn: Connection, single: Need, filters: list[Need], scope: _Scope, days: list, k: int
) -> list:
    """PostgreSQL: the best ``k`` of each day, merged. One ordered scan over all the window's
    partitions would need a row from every partition before returning any, and a partition the
    window only grazes (the hour of look-back before it, the midnight that ends it) holds few
    rows in weight order: finding its first one reads the whole term in that day. Per day the
    planner sees how much of the day is asked for and reads that part by time instead."""
    parts = [_driven_query(single, filters, scope, True, False, k, day).subquery() for day in days]
    union = union_all(*(select(p) for p in parts)).subquery()
    q = select(union.c.track_id, union.c.first_ts).order_by(union.c.weight.desc()).limit(k)
    return list(conn.execute(q))


def _recent_tracks(conn: Connection, scope: _Scope, k: int) -> dict[int, float | None]:
    """No attribute asked for: the latest tracks in scope, one index range per camera."""
    camera_ids = scope.camera_ids
    if camera_ids is None:
        camera_ids = list(conn.scalars(select(cameras_table.c.id).limit(MAX_NAMES)))
    found: list[tuple[float, int]] = []
    for cam in camera_ids:
        q = select(tracks.c.first_ts, tracks.c.id).where(tracks.c.camera_id == cam)
        if scope.end is not None:
            q = q.where(tracks.c.first_ts <= scope.end)
        if scope.start is not None:
            q = q.where(tracks.c.first_ts >= scope.start - LOOKBACK_S)
        found += conn.execute(q.order_by(tracks.c.first_ts.desc()).limit(k)).all()
    return {i: ts for ts, i in sorted(found, reverse=True)[:k]}


# ---------------------------------------------------------------- loading


def _camera_names(conn: Connection, visible: Collection[str] | None = None) -> dict[int, str]:
    q = select(cameras_table.c.id, cameras_table.c.name).order_by(cameras_table.c.name).limit(MAX_NAMES)
    if visible is not None:
        q = q.where(cameras_table.c.name.in_(list(visible)))
    return {i: n for i, n in conn.execute(q)}


def _zone_names(conn: Connection, camera_ids: list[int] | None) -> list[str]:
    """Zone names to recognise in a query: of these cameras (None: of all)."""
    q = select(search_zones.c.name).distinct().limit(MAX_NAMES)
    if camera_ids is not None:
        q = q.where(search_zones.c.camera_id.in_(camera_ids))
    return list(conn.scalars(q))


def _pages(conn: Connection, id_col, ts_col, ids: dict[int, float | None] | list[int]) -> list:
    """WHERE clauses reading ``ids`` in pages of IN_CHUNK. On PostgreSQL, when the first_ts of
    every id is known, each page also says which first_ts values it wants, so the planner reads
    only the day partitions holding them (tracks and their terms share their track's first_ts)."""
    keys = list(ids)
    by_day = conn.dialect.name == "postgresql" and isinstance(ids, dict)
    by_day = by_day and all(ts is not None for ts in ids.values())
    pages = []
    for i in range(0, len(keys), IN_CHUNK):
        page = keys[i : i + IN_CHUNK]
        where = [id_col.in_(page)]
        if by_day:
            where.append(ts_col.in_(sorted({ids[k] for k in page})))
        pages.append(and_(*where))
    return pages


def _load_tracks(conn: Connection, ids: dict[int, float | None] | list[int]) -> dict[int, Any]:
    cols = (
        tracks.c.id,
        tracks.c.camera_id,
        tracks.c.class_name,
        tracks.c.first_ts,
        tracks.c.last_ts,
        tracks.c.score,
        tracks.c.thumbnail,
    )
    out: dict[int, Any] = {}
    for where in _pages(conn, tracks.c.id, tracks.c.first_ts, ids):
        for row in conn.execute(select(*cols).where(where)):
            out[row.id] = row
    return out


@dataclass(slots=True)
class TrackFacts:
    """A candidate as the index holds it: where, when, and its facts (weights >= MIN_WEIGHT)."""

    camera_id: int
    first_ts: float
    last_ts: float
    facts: dict[str, float] = field(default_factory=dict)

    @property
    def class_name(self) -> str:
        return next((t[6:] for t in self.facts if t.startswith("class:")), "object")


def load_facts(conn: Connection, ids: dict[int, float | None] | list[int]) -> dict[int, TrackFacts]:
    """Candidates' facts from the index (primary-key reads, no JSON): ranking reads only these."""
    t = track_terms.c
    cols = (t.track_id, t.term, t.weight, t.camera_id, t.first_ts, t.last_ts)
    out: dict[int, TrackFacts] = {}
    for where in _pages(conn, t.track_id, t.first_ts, ids):
        for track_id, term, weight, camera_id, first_ts, last_ts in conn.execute(select(*cols).where(where)):
            out.setdefault(track_id, TrackFacts(camera_id, first_ts, last_ts)).facts[term] = weight
    return out


def _in_window(row, scope: _Scope) -> bool:
    if scope.camera_ids is not None and row.camera_id not in scope.camera_ids:
        return False
    if scope.end is not None and row.first_ts > scope.end:
        return False
    return scope.start is None or row.last_ts >= scope.start


def _hit(store, row, names: dict[int, str], score: float, reasons: list[str]) -> Hit:
    thumbnail = None
    if row.thumbnail:
        try:
            thumbnail = str(store.media.absolute(row.thumbnail))
        except ValueError:  # a path leaving the media folder is never handed out
            thumbnail = None
    return Hit(
        row.id,
        names.get(row.camera_id, str(row.camera_id)),
        row.class_name,
        row.first_ts,
        row.last_ts,
        score,
        thumbnail,
        reasons,
    )


# ---------------------------------------------------------------- scope and answers


def _scope(
    query: Query | None,
    names: dict[int, str],
    cameras: list[str] | tuple[str, ...] | None,
    notes: list[str],
    restricted: bool = False,
) -> _Scope | None:
    """Time and camera filters; None when the cameras asked for leave nothing to search.
    ``restricted``: ``names`` are the only cameras the user may see, so search no others."""
    ids_by_name = {n: i for i, n in names.items()}
    allowed: set[int] | None = set(names) if restricted else None
    if cameras:
        unknown = [c for c in cameras if c not in ids_by_name]
        for c in unknown:
            known = ", ".join(list(ids_by_name)[:8]) or "none yet"
            notes.append(f"unknown camera '{c}' (known cameras: {known})")
        allowed = {ids_by_name[c] for c in cameras if c in ids_by_name}
    if query is not None and query.cameras:
        said = {ids_by_name[c] for c in query.cameras if c in ids_by_name}
        if allowed is not None and not said & allowed:
            notes.append("the cameras in the query are not among those selected")
        allowed = said if allowed is None else said & allowed
    if allowed is not None and not allowed:
        return None
    start = query.start.timestamp() if query is not None and query.start else None
    end = query.end.timestamp() if query is not None and query.end else None
    return _Scope(start, end, sorted(allowed) if allowed is not None else None)


def _result(query: Query, notes: list[str], hits: list[Hit], tz: tzinfo | None) -> SearchResult:
    understood = query.to_dict()
    understood["notes"] = list(dict.fromkeys(notes))
    return SearchResult(understood, list(query.ignored), list(dict.fromkeys(notes)), hits, tz)


# ---------------------------------------------------------------- more like this

# how much each kind of fact counts in "more like this": appearance first, behaviour little
_KIND_WEIGHT = {
    "class": 1.0,
    "vtype": 0.7,
    "head": 0.6,
    "upper": 1.0,
    "lower": 0.8,
    "body": 1.0,
    "carried": 0.7,
    "posture": 0.3,
    "heading": 0.2,
    "motion": 0.2,
    "speed": 0.1,
    "zone": 0.2,
}


def _similarity_vector(facts: dict[str, float]) -> dict[str, float]:
    return {t: w * _KIND_WEIGHT.get(t.split(":")[0], 0.2) for t, w in facts.items() if w >= 0.1}


def _shared(a: dict[str, float], b: dict[str, float], score: float) -> list[str]:
    common = sorted(
        (t for t in a if t in b and not t.startswith(("motion:", "speed:"))), key=lambda t: -a[t] * b[t]
    )
    words = [f"similarity {score:.2f}"]
    for t in common[:4]:
        kind, value = t.split(":", 1)
        k = _KIND_WEIGHT.get(kind, 0.2)
        words.append(f"both {kind} {value} ({a[t] / k:.2f} / {b[t] / k:.2f})")
    return words
