"""A hostile edge against the central's ingest: real PostgreSQL, the real central app, real tokens.

Edge "a" holds only its own token. It sends SQL in row keys, rows naming another edge or central
ids, oversize and mistyped values; each shipment is refused with 400 naming the field, and
afterwards the users, the other edge's rows and every table's row count are as they were. The
last tests check what an honest edge needs: a replayed event's end and state reach the central,
and an event's track ids name central tracks, also when the tracks arrive after the event.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import test_central
from sqlalchemy import func, insert, select, update
from test_central import _Central, _edge_store, _sync

from scenewatch.api import auth
from scenewatch.central import edges as registry
from scenewatch.central import outbox
from scenewatch.central.shipment import (
    CameraRow,
    EventRow,
    HealthRow,
    RunRow,
    StatusRow,
    TrackRow,
)
from scenewatch.rules.store import set_event_state
from scenewatch.store.data import DataStore
from scenewatch.store.schema import (
    camera_status,
    cameras,
    edges,
    events,
    health_events,
    runs,
    sync_outbox,
    track_terms,
    tracks,
    users,
)

INJECTION = (
    "thumbnail, path, attributes) FROM STDIN; "
    "UPDATE users SET role='admin', cameras=NULL, unmasked=true; "
    "UPDATE tracks SET class_name='pwned' WHERE edge_id IS NOT NULL; COMMIT; SELECT (0"
)
TABLES = (cameras, runs, tracks, track_terms, events, health_events, camera_status, users, edges)
VIEWER_PASSWORD = "correct horse battery staple 7"
# the throw-away PostgreSQL cluster and a fresh database per test, as in test_central
pytestmark = test_central.pytestmark
cluster = test_central.cluster
central_url = test_central.central_url


# ---------------------------------------------------------------- helpers


def _post(url: str, token: str, shipment: dict[str, Any]) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/api/central/ingest",
        data=json.dumps(shipment).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _state(engine) -> dict[str, Any]:
    """Everything an attack could change: row counts, users, and every edge-owned row."""
    with engine.connect() as conn:
        out: dict[str, Any] = {
            f"count {t.name}": conn.scalar(select(func.count()).select_from(t)) for t in TABLES
        }
        out["users"] = [
            tuple(r)
            for r in conn.execute(select(users.c.name, users.c.role, users.c.cameras, users.c.unmasked))
        ]
        for table in (cameras, runs, tracks, events, health_events):
            out[table.name] = sorted(
                (tuple(json.dumps(v, sort_keys=True) for v in r) for r in conn.execute(select(table))),
            )
        out["camera_status"] = sorted(tuple(map(str, r)) for r in conn.execute(select(camera_status)))
        out["edges"] = sorted(
            tuple(map(str, r))
            for r in conn.execute(select(edges.c.name, edges.c.media_url, edges.c.version, edges.c.instance))
        )
    return out


def _add_event(store: DataStore, tracker_ids: list[int], key: str = "e" * 32) -> int:
    """An open event on the edge's camera 1, run 1, as the rule recorder writes it."""
    with store.engine.begin() as conn:
        return conn.execute(
            insert(events)
            .values(
                key=key,
                camera_id=1,
                run_id=1,
                rule="door",
                rule_type="intrusion",
                start_ts=1001.5,
                end_ts=None,
                track_ids=tracker_ids,
                detail={"zone": "all"},
                snapshot=None,
                clip=None,
                state="new",
                created_at=time.time(),
            )
            .returning(events.c.id)
        ).scalar_one()


def _add_track(store: DataStore, tracker_id: int, first_ts: float = 1000.0) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(tracks).values(
                camera_id=1,
                run_id=1,
                tracker_id=tracker_id,
                class_name="person",
                first_ts=first_ts,
                last_ts=first_ts + 5,
                first_frame=0,
                last_frame=10,
                detections=10,
                score=0.9,
                path=[[first_ts, 1.0, 2.0]],
                finished=True,
                attributes={"class": "person"},
            )
        )


def _add_health(store: DataStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(health_events).values(
                camera_id=1,
                fault="blur",
                state="active",
                severity="warning",
                start_ts=1000.0,
                detail={"sharpness": 3.2},
            )
        )
        conn.execute(
            insert(camera_status).values(
                camera_id=1, updated_at=1002.0, online=True, severity="ok", status={"faults": []}
            )
        )


