"""Per-camera grants on every route that answers with camera data, on an edge and on the central.

A user granted one of two cameras never gets an item, a count or the name of the other: list
routes leave it out (and hold exactly the granted camera's rows), routes for one thing answer 404,
as for something that does not exist. Every API route is classified below, so a new route must be
too. The central runs on a real PostgreSQL with two real edges serving their media.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import test_central
from conftest import needs_samples
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from support.servers import AppServer
from test_api import PASSWORD, bearer, seed_store
from test_central import _Central, _sync

from scenewatch.api import auth, create_app
from scenewatch.api.context import ServerOptions
from scenewatch.central.pg import free_port, pg_bin_dir
from scenewatch.rules.events import Event
from scenewatch.rules.store import save_event
from scenewatch.store import repo
from scenewatch.store.data import DataStore
from scenewatch.store.schema import cameras, events, health_events, runs, tracks

OWN, OTHER = "gate", "yard"
cluster, central_url = test_central.cluster, test_central.central_url  # its PostgreSQL fixtures
GEOMETRY = {
    "zones": [{"name": "door", "polygon": [[10, 10], [200, 10], [200, 200]]}],
    "lines": [],
    "rules": [],
}

# Every API route by what it answers. LIST: rows of many cameras; ITEM: one camera's thing, by id,
# name or path; ADMIN: admin only (every camera by design, the role tests refuse the others);
# SELF: the signed-in user's own; PUBLIC: no camera data. The central's are at the end.
ROUTES = {
    ("GET", "/api/cameras"): "LIST",
    ("GET", "/api/tracks"): "LIST",
    ("GET", "/api/search"): "LIST",
    ("GET", "/api/search/like/{track_id}"): "LIST",
    ("GET", "/api/events"): "LIST",
    ("GET", "/api/events/stream"): "LIST",
    ("GET", "/api/health"): "LIST",
    ("GET", "/api/health/events"): "LIST",
    ("GET", "/api/cameras/{name}"): "ITEM",
    ("GET", "/api/cameras/{name}/snapshot.jpg"): "ITEM",
    ("GET", "/api/cameras/{name}/objects"): "ITEM",
    ("GET", "/api/cameras/{name}/suppressions"): "ITEM",
    ("POST", "/api/cameras/{name}/suppressions"): "ITEM",
    ("DELETE", "/api/cameras/{name}/suppressions/{suppression_id}"): "ITEM",
    ("GET", "/api/cameras/{name}/live.mjpeg"): "ITEM",
    ("GET", "/api/live/frames"): "ITEM",
    ("GET", "/api/tracks/{track_id}"): "ITEM",
    ("GET", "/api/tracks/{track_id}/thumbnail.jpg"): "ITEM",
    ("GET", "/api/events/{event_id}"): "ITEM",
    ("GET", "/api/events/{event_id}/snapshot.jpg"): "ITEM",
    ("POST", "/api/events/{event_id}/ack"): "ITEM",
    ("POST", "/api/events/{event_id}/resolve"): "ITEM",
    ("GET", "/api/health/events/{event_id}/snapshot.jpg"): "ITEM",
    ("GET", "/api/media/{path}"): "ITEM",
    ("GET", "/api/clips/track/{track_id}"): "ITEM",
    ("GET", "/api/clips/event/{event_id}"): "ITEM",
    ("GET", "/api/review/{camera}"): "ITEM",
    ("GET", "/api/review/{camera}/clip"): "ITEM",
    ("GET", "/api/config/cameras/{name}"): "ITEM",
    ("PUT", "/api/config/cameras/{name}"): "ITEM",
    ("POST", "/api/config/cameras/{name}/rules/test"): "ITEM",
    ("GET", "/api/config/cameras/{name}/privacy"): "ITEM",
    ("PUT", "/api/config/cameras/{name}/privacy"): "ADMIN",
    ("GET", "/api/config/retention"): "ADMIN",
    ("PUT", "/api/config/retention"): "ADMIN",
    ("GET", "/api/users"): "ADMIN",
    ("POST", "/api/users"): "ADMIN",
    ("PATCH", "/api/users/{user_id}"): "ADMIN",
    ("DELETE", "/api/users/{user_id}"): "ADMIN",
    ("POST", "/api/users/{user_id}/password"): "ADMIN",
    ("GET", "/api/audit"): "ADMIN",
    ("GET", "/api/audit/verify"): "ADMIN",
    ("GET", "/api/audit/export"): "ADMIN",
    ("GET", "/api/auth/me"): "SELF",
    ("POST", "/api/auth/login"): "SELF",
    ("POST", "/api/auth/logout"): "SELF",
    ("POST", "/api/auth/password"): "SELF",
    ("GET", "/api/version"): "PUBLIC",
    ("POST", "/api/central/ingest"): "PUBLIC",  # an edge's token, not a user: its own rows only
    ("GET", "/api/central/edges"): "ADMIN",
    ("GET", "/api/central/search"): "LIST",
    ("GET", "/api/central/thumbnails/{track_id}"): "ITEM",
    ("GET", "/api/central/events/{event_id}/snapshot"): "ITEM",
}


def _routes(app) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}


def _ids(store: DataStore, camera: str) -> dict[str, object]:
    """The seeded rows of ``camera``: every track, event and health event id, and media paths."""
    with store.engine.connect() as conn:
        cam = conn.scalar(select(cameras.c.id).where(cameras.c.name == camera))
        track_rows = conn.execute(
            select(tracks.c.id, tracks.c.thumbnail).where(tracks.c.camera_id == cam).order_by(tracks.c.id)
        ).all()
        event_rows = conn.execute(
            select(events.c.id, events.c.snapshot).where(events.c.camera_id == cam).order_by(events.c.id)
        ).all()
        health_rows = conn.execute(
            select(health_events.c.id, health_events.c.snapshot)
            .where(health_events.c.camera_id == cam)
            .order_by(health_events.c.id)
        ).all()
    return {
        "tracks": {r.id for r in track_rows},
        "events": {r.id for r in event_rows},
        "health": {r.id for r in health_rows},
        "track": track_rows[0].id,
        "event": event_rows[0].id,
        "health_event": next(r.id for r in health_rows if r.snapshot),
        "media": [r.thumbnail for r in track_rows]
        + [r.snapshot for r in event_rows + health_rows if r.snapshot],
    }


def _watched(store: DataStore, now: float) -> None:
    """Both cameras watched live for the last hour; the other one offline for 15 min of it, so
    the site's online rate differs with and without it (1.0 for the own camera alone, 0.875)."""
    with store.engine.begin() as conn:
        for name in (OWN, OTHER):
            cam = conn.scalar(select(cameras.c.id).where(cameras.c.name == name))
            conn.execute(
                insert(runs).values(
                    camera_id=cam,
                    source="rtsp://cam",
                    mode="live",
                    started_at=now - 3600,
                    ended_at=now,
                    status="stopped",
                    frames_decoded=0,
                    frames_detected=0,
                )
            )
            if name == OTHER:
                conn.execute(
                    insert(health_events).values(
                        camera_id=cam,
                        fault="offline",
                        state="resolved",
                        severity="error",
                        start_ts=now - 1800,
                        end_ts=now - 900,
                        detail={},
                        snapshot=None,
                    )
                )


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    store, settings = seed_store(tmp_path_factory.mktemp("scoping") / "data")
    _watched(store, time.time())
    auth.create_user(store.engine, "oper-gate", PASSWORD, "operator", cameras=[OWN])
    return store, settings


