"""More like this: tracks whose facts resemble one track's, compared as weighted vectors.

Appearance counts most, behaviour little (:data:`KIND_WEIGHT`). Candidates are the tracks that
share one of the target's strongest facts at a similar weight.

>>> mine = similarity_vector({"class:person": 1.0, "upper:red": 0.8, "speed:fast": 0.9})
>>> shared_reasons(mine, mine, 1.0)
['similarity 1.00', 'both class person (1.00 / 1.00)', 'both upper red (0.80 / 0.80)']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from scenewatch.search.candidates import CANDIDATES, Found
from scenewatch.search.facts import cosine
from scenewatch.search.loading import load_facts, load_tracks
from scenewatch.search.results import Hit, make_hit
from scenewatch.search.scope import Scope
from scenewatch.store.schema import track_terms

if TYPE_CHECKING:
    from scenewatch.store.media import MediaStore

SEEDS = 5  # the target's strongest facts that find candidates
WEIGHT_SPAN = 0.3  # a candidate's weight of a seed fact is within this of the target's

# how much each kind of fact counts in "more like this": appearance first, behaviour little
KIND_WEIGHT = {
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


def similarity_vector(facts: dict[str, float]) -> dict[str, float]:
    """A track's facts weighted by how much their kind counts for likeness."""
    return {t: w * KIND_WEIGHT.get(t.split(":")[0], 0.2) for t, w in facts.items() if w >= 0.1}


def strongest(vector: dict[str, float], n: int) -> list[tuple[str, float]]:
    return sorted(vector.items(), key=lambda kv: -kv[1])[:n]


def similar_candidates(conn: Connection, mine: dict[str, float], scope: Scope) -> Found:
    """Tracks holding one of the target's strongest facts at about its weight (per fact up to
    CANDIDATES, strongest weights first), with their first_ts."""
    ids: Found = {}
    for term, weight in strongest(mine, SEEDS):
        raw = weight / KIND_WEIGHT.get(term.split(":")[0], 1.0)
        q = (
            select(track_terms.c.track_id, track_terms.c.first_ts)
            .where(track_terms.c.term == term)
            .where(track_terms.c.weight.between(raw - WEIGHT_SPAN, raw + WEIGHT_SPAN))
            .order_by(track_terms.c.weight.desc())
            .limit(CANDIDATES)
        )
        if scope.camera_ids is not None:
            q = q.where(track_terms.c.camera_id.in_(scope.camera_ids))
        ids.update(dict(conn.execute(q).all()))
    return ids


def shared_reasons(a: dict[str, float], b: dict[str, float], score: float) -> list[str]:
    """The reasons a similar track shows: its similarity and the appearance facts both share."""
    common = sorted(
        (t for t in a if t in b and not t.startswith(("motion:", "speed:"))), key=lambda t: -a[t] * b[t]
    )
    words = [f"similarity {score:.2f}"]
    for t in common[:4]:
        kind, value = t.split(":", 1)
        k = KIND_WEIGHT.get(kind, 0.2)
        words.append(f"both {kind} {value} ({a[t] / k:.2f} / {b[t] / k:.2f})")
    return words


def rank_similar(
    conn: Connection, media: MediaStore, names: dict[int, str], mine: dict[str, float], ids: Found, limit: int
) -> list[Hit]:
    """The candidates most like the target (cosine over weighted facts), best first."""
    loaded = load_facts(conn, ids)
    vectors = {i: similarity_vector(f.facts) for i, f in loaded.items()}
    scored = sorted(((cosine(mine, v), i) for i, v in vectors.items()), reverse=True)
    top = [(s, i) for s, i in scored[:limit] if s > 0]
    rows = load_tracks(conn, {i: loaded[i].first_ts for _, i in top})
    return [
        make_hit(media, rows[i], names, s, shared_reasons(mine, vectors[i], s)) for s, i in top if i in rows
    ]
