"""The answer of a search: ranked hits and what was understood, shaped as the JSON the API returns.

>>> hit = Hit(7, "door", "person", 0.0, 2.5, 0.91234, None, ["person 0.91"])
>>> hit.to_dict()["start"], hit.to_dict()["score"], hit.to_dict()["fragments"]
('1970-01-01T00:00:00+00:00', 0.9123, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from scenewatch.search.model import Query

if TYPE_CHECKING:
    from scenewatch.store.media import MediaStore


@dataclass(slots=True)
class Member:
    """One fragment of a result's walk (``grouping``): its track, when, and its own score (None
    when it did not match the query by itself)."""

    track_id: int
    start: float  # epoch seconds (UTC)
    end: float
    score: float | None
    thumbnail: str | None

    def to_dict(self) -> dict[str, Any]:
        score = None if self.score is None else round(self.score, 4)
        return {"track_id": self.track_id, "start_ts": self.start, "end_ts": self.end, "score": score}


@dataclass(slots=True)
class Hit:
    """One matching track: the same id as ``scenewatch tracks`` and ``export mot``. ``members``
    are the fragments of the same walk in time order, this track among them (empty: just it)."""

    track_id: int
    camera: str
    cls: str
    start: float  # epoch seconds (UTC)
    end: float
    score: float
    thumbnail: str | None  # absolute path of the JPEG, None when the track has none
    reasons: list[str] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)

    def to_dict(self, tz: tzinfo | None = None) -> dict[str, Any]:
        members = self.members or [Member(self.track_id, self.start, self.end, self.score, self.thumbnail)]
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
            "fragments": len(members),
            "members": [m.to_dict() for m in members],
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


def _thumbnail(media: MediaStore, row) -> str | None:
    if not row.thumbnail:
        return None
    try:
        return str(media.absolute(row.thumbnail))
    except ValueError:  # a path leaving the media folder is never handed out
        return None


def make_hit(media: MediaStore, row, names: dict[int, str], score: float, reasons: list[str]) -> Hit:
    """A hit from a track row (``loading.load_tracks``), its camera named."""
    camera = names.get(row.camera_id, str(row.camera_id))
    thumbnail = _thumbnail(media, row)
    return Hit(row.id, camera, row.class_name, row.first_ts, row.last_ts, score, thumbnail, reasons)


def make_group_hit(
    media: MediaStore,
    rows: dict[int, Any],
    names: dict[int, str],
    best: dict[int, tuple[float, list[str]]],
    top: int,
    walk: list[int],
) -> Hit:
    """A walk's hit (``grouping``): shown as its best fragment ``top``, with every fragment of the
    walk behind it; ``rows`` are track rows by id, ``best`` the matching fragments' (score, reasons)."""
    hit = make_hit(media, rows[top], names, *best[top])
    shown = [i for i in walk if i in rows]
    if len(shown) > 1:
        scores = {i: best[i][0] if i in best else None for i in shown}
        hit.members = [
            Member(i, rows[i].first_ts, rows[i].last_ts, scores[i], _thumbnail(media, rows[i])) for i in shown
        ]
    return hit


def query_result(query: Query, notes: list[str], hits: list[Hit], tz: tzinfo | None) -> SearchResult:
    """The answer to a text query: the query as understood, with the notes (each once)."""
    understood = query.to_dict()
    understood["notes"] = list(dict.fromkeys(notes))
    return SearchResult(understood, list(query.ignored), list(dict.fromkeys(notes)), hits, tz)
