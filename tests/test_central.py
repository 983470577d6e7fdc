"""Many edges, one central on PostgreSQL: nothing lost, nothing doubled, one search.

The integration test runs the real commands: a throw-away PostgreSQL cluster, one central server
(`scenewatch serve --central`) and two edges (`scenewatch run --config edge.yaml`) on different
sample videos; PostgreSQL is stopped for 20 s in the middle. The other tests drive the pieces
in-process for the bad inputs: wrong password, forged or stale token, a newer schema, duplicate
camera names, a replaced edge database, an unreachable central, and an outbox resumed on restart.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import VTEST, cli_path, needs_samples
from sqlalchemy import func, insert, select
from support.servers import AppServer

from scenewatch.central import edges as registry
from scenewatch.central import outbox
from scenewatch.central.pg import TempCluster, free_port, pg_bin_dir
from scenewatch.central.sync import EdgeSync, ShipError
from scenewatch.config.central import CentralConfig
from scenewatch.search.index import index_tracks
from scenewatch.store import repo
from scenewatch.store.data import DataStore
from scenewatch.store.db import DatabaseError, head_revision
from scenewatch.store.schema import events, health_events, sync_outbox, tracks

pytest.importorskip("psycopg", reason="psycopg 3 (pip install 'psycopg[binary]') is not installed")
pytestmark = pytest.mark.skipif(
    pg_bin_dir() is None, reason="PostgreSQL server binaries not found (Debian package postgresql)"
)
PASSWORD = "central-admin-pw"


@pytest.fixture(scope="module")
def cluster():
    with TempCluster() as pg:
        yield pg


_databases = iter(range(1000))


@pytest.fixture
def central_url(cluster) -> str:
    n = next(_databases)
    return cluster.create_database(f"central{n}", f"sw{n}", f"pw-{n}")


# ---------------------------------------------------------------- helpers


def _get(url: str, token: str | None = None, timeout: float = 10) -> tuple[int, bytes, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read(), answer.headers.get("content-type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("content-type", "")


def _login(base: str) -> str:
    body = json.dumps({"username": "admin", "password": PASSWORD, "bearer": True}).encode()
    request = urllib.request.Request(
        f"{base}/api/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["token"]


def _wait(predicate, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table).where(*where)) or 0


def _central_counts(engine, edge_name: str) -> dict[str, int]:
    edge_id = next(e for e in _edge_rows(engine) if e["name"] == edge_name)["id"]
    out = {}
    for name, table in (("tracks", tracks), ("events", events), ("health", health_events)):
        with engine.connect() as conn:  # exactly once: no edge row filed twice
            total, distinct = conn.execute(
                select(func.count(), func.count(func.distinct(table.c.edge_row))).where(
                    table.c.edge_id == edge_id
                )
            ).one()
        assert distinct == total, f"{name} of {edge_name} doubled on the central"
        out[name] = total
    return out


def _edge_rows(engine) -> list[dict]:
    from scenewatch.store.schema import edges

    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(edges))]


def _edge_counts(data: Path) -> dict[str, int]:
    store = DataStore.open(data, create=False)
    try:
        return {
            "tracks": _count(store.engine, tracks, tracks.c.finished.is_(True)),
            "events": _count(store.engine, events),
            "health": _count(store.engine, health_events),
        }
    finally:
        store.engine.dispose()


def _edge_config(
    path: Path, name: str, site: str, video: Path, size, central: str, token: str, media_port: int
) -> None:
    w, h = size
    path.write_text(
        f"""
cameras:
  - name: gate
    source: {{url: {video}, realtime: true, loop: true}}
    detect_fps: 4
    zones:
      - {{name: all, polygon: [[0, 0], [{w}, 0], [{w}, {h}], [0, {h}]]}}
    rules:
      - {{type: intrusion, zone: all, classes: [person], cooldown_s: 4}}
central:
  role: edge
  edge_id: {name}
  site: {site}
  central_url: {central}
  token: {token}
  media_listen: 127.0.0.1:{media_port}
  backoff_initial_s: 0.5
  backoff_max_s: 2