class _Site:
    """A central with a viewer, edge "b" that shipped its rows and edge "a", the attacker."""

    def __init__(self, central_url: str, tmp_path: Path):
        self.central = DataStore.open(tmp_path / "central", database_url=central_url)
        auth.create_user(self.central.engine, "vic", VIEWER_PASSWORD, "viewer", cameras=["south/gate"])
        self.tokens = {
            "a": registry.add_edge(self.central, "a", "north"),
            "b": registry.add_edge(self.central, "b", "south"),
        }
        self.edge_a = _edge_store(tmp_path / "a", n_tracks=2)
        self.edge_b = _edge_store(tmp_path / "b", n_tracks=3)
        for name, store in (("a", self.edge_a), ("b", self.edge_b)):
            _add_event(store, [0, 1], key=name * 32)
            _add_health(store)
        self.server = _Central(self.central)

    def __enter__(self) -> _Site:
        self.server.__enter__()
        for name, store, site, n_tracks in (("a", self.edge_a, "north", 2), ("b", self.edge_b, "south", 3)):
            shipped = _sync(store, self.server.url, name, site, self.tokens[name]).ship_once()
            assert shipped == 5 + n_tracks  # camera, run, tracks, event, health, status
        self.honest = self.shipment()
        return self

    def __exit__(self, *exc) -> None:
        self.server.__exit__(*exc)

    def shipment(self) -> dict[str, Any]:
        """What edge "a" would ship now: all its rows, re-queued."""
        queued = [
            ("camera", 1),
            ("run", 1),
            ("track", 1),
            ("track", 2),
            ("event", 1),
            ("health", 1),
            ("status", 1),
        ]
        with self.edge_a.engine.begin() as conn:
            conn.execute(insert(sync_outbox), [{"kind": k, "row_id": i} for k, i in queued])
        sync = _sync(self.edge_a, self.server.url, "a", "north", self.tokens["a"])
        batch = outbox.next_batch(self.edge_a.engine, 100)
        body = json.loads(sync._body(batch))
        outbox.acknowledge(self.edge_a.engine, batch.last_seq)
        return body

    def send(self, shipment: dict[str, Any]) -> tuple[int, dict]:
        return _post(self.server.url, self.tokens["a"], shipment)

    def edge_id(self, name: str) -> int:
        with self.central.engine.connect() as conn:
            return conn.scalar(select(edges.c.id).where(edges.c.name == name))


@pytest.fixture
def site(central_url, tmp_path):
    with _Site(central_url, tmp_path) as s:
        yield s


def _with(shipment: dict[str, Any], kind: str, **changes: Any) -> dict[str, Any]:
    """A copy of ``shipment`` with ``changes`` made to its first row of ``kind``."""
    out = copy.deepcopy(shipment)
    out["rows"][kind][0].update(changes)
    return out


# ---------------------------------------------------------------- the injection


def _injected(shipment: dict[str, Any], kind: str) -> dict[str, Any]:
    """The reported attack on every row of ``kind``: the key stands in for the last three track
    columns, so the COPY's column count still matches and the statements after it run."""
    out = copy.deepcopy(shipment)
    for row in out["rows"][kind]:
        for name in ("thumbnail", "path", "attributes"):
            row.pop(name, None)
        row[INJECTION] = "x"
    return out


@pytest.mark.parametrize("kind", ["track", "camera", "event", "status", "health", "run"])
def test_sql_in_a_row_key_is_refused_and_nothing_is_committed(site, kind):
    before = _state(site.central.engine)
    status, body = site.send(_injected(site.honest, kind))
    assert status == 400, body
    assert (
        f"rows.{kind}[0]: unknown field 'thumbnail, path, attributes) FROM STDIN; UPDATE users"
        in body["error"]
    )
    after = _state(site.central.engine)
    assert after == before
    viewer = next(u for u in after["users"] if u[0] == "vic")
    assert viewer[1:] == ("viewer", ["south/gate"], False)
    # the honest shipment still goes through afterwards
    assert site.send(site.honest)[0] == 200


