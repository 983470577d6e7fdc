"""Attacks on the central's media proxy, against a real PostgreSQL central and real edge servers.

An edge that names its own media URL (a local HTTP service, ``file:///etc/passwd#``), a reader of
the central database forging media signatures, an edge address probed through the 502 message,
privacy zones on central images, huge ids, and edge names guessed through the ingest answer.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import httpx
import numpy as np
import pytest
from sqlalchemy import insert, select, update
from test_central import _Central, _sync, central_url, cluster, pytestmark  # noqa: F401 (fixtures)

from scenewatch.api import auth
from scenewatch.central import edge_tokens, outbox
from scenewatch.central import edges as registry
from scenewatch.central.media import NOT_DELIVERED, EdgeMediaServer
from scenewatch.central.pg import free_port
from scenewatch.central.sync import ShipError
from scenewatch.config.central import CentralConfig
from scenewatch.errors import SceneWatchError
from scenewatch.store import repo
from scenewatch.store.data import DataStore
from scenewatch.store.schema import boxes, edges, events, tracks

PASSWORD = "Vq7!rT9#mK2$wL5x-central"
WIDTH, HEIGHT = 640, 480
BOX = (280.0, 100.0, 380.0, 300.0)  # the tracked person, camera pixels
CROP = (270, 80, 390, 320)  # its thumbnail: the box padded by 10 % (tracking/summary.py)


# ---------------------------------------------------------------- a local service the edge points at


class _Bait(ThreadingHTTPServer):
    """An internal HTTP service holding a secret JPEG; counts every request it gets."""

    daemon_threads = True

    def __init__(self, redirect_to: str | None = None):
        self.hits: list[str] = []
        self.redirect_to = redirect_to
        self.secret = cv2.imencode(".jpg", np.full((64, 64, 3), (0, 0, 255), np.uint8))[1].tobytes()
        super().__init__(("127.0.0.1", free_port()), _BaitHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _BaitHandler(BaseHTTPRequestHandler):
    server: _Bait

    def do_GET(self) -> None:  # noqa: N802
        self.server.hits.append(self.path)
        if self.server.redirect_to and not self.path.startswith("/internal"):
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.server.secret)))
        self.end_headers()
        self.wfile.write(self.server.secret)

    def log_message(self, *_args) -> None:
        pass


# ---------------------------------------------------------------- an edge with a thumbnail and a snapshot


def _frame() -> np.ndarray:
    """A bright frame of soft blobs: survives JPEG, and black zones stand out at a glance."""
    small = np.random.default_rng(7).integers(60, 255, (HEIGHT // 16, WIDTH // 16, 3), dtype=np.uint8)
    return cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)


def _edge(folder) -> tuple[DataStore, dict[str, str]]:
    """An edge store with one finished person track (thumbnail + boxes) and one event (snapshot)."""
    store = DataStore.open(folder)
    cam = repo.ensure_camera(store.engine, "gate", "file.mp4", WIDTH, HEIGHT, 25.0)
    run = repo.start_run(store.engine, cam, "file.mp4", "run")
    outbox.install(store.engine)
    frame = _frame()
    thumb = store.media.thumbnail_path("gate", run, 0)
    x1, y1, x2, y2 = CROP
    store.media.write_jpeg(thumb, frame[y1:y2, x1:x2], quality=95)
    key = uuid.uuid4().hex
    snapshot = f"events/gate/2026-12-06/{key}.jpg"
    store.media.write_jpeg(snapshot, frame, quality=95)
    with store.engine.begin() as conn:
        track_id = conn.execute(
            insert(tracks)
            .values(
                camera_id=cam,
                run_id=run,
                tracker_id=0,
                class_name="person",
                first_ts=1000.0,
                last_ts=1001.0,
                first_frame=0,
                last_frame=1,
                detections=1,
                score=0.9,
                path=[[1000.0, 330.0, 300.0]],
                thumbnail=thumb,
                finished=True,
                attributes={"class": "person"},
            )
            .returning(tracks.c.id)
        ).scalar_one()
        x1, y1, x2, y2 = BOX
        conn.execute(
            insert(boxes).values(
                track_id=track_id,
                frame=0,
                ts=1000.0,
                x1=x1,
                y1=y1,
                x2=x2,
                y2=y2,
                score=0.9,
                interpolated=False,
            )
        )
        conn.execute(
            insert(events).values(
                key=key,
                camera_id=cam,
                run_id=run,
                rule="door",
                rule_type="intrusion",
                start_ts=1000.0,
                end_ts=1001.0,
                track_ids=[0],
                detail={},
                snapshot=snapshot,
                state="new",
                created_at=1000.0,
            )
        )
    return store, {"thumbnail": thumb, "snapshot": snapshot}


class _World:
    """A central (PostgreSQL, uvicorn) with edge 'e1' of site 'north', its media server running
    on the URL the admin registered, and its rows shipped."""

    def __init__(self, tmp_path, url: str, media_url: str | None = "auto"):
        self.central = DataStore.open(tmp_path / "central", database_url=url)
        auth.create_user(self.central.engine, "admin", PASSWORD, "admin", unmasked=True)
        self.edge, self.paths = _edge(tmp_path / "edge")
        port = free_port()
        registered = f"http://127.0.0.1:{port}" if media_url == "auto" else media_url
        self.token = registry.add_edge(self.central, "e1", "north", registered)
        config = CentralConfig(
            role="edge",
            edge_id="e1",
            site="north",
            central_url="http://unused",
            token=self.token,
            media_listen=f"127.0.0.1:{port}",
        )
        self.media = EdgeMediaServer(self.edge, config).start()
        self.server = _Central(self.central).__enter__()
        self.sync = _sync(self.edge, self.server.url, "e1", "north", self.token)
        while self.sync.ship_once():
            pass
        self.bearer = self._login()

    def close(self) -> None:
        self.server.__exit__(None, None, None)
        self.media.shutdown()
        self.media.server_close()

    def _login(self) -> str:
        answer = httpx.post(
            f"{self.server.url}/api/auth/login",
            json={"username": "admin", "password": PASSWORD, "bearer": True},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]

    def get(self, path: str) -> httpx.Response:
        return httpx.get(
            self.server.url + path, headers={"Authorization": f"Bearer {self.bearer}"}, timeout=30
        )

    def put(self, path: str, body: dict) -> httpx.Response:
        return httpx.put(
            self.server.url + path, json=body, headers={"Authorization": f"Bearer {self.bearer}"}, timeout=30
        )

    def central_id(self, table) -> int:
        with self.central.engine.connect() as conn:
            return conn.scalar(select(table.c.id).where(table.c.edge_row.is_not(None)))

    def edge_row(self) -> dict:
        with self.central.engine.connect() as conn:
            return dict(conn.execute(select(edges).where(edges.c.name == "e1")).one()._mapping)

    def ship_with(self, **fields) -> str | None:
        """A heartbeat shipment carrying extra top-level ``fields``: the error, or None if filed."""
        body = self.sync._body

        def forged(batch):
            return json.dumps({**json.loads(body(batch)), **fields}).encode()

        self.sync._body = forged
        try:
            self.sync.ship_once(heartbeat=True)
            return None
        except ShipError as exc:
            return str(exc)
        finally:
            self.sync._body = body


@pytest.fixture
def world(tmp_path, central_url):  # noqa: F811 (the fixture)
    made = _World(tmp_path, central_url)
    yield made
    made.close()


def _image(answer: httpx.Response) -> np.ndarray:
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg", answer.text[:300]
    image = cv2.imdecode(np.frombuffer(answer.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


# ---------------------------------------------------------------- the tests


def test_a_shipped_media_url_is_never_fetched_nor_served(world):
    bait = _Bait()
    try:
        thumb = f"/api/central/thumbnails/{world.central_id(tracks)}"
        registered = world.edge_row()["media_url"]
        for forged in (f"{bait.url}/internal.jpg#", "file:///etc/passwd#"):
            world.ship_with(media_url=forged)  # refused or filed: either way it must not count
            assert world.edge_row()["media_url"] == registered
            image = _image(world.get(thumb))
            # the edge's own thumbnail (noise), not the bait's red square nor /etc/passwd
            x1, y1, x2, y2 = CROP
            assert image.shape[:2] == (y2 - y1, x2 - x1)
            assert np.abs(image.astype(int) - _frame()[y1:y2, x1:x2]).mean() < 12
        # a URL an edge wrote before the upgrade, still in the database: refused, not opened
        with world.central.engine.begin() as conn:
            conn.execute(update(edges).values(media_url=f"file:///etc/passwd#{bait.url}"))
        refused = world.get(thumb)
        assert refused.status_code == 502 and "root:" not in refused.text
        assert bait.hits == []
    finally:
        bait.shutdown()


def test_the_media_url_comes_from_the_admin_and_is_checked(run_cli):
    for bad, why in (
        ("file:///etc/passwd#", "scheme 'file' is not allowed"),
        ("http://127.0.0.1:18099/internal.jpg#", "a fragment (#) is not allowed"),
        ("http://user:pw@edge.example:8090", "user name or password"),
        ("https://edge.example:8090/?x=1", "a query (?) is not allowed"),
        ("http://edge.example:99999", "the port must be a number"),
    ):
        done = run_cli("edges", "add", "e1", "--site", "north", "--media-url", bad)
        assert done.returncode == 2 and f"bad --media-url {bad!r}: {why}" in done.stderr, done.stderr
    added = run_cli("edges", "add", "e1", "--site", "north")
    assert added.returncode == 0 and "edges set e1 --media-url" in added.stdout, added.stderr
    refused = run_cli("edges", "set", "e1", "--media-url", "gopher://edge.example:70")
    assert refused.returncode == 2 and "scheme 'gopher' is not allowed" in refused.stderr
    done = run_cli("edges", "set", "e1", "--media-url", "https://edge-1.example:8090/")
    assert done.returncode == 0, done.stderr
    nobody = run_cli("edges", "set", "e9", "--media-url", "https://edge-9.example:8090")
    assert nobody.returncode == 2 and "no edge named 'e9'" in nobody.stderr
    listed = json.loads(run_cli("edges", "--json").stdout)
    assert [(e["name"], e["media_url"]) for e in listed] == [("e1", "https://edge-1.example:8090")]


def test_a_database_reader_cannot_sign_media_requests(world):
    row = world.edge_row()
    path = world.paths["thumbnail"]
    media = world.edge_row()["media_url"] + "/media/" + path

    def status(key: bytes, expires: float | None = None, old_format: bool = False) -> int:
        exp, sig = edge_tokens.sign(key, path, expires)
        if old_format:  # the scheme before: HMAC(token_hash, "path\nexp")
            import hashlib
            import hmac

            sig = hmac.new(key, f"{path}\n{exp}".encode(), hashlib.sha256).hexdigest()
        return httpx.get(media, params={"exp": exp, "sig": sig}, timeout=10).status_code

    good = registry.media_key(world.central, "e1", row["token_nonce"])
    assert status(good) == 200
    # what the database holds: the token's hash and the nonce, in every shape a forger would try
    for key in (row["token_hash"].encode(), row["token_nonce"].encode(), bytes.fromhex(row["token_hash"])):
        assert status(key, old_format=True) == 403
        assert status(key) == 403
    # a signature's life is short: three years ahead, six minutes ahead and an expired one
    assert status(good, time.time() + 3 * 365 * 86400) == 403
    assert status(good, time.time() + 360) == 403
    assert status(good, time.time() - 1) == 403
    # a rotated token takes its media key with it
    registry.rotate_token(world.central, "e1")
    assert status(registry.media_key(world.central, "e1", world.edge_row()["token_nonce"])) == 403


def test_a_502_says_nothing_about_the_edge_network(world):
    thumb = f"/api/central/thumbnails/{world.central_id(tracks)}"
    closed = free_port()
    redirecting = _Bait(redirect_to="/internal/secret.jpg")
    bodies = {}
    try:
        for name, url in (
            ("closed", f"http://127.0.0.1:{closed}"),
            ("redirect", redirecting.url),
            ("unresolvable", "http://no-such-host.invalid:8090"),
        ):
            registry.set_media_url(world.central.engine, "e1", url)
            answer = world.get(thumb)
            assert answer.status_code == 502, (name, answer.text)
            bodies[name] = answer.json()
        assert all(body == bodies["closed"] for body in bodies.values()), bodies
        text = json.dumps(bodies["closed"])
        assert NOT_DELIVERED in text
        for leak in ("127.0.0.1", str(closed), "refused", "rrno", "invalid", "302", "ocation"):
            assert leak not in text, leak
        assert [h for h in redirecting.hits if h.startswith("/internal")] == []  # redirect not followed
    finally:
        redirecting.shutdown()


def test_privacy_zones_are_black_on_central_thumbnails_and_snapshots(world):
    # the edge's admin hides the left of the frame; the central's admin the right strip
    repo.set_setting(
        world.edge.engine, "privacy_zones", {"gate": [[[0, 0], [320, 0], [320, 480], [0, 480]]]}, "admin"
    )
    camera = next(c for c in world.get("/api/cameras").json() if c["name"] == "north/gate")
    put = world.put(
        f"/api/config/cameras/{camera['id']}/privacy",
        {"polygons": [[[560, 0], [640, 0], [640, 480], [560, 480]]]},
    )
    assert put.status_code == 200, put.text
    assert world.get(f"/api/config/cameras/{camera['id']}/privacy").json()["polygons"][0][0] == [560, 0]

    snap = _image(world.get(f"/api/central/events/{world.central_id(events)}/snapshot")).astype(int)
    assert snap.shape[:2] == (HEIGHT, WIDTH)
    assert snap[:, :316].max() < 40  # the edge's zone
    assert snap[:, 564:].max() < 40  # the central's zone
    assert snap[:, 330:550].mean() > 100  # the rest untouched

    thumb = _image(world.get(f"/api/central/thumbnails/{world.central_id(tracks)}")).astype(int)
    inside = 320 - CROP[0]  # the zone's edge, in crop pixels
    assert thumb[:, : inside - 4].max() < 40
    assert thumb[:, inside + 4 :].mean() > 100


def test_huge_and_negative_ids_are_404_or_422(world):
    for path in (
        f"/api/central/thumbnails/{2**70}",
        f"/api/central/events/{2**70}/snapshot",
        "/api/central/thumbnails/-1",
        f"/api/central/events/{2**63}/snapshot",
        f"/api/cameras/{2**70}",
    ):
        assert world.get(path).status_code in (404, 422), path


def test_unknown_edge_and_wrong_token_get_the_same_answer(world):
    answers = {}
    for name, token in (("e1", edge_tokens.PREFIX + "A" * 43), ("nobody", world.token)):
        request = urllib.request.Request(
            f"{world.server.url}/api/central/ingest",
            data=world.sync._body(None).replace(b'"edge":"e1"', f'"edge":"{name}"'.encode()),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=10)
        answers[name] = (err.value.code, err.value.read().decode().replace(f"'{name}'", "'?'"))
    assert answers["e1"] == answers["nobody"], answers
    assert answers["e1"][0] == 401 and "wrong or unknown edge token" in answers["e1"][1]


def test_camera_ids_address_central_cameras_without_revealing_hidden_ones(world):
    camera = next(c for c in world.get("/api/cameras").json() if c["name"] == "north/gate")
    assert world.get(f"/api/cameras/{camera['id']}").json()["name"] == "north/gate"
    auth.create_user(world.central.engine, "viewer", PASSWORD, "viewer", cameras=["south/yard"])
    token = httpx.post(
        f"{world.server.url}/api/auth/login",
        json={"username": "viewer", "password": PASSWORD, "bearer": True},
        timeout=10,
    ).json()["token"]
    for path in (f"/api/cameras/{camera['id']}", f"/api/config/cameras/{camera['id']}/privacy"):
        hidden = httpx.get(world.server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert hidden.status_code == 404 and "gate" not in hidden.text, hidden.text


def test_the_upgrade_forgets_media_urls_that_edges_wrote(tmp_path):
    from alembic import command

    from scenewatch.store.db import _alembic_config

    store = DataStore.open(tmp_path)
    config = _alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0008")
        conn.execute(
            insert(edges).values(
                name="old", site="north", token_hash="0" * 64, created_at=1.0, media_url="file:///etc/passwd#"
            )
        )
        command.upgrade(config, "head")
    with store.engine.connect() as conn:
        row = conn.execute(select(edges.c.media_url, edges.c.token_nonce)).one()
    assert tuple(row) == (None, None)
    with pytest.raises(SceneWatchError, match=r"scenewatch edges rotate old"):
        registry.media_key(store, "old", row.token_nonce)  # no usable key until rotated