"""
    )


# ---------------------------------------------------------------- the integration test


@needs_samples
def test_two_edges_one_central_survive_a_database_outage(cluster, central_url, tmp_path):
    env = dict(os.environ)  # the models where `make models` put them
    env.pop("SCENEWATCH_DATABASE_URL", None)
    central = DataStore.open(tmp_path / "central", database_url=central_url)
    from scenewatch.api import auth

    auth.create_user(central.engine, "admin", PASSWORD, "admin", unmasked=True)
    media_ports = {"edge-a": free_port(), "edge-b": free_port()}
    tokens = {
        name: registry.add_edge(central, name, site, f"http://127.0.0.1:{media_ports[name]}")
        for name, site in (("edge-a", "north"), ("edge-b", "south"))
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []

    def spawn(name: str, *args: str) -> subprocess.Popen:
        out = open(logs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen([cli_path(), *args], stdout=out, stderr=subprocess.STDOUT, env=env, text=True)
        procs.append(proc)
        return proc

    videos = {
        "edge-a": (VTEST, (768, 576)),
        "edge-b": (VTEST, (768, 576)),
    }
    try:
        spawn(
            "central",
            "--data",
            str(tmp_path / "central"),
            "serve",
            "--central",
            "--database-url",
            central_url,
            "--port",
            str(port),
        )

        def central_up() -> bool:
            if not _alive(procs[0]):
                _fail(logs, "central")
            try:
                return _get(f"{base}/api/version")[0] == 200
            except urllib.error.URLError:
                return False

        _wait(central_up, 60, "the central server")
        edges = {}
        for name in tokens:
            config = tmp_path / f"{name}.yaml"
            video, size = videos[name]
            site = "north" if name == "edge-a" else "south"
            _edge_config(config, name, site, video, size, base, tokens[name], media_ports[name])
            edges[name] = spawn(name, "--data", str(tmp_path / name), "run", "--config", str(config))

        def both_shipped() -> bool:
            for name, proc in edges.items():
                if proc.poll() is not None:
                    _fail(logs, name)
            return all(_central_counts(central.engine, n)["tracks"] > 0 for n in tokens)

        _wait(both_shipped, 120, "tracks from both edges on the central")

        # the central database goes away for 20 s; the edges go on analysing and buffering
        before = {n: _edge_counts(tmp_path / n)["tracks"] for n in tokens}
        cluster.stop()
        time.sleep(20)
        during = {n: _edge_counts(tmp_path / n)["tracks"] for n in tokens}
        backlog = {n: _backlog(tmp_path / n) for n in tokens}
        cluster.start()
        assert all(p.poll() is None for p in edges.values()), "an edge stopped while the database was away"
        assert sum(during.values()) > sum(before.values()), (
            f"no analysis during the outage: {before} -> {during}"
        )
        assert sum(backlog.values()) > 0, "nothing was buffered during the outage"

        # back: they catch up; a few more seconds of analysis, then a clean stop (SIGTERM)
        _wait(
            lambda: all(_central_counts(central.engine, n)["tracks"] >= during[n] for n in tokens),
            60,
            "catch-up",
        )
        # one search across both edges, thumbnails fetched from the owning edge (still running)
        token = _login(base)
        status, body, _ = _get(f"{base}/api/central/search?q=person&limit=200", token)
        assert status == 200, body
        hits = json.loads(body)["results"]
        assert {h["edge"] for h in hits} == {"edge-a", "edge-b"}
        assert {h["camera"] for h in hits} == {"north/gate", "south/gate"}
        for name in tokens:
            hit = next(h for h in hits if h["edge"] == name and h["thumbnail_url"])
            status, jpeg, kind = _get(base + hit["thumbnail_url"], token)
            assert status == 200 and kind == "image/jpeg", jpeg[:200]
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None and image.shape[0] > 8
        assert _get(base + hits[0]["thumbnail_url"])[0] == 401  # users only
        with central.engine.connect() as conn:  # event snapshots come from the edges too
            snapped = conn.execute(
                select(events.c.id, events.c.edge_id).where(events.c.snapshot.is_not(None))
            ).all()
        assert {edge_id for _, edge_id in snapped} == {e["id"] for e in _edge_rows(central.engine)}
        status, jpeg, kind = _get(f"{base}/api/central/events/{snapped[0].id}/snapshot", token)
        assert status == 200 and kind == "image/jpeg", jpeg[:200]

        time.sleep(4)
        for proc in edges.values():
            proc.send_signal(signal.SIGTERM)
        for name, proc in edges.items():
            assert proc.wait(timeout=60) == 0, (logs / f"{name}.log").read_text()[-3000:]

        # nothing lost, nothing doubled
        for name in tokens:
            mine = _edge_counts(tmp_path / name)
            assert _backlog(tmp_path / name) == 0, f"{name} left rows in its outbox"
            assert _central_counts(central.engine, name) == mine, name
            assert mine["tracks"] > 0 and mine["events"] > 0
        log_b = (logs / "edge-a.log").read_text() + (logs / "edge-b.log").read_text()
        assert "central database unavailable" in log_b or "unreachable" in log_b, (
            "no outage seen by the edges"
        )

        # an edge that is down: its media answer a clear 502 (nothing about its network), the
        # search still works
        status, body, _ = _get(base + hits[0]["thumbnail_url"], token)
        assert status == 502 and b"did not deliver" in body and b"127.0.0.1" not in body, body
        # operations: `scenewatch edges` on the central
        listed = subprocess.run(
            [cli_path(), "--data", str(tmp_path / "central"), "edges", "--json"],
            capture_output=True,
            text=True,
            env={**env, "SCENEWATCH_DATABASE_URL": central_url},
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        rows = {r["name"]: r for r in json.loads(listed.stdout)}
        assert set(rows) == {"edge-a", "edge-b"}
        assert all(
            r["backlog"] == 0 and r["schema_revision"] == head_revision() and r["cameras"] == 1
            for r in rows.values()
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if not cluster.running():
            cluster.start()
        central.engine.dispose()


def _alive(proc: subprocess.Popen) -> bool:
    return proc.poll() is None


def _fail(logs: Path, name: str):
    raise AssertionError(f"{name} exited:\n" + (logs / f"{name}.log").read_text()[-3000:])


def _backlog(data: Path) -> int:
    store = DataStore.open(data, create=False)
    try:
        return _count(store.engine, sync_outbox)
    finally:
        store.engine.dispose()


# ---------------------------------------------------------------- pieces and bad inputs


class _Central(AppServer):
    """The central app in a thread (uvicorn), for the in-process tests."""

    def __init__(self, store: DataStore):
        from scenewatch.central.server import central_app
        from scenewatch.config import AppConfig

        super().__init__(central_app(store, AppConfig()), "the central app")


def _edge_store(folder: Path, camera: str = "gate", n_tracks: int = 3) -> DataStore:
    store = DataStore.open(folder)
    cam = repo.ensure_camera(store.engine, camera, "file.mp4", 640, 480, 25.0)
    run = repo.start_run(store.engine, cam, "file.mp4", "run")
    outbox.install(store.engine)
    _add_tracks(store, cam, run, n_tracks)
    return store


def _add_tracks(
    store: DataStore, cam: int, run: int, n: int, first: int = 0, thumbnail=lambda _tracker_id: None
) -> None:
    """``n`` finished red-top person tracks, indexed for search; ``thumbnail(tracker_id)`` gives
    each one's media path (None: no thumbnail)."""
    with store.engine.begin() as conn:
        for i in range(first, first + n):
            values = {
                "camera_id": cam,
                "run_id": run,
                "tracker_id": i,
                "class_name": "person",
                "first_ts": 1000.0 + i,
                "last_ts": 1005.0 + i,
                "first_frame": 0,
                "last_frame": 10,
                "detections": 10,
                "score": 0.9,
                "path": [[1000.0 + i, 10.0, 20.0]],
                "thumbnail": thumbnail(i),
                "finished": True,
                "attributes": {"class": "person", "colours": {"upper": {"red": 0.7}}},
            }
            track_id = conn.execute(insert(tracks).values(**values).returning(tracks.c.id)).scalar_one()
            index_tracks(conn, cam, [(track_id, values)])


