"""An event's tracks on the central: the edge's tracker ids mapped to central track ids.

An event's ``track_ids`` are tracker ids within its run on the edge; the central stores the
central ids of those tracks instead. Tracks ship when they finish, events when they start, so
ids whose track has not arrived yet wait in the event's ``detail["unmapped_track_ids"]`` and are
mapped when the track arrives or the event is shipped again (its end, a state change).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Text, cast, select, update

from scenewatch.central.shipment import INT32, UNMAPPED
from scenewatch.central.upsert import chunks
from scenewatch.store.schema import events, tracks


def map_event_tracks(conn: Connection, edge_id: int, filed: list[dict[str, Any]]) -> None:
    """Swap the tracker ids of ``filed`` (events as central rows) for central track ids, in place;
    the ones with no track yet wait in the detail."""
    found = _track_ids(conn, edge_id, {(e["run_id"], t) for e in filed for t in e["track_ids"]})
    for event in filed:
        event["track_ids"], waiting = _map(event["track_ids"], event["run_id"], found, [])
        event["detail"] = _with_waiting(event["detail"], waiting)


def remap_waiting_events(conn: Connection, edge_id: int, filed: dict[int, float]) -> None:
    """Map the waiting tracker ids of this edge's events in the runs of the tracks just filed
    (``filed``: central run id -> earliest first_ts).

    An event starts while its tracks are on view, so only events that started after the
    earliest of those tracks can be waiting for them.
    """
    if not filed:
        return
    query = select(events.c.id, events.c.run_id, events.c.track_ids, events.c.detail).where(
        events.c.edge_id == edge_id,
        events.c.run_id.in_(list(filed)),
        events.c.start_ts >= min(filed.values()) - 1.0,
        cast(events.c.detail, Text).contains(f'"{UNMAPPED}"'),
    )
    waiting = [row for row in conn.execute(query) if row.detail.get(UNMAPPED)]
    found = _track_ids(conn, edge_id, {(row.run_id, t) for row in waiting for t in row.detail[UNMAPPED]})
    for row in waiting:
        mapped, still = _map(row.detail[UNMAPPED], row.run_id, found, row.track_ids)
        if mapped != row.track_ids:
            conn.execute(
                update(events)
                .where(events.c.id == row.id)
                .values(track_ids=mapped, detail=_with_waiting(row.detail, still))
            )


def _track_ids(
    conn: Connection, edge_id: int, wanted: set[tuple[int | None, int]]
) -> dict[tuple[int, int], list[int]]:
    """(central run id, tracker id) -> central ids of this edge's tracks."""
    by_run: dict[int, set[int]] = defaultdict(set)
    for run, tracker in wanted:
        if run is not None and tracker <= INT32:  # larger ids are the stitcher's, never a track's
            by_run[run].add(tracker)
    found: dict[tuple[int, int], list[int]] = defaultdict(list)
    for run, trackers in by_run.items():
        for chunk in chunks(sorted(trackers)):
            query = select(tracks.c.tracker_id, tracks.c.id).where(
                tracks.c.edge_id == edge_id, tracks.c.run_id == run, tracks.c.tracker_id.in_(chunk)
            )
            for tracker, central_id in conn.execute(query):
                found[(run, tracker)].append(central_id)
    return found


def _map(
    trackers: list[int], run: int | None, found: dict[tuple[int, int], list[int]], mapped: list[int]
) -> tuple[list[int], list[int]]:
    """(``mapped`` plus the central ids of ``trackers``, the tracker ids with no track yet)."""
    out, waiting = list(mapped), []
    for tracker in trackers:
        central = found.get((run, tracker)) if run is not None else None
        if central:
            out += [i for i in sorted(central) if i not in out]
        else:
            waiting.append(tracker)
    return out, waiting


def _with_waiting(detail: dict[str, Any], waiting: list[int]) -> dict[str, Any]:
    rest = {k: v for k, v in detail.items() if k != UNMAPPED}  # the key is the central's alone
    return {**rest, UNMAPPED: waiting} if waiting else rest
