"""Standing searches: plain-language queries saved as rules, checked on each finished track.

A ``search`` rule ("a white van in zone gate", "穿红色上衣的人") is the same query ``scenewatch
search`` answers, turned around: instead of ranking stored tracks for one query, each track of the
camera is scored against the camera's saved queries once it is finished and described (its search
index rows are what is scored, so a standing search and a search agree on what matches). A score
of at least ``min_score`` raises an event with the track's thumbnail, the score and the reasons.

Times in a query read as times of day on the track's day: "after 6pm" alerts on tracks seen after
6 pm; a query naming other cameras never fires on this one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, tzinfo

import cv2
import numpy as np
from sqlalchemy import Connection, Engine, select

from scenewatch.config.camera import CameraConfig
from scenewatch.config.rules import SearchRule
from scenewatch.rules.annotate import annotate
from scenewatch.rules.events import Event
from scenewatch.search.engine import query_clauses, rank_track
from scenewatch.search.loading import TrackFacts, load_facts
from scenewatch.search.model import Query
from scenewatch.search.query import parse_query
from scenewatch.search.rank import clause_needs
from scenewatch.store.media import MediaStore
from scenewatch.store.schema import tracks

log = logging.getLogger(__name__)


class StandingSearches:
    """The search rules of one camera: ``check(conn, track_id) -> events`` for a described track."""

    def __init__(self, camera: CameraConfig, media: MediaStore | None = None, tz: tzinfo | None = None):
        self.camera = camera
        self.media = media
        self.tz = tz
        self.rules: list[SearchRule] = [r for r in camera.rules if isinstance(r, SearchRule)]
        self.zones = [z.name for z in camera.zones]
        self.last_fired: dict[str, float] = {}

    def __bool__(self) -> bool:
        return bool(self.rules)

    def understood(self, rule: SearchRule, at: datetime | None = None) -> Query:
        """How the rule's query reads (at ``at``, for its times of day)."""
        return parse_query(rule.query, at or datetime.now(self.tz), [self.camera.name], self.zones, self.tz)

    def check(self, conn: Connection, track_id: int) -> list[Event]:
        """Events for the rules the stored track ``track_id`` matches (none while undescribed)."""
        row = conn.execute(select(tracks).where(tracks.c.id == track_id)).mappings().first()
        if row is None or not row["finished"]:
            return []
        track = load_facts(conn, [track_id]).get(track_id)
        if track is None:  # not indexed (yet)
            return []
        events = []
        for rule in self.rules:
            if row["class_name"] not in rule.classes:
                continue
            if rule.schedule is not None and not rule.schedule.active(row["first_ts"]):
                continue
            # tracks finish out of order (a long one ends after short ones that came later)
            if abs(row["last_ts"] - self.last_fired.get(rule.name, -np.inf)) < rule.cooldown_s:
                continue
            query = self.understood(rule, datetime.fromtimestamp(row["last_ts"], self.tz))
            score, reasons = self._score(query, row, track)
            if score < rule.min_score:
                continue
            self.last_fired[rule.name] = row["last_ts"]
            events.append(self._event(rule, row, score, reasons))
        return events

    def _score(self, query: Query, row, track: TrackFacts) -> tuple[float, list[str]]:
        """The track's score as ``search`` would rank it for this query (0 outside its time and place)."""
        if query.cameras and self.camera.name not in query.cameras:
            return 0.0, []
        if query.end is not None and row["first_ts"] > query.end.timestamp():
            return 0.0, []
        if query.start is not None and row["last_ts"] < query.start.timestamp():
            return 0.0, []
        best: tuple[float, list[str]] = (0.0, [])
        for clause in query_clauses(query):
            score, reasons = rank_track(clause_needs(clause, query.zones), track)
            if score > best[0]:
                best = (score, reasons)
        return best

    def _event(self, rule: SearchRule, row, score: float, reasons: list[str]) -> Event:
        detail = {
            "query": rule.query,
            "score": round(score, 3),
            "reasons": reasons,
            "track": int(row["id"]),
            "class": row["class_name"],
        }
        return Event(
            key=uuid.uuid4().hex,
            rule=rule.name,
            rule_type=rule.type,
            camera=self.camera.name,
            start=float(row["first_ts"]),
            end=float(row["last_ts"]),
            track_ids=[int(row["tracker_id"])],
            detail=detail,
            snapshot=self._snapshot(rule, row),
        )

    def _snapshot(self, rule: SearchRule, row) -> np.ndarray | None:
        """The track's thumbnail with the query as its title (the thumbnail shows the object)."""
        if self.media is None or not row["thumbnail"]:
            return None
        try:
            image = cv2.imread(str(self.media.absolute(row["thumbnail"])))
        except ValueError:  # a path leaving the media folder
            return None
        if image is None:
            log.warning("track %s: thumbnail %s unreadable", row["id"], row["thumbnail"])
            return None
        scale = max(1.0, 240 / max(image.shape[0], 1))  # room for the title on small crops
        image = cv2.resize(image, None, fx=scale, fy=scale) if scale > 1 else image
        # OpenCV's fonts draw ASCII only: a Chinese query is named by its rule
        title = f"{rule.name}: {rule.query}"[:60] if rule.query.isascii() else rule.name
        return annotate(image, np.zeros((0, 4)), title=title)


def watch_finished_tracks(
    searches: StandingSearches, engine: Engine, save: Callable[[list[Event]], None]
) -> Callable[[list[int]], None]:
    """The writer's ``on_indexed`` observer: check each described track, ``save`` what fires."""

    def observe(track_ids: list[int]) -> None:
        with engine.connect() as conn:
            raised = [event for track_id in track_ids for event in searches.check(conn, track_id)]
        if raised:
            save(raised)

    return observe