@pytest.fixture
def app(edge, tmp_path):
    store, settings = edge
    return create_app(store, settings, options=ServerOptions(), config_path=tmp_path / "scenewatch.yaml")


@needs_samples
def test_every_route_is_classified(app, tmp_path):
    from scenewatch.central.server import central_app
    from scenewatch.config import AppConfig

    found = _routes(app) | _routes(central_app(DataStore.open(tmp_path / "central"), AppConfig()))
    assert found - set(ROUTES) == set(), "classify new routes in ROUTES (and test their scoping)"


def _no_other(answer, path: str) -> None:
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
    assert OTHER not in answer.text, f"{path} shows camera {OTHER!r} to a user granted {OWN!r}"


@needs_samples
def test_list_routes_give_exactly_the_granted_cameras_rows(app, edge):
    store, _settings = edge
    own, other = _ids(store, OWN), _ids(store, OTHER)
    with TestClient(app) as client:
        viewer, admin = bearer(client, "view"), bearer(client, "admin")
        lists = [
            "/api/cameras",
            "/api/tracks",
            "/api/tracks?class=person&since=0",
            "/api/events",
            "/api/events?rule=intrusion&state=new",
            "/api/health",
            "/api/health?window_h=2",
            "/api/health/events",
            "/api/search?q=person",
            "/api/search?q=person%20walking%20left",
            f"/api/search?q=person&camera={OWN}&camera={OTHER}",
            f"/api/search/like/{own['track']}",
        ]
        for path in lists:
            _no_other(client.get(path, headers=viewer), path)
        # the same routes do show the other camera to an admin: the checks above can fail
        for path in ("/api/cameras", "/api/tracks", "/api/events", "/api/health", "/api/health/events"):
            assert OTHER in client.get(path, headers=admin).text, path
        get = lambda path: client.get(path, headers=viewer).json()  # noqa: E731
        assert [c["name"] for c in get("/api/cameras")] == [OWN]
        assert {t["id"] for t in get("/api/tracks")} == own["tracks"]
        assert {e["id"] for e in get("/api/events")} == own["events"]
        assert {h["id"] for h in get("/api/health/events")} == own["health"]
        hits = {h["track_id"] for h in get("/api/search?q=person")["results"]}
        assert hits and hits <= own["tracks"]
        assert get(f"/api/search?q=person&camera={OTHER}")["results"] == []
        assert {h["track_id"] for h in get(f"/api/search/like/{own['track']}")["results"]} <= own["tracks"]
        # counts too: the site's online rate is over the granted cameras only
        health = get("/api/health")
        assert [c["camera"] for c in health["cameras"]] == [OWN]
        assert health["site_online_rate"] == pytest.approx(1.0)
        assert client.get("/api/health", headers=admin).json()["site_online_rate"] == pytest.approx(0.875)
        for path in (
            f"/api/health/events?camera={OTHER}",
            f"/api/tracks?camera={OTHER}",
            f"/api/events?camera={OTHER}",
        ):
            assert client.get(path, headers=viewer).status_code == 404, path
        assert not other["tracks"] & {t["id"] for t in get("/api/tracks?limit=500")}