def _sync(store: DataStore, url: str, name: str, site: str, token: str) -> EdgeSync:
    config = CentralConfig(role="edge", edge_id=name, site=site, central_url=url, token=token)
    sync = EdgeSync(store, config)
    outbox.install(store.engine)
    from scenewatch.central.sync import edge_instance

    sync.instance = edge_instance(store)
    return sync


def test_wrong_database_url_or_password_is_a_clear_error(cluster, central_url, tmp_path):
    wrong = central_url.replace(":pw-", ":not-the-pw-")
    with pytest.raises(DatabaseError, match="password authentication failed"):
        DataStore.open(tmp_path, database_url=wrong)
    assert "not-the-pw" not in str(
        pytest.raises(DatabaseError, DataStore.open, tmp_path, database_url=wrong).value
    )
    nowhere = f"postgresql+psycopg://sw:pw@127.0.0.1:{free_port()}/central"
    with pytest.raises(DatabaseError, match="cannot open database .*refused"):
        DataStore.open(tmp_path, database_url=nowhere)


def test_replays_are_idempotent_and_an_outbox_survives_a_restart(central_url, tmp_path):
    central = DataStore.open(tmp_path / "central", database_url=central_url)
    token = registry.add_edge(central, "e1", "north")
    edge = _edge_store(tmp_path / "edge")
    # central unreachable: the shipment fails, the rows stay queued
    away = _sync(edge, f"http://127.0.0.1:{free_port()}", "e1", "north", token)
    with pytest.raises(ShipError, match="unreachable"):
        away.ship_once()
    assert outbox.backlog(edge.engine) == 5  # camera, run, 3 tracks
    # "restart": a new sync over the same database ships what was left, once
    with _Central(central) as server:
        sync = _sync(edge, server.url, "e1", "north", token)
        assert sync.ship_once() == 5
        assert sync.ship_once() is None
        assert outbox.backlog(edge.engine) == 0
        # the same shipment again (an answer lost on the way): no duplicates
        with edge.engine.begin() as conn:
            conn.execute(insert(sync_outbox), [{"kind": "track", "row_id": i} for i in (1, 2, 3)])
        assert sync.ship_once() == 5  # 3 tracks with their camera and run
        assert _central_counts(central.engine, "e1") == {"tracks": 3, "events": 0, "health": 0}
        with central.engine.connect() as conn:
            from scenewatch.store.schema import track_terms

            assert conn.scalar(select(func.count()).select_from(track_terms)) == 6  # person + red, each once
        from scenewatch.search.engine import search

        hits = search(central, "person in a red top").results
        assert [h.camera for h in hits] == ["north/gate"] * 3


