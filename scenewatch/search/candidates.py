"""Candidate generation: the bounded SQL statements that pick the tracks a clause is ranked on.

Per clause, the need with the fewest index rows in the time window (counted up to
:data:`COUNT_CAP`) drives; the other needs filter by ``EXISTS`` on the primary key (strict pass).
If that yields fewer than the limit, each need drives alone (relaxed pass), so near misses still
rank below full matches (soft AND). Every statement carries a LIMIT: no query, however odd,
scans the whole store.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Select, exists, func, select

from scenewatch.search.day_paging import Day, best_of_days, day_bounds, window_days
from scenewatch.search.loading import IN_CHUNK
from scenewatch.search.rank import Need
from scenewatch.search.scope import LOOKBACK_S, Scope, all_camera_ids
from scenewatch.search.term_stats import TermShares
from scenewatch.store.schema import track_terms, tracks

CANDIDATES = 240  # candidates per clause and pass, shared by the driving terms
COUNT_CAP = 20000  # index rows counted to choose the driving need
PROBE_DEPTH = 3  # SQLite: a driving term's best rows probed for the filters, per candidate wanted
COMMON_ROWS = 5000  # ... when it has this many rows in scope (fewer: every row is probed, at once)

# track id -> first_ts where the statement reads it along (PostgreSQL: it names the day partition)
Found = dict[int, float | None]


def candidates(conn: Connection, needs: list[Need], scope: Scope, limit: int, shares: TermShares) -> Found:
    """Candidate track ids for one clause, bounded by LIMITs (see the module docstring)."""
    k = max(CANDIDATES, limit * 3)
    required = [n for n in needs if n.required]
    if not required:
        return _recent_tracks(conn, scope, k)
    sizes = [_count(conn, n, scope) for n in required]
    first = min(range(len(required)), key=_rarest_first(conn, required, sizes, shares))
    driver = required[first]
    others = [n for n in required if n is not driver]
    ids = _driven(conn, driver, others, scope, k, sizes[first] >= COMMON_ROWS)
    if len(ids) < limit and others:
        cls = [n for n in required if n.kind == "class"]
        common = {id(n) for n, size in zip(required, sizes, strict=True) if size >= COMMON_ROWS}
        # a vehicle type is a hint, not a filter, but it drives here too: "a green pickup" with no
        # green vehicle in store still shows the pickups, rather than nothing
        hints = [n for n in needs if n.kind == "vtype"]
        for need in [n for n in required if n.kind != "class"] + hints:
            of_class = [c for c in cls if c is not need]
            ids.update(_driven(conn, need, of_class, scope, k, id(need) in common))
    return ids


def _rarest_first(
    conn: Connection, required: list[Need], sizes: list[int], shares: TermShares
) -> Callable[[int], tuple[int, float]]:
    """A sort key over ``required``'s positions (``sizes``: their rows in scope, counted up to
    COUNT_CAP): the need with the fewest rows in scope first."""
    if conn.dialect.name != "postgresql" or sizes.count(COUNT_CAP) <= 1:
        return lambda i: (sizes[i], 0.0)
    # several needs reach the cap (a large store): the count no longer tells the rarest need, and
    # driving by the commonest ('person') reads most of the window. Break the tie by the terms'
    # shares in PostgreSQL's own statistics of the day partitions.
    by_term = shares.get(conn)
    share = [sum(by_term.get(t, 0.0) for t in n.term_names) for n in required]
    return lambda i: (sizes[i], share[i])


def _term_filter(alias, need: Need, scope: Scope) -> list:
    terms = need.term_names
    conds = [alias.c.term == terms[0] if len(terms) == 1 else alias.c.term.in_(terms)]
    if scope.end is not None:
        conds.append(alias.c.first_ts <= scope.end)
    if scope.start is not None:
        conds += [alias.c.first_ts >= scope.start - LOOKBACK_S, alias.c.last_ts >= scope.start]
    if scope.camera_ids is not None:
        conds.append(alias.c.camera_id.in_(scope.camera_ids))
    return conds


def _count(conn: Connection, need: Need, scope: Scope) -> int:
    """Index rows of a need in scope, counted up to COUNT_CAP (a bounded selectivity estimate)."""
    inner = select(track_terms.c.track_id).where(*_term_filter(track_terms, need, scope)).limit(COUNT_CAP)
    return conn.scalar(select(func.count()).select_from(inner.subquery())) or 0


def _driven(
    conn: Connection, driver: Need, filters: list[Need], scope: Scope, k: int, common: bool = False
) -> Found:
    """Best ``k`` tracks by the driver's weight that also have a term of every filter need;
    ``common``: the driver has COMMON_ROWS rows or more in scope (SQLite: :func:`_best_passing`)."""
    pg = conn.dialect.name == "postgresql"
    ids: Found = {}
    # one statement per term: each reads its own index range in weight order and stops at k
    per_term = max(k // len(driver.terms), 60)  # 'red anywhere' reads three terms, not 3k rows
    recent = driver.kind == "class" and not filters  # a bare class: the most recent first
    for term, _ in driver.terms:
        single = Need(driver.kind, driver.label, ((term, 1.0),))
        days = window_days(scope) if pg and not recent else None
        if days is not None and len(days) > 1:
            per_day = [_driven_query(single, filters, scope, True, False, per_term, day) for day in days]
            rows = best_of_days(conn, per_day, per_term)
        elif common and filters and not pg and not recent:
            rows = [(i,) for i in _best_passing(conn, single, filters, scope, per_term)]
        else:
            rows = list(conn.execute(_driven_query(single, filters, scope, pg, recent, per_term)))
        ids.update((row[0], row[1] if pg else None) for row in rows)
    return ids


def _best_passing(conn: Connection, single: Need, filters: list[Need], scope: Scope, k: int) -> list[int]:
    """SQLite: the best ``k`` rows of one driving term in the window that pass every filter, as
    ``_driven_query`` finds them, but the filters probe only the term's best rows (read in weight
    order from the covering index, deeper while too few pass): SQLite otherwise probes every row
    of the window before it sorts, a primary-key lookup each: for a common term over days (``person``
    probed for a bag) tens of thousands of lookups. Equal weights at the cut may come out in
    another order."""
    d = track_terms.c
    q = select(d.track_id).where(*_term_filter(track_terms, single, scope))
    q = q.order_by(d.weight.desc(), d.track_id)
    found: list[int] = []
    depth, done = PROBE_DEPTH * k, 0
    while len(found) < k:
        page = list(conn.scalars(q.limit(depth).offset(done)))
        done += len(page)
        passing = set(page)
        for f in filters:
            ids = sorted(passing)
            passing = set()
            for at in range(0, len(ids), IN_CHUNK):
                probe = select(d.track_id).where(
                    d.track_id.in_(ids[at : at + IN_CHUNK]), d.term.in_(f.term_names)
                )
                passing.update(conn.scalars(probe))
        found += [i for i in page if i in passing]
        if len(page) < depth:
            break
        depth *= 2
    return found[:k]


def _driven_query(
    single: Need, filters: list[Need], scope: Scope, pg: bool, recent: bool, k: int, day: Day | None = None
) -> Select:
    """Best ``k`` rows of one driving term that pass every filter need; ``day`` (PostgreSQL):
    only the part of the window within one day partition."""
    d = track_terms.alias("d")
    cols = (d.c.track_id, d.c.first_ts) if pg else (d.c.track_id,)
    q = select(*cols).where(*_term_filter(d, single, scope))
    if day is not None:
        q = q.where(*day_bounds(d, day)).add_columns(d.c.weight)
    for f in filters:
        o = track_terms.alias()
        same = [o.c.track_id == d.c.track_id, o.c.term.in_(f.term_names)]
        if pg:
            same += _same_days(o, d, scope, day)
        q = q.where(exists().where(*same))
    q = q.order_by(d.c.first_ts.desc() if recent else d.c.weight.desc())
    return q.limit(k)


def _same_days(o, d, scope: Scope, day: Day | None) -> list:
    """PostgreSQL: every term row of a track carries its first_ts, so a filter's probe reads the
    days of the window only (partition pruning), whichever way the planner joins."""
    same = [o.c.first_ts == d.c.first_ts]
    if day is not None:
        same += day_bounds(o, day)
    if scope.end is not None:
        same.append(o.c.first_ts <= scope.end)
    if scope.start is not None:
        same.append(o.c.first_ts >= scope.start - LOOKBACK_S)
    return same


def _recent_tracks(conn: Connection, scope: Scope, k: int) -> Found:
    """No attribute asked for: the latest tracks in scope, one index range per camera."""
    camera_ids = scope.camera_ids if scope.camera_ids is not None else all_camera_ids(conn)
    found: list[tuple[float, int]] = []
    for cam in camera_ids:
        q = select(tracks.c.first_ts, tracks.c.id).where(tracks.c.camera_id == cam)
        if scope.end is not None:
            q = q.where(tracks.c.first_ts <= scope.end)
        if scope.start is not None:
            q = q.where(tracks.c.first_ts >= scope.start - LOOKBACK_S)
        found += conn.execute(q.order_by(tracks.c.first_ts.desc()).limit(k)).all()
    return {i: ts for ts, i in sorted(found, reverse=True)[:k]}