def _item_paths(ids: dict, camera: str) -> list[tuple[str, str]]:
    """(method, path) of every one-thing route for ``camera``'s rows."""
    paths = [
        ("GET", f"/api/cameras/{camera}"),
        ("GET", f"/api/cameras/{camera}/snapshot.jpg"),
        ("GET", f"/api/cameras/{camera}/objects"),
        ("GET", f"/api/cameras/{camera}/suppressions"),
        ("GET", f"/api/tracks/{ids['track']}"),
        ("GET", f"/api/tracks/{ids['track']}/thumbnail.jpg"),
        ("GET", f"/api/events/{ids['event']}"),
        ("GET", f"/api/events/{ids['event']}/snapshot.jpg"),
        ("GET", f"/api/health/events/{ids['health_event']}/snapshot.jpg"),
        ("GET", f"/api/clips/track/{ids['track']}"),
        ("GET", f"/api/clips/event/{ids['event']}"),
        ("GET", f"/api/review/{camera}"),
        ("GET", f"/api/review/{camera}/clip?at=1700000001&seconds=2"),
        ("GET", f"/api/config/cameras/{camera}"),
        ("GET", f"/api/config/cameras/{camera}/privacy"),
        ("GET", f"/api/search/like/{ids['track']}"),
    ]
    return paths + [("GET", f"/api/media/{path}") for path in ids["media"]]


@needs_samples
def test_item_routes_answer_404_for_the_other_camera(app, edge):
    store, _settings = edge
    own, other = _ids(store, OWN), _ids(store, OTHER)
    with TestClient(app) as client:
        for user in ("view", "clear", "oper-gate"):
            headers = bearer(client, user)
            streams = [f"/api/cameras/{OTHER}/live.mjpeg", f"/api/live/frames?cameras={OWN},{OTHER}"]
            for method, path in _item_paths(other, OTHER) + [("GET", path) for path in streams]:
                answer = client.request(method, path, headers=headers)
                assert answer.status_code == 404, (user, path, answer.status_code)
                assert answer.json()["error"].endswith("not found"), (user, path)
            for method, path in _item_paths(own, OWN):  # the same routes serve the own camera
                answer = client.request(method, path, headers=headers)
                assert answer.status_code == 200, (user, path, answer.status_code, answer.text[:200])
        # an operator granted one camera changes nothing of the other
        operator = bearer(client, "oper-gate")
        for action in ("ack", "resolve"):
            assert client.post(f"/api/events/{other['event']}/{action}", headers=operator).status_code == 404
            assert client.post(f"/api/events/{own['event']}/{action}", headers=operator).status_code == 200
        mark = {"track_id": other["track"]}
        assert (
            client.post(f"/api/cameras/{OTHER}/suppressions", json=mark, headers=operator).status_code == 404
        )
        put = client.put(f"/api/config/cameras/{OTHER}", json=GEOMETRY, headers=operator)
        assert put.status_code == 404, put.text
        assert client.put(f"/api/config/cameras/{OWN}", json=GEOMETRY, headers=operator).status_code == 200


