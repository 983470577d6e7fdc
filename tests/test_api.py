"""The HTTP API: every role against every endpoint, bad input, traversal, CSRF, rate limit,
expired sessions, the audit hash chain, privacy masking of images and clips, config edits,
retention, and a schemathesis fuzz of the OpenAPI schema (no 5xx)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import VTEST, needs_samples

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import insert, update  # noqa: E402

from scenewatch.api import audit, auth, create_app  # noqa: E402
from scenewatch.api.context import ServerOptions  # noqa: E402
from scenewatch.api.feed import EventFeed  # noqa: E402
from scenewatch.config import AppConfig, CameraConfig, load_config  # noqa: E402
from scenewatch.config.source import SourceConfig  # noqa: E402
from scenewatch.rules.events import Event  # noqa: E402
from scenewatch.rules.store import save_event  # noqa: E402
from scenewatch.store import repo  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402
from scenewatch.store.schema import audit_log, boxes, health_events, tracks  # noqa: E402

pytestmark = needs_samples
SAMPLE = VTEST
PASSWORD = "correct-horse-battery"
FPS = 10.0
BASE_TS = 1_700_000_000.0
# A person walking in vtest.avi at frame 20, as the detector finds it (see test_seed_box_is_a_person).
PERSON = (441.0, 233.0, 476.0, 315.0)  # centernet, score 0.60


def person_box(frame: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = PERSON
    return x1 - (frame - 20) * 1.0, y1, x2 - (frame - 20) * 1.0, y2


def read_frame(index: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(SAMPLE))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, image = capture.read()
    capture.release()
    assert ok
    return image


def seed_store(root: Path) -> tuple[DataStore, AppConfig]:
    """Two cameras on the real sample footage, each with one person track (boxes on every frame,
    a thumbnail), one event with a snapshot and a clip window, and a health fault with a snapshot;
    users of every role."""
    store = DataStore.open(root)
    engine = store.engine
    frame = read_frame(20)
    for number, name in enumerate(("gate", "yard")):
        cam = repo.ensure_camera(engine, name, str(SAMPLE), 768, 576, FPS)
        run = repo.start_run(engine, cam, str(SAMPLE), "index")
        x1, y1, x2, y2 = person_box(20)
        px, py = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
        crop = frame[int(y1 - py) : int(y2 + py), int(x1 - px) : int(x2 + px)]
        thumb = store.media.thumbnail_path(name, run, 1)
        store.media.write_jpeg(thumb, crop)
        start = BASE_TS + number * 100
        with engine.begin() as conn:
            track_id = conn.execute(
                insert(tracks)
                .values(
                    camera_id=cam,
                    run_id=run,
                    tracker_id=1,
                    class_name="person",
                    first_ts=start + 5 / FPS,
                    last_ts=start + 60 / FPS,
                    first_frame=5,
                    last_frame=60,
                    detections=56,
                    score=0.8,
                    path=[[start + 5 / FPS, 600.0, 360.0]],
                    thumbnail=thumb,
                    finished=True,
                    attributes={},
                )
                .returning(tracks.c.id)
            ).scalar_one()
            conn.execute(
                insert(boxes),
                [
                    dict(
                        track_id=track_id,
                        frame=f,
                        ts=start + f / FPS,
                        x1=person_box(f)[0],
                        y1=person_box(f)[1],
                        x2=person_box(f)[2],
                        y2=person_box(f)[3],
                        score=0.8,
                        interpolated=False,
                    )
                    for f in range(5, 61)
                ],
            )
            health_id = conn.execute(
                insert(health_events)
                .values(
                    camera_id=cam,
                    fault="blur",
                    state="raised",
                    severity="warning",
                    start_ts=start + 2.0,
                    end_ts=None,
                    detail={},
                    snapshot=None,
                )
                .returning(health_events.c.id)
            ).scalar_one()
            snap = f"health/{name}/{health_id}.jpg"
            store.media.write_jpeg(snap, cv2.resize(frame, (384, 288)))
            conn.execute(update(health_events).where(health_events.c.id == health_id).values(snapshot=snap))
        event = Event(f"{name}-e1", "door", "intrusion", name, start + 2.0, start + 4.0, [1], {}, frame)
        save_event(engine, store.media, event, cam, run, {"path": str(SAMPLE), "start_s": 1.5, "end_s": 4.0})
        repo.end_run(engine, run, "done", 100, 100)
    from scenewatch.search.index import reindex

    reindex(engine)  # the search index, as the writer keeps it for finished tracks
    auth.create_user(engine, "admin", PASSWORD, "admin")
    auth.create_user(engine, "oper", PASSWORD, "operator")
    auth.create_user(engine, "view", PASSWORD, "viewer", cameras=["gate"])
    auth.create_user(engine, "clear", PASSWORD, "viewer", cameras=["gate"], unmasked=True)
    settings = AppConfig(
        cameras=[CameraConfig(name=n, source=SourceConfig(url=str(SAMPLE))) for n in ("gate", "yard")]
    )
    return store, settings


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    store, settings = seed_store(root / "data")
    return store, settings, root


@pytest.fixture
def app(seeded, tmp_path):
    store, settings, _root = seeded
    return create_app(
        store,
        settings,
        options=ServerOptions(login_max_failures=5, login_window_s=60),
        config_path=tmp_path / "scenewatch.yaml",
    )


def login(client: TestClient, name: str, bearer: bool = False) -> dict:
    answer = client.post("/api/auth/login", json={"username": name, "password": PASSWORD, "bearer": bearer})
    assert answer.status_code == 200, answer.text
    return answer.json()


def bearer(client: TestClient, name: str) -> dict[str, str]:
    return {"authorization": f"Bearer {login(client, name, bearer=True)['token']}"}


def ids(store: DataStore, camera: str) -> tuple[int, int]:
    """(track id, event id) of ``camera``."""
    track = repo.list_tracks(store.engine, camera=camera)[0]["id"]
    from scenewatch.rules.store import list_events

    event = list_events(store.engine, camera=camera)[0]["id"]
    return track, event


# -- every endpoint, every role ---------------------------------------------------------------------

ROLE_ORDER = ["viewer", "operator", "admin"]


def endpoints(store: DataStore) -> list[tuple[str, str, str, dict | None, str]]:
    """(method, route template, concrete path, JSON body, least role) for every API route."""
    track, event = ids(store, "gate")
    health = repo_health_id(store, "gate")
    thumb = repo.get_track(store.engine, track, with_boxes=False)["thumbnail"]
    geometry = {
        "zones": [{"name": "door", "polygon": [[10, 10], [200, 10], [200, 200]]}],
        "lines": [],
        "rules": [],
    }
    return [
        ("GET", "/api/auth/me", "/api/auth/me", None, "viewer"),
        ("GET", "/api/cameras", "/api/cameras", None, "viewer"),
        ("GET", "/api/cameras/{name}", "/api/cameras/gate", None, "viewer"),
        ("GET", "/api/cameras/{name}/snapshot.jpg", "/api/cameras/gate/snapshot.jpg", None, "viewer"),
        ("GET", "/api/cameras/{name}/suppressions", "/api/cameras/gate/suppressions", None, "viewer"),
        (
            "POST",
            "/api/cameras/{name}/suppressions",
            "/api/cameras/gate/suppressions",
            {"track_id": track},
            "operator",
        ),
        (
            "DELETE",
            "/api/cameras/{name}/suppressions/{suppression_id}",
            "/api/cameras/gate/suppressions/999",
            None,
            "operator",
        ),
        ("GET", "/api/cameras/{name}/objects", "/api/cameras/gate/objects", None, "viewer"),
        ("GET", "/api/tracks", "/api/tracks", None, "viewer"),
        ("GET", "/api/tracks/{track_id}", f"/api/tracks/{track}", None, "viewer"),
        ("GET", "/api/tracks/{track_id}/thumbnail.jpg", f"/api/tracks/{track}/thumbnail.jpg", None, "viewer"),
        ("GET", "/api/search", "/api/search?q=person", None, "viewer"),
        ("GET", "/api/search/like/{track_id}", f"/api/search/like/{track}", None, "viewer"),
        ("GET", "/api/events", "/api/events", None, "viewer"),
        ("GET", "/api/events/{event_id}", f"/api/events/{event}", None, "viewer"),
        ("GET", "/api/events/{event_id}/snapshot.jpg", f"/api/events/{event}/snapshot.jpg", None, "viewer"),
        ("POST", "/api/events/{event_id}/ack", f"/api/events/{event}/ack", None, "operator"),
        ("POST", "/api/events/{event_id}/resolve", f"/api/events/{event}/resolve", None, "operator"),
        ("GET", "/api/health", "/api/health", None, "viewer"),
        ("GET", "/api/health/events", "/api/health/events", None, "viewer"),
        (
            "GET",
            "/api/health/events/{event_id}/snapshot.jpg",
            f"/api/health/events/{health}/snapshot.jpg",
            None,
            "viewer",
        ),
        ("GET", "/api/media/{path}", f"/api/media/{thumb}", None, "viewer"),
        ("GET", "/api/clips/track/{track_id}", f"/api/clips/track/{track}", None, "viewer"),
        ("GET", "/api/clips/event/{event_id}", f"/api/clips/event/{event}", None, "viewer"),
        ("GET", "/api/review/{camera}", "/api/review/gate", None, "viewer"),
        (
            "GET",
            "/api/review/{camera}/clip",
            f"/api/review/gate/clip?at={BASE_TS + 1}&seconds=2",
            None,
            "viewer",
        ),
        ("GET", "/api/config/cameras/{name}", "/api/config/cameras/gate", None, "viewer"),
        ("PUT", "/api/config/cameras/{name}", "/api/config/cameras/gate", geometry, "operator"),
        (
            "POST",
            "/api/config/cameras/{name}/rules/test",
            "/api/config/cameras/gate/rules/test",
            {**geometry, "rules": [{"type": "intrusion", "zone": "door"}], "rule": "intrusion-door"},
            "operator",
        ),
        ("GET", "/api/config/cameras/{name}/privacy", "/api/config/cameras/gate/privacy", None, "viewer"),
        (
            "PUT",
            "/api/config/cameras/{name}/privacy",
            "/api/config/cameras/gate/privacy",
            {"polygons": []},
            "admin",
        ),
        ("GET", "/api/config/retention", "/api/config/retention", None, "admin"),
        ("PUT", "/api/config/retention", "/api/config/retention", {}, "admin"),
        ("GET", "/api/users", "/api/users", None, "admin"),
        (
            "POST",
            "/api/users",
            "/api/users",
            {"name": f"u{time.monotonic_ns()}", "password": PASSWORD, "role": "viewer"},
            "admin",
        ),
        ("PATCH", "/api/users/{user_id}", "/api/users/4", {"unmasked": True}, "admin"),
        ("POST", "/api/users/{user_id}/password", "/api/users/4/password", {"password": PASSWORD}, "admin"),
        ("DELETE", "/api/users/{user_id}", "/api/users/999", None, "admin"),
        ("GET", "/api/audit", "/api/audit", None, "admin"),
        ("GET", "/api/audit/verify", "/api/audit/verify", None, "admin"),
        ("GET", "/api/audit/export", "/api/audit/export", None, "admin"),
        (
            "POST",
            "/api/auth/password",
            "/api/auth/password",
            {"current": "wrong-password-x", "new": PASSWORD},
            "viewer",
        ),
    ]


# Not in the matrix on purpose: sign-in itself, sign-out (ends the session the matrix uses), the
# never-ending streams (tested on their own) and the public version.
UNLISTED = {
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/events/stream"),
    ("GET", "/api/cameras/{name}/live.mjpeg"),
    ("GET", "/api/live/frames"),
    ("GET", "/api/version"),
}


def repo_health_id(store: DataStore, camera: str) -> int:
    from scenewatch.api.queries import health_history

    return health_history(store.engine, [camera], 1)[0]["id"]


def test_the_matrix_covers_every_api_route(app, seeded):
    store, _settings, _root = seeded
    # from the published schema: app.routes nests included routers and would list nothing
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in operations
    }
    assert len(routes) > 30  # the schema really lists the API
    listed = {(m, t) for m, t, _p, _b, _r in endpoints(store)}
    assert routes - listed - UNLISTED == set(), "add new routes to the role matrix"


@pytest.mark.parametrize("role", ["anonymous", *ROLE_ORDER])
def test_role_matrix(app, seeded, role):
    store, _settings, _root = seeded
    names = {"viewer": "view", "operator": "oper", "admin": "admin"}
    with TestClient(app) as client:
        headers = {} if role == "anonymous" else bearer(client, names[role])
        for method, template, path, body, least in endpoints(store):
            answer = client.request(method, path, json=body, headers=headers)
            where = f"{role} {method} {template}: {answer.status_code} {answer.text[:120]}"
            assert answer.status_code < 500, where
            if role == "anonymous":
                assert answer.status_code == 401, where
            elif ROLE_ORDER.index(role) < ROLE_ORDER.index(least):
                assert answer.status_code == 403, where
            else:
                assert answer.status_code not in (401, 403), where
            if answer.status_code >= 400:
                assert set(answer.json()) == {"error", "field"}, where


def test_viewer_cannot_reach_another_cameras_data_or_media(app, seeded):
    store, _settings, _root = seeded
    own_track, own_event = ids(store, "gate")
    track, event = ids(store, "yard")
    thumb = repo.get_track(store.engine, track, with_boxes=False)["thumbnail"]
    health = repo_health_id(store, "yard")
    with TestClient(app) as client:
        headers = bearer(client, "view")
        for path in (
            "/api/cameras/yard",
            "/api/cameras/yard/snapshot.jpg",
            "/api/cameras/yard/live.mjpeg",
            "/api/live/frames?cameras=gate,yard",
            f"/api/tracks/{track}",
            f"/api/tracks/{track}/thumbnail.jpg",
            f"/api/media/{thumb}",
            f"/api/events/{event}",
            f"/api/events/{event}/snapshot.jpg",
            f"/api/clips/track/{track}",
            f"/api/clips/event/{event}",
            f"/api/health/events/{health}/snapshot.jpg",
            f"/api/search/like/{track}",
            "/api/config/cameras/yard",
            "/api/tracks?camera=yard",
            "/api/events?camera=yard",
        ):
            answer = client.get(path, headers=headers)
            assert answer.status_code == 404, (path, answer.status_code)
            assert answer.json()["error"].endswith("not found")
        assert [c["name"] for c in client.get("/api/cameras", headers=headers).json()] == ["gate"]
        assert {t["camera"] for t in client.get("/api/tracks", headers=headers).json()} == {"gate"}
        assert {e["camera"] for e in client.get("/api/events", headers=headers).json()} == {"gate"}
        hits = client.get("/api/search?q=person", headers=headers).json()["results"]
        assert hits and {h["camera"] for h in hits} == {"gate"}
        assert client.get(f"/api/tracks/{own_track}/thumbnail.jpg", headers=headers).status_code == 200
        assert client.post(f"/api/events/{own_event}/ack", headers=headers).status_code == 403


def test_operator_cannot_change_users_or_privacy(app):
    with TestClient(app) as client:
        headers = bearer(client, "oper")
        body = {"name": "mallory", "password": PASSWORD, "role": "admin"}
        assert client.post("/api/users", json=body, headers=headers).status_code == 403
        assert client.patch("/api/users/2", json={"role": "admin"}, headers=headers).status_code == 403
        assert client.get("/api/audit", headers=headers).status_code == 403
        privacy = {"polygons": []}
        assert (
            client.put("/api/config/cameras/gate/privacy", json=privacy, headers=headers).status_code == 403
        )
        assert client.get("/api/auth/me", headers=headers).json()["user"]["role"] == "operator"


# -- sessions, CSRF, rate limit ---------------------------------------------------------------------


def test_cookie_session_is_httponly_strict_and_needs_csrf(app, seeded):
    store, _settings, _root = seeded
    _track, event = ids(store, "gate")
    with TestClient(app) as client:
        answer = client.post("/api/auth/login", json={"username": "oper", "password": PASSWORD})
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert "Secure" not in cookie  # plain HTTP on 127.0.0.1; --secure-cookies behind TLS
        csrf = answer.json()["csrf_token"]
        assert client.get("/api/events").status_code == 200  # reads need no token
        refused = client.post(f"/api/events/{event}/ack")
        assert refused.status_code == 403 and refused.json()["field"] == "X-CSRF-Token"
        wrong = client.post(f"/api/events/{event}/ack", headers={"x-csrf-token": "x" * 43})
        assert wrong.status_code == 403
        done = client.post(f"/api/events/{event}/ack", headers={"x-csrf-token": csrf})
        assert done.status_code == 200 and done.json()["state"] == "acknowledged"
        assert client.post("/api/auth/logout", headers={"x-csrf-token": csrf}).status_code == 204
        assert client.get("/api/events").status_code == 401


def test_secure_cookie_when_asked(seeded, tmp_path):
    store, settings, _root = seeded
    app = create_app(store, settings, options=ServerOptions(secure_cookies=True))
    with TestClient(app) as client:
        answer = client.post("/api/auth/login", json={"username": "view", "password": PASSWORD})
        assert "Secure" in answer.headers["set-cookie"]


def test_wrong_passwords_are_rate_limited(app):
    with TestClient(app) as client:
        for _ in range(5):
            answer = client.post("/api/auth/login", json={"username": "clear", "password": "wrong-password"})
            assert answer.status_code == 401
            assert answer.json() == {"error": "wrong user name or password", "field": None}
        limited = client.post("/api/auth/login", json={"username": "clear", "password": "wrong-password"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        # even the right password waits: guessing stops paying off
        right = client.post("/api/auth/login", json={"username": "clear", "password": PASSWORD})
        assert right.status_code == 429
        # the address alone has a looser limit: other names still answer until a spray reaches it
        limiter = app.state.ctx.limiter
        spray = [
            client.post("/api/auth/login", json={"username": f"nobody{i}", "password": "whatever"})
            for i in range(limiter.address_max - limiter.max_failures + 1)
        ]
        assert [a.status_code for a in spray] == [401] * (len(spray) - 1) + [429]


def test_expired_session_is_refused_clearly(app, seeded):
    store, _settings, _root = seeded
    with TestClient(app) as client:
        headers = bearer(client, "view")
        assert client.get("/api/cameras", headers=headers).status_code == 200
        token = headers["authorization"][7:]
        found = auth.lookup_session(store.engine, token)
        auth.expire_session_now(store.engine, found[0].id)
        answer = client.get("/api/cameras", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"] == "session expired: sign in again"


def test_disabled_user_loses_sessions(app, seeded):
    store, _settings, _root = seeded
    with TestClient(app) as client:
        user = auth.create_user(store.engine, f"temp{time.monotonic_ns()}", PASSWORD, "viewer")
        headers = {"authorization": f"Bearer {login(client, user['name'], bearer=True)['token']}"}
        admin = bearer(client, "admin")
        assert (
            client.patch(f"/api/users/{user['id']}", json={"disabled": True}, headers=admin).status_code
            == 200
        )
        assert client.get("/api/cameras", headers=headers).status_code == 401


def test_passwords_are_argon2_hashed(seeded):
    store, _settings, _root = seeded
    from sqlalchemy import select

    from scenewatch.store.schema import users

    with store.engine.connect() as conn:
        stored = conn.scalar(select(users.c.password_hash).where(users.c.name == "view"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


# -- bad input ----------------------------------------------------------------------------------------


def test_bad_input_gets_clear_4xx(app):
    with TestClient(app) as client:
        headers = bearer(client, "admin")
        json_headers = {**headers, "content-type": "application/json"}
        malformed = client.post("/api/users", content=b'{"name": "x", ', headers=json_headers)
        assert malformed.status_code == 400 and malformed.json()["error"] == "malformed JSON body"
        too_big = client.post("/api/users", content=b"x" * 2_000_000, headers=json_headers)
        assert too_big.status_code == 413 and "too large" in too_big.json()["error"]
        weak = client.post(
            "/api/users", json={"name": "ok", "password": "short", "role": "viewer"}, headers=headers
        )
        assert weak.status_code == 422 and weak.json()["field"] == "password"
        role = client.post(
            "/api/users", json={"name": "ok", "password": PASSWORD, "role": "god"}, headers=headers
        )
        assert role.status_code == 422 and role.json()["field"] == "role"
        assert client.get("/api/tracks/notanumber", headers=headers).status_code == 422
        assert client.get("/api/tracks?limit=100000", headers=headers).json()["field"] == "limit"
        assert client.get("/api/tracks/999999", headers=headers).status_code == 404
        assert client.get("/api/nothing/here", headers=headers).status_code == 404
        dup = client.post(
            "/api/users", json={"name": "view", "password": PASSWORD, "role": "viewer"}, headers=headers
        )
        assert dup.status_code == 409


@pytest.mark.parametrize(
    "path",
    [
        "/api/media/..%2F..%2Fscenewatch.db",
        "/api/media/thumbnails/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/media/thumbnails%2F..%2F..%2Fscenewatch.db",
        "/api/media/%2Fetc%2Fpasswd",
        "/api/media/thumbnails/gate/..%5C..%5Cscenewatch.db",
        "/api/media/events/gate/%2e%2e/%2e%2e/%2e%2e/scenewatch.db",
        "/api/media/recordings/gate/seg.mp4",
        "/api/media/cache/clips/x.webm",
    ],
)
def test_media_path_traversal_is_refused(app, path):
    with TestClient(app) as client:
        answer = client.get(path, headers=bearer(client, "admin"))
        assert answer.status_code in (400, 404), answer.status_code
        assert answer.headers["content-type"].startswith("application/json")
        assert b"SQLite" not in answer.content and b"root:" not in answer.content


def test_camera_removed_while_viewed(seeded, tmp_path):
    store, settings, _root = seeded
    app = create_app(store, settings, config_path=tmp_path / "c.yaml")
    with TestClient(app) as client:
        headers = bearer(client, "admin")
        assert client.get("/api/cameras/gate/snapshot.jpg", headers=headers).status_code == 200
        app.state.ctx.settings = AppConfig(cameras=[c for c in settings.cameras if c.name != "gate"])
        gone = client.get("/api/cameras/gate/snapshot.jpg", headers=headers)
        # recorded data stays reachable; the live picture of a camera no longer configured does not
        assert gone.status_code == 503 and "gate" in gone.json()["error"]
        assert client.get("/api/config/cameras/gate", headers=headers).status_code == 404


# -- audit -----------------------------------------------------------------------------------------


def test_audit_records_and_detects_tampering(app, seeded):
    store, _settings, _root = seeded
    track, _event = ids(store, "gate")
    with TestClient(app) as client:
        headers = bearer(client, "oper")
        client.get("/api/search?q=person%20in%20red", headers=headers)
        assert client.get(f"/api/clips/track/{track}", headers=headers).status_code == 200
        assert client.get(f"/api/clips/track/{track}?download=true", headers=headers).status_code == 200
        geometry = {"zones": [{"name": "door", "polygon": [[10, 10], [200, 10], [200, 200]]}]}
        assert client.put("/api/config/cameras/gate", json=geometry, headers=headers).status_code == 200
        admin = bearer(client, "admin")
        rows = client.get("/api/audit?limit=20", headers=admin).json()
        mine = [(r["action"], r["target"]) for r in rows if r["user"] == "oper"]
        for expected in (
            ("login", "user:oper"),
            ("search", "search"),
            ("clip_view", f"track:{track}"),
            ("export", f"track:{track}"),
            ("config_change", "camera:gate"),
        ):
            assert expected in mine
        assert next(r for r in rows if r["action"] == "search")["detail"]["text"] == "person in red"
        assert client.get("/api/audit/verify", headers=admin).json()["ok"] is True
        export = client.get("/api/audit/export?format=jsonl", headers=admin)
        lines = [json.loads(line) for line in export.text.splitlines()]
        assert lines[0]["prev_hash"] == audit.GENESIS
        assert all(b["prev_hash"] == a["hash"] for a, b in zip(lines, lines[1:], strict=False))
        # tamper: rewrite the search text of one row
        victim = next(r for r in rows if r["action"] == "search")["id"]
        with store.engine.begin() as conn:
            conn.execute(update(audit_log).where(audit_log.c.id == victim).values(detail={"text": "nothing"}))
        verdict = client.get("/api/audit/verify", headers=admin).json()
        assert verdict["ok"] is False and verdict["first_bad"] == victim
        assert verdict["reason"] == "the row itself was changed"
        # put it back, then delete a row in the middle: the next row no longer links
        with store.engine.begin() as conn:
            conn.execute(
                update(audit_log)
                .where(audit_log.c.id == victim)
                .values(detail={"text": "person in red", "cameras": None})
            )
        assert client.get("/api/audit/verify", headers=admin).json()["ok"] is True
        with store.engine.begin() as conn:
            conn.execute(audit_log.delete().where(audit_log.c.id == victim))
        verdict = client.get("/api/audit/verify", headers=admin).json()
        assert verdict["ok"] is False and verdict["first_bad"] > victim
        assert "changed, deleted or reordered" in verdict["reason"]


def test_audit_chain_survives_concurrent_writers(tmp_path):
    """Two engines on one database stand for two processes: each has its own writer thread, so
    they race for the tail; the chain must stay one line, signed and checkpointed."""
    import threading

    stores = [DataStore.open(tmp_path / "d") for _ in range(2)]
    threads = [
        threading.Thread(
            target=lambda n=n: [audit.append(stores[n % 2].engine, f"u{n}", "search", "s") for _ in range(10)]
        )
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    audit.flush(stores[1].engine)  # the other "process" checkpoints its newest row too
    verdict = audit.verify(stores[0].engine)
    assert verdict["ok"] is True and verdict["rows"] == 40, verdict
    assert verdict["checkpoint"]["rows"] == 40 and verdict["checkpoint"]["head"] == verdict["head"]
    assert verdict["unanchored_before"] is None


# -- privacy masking ------------------------------------------------------------------------------


def detail_energy(image: np.ndarray, box) -> float:
    """Mean absolute Laplacian inside ``box``: high for a sharp person, near 0 for a mosaic."""
    x1, y1, x2, y2 = (int(v) for v in box)
    grey = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())


def shrink(box, by: float = 4.0):
    return box[0] + by, box[1] + by, box[2] - by, box[3] - by


def test_seed_box_is_a_person():
    """The seeded box lies on a walking person of the real frame (lots of detail to hide)."""
    assert detail_energy(read_frame(20), shrink(person_box(20))) > 8


def change(a: np.ndarray, b: np.ndarray, box) -> float:
    """Mean absolute difference of two images inside ``box``."""
    x1, y1, x2, y2 = (int(v) for v in box)
    return float(np.abs(a[y1:y2, x1:x2].astype(int) - b[y1:y2, x1:x2].astype(int)).mean())


def decode(content: bytes):
    return cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR)


def test_people_pixelated_for_masked_users_and_privacy_zones_black_for_all(app, seeded):
    store, _settings, _root = seeded
    _track, event = ids(store, "gate")
    # the event snapshot is the full frame 20 with the person at person_box(20)
    inner = shrink(person_box(20))
    with TestClient(app) as client:
        masked = decode(
            client.get(f"/api/events/{event}/snapshot.jpg", headers=bearer(client, "view")).content
        )
        clear = decode(
            client.get(f"/api/events/{event}/snapshot.jpg", headers=bearer(client, "clear")).content
        )
        original = read_frame(20)
        assert change(clear, original, inner) < 4  # JPEG only
        assert change(masked, original, inner) > 4 * change(clear, original, inner)
        # the rest of the picture is not touched
        assert change(masked, clear, (0, 0, 300, 100)) < 3
        # a privacy zone (admin) is black for everyone, unmasked users included
        zone = {"polygons": [[[0, 0], [200, 0], [200, 150], [0, 150]]]}
        admin = bearer(client, "admin")
        assert client.put("/api/config/cameras/gate/privacy", json=zone, headers=admin).status_code == 200
        try:
            for who in ("view", "clear", "admin"):
                image = decode(
                    client.get(f"/api/events/{event}/snapshot.jpg", headers=bearer(client, who)).content
                )
                assert image[5:145, 5:195].max() < 20, who
                live = decode(
                    client.get("/api/cameras/gate/snapshot.jpg", headers=bearer(client, who)).content
                )
                assert live[5:145, 5:195].max() < 20, who
            health = repo_health_id(store, "gate")  # a half-size snapshot: the zone is scaled
            small = decode(client.get(f"/api/health/events/{health}/snapshot.jpg", headers=admin).content)
            assert small.shape[1] == 384 and small[6:69, 6:94].max() < 30 and small[80:, 110:].max() > 60
        finally:
            client.put("/api/config/cameras/gate/privacy", json={"polygons": []}, headers=admin)


def test_thumbnail_pixelated_for_masked_users(app, seeded):
    store, _settings, _root = seeded
    track, _event = ids(store, "gate")
    with TestClient(app) as client:
        masked = decode(
            client.get(f"/api/tracks/{track}/thumbnail.jpg", headers=bearer(client, "view")).content
        )
        clear = decode(
            client.get(f"/api/tracks/{track}/thumbnail.jpg", headers=bearer(client, "clear")).content
        )
        full = (0, 0, clear.shape[1], clear.shape[0])
        assert masked.shape == clear.shape
        assert change(masked, clear, full) > 10


def clip_frames(content: bytes, tmp_path: Path) -> list[np.ndarray]:
    path = tmp_path / f"clip{time.monotonic_ns()}.webm"
    path.write_bytes(content)
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def test_exported_clip_has_people_pixelated_and_zones_black(app, seeded, tmp_path):
    store, _settings, _root = seeded
    track, _event = ids(store, "gate")
    with TestClient(app) as client:
        answer = client.get(f"/api/clips/track/{track}?before=0&after=0", headers=bearer(client, "view"))
        assert answer.status_code == 200 and answer.headers["content-type"] == "video/webm"
        masked = clip_frames(answer.content, tmp_path)
        clear = clip_frames(
            client.get(f"/api/clips/track/{track}?before=0&after=0", headers=bearer(client, "clear")).content,
            tmp_path,
        )
        assert len(masked) == len(clear) >= 50  # frames 5..60 at 10 frames/s
        # frame 20 of the video is number 15 of the clip (it starts at frame 5)
        inner = shrink(person_box(20))
        original = read_frame(20)
        assert change(clear[15], original, inner) < 8  # VP8 only
        assert change(masked[15], original, inner) > 2.5 * change(clear[15], original, inner)
        assert change(masked[15], clear[15], (0, 0, 300, 100)) < 4
        admin = bearer(client, "admin")
        zone = {"polygons": [[[0, 0], [200, 0], [200, 150], [0, 150]]]}
        client.put("/api/config/cameras/gate/privacy", json=zone, headers=admin)
        try:
            zoned = clip_frames(
                client.get(f"/api/clips/track/{track}?before=0&after=0", headers=admin).content, tmp_path
            )
            assert max(f[8:142, 8:192].max() for f in zoned) < 30
        finally:
            client.put("/api/config/cameras/gate/privacy", json={"polygons": []}, headers=admin)
        assert (
            client.get(f"/api/clips/track/{track}?download=true", headers=bearer(client, "view")).status_code
            == 403
        )


# -- config, retention, live feed -------------------------------------------------------------------


def test_zone_edits_are_validated_and_written_back(app, seeded):
    _store, _settings, _root = seeded
    path = app.state.ctx.config_path
    with TestClient(app) as client:
        headers = bearer(client, "oper")
        body = {
            "zones": [{"name": "door", "polygon": [[100, 100], [300, 100], [300, 400], [100, 400]]}],
            "lines": [{"name": "gateway", "a": [0, 300], "b": [700, 300]}],
            "rules": [{"type": "intrusion", "name": "in-door", "zone": "door"}],
        }
        saved = client.put("/api/config/cameras/gate", json=body, headers=headers)
        assert saved.status_code == 200, saved.text
        written = load_config(path)
        assert [z.name for z in written.camera("gate").zones] == ["door"]
        assert written.camera("gate").rules[0].zone_name == "door"
        assert [c.name for c in written.cameras] == ["gate", "yard"]
        assert client.get("/api/config/cameras/gate", headers=headers).json()["lines"][0]["name"] == "gateway"
        unknown = {**body, "rules": [{"type": "intrusion", "name": "r", "zone": "nowhere"}]}
        refused = client.put("/api/config/cameras/gate", json=unknown, headers=headers)
        assert refused.status_code == 422 and "unknown zone" in refused.json()["error"]
        outside = {"zones": [{"name": "far", "polygon": [[0, 0], [5000, 0], [0, 10]]}]}
        refused = client.put("/api/config/cameras/gate", json=outside, headers=headers)
        assert refused.status_code == 422 and refused.json()["field"] == "zones.far"
        assert [z.name for z in load_config(path).camera("gate").zones] == ["door"]  # nothing lost


def test_search_rule_with_an_unusable_query_is_refused(app, seeded):
    path = app.state.ctx.config_path
    with TestClient(app) as client:
        headers = bearer(client, "oper")
        vague = {"rules": [{"type": "search", "name": "vague", "query": "hello there"}]}
        refused = client.put("/api/config/cameras/gate", json=vague, headers=headers)
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert (
            "'vague'" in error
            and "'hello there'" in error
            and "asks for nothing that can be searched" in error
        )
        assert not path.exists()  # nothing written
        useful = {
            "rules": [{"type": "search", "name": "red", "query": "a person in a red top", "min_score": 0.6}]
        }
        saved = client.put("/api/config/cameras/gate", json=useful, headers=headers)
        assert saved.status_code == 200, saved.text
        assert [(r["type"], r["query"]) for r in saved.json()["rules"]] == [
            ("search", "a person in a red top")
        ]
        assert load_config(path).camera("gate").rules[0].min_score == 0.6


def test_retention_deletes_old_records_and_media(tmp_path):
    store, settings = seed_store(tmp_path / "data")
    app = create_app(store, settings)
    track, _event = ids(store, "gate")
    thumb = store.media.absolute(repo.get_track(store.engine, track, with_boxes=False)["thumbnail"])
    assert thumb.exists()
    with TestClient(app) as client:
        headers = bearer(client, "admin")
        answer = client.put(
            "/api/config/retention", json={"tracks_days": 1, "events_days": 1}, headers=headers
        )
        assert answer.status_code == 200
        assert client.get("/api/tracks", headers=headers).json() == []  # the seed is from 2023
        assert client.get("/api/events", headers=headers).json() == []
        assert not thumb.exists()
        assert client.get("/api/config/retention", headers=headers).json()["tracks_days"] == 1


def test_event_feed_outlives_a_database_that_is_away(seeded, tmp_path):
    """With nobody listening the feed still reads the newest event id; a database away for a
    while (here a file it cannot open) must not end the feed's thread, which would leave every
    later listener without live alerts."""
    import threading

    from sqlalchemy import create_engine

    from scenewatch.notify.stream import AlertStream

    store, _settings, _root = seeded
    feed = EventFeed(store.engine, AlertStream(), interval_s=0.01)
    feed.engine = create_engine(f"sqlite:///{tmp_path / 'gone' / 'scenewatch.db'}")
    stop = threading.Event()
    thread = threading.Thread(target=feed.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(0.2)  # about 20 failed reads
    alive = thread.is_alive()
    feed.engine = store.engine  # the database is back
    time.sleep(0.05)
    stop.set()
    thread.join(timeout=5)
    assert alive and not thread.is_alive()


def test_event_feed_publishes_new_and_changed_events(seeded):
    store, _settings, _root = seeded
    from scenewatch.notify.stream import AlertStream

    hub = AlertStream()
    sub = hub.subscribe()
    feed = EventFeed(store.engine, hub)
    cam = repo.camera_id(store.engine, "yard")
    event = Event(f"feed-{time.monotonic_ns()}", "door", "intrusion", "yard", time.time(), None, [1], {})
    new_id = save_event(store.engine, store.media, event, cam)
    assert feed.poll() == 1
    (kind, body), *_rest = sub.drain()
    assert kind == "alert" and body["id"] == new_id and body["state"] == "new"
    from scenewatch.rules.store import set_event_state

    set_event_state(store.engine, new_id, "acknowledged")
    feed.poll()
    assert any(b["id"] == new_id and b["state"] == "acknowledged" for _k, b in sub.drain())


def test_first_admin_password_printed_once(tmp_path):
    from scenewatch.api.serve import first_admin

    store = DataStore.open(tmp_path / "d")
    said: list[str] = []
    first_admin(store, said.append)
    password = next(line.split(": ")[1] for line in said if "password:" in line)
    assert auth.authenticate(store.engine, "admin", password)["role"] == "admin"
    said.clear()
    first_admin(store, said.append)
    assert said == []


def test_cli_users_commands(run_cli):
    added = run_cli("users", "add", "kim", "--role", "operator", "--camera", "gate", env={}, timeout=60)
    # the password comes from stdin when it is not a terminal; an empty one is refused clearly
    assert added.returncode != 0 and "password too short" in added.stderr
    import subprocess

    from conftest import cli_path

    done = subprocess.run(
        [
            cli_path(),
            "--data",
            str(run_cli.data),
            "users",
            "add",
            "kim",
            "--role",
            "operator",
            "--camera",
            "gate",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    listed = run_cli("users", "list", "--json")
    rows = json.loads(listed.stdout)
    assert rows[0]["name"] == "kim" and rows[0]["cameras"] == ["gate"] and "password_hash" not in rows[0]


# -- fuzzing -----------------------------------------------------------------------------------------


def test_openapi_fuzz_no_server_errors(tmp_path):
    """Every operation of the OpenAPI schema with generated input, as admin: never a 5xx (on a
    store of its own: the fuzzer deletes users and changes passwords)."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, Phase, given, settings

    store, config = seed_store(tmp_path / "data")
    app = create_app(store, config, config_path=tmp_path / "c.yaml")

    with TestClient(app) as client:
        headers = bearer(client, "admin")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    skipped = {
        "/api/auth/logout",
        "/api/events/stream",
        "/api/cameras/{name}/live.mjpeg",
        "/api/live/frames",
        "/api/auth/password",
    }
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in skipped:
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:100]}"
                )

        run()
    assert operations >= 30
    assert failures == []