def test_the_injection_as_a_later_rows_key_or_a_kind_is_refused_too(site):
    before = _state(site.central.engine)
    second = copy.deepcopy(site.honest)
    second["rows"]["track"][1][INJECTION] = None
    status, body = site.send(second)
    assert status == 400 and "rows.track[1]: unknown field 'thumbnail, path" in body["error"], body
    as_kind = copy.deepcopy(site.honest)
    as_kind["rows"][INJECTION] = []
    status, body = site.send(as_kind)
    assert status == 400 and "rows: unknown field 'thumbnail, path" in body["error"], body
    assert _state(site.central.engine) == before


# ---------------------------------------------------------------- other edges' rows


def test_an_edge_cannot_name_another_edges_ids_or_set_its_own_edge_id(site):
    b = site.edge_id("b")
    with site.central.engine.connect() as conn:
        b_camera = conn.scalar(select(cameras.c.id).where(cameras.c.edge_id == b))
        b_run = conn.scalar(select(runs.c.id).where(runs.c.edge_id == b))
    before = _state(site.central.engine)
    attacks = {
        "rows.track[0].camera_id": _with(site.honest, "track", camera_id=b_camera + 100),
        "rows.track[0].run_id": _with(site.honest, "track", run_id=b_run + 100),
        "rows.event[0].camera_id": _with(site.honest, "event", camera_id=b_camera + 100),
        "rows.health[0].camera_id": _with(site.honest, "health", camera_id=b_camera + 100),
        "rows.status[0].camera_id": _with(site.honest, "status", camera_id=b_camera + 100),
        "rows.run[0].camera_id": _with(site.honest, "run", camera_id=b_camera + 100),
        "rows.track[0]: unknown field 'edge_id'": _with(site.honest, "track", edge_id=b),
        "rows.event[0]: unknown field 'edge_row'": _with(site.honest, "event", edge_row=1),
        "rows.camera[0]: unknown field 'edge_id'": _with(site.honest, "camera", edge_id=b),
        "rows.status[0]: unknown field 'edge_id'": _with(site.honest, "status", edge_id=b),
    }
    for field, shipment in attacks.items():
        status, body = site.send(shipment)
        assert status == 400 and field in body["error"], (field, body)
    assert _state(site.central.engine) == before


def _rows_of(engine, edge_id: int) -> dict[str, list]:
    """Every central row edge ``edge_id`` owns, as text."""
    with engine.connect() as conn:
        out = {
            t.name: sorted(map(str, conn.execute(select(t).where(t.c.edge_id == edge_id))))
            for t in (cameras, runs, tracks, events, health_events)
        }
        out["camera_status"] = sorted(
            map(
                str,
                conn.execute(
                    select(camera_status)
                    .join(cameras, cameras.c.id == camera_status.c.camera_id)
                    .where(cameras.c.edge_id == edge_id)
                ),
            )
        )
    return out


def test_an_edge_reusing_another_edges_row_ids_changes_only_its_own_rows(site):
    """Every edge numbers its rows from 1: edge "a" rewriting its rows 1 leaves "b"'s rows 1 be."""
    a, b = site.edge_id("a"), site.edge_id("b")
    theirs, ours = _rows_of(site.central.engine, b), _rows_of(site.central.engine, a)
    rewrite = _with(site.honest, "track", class_name="car", score=0.1)
    rewrite = _with(rewrite, "event", state="resolved", end_ts=1003.0)
    rewrite = _with(rewrite, "health", state="cleared", end_ts=1003.0)
    rewrite = _with(rewrite, "status", online=False, severity="critical")
    assert site.send(rewrite)[0] == 200
    assert _rows_of(site.central.engine, b) == theirs
    changed = _rows_of(site.central.engine, a)
    assert all(changed[k] != ours[k] for k in ("tracks", "events", "health_events", "camera_status"))


def test_an_event_key_of_another_edge_is_refused(site):
    b = site.edge_id("b")
    with site.central.engine.connect() as conn:
        b_key = conn.scalar(select(events.c.key).where(events.c.edge_id == b))
    before = _state(site.central.engine)
    status, body = site.send(_with(site.honest, "event", id=77, key=b_key, state="resolved"))
    assert status == 409 and "conflicts with rows already on the central" in body["error"], body
    assert _state(site.central.engine) == before