def test_forged_stale_token_newer_schema_and_replaced_database_are_refused(central_url, tmp_path):
    central = DataStore.open(tmp_path / "central", database_url=central_url)
    token = registry.add_edge(central, "e1", "north")
    edge = _edge_store(tmp_path / "edge")
    with _Central(central) as server:
        forged = _sync(edge, server.url, "e1", "north", token[:-4] + "AAAA")
        with pytest.raises(ShipError, match=r"\(401\): wrong or unknown edge token for edge 'e1'") as err:
            forged.ship_once()
        assert err.value.permanent
        unknown = _sync(edge, server.url, "nobody", "north", token)
        with pytest.raises(ShipError, match="wrong or unknown edge token for edge 'nobody'"):
            unknown.ship_once()
        wrong_site = _sync(edge, server.url, "e1", "south", token)
        with pytest.raises(ShipError, match="registered in site 'north'"):
            wrong_site.ship_once()
        newer = _sync(edge, server.url, "e1", "north", token)
        newer._body = _with_schema(newer._body, "0099")
        with pytest.raises(
            ShipError, match=rf"\(409\): edge schema 0099 is newer than the central's \({head_revision()}\)"
        ):
            newer.ship_once()
        assert outbox.backlog(edge.engine) == 5  # nothing refused was dropped
        good = _sync(edge, server.url, "e1", "north", token)
        assert good.ship_once() == 5
        stale = registry.rotate_token(central, "e1") and token
        with pytest.raises(ShipError, match="wrong or unknown edge token"):
            _sync(edge, server.url, "e1", "north", stale).ship_once(heartbeat=True)
        # a wiped edge database (ids from 1 again) must not overwrite what the old one shipped
        fresh_token = registry.rotate_token(central, "e1")
        wiped = _edge_store(tmp_path / "edge-wiped")
        with pytest.raises(ShipError, match="different database than before"):
            _sync(wiped, server.url, "e1", "north", fresh_token).ship_once()
        assert _central_counts(central.engine, "e1")["tracks"] == 3