def _stream(port: int, token: str) -> http.client.HTTPResponse:
    """One user's event stream, subscribed (its first line read)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/api/events/stream", headers={"authorization": f"Bearer {token}"})
    answer = conn.getresponse()
    assert answer.status == 200 and answer.readline().startswith(b": connected")
    return answer


def _alerts(answer: http.client.HTTPResponse, last: tuple[str, float], into: list[tuple]) -> None:
    """(camera, start) of the alerts a stream delivers, up to ``last``; earlier changes (another
    test's acknowledgement, say) may come first."""
    while last not in into:
        line = answer.readline().decode()
        if not line:
            return
        if line.startswith("data: ") and '"camera"' in line:
            alert = json.loads(line[6:])
            into.append((alert["camera"], alert["start_ts"]))


@needs_samples
def test_event_stream_carries_only_the_granted_cameras_alerts(edge, tmp_path):
    store, settings = edge
    app = create_app(store, settings, options=ServerOptions(), config_path=tmp_path / "scenewatch.yaml")
    with AppServer(app) as served:
        base = f"http://127.0.0.1:{served.port}"
        streams = {name: _stream(served.port, _token(base, name)) for name in ("view", "admin")}
        found: dict[str, list[tuple]] = {name: [] for name in streams}
        now = time.time()
        readers = [
            threading.Thread(target=_alerts, args=(answer, (OWN, now), found[name]), daemon=True)
            for name, answer in streams.items()
        ]
        for reader in readers:
            reader.start()
        hub, deadline = app.state.ctx.hub, time.monotonic() + 20
        while hub.subscribers < len(streams) and time.monotonic() < deadline:
            time.sleep(0.05)  # the streams subscribe right after their first line
        for name in (OTHER, OWN):  # the other camera's first: the own one's is published after it
            event = Event(f"scope-{name}-{now}", "door", "intrusion", name, now, None, [1], {})
            save_event(store.engine, store.media, event, repo.camera_id(store.engine, name))
        for reader in readers:
            reader.join(30)
        for answer in streams.values():
            answer.close()
    assert (OTHER, now) in found["admin"] and (OWN, now) in found["admin"], found
    assert (OWN, now) in found["view"] and {camera for camera, _ in found["view"]} == {OWN}, found


# ---------------------------------------------------------------- the central


def _jpeg(value: int) -> np.ndarray:
    image = np.full((96, 64, 3), value, np.uint8)
    image[20:70, 16:48] = 255 - value
    return image


def _edge(folder: Path, name: str) -> DataStore:
    """An edge database with one camera 'gate': two person tracks with thumbnails (indexed for
    search), an event with a snapshot and a health fault, all queued for shipping."""
    from scenewatch.central import outbox

    store = DataStore.open(folder)
    cam = repo.ensure_camera(store.engine, "gate", "file.mp4", 640, 480, 25.0)
    run = repo.start_run(store.engine, cam, "file.mp4", "run")
    outbox.install(store.engine)

    def thumbnail(tracker_id: int) -> str:
        path = store.media.thumbnail_path("gate", run, tracker_id)
        store.media.write_jpeg(path, _jpeg(40 * tracker_id))
        return path

    test_central._add_tracks(store, cam, run, 2, first=1, thumbnail=thumbnail)
    with store.engine.begin() as conn:
        conn.execute(
            insert(health_events).values(
                camera_id=cam, fault="blur", state="raised", severity="warning", start_ts=1001.0, detail={}
            )
        )
    event = Event(f"{name}-e1", "door", "intrusion", "gate", 1002.0, 1004.0, [1], {}, _jpeg(90))
    save_event(store.engine, store.media, event, cam, run)
    return store


def _http(base: str, path: str, token: str) -> tuple[int, str]:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, answer.read().decode("latin-1")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("latin-1")


def _token(base: str, user: str) -> str:
    body = json.dumps({"username": user, "password": PASSWORD, "bearer": True}).encode()
    request = urllib.request.Request(
        f"{base}/api/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["token"]


def _central_ids(central: DataStore, camera: str) -> dict[str, object]:
    with central.engine.connect() as conn:
        cam = conn.scalar(select(cameras.c.id).where(cameras.c.name == camera))
        track_ids = set(conn.scalars(select(tracks.c.id).where(tracks.c.camera_id == cam)))
        event_id = conn.scalar(select(events.c.id).where(events.c.camera_id == cam))
    return {"tracks": track_ids, "track": min(track_ids), "event": event_id}


@pytest.mark.skipif(
    pg_bin_dir() is None, reason="PostgreSQL server binaries not found (Debian package postgresql)"
)
def test_central_search_and_media_follow_the_users_grants(central_url, tmp_path):
    from scenewatch.central import edges as registry
    from scenewatch.central.media import EdgeMediaServer
    from scenewatch.config.central import CentralConfig

    (tmp_path / "central").mkdir()  # the central's data folder: its key file and audit checkpoints
    central = DataStore.open(tmp_path / "central", database_url=central_url)
    auth.create_user(central.engine, "admin", PASSWORD, "admin")
    auth.create_user(
        central.engine, "north-viewer", PASSWORD, "viewer", cameras=["north/gate"], unmasked=True
    )
    media_servers = []
    try:
        with _Central(central) as server:
            for name, site in (("edge-north", "north"), ("edge-south", "south")):
                port = free_port()
                token = registry.add_edge(central, name, site, f"http://127.0.0.1:{port}")
                store = _edge(tmp_path / name, name)
                config = CentralConfig(
                    role="edge",
                    edge_id=name,
                    site=site,
                    central_url=server.url,
                    token=token,
                    media_listen=f"127.0.0.1:{port}",
                )
                media_servers.append(EdgeMediaServer(store, config).start())
                assert _sync(store, server.url, name, site, token).ship_once()
            own, other = _central_ids(central, "north/gate"), _central_ids(central, "south/gate")
            viewer, admin = _token(server.url, "north-viewer"), _token(server.url, "admin")
            # the central's search: hits of the granted camera only, and all of them
            status, body = _http(server.url, "/api/central/search?q=person&limit=50", viewer)
            assert status == 200 and "south" not in body, body[:300]
            hits = json.loads(body)["results"]
            assert {h["track_id"] for h in hits} == own["tracks"], hits
            assert {h["camera"] for h in hits} == {"north/gate"} and {h["edge"] for h in hits} == {
                "edge-north"
            }
            status, body = _http(server.url, "/api/central/search?q=person&limit=50", admin)
            assert {h["track_id"] for h in json.loads(body)["results"]} == own["tracks"] | other["tracks"]
            # a hidden camera's name reads as a made-up one: the same words back, no list naming it
            answers = {}
            for word in ("south", "qqqqq"):
                query = urllib.parse.quote(f"person on camera {word}/gate")
                status, body = _http(server.url, f"/api/central/search?q={query}&limit=50", viewer)
                answer = json.loads(body)
                answer.pop("results")
                answers[word] = json.dumps(answer).replace(word, "NAME")
            assert answers["south"] == answers["qqqqq"], answers
            assert "south" not in answers["qqqqq"], answers
            # its media: the other camera's are 404, as if they did not exist; the own ones are served
            media = ("/api/central/thumbnails/{track}", "/api/central/events/{event}/snapshot")
            for template in media:
                path = template.format(**other)
                assert _http(server.url, path, viewer)[0] == 404, path
                assert _http(server.url, path, admin)[0] == 200, path
                assert _http(server.url, template.format(**own), viewer)[0] == 200, template
            assert _http(server.url, "/api/central/edges", viewer)[0] == 403
            # the ordinary routes over the central's database
            for path in (
                "/api/cameras",
                "/api/tracks",
                "/api/events",
                "/api/health",
                "/api/health/events",
                "/api/search?q=person",
            ):
                status, body = _http(server.url, path, viewer)
                assert status == 200 and "south" not in body, (path, body[:300])
                assert "south" in _http(server.url, path, admin)[1], path
            for path in (f"/api/tracks/{other['track']}", f"/api/events/{other['event']}"):
                assert _http(server.url, path, viewer)[0] == 404, path
    finally:
        for media_server in media_servers:
            media_server.shutdown()