# ---------------------------------------------------------------- types and sizes


def _far_days(shipment: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(shipment)
    template = out["rows"]["track"][0]
    out["rows"]["track"] = [
        {**template, "id": 100 + d, "first_ts": 1000.0 + d * 86400, "last_ts": 1001.0 + d * 86400}
        for d in range(63)
    ]
    return out


def _without(kind: str, field: str):
    def make(s: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(s)
        del out["rows"][kind][0][field]
        return out

    return make


def _twice(s: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(s)
    out["rows"]["track"][1]["id"] = out["rows"]["track"][0]["id"]
    return out


def _top(**changes: Any):
    return lambda s: {**s, **changes}


def _row(kind: str, **changes: Any):
    return lambda s: _with(s, kind, **changes)


BAD = [
    ("rows.track[0].score", _row("track", score="0.9")),
    ("rows.track[0].id", _row("track", id=0)),
    ("rows.track[0].id", _row("track", id=2**31)),
    ("rows.track[0].id", _row("track", id=True)),
    ("rows.track[0].tracker_id", _row("track", tracker_id=-1)),
    ("rows.track[0].class_name", _row("track", class_name="x" * 33)),
    ("rows.track[0].thumbnail", _row("track", thumbnail="t" * 1025)),
    ("rows.track[0].thumbnail", _row("track", thumbnail="a\x00b")),
    ("rows.track[0].attributes", _row("track", attributes={"x": "y" * 70_000})),
    ("rows.track[0].attributes", _row("track", attributes={"x": "a\x00"})),
    ("rows.track[0].attributes", _row("track", attributes=[1, 2])),
    ("rows.track[0].path[0]", _row("track", path=[[1.0]])),
    ("rows.track[0].first_ts", _row("track", first_ts=time.time() + 3 * 86400)),
    ("rows.track[0].terms[0][1]", _row("track", terms=[["class:person", "1"]])),
    ("rows.track[0]: term 'class:person' listed twice", _row("track", terms=[["class:person", 1]] * 2)),
    ("rows.track[0].finished", _row("track", finished=1)),
    ("rows.track[0].run_id", _row("track", run_id=None)),
    ("rows.track[0].path: Field required", _without("track", "path")),
    ("rows.track[0]: unknown field 'id; DROP TABLE users'", _row("track", **{"id; DROP TABLE users": 1})),
    ("rows.camera[0].name", _row("camera", name="../gate")),
    ("rows.camera[0].name", _row("camera", name="a/b")),
    ("rows.camera[0].name: 'north/" + "c" * 60, _row("camera", name="c" * 60)),
    ("rows.event[0].track_ids[0]", _row("event", track_ids=["1"])),
    ("rows.event[0].track_ids", _row("event", track_ids=list(range(1001)))),
    ("rows.event[0].state", _row("event", state="hacked")),
    ("rows.event[0].key", _row("event", key="k' OR '1'='1")),
    ("rows.event[0].detail", _row("event", detail="text")),
    ("rows.health[0].severity", _row("health", severity="s" * 17)),
    ("rows.status[0].online", _row("status", online="yes")),
    ("rows.run[0].frames_decoded", _row("run", frames_decoded=2**40)),
    ("rows: track 1 appears twice", _twice),
    ("rows: tracks start on 63 different days", _far_days),
    ("shipment: unknown field 'owner'", _top(owner="admin")),
    ("backlog", _top(backlog=-1)),
    ("instance", _top(instance="x" * 37)),
    ("version", _top(version="v" * 33)),
]


def test_mistyped_and_oversize_fields_are_refused_naming_the_field(site):
    before = _state(site.central.engine)
    for field, make in BAD:
        status, body = site.send(make(site.honest))
        assert status == 400 and field in body["error"], (field, body)
    # non-finite numbers are not JSON: refused before anything is read
    body = json.dumps(_with(site.honest, "track", score=float("nan"))).encode()
    request = urllib.request.Request(
        f"{site.server.url}/api/central/ingest",
        data=body,
        headers={"Authorization": f"Bearer {site.tokens['a']}"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == 400 and b"NaN is not a JSON number" in err.value.read()
    assert _state(site.central.engine) == before


def test_the_media_url_of_a_shipment_is_not_stored(site):
    before = _state(site.central.engine)["edges"]
    status, _ = site.send({**site.honest, "media_url": "http://127.0.0.1:18099/internal.jpg#"})
    assert status == 200
    assert _state(site.central.engine)["edges"] == before


# ---------------------------------------------------------------- what an honest edge needs


def _central_event(central: DataStore, edge_id: int, key: str) -> dict:
    with central.engine.connect() as conn:
        return dict(
            conn.execute(select(events).where(events.c.edge_id == edge_id, events.c.key == key))
            .one()
            ._mapping
        )


def _central_track_ids(central: DataStore, edge_id: int, tracker_ids: list[int]) -> list[int]:
    with central.engine.connect() as conn:
        return sorted(
            conn.scalars(
                select(tracks.c.id).where(tracks.c.edge_id == edge_id, tracks.c.tracker_id.in_(tracker_ids))
            )
        )


def test_replayed_events_reach_the_central_with_central_track_ids(central_url, tmp_path):
    central = DataStore.open(tmp_path / "central", database_url=central_url)
    token = registry.add_edge(central, "e1", "north")
    edge = _edge_store(tmp_path / "edge", n_tracks=0)
    # tracker ids far from the central's row ids, so a raw copy cannot pass for a mapping
    for tracker in (500, 501):
        _add_track(edge, tracker)
    event = _add_event(edge, [500, 501, 502], key="a" * 32)  # 502 is still on view
    with _Central(central) as server:
        sync = _sync(edge, server.url, "e1", "north", token)
        assert sync.ship_once() == 5  # camera, run, two tracks, the event
        with central.engine.connect() as conn:
            e1 = conn.scalar(select(edges.c.id).where(edges.c.name == "e1"))
        filed = _central_event(central, e1, "a" * 32)
        assert filed["track_ids"] == _central_track_ids(central, e1, [500, 501])
        assert filed["detail"] == {"zone": "all", "unmapped_track_ids": [502]}
        assert filed["end_ts"] is None and filed["state"] == "new"

        # the event ends and is acknowledged on the edge: the replay carries both
        with edge.engine.begin() as conn:
            conn.execute(update(events).where(events.c.id == event).values(end_ts=1009.0))
        set_event_state(edge.engine, event, "ack")
        assert sync.ship_once() == 3  # the event (changed twice) with its camera and run
        filed = _central_event(central, e1, "a" * 32)
        assert filed["end_ts"] == 1009.0 and filed["state"] == "acknowledged"
        assert filed["state_changed_at"] is not None

        # the last track finishes after the event's last replay: its arrival maps it
        _add_track(edge, 502, first_ts=1001.0)
        assert sync.ship_once() == 3
        filed = _central_event(central, e1, "a" * 32)
        assert filed["track_ids"] == _central_track_ids(central, e1, [500, 501, 502])
        assert filed["detail"] == {"zone": "all"}
        with central.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(events)) == 1


def test_shipment_models_name_exactly_the_edge_tables_columns():
    central_only = {"edge_id", "edge_row"}
    for model, table, extra in (
        (CameraRow, cameras, set()),
        (RunRow, runs, set()),
        (TrackRow, tracks, {"terms"}),
        (EventRow, events, set()),
        (HealthRow, health_events, set()),
        (StatusRow, camera_status, set()),
    ):
        assert set(model.model_fields) == {c.name for c in table.columns} - central_only | extra, table.name


def test_a_shipment_while_the_database_is_away_is_told_when_to_retry(cluster, site):
    cluster.stop()
    try:
        request = urllib.request.Request(
            f"{site.server.url}/api/central/ingest",
            data=json.dumps(site.honest).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {site.tokens['a']}", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.code == 503
        assert int(refused.value.headers["Retry-After"]) >= 5  # a restart's wait, not a hammering
        assert "keep the rows and retry" in json.loads(refused.value.read())["error"]
    finally:
        cluster.start()
    assert site.send(site.honest)[0] == 200