def _with_schema(body_fn, revision: str):
    def body(batch):
        shipment = json.loads(body_fn(batch))
        shipment["schema"] = revision
        return json.dumps(shipment).encode()

    return body


def test_camera_names_are_site_qualified_and_duplicates_within_a_site_refused(central_url, tmp_path):
    central = DataStore.open(tmp_path / "central", database_url=central_url)
    tokens = {
        ("a", "north"): registry.add_edge(central, "a", "north"),
        ("b", "south"): registry.add_edge(central, "b", "south"),
        ("c", "north"): registry.add_edge(central, "c", "north"),
    }
    with _Central(central) as server:
        shipped = {}
        for (name, site), token in tokens.items():
            store = _edge_store(tmp_path / name, camera="gate", n_tracks=1)
            try:
                shipped[name] = _sync(store, server.url, name, site, token).ship_once()
            except ShipError as exc:
                shipped[name] = str(exc)
    assert shipped["a"] == 3 and shipped["b"] == 3
    assert (
        "(409): camera name 'north/gate' already belongs to edge 'a'; edge 'c' cannot use it" in shipped["c"]
    )
    with central.engine.connect() as conn:
        from scenewatch.store.schema import cameras

        assert sorted(conn.scalars(select(cameras.c.name))) == ["north/gate", "south/gate"]


def test_edge_config_needs_its_settings_and_the_media_endpoint_checks_signatures(tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="an edge needs site, central_url, token"):
        CentralConfig(role="edge", edge_id="e1")
    from scenewatch.central import edge_tokens as tokens
    from scenewatch.central.media import EdgeMediaServer, EdgeUnavailable, fetch_from_edge

    store = DataStore.open(tmp_path)
    relative = "thumbnails/gate/run1/0000/1.jpg"
    store.media.write_jpeg(relative, np.full((32, 16, 3), 200, np.uint8))
    config = CentralConfig(
        role="edge",
        edge_id="e1",
        site="s",
        central_url="http://x",
        token="swe_secret",
        media_listen=f"127.0.0.1:{free_port()}",
    )
    server = EdgeMediaServer(store, config).start()
    try:
        url = config.public_media_url()
        key = tokens.media_key("swe_secret")
        assert fetch_from_edge(url, key, relative).data[:2] == b"\xff\xd8"
        with pytest.raises(EdgeUnavailable, match="did not deliver"):  # the edge answered 403
            fetch_from_edge(url, tokens.media_key("swe_forged"), relative)
        with pytest.raises(EdgeUnavailable, match="not served"):
            fetch_from_edge(url, key, "../scenewatch.db")
        assert _get(f"{url}/media/{relative}")[0] == 403  # unsigned
    finally:
        server.shutdown()


def test_edges_cli_and_edge_config_errors(run_cli, tmp_path):
    added = run_cli("edges", "add", "edge-1", "--site", "north")
    assert added.returncode == 0, added.stderr
    token = added.stdout.split("token: ")[1].split()[0]
    assert token.startswith("swe_")
    again = run_cli("edges", "add", "edge-1", "--site", "north")
    assert again.returncode == 2 and "edge 'edge-1' already exists" in again.stderr
    bad = run_cli("edges", "add", "no/slash", "--site", "north")
    assert bad.returncode == 2 and "bad edge name 'no/slash'" in bad.stderr
    listed = run_cli("edges")
    assert listed.returncode == 0 and "edge-1" in listed.stdout and "never" in listed.stdout
    rotated = run_cli("edges", "rotate", "edge-1")
    assert rotated.returncode == 0 and token not in rotated.stdout
    config = tmp_path / "edge.yaml"
    config.write_text("central: {role: edge, edge_id: e1, site: north}\ncameras: []\n")
    done = run_cli("run", "--config", str(config))
    assert done.returncode == 2 and "an edge needs central_url, token (or token_file)" in done.stderr
