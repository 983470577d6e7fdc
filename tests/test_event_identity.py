"""Events name the stored track they show: over a real clip with rules (indexed, and played as a
live camera), crowds naming everyone they counted, through id switches the rules stitch over and
blips finishing would drop, in the API and on the alerts page."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import MOT, VTEST, needs_models, needs_mot, needs_samples
from fastapi.testclient import TestClient

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.eval.identity import names_its_track
from scenewatch.flow.finish import FinishStage
from scenewatch.rules.engine import RuleEngine
from scenewatch.rules.events import Event
from scenewatch.rules.store import EventRecorder, get_event, list_events, save_event
from scenewatch.store import repo
from scenewatch.store.data import DataStore
from scenewatch.store.writer import TrackWriter
from scenewatch.tracking import FinishedTrack, finish_track
from scenewatch.types import Detections, Frame

PASSWORD = "correct-horse-battery"
WIDTH, HEIGHT = 768, 576  # vtest.avi
SCENE = [[0, 0], [WIDTH - 1, 0], [WIDTH - 1, HEIGHT - 1], [0, HEIGHT - 1]]
RULES = [
    {"type": "intrusion", "zone": "scene", "cooldown_s": 0},
    {"type": "loitering", "zone": "scene", "time_s": 3.0, "cooldown_s": 0},
    {"type": "line_crossing", "line": "middle", "cooldown_s": 0},
]


def campus(source: dict) -> CameraConfig:
    """vtest.avi with an intrusion zone over the whole view, loitering in it and a line across."""
    return CameraConfig.model_validate(
        {
            "name": "campus",
            "source": source,
            "zones": [{"name": "scene", "polygon": SCENE, "inertia": 2}],
            "lines": [{"name": "middle", "a": [WIDTH // 2, 0], "b": [WIDTH // 2, HEIGHT - 1]}],
            "rules": RULES,
        }
    )


def assert_every_event_names_its_track(store: DataStore) -> list[dict]:
    """Each event's first stored track (as shown) has a box within 3 frames of the frame the rule
    fired on, overlapping the event's box by IoU >= 0.5 (``scenewatch.eval.identity``)."""
    rows = list_events(store.engine, limit=10_000)
    assert rows, "the clip raised no event"
    with store.engine.connect() as conn:
        wrong = [r for r in rows if not names_its_track(conn, r, r["stored_track_ids"])]
    assert not wrong, [
        (r["id"], r["rule"], r["track_ids"], r["stored_track_ids"], r["detail"]) for r in wrong
    ]
    return rows


# -- the real pipeline over a real clip -------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The first 30 s of vtest.avi (people crossing the campus road), cut without re-encoding."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not found (Debian package ffmpeg)")
    path = tmp_path_factory.mktemp("clip") / "vtest-30s.avi"
    command = [
        "ffmpeg",
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        str(VTEST),
        "-t",
        "30",
        "-c",
        "copy",
        str(path),
    ]
    subprocess.run(command, check=True)
    return path


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, clip) -> DataStore:
    from scenewatch.pipeline import index_file

    store = DataStore.open(tmp_path_factory.mktemp("identity") / "data")
    settings = AppConfig(cameras=[campus({"url": str(clip)})])
    index_file(store, settings, clip, "campus", detect_fps=5)
    return store


@needs_samples
@needs_models
def test_indexed_events_name_their_stored_track(indexed):
    rows = assert_every_event_names_its_track(indexed)
    assert {r["rule_type"] for r in rows} >= {"intrusion", "line_crossing"}


@needs_samples
@needs_models
def test_live_camera_events_name_their_stored_track(tmp_path, clip):
    from scenewatch.pipeline import run_cameras

    store = DataStore.open(tmp_path / "data")
    settings = AppConfig(cameras=[campus({"url": str(clip), "realtime": True})])
    stop = threading.Event()

    def enough_events() -> None:  # a few seconds of events, however fast the machine detects
        while not stop.wait(0.5):
            if len(list_events(store.engine)) >= 5:
                stop.set()

    watcher = threading.Thread(target=enough_events, daemon=True)
    watcher.start()
    run_cameras(store, settings, stop, duration=60)
    stop.set()
    watcher.join(10)
    assert_every_event_names_its_track(store)


@needs_samples
@needs_models
def test_api_detail_names_the_shown_stored_track(indexed, clip):
    from scenewatch.api import auth, create_app

    auth.create_user(indexed.engine, "identity-viewer", PASSWORD, "viewer")
    app = create_app(indexed, AppConfig(cameras=[campus({"url": str(clip)})]))
    with TestClient(app) as client:
        login = {"username": "identity-viewer", "password": PASSWORD, "bearer": True}
        token = client.post("/api/auth/login", json=login).json()["token"]
        headers = {"authorization": f"Bearer {token}"}
        listed = client.get("/api/events?limit=500", headers=headers).json()
        assert listed
        for item in listed:
            detail = client.get(f"/api/events/{item['id']}", headers=headers).json()
            assert (
                detail["track_ids"]
                == item["track_ids"]
                == get_event(indexed.engine, item["id"])["stored_track_ids"]
            )
            track = client.get(f"/api/tracks/{detail['track_ids'][0]}", headers=headers).json()
            assert track["camera"] == "campus"


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@needs_samples
@needs_models
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Chromium not found at {CHROMIUM}")
def test_alerts_page_names_the_track_the_api_names(indexed, clip, artifacts_dir):
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    from support.servers import AppServer

    from scenewatch.api import auth, create_app

    auth.create_user(indexed.engine, "identity-admin", PASSWORD, "admin")
    app = create_app(indexed, AppConfig(cameras=[campus({"url": str(clip)})]))
    with AppServer(app, "the identity server") as server, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
        page.goto(server.url + "/ui/login.html")
        page.fill("#username", "identity-admin")
        page.fill("#password", PASSWORD)
        page.click("#submit")
        page.wait_for_url("**/index.html")
        page.goto(server.url + "/ui/alerts.html")
        page.wait_for_selector("[data-event]", timeout=60_000)
        # the snapshots on view (the page loads the others as they scroll near)
        page.wait_for_function(
            "[...document.querySelectorAll('.alert img')].filter(i => i.getBoundingClientRect().top < innerHeight)"
            ".every(i => i.complete && i.naturalWidth > 0)",
            timeout=60_000,
        )
        folder = artifacts_dir / "ui"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "event-identity-alerts.png"))
        cards = page.query_selector_all("[data-event]")
        assert cards
        for card in cards:
            event = get_event(indexed.engine, int(card.get_attribute("data-event")))
            shown = f"tracks {', '.join(map(str, event['stored_track_ids'])) or '-'}"
            assert shown in card.inner_text(), (shown, card.inner_text())
        browser.close()


# -- id switches and blips: the recorder and finishing stage on given tracks ----------------------


def person(x: float, y: float = 300.0) -> list[float]:
    return [x - 20, y - 100, x + 20, y]


def play(store: DataStore, config: CameraConfig, frames: list[list[tuple[int, list[float]]]]) -> None:
    """Run the finishing stage and the event recorder as a camera run does, over tracked frames at
    10 fps (each a list of (tracker id, box)); a track ends 0.5 s after its last box."""
    camera_id = repo.ensure_camera(store.engine, config.name, "file", 640, 480, 10.0)
    run_id = repo.start_run(store.engine, camera_id, "file", "index")
    stage = FinishStage(
        TrackWriter(store, config.name, camera_id, run_id),
        finisher=lambda track: finish_track(track, max_gap=1.0, min_hits=3),
    )
    recorder = EventRecorder(store, RuleEngine(config, (640, 480)), camera_id, run_id, None)
    history: dict[int, list[tuple[int, list[float]]]] = {}
    image = np.zeros((480, 640, 3), np.uint8)
    for index, rows in enumerate([*frames, *([[]] * 6)]):
        t = 1_000_000.0 + index / 10
        for tid, box in rows:
            history.setdefault(tid, []).append((index, box))
        tracked = Detections(
            [b for _, b in rows] or np.zeros((0, 4)), [0.9] * len(rows), [0] * len(rows), [i for i, _ in rows]
        )
        ended = [tid for tid, seen in history.items() if seen[-1][0] == index - 5]
        finished = [finished_track(tid, history.pop(tid)) for tid in ended]
        frame = Frame(image, config.name, index, t, index / 10)
        stage.add(frame, tracked, finished)
        recorder(frame, tracked, finished)
    stage.finish([finished_track(tid, seen) for tid, seen in history.items()])
    stage.close()
    recorder.close()


def finished_track(tid: int, seen: list[tuple[int, list[float]]]) -> FinishedTrack:
    frames = np.array([i for i, _ in seen])
    return FinishedTrack(
        tid,
        0,
        1_000_000.0 + frames / 10,
        frames,
        np.array([b for _, b in seen], np.float32),
        np.full(len(seen), 0.9),
    )


def test_an_event_after_an_id_switch_names_the_track_on_view(tmp_path):
    """Tracker id 1 is lost at x = 250 and the person comes back as id 2, which the rules carry on
    as identity 1: the crossing at x = 300 shows track 2's box, so it names track 2."""
    store = DataStore.open(tmp_path / "data")
    config = CameraConfig.model_validate(
        {
            "name": "door",
            "source": {"url": "door.mp4"},
            "lines": [
                {"name": "door", "a": [300, 100], "b": [300, 450], "positive": "in", "negative": "out"}
            ],
            "rules": [{"type": "line_crossing", "line": "door", "cooldown_s": 0}],
        }
    )
    xs = np.linspace(100, 500, 41)
    frames = [[(1 if i <= 15 else 2, person(x))] if not 15 < i < 19 else [] for i, x in enumerate(xs)]
    play(store, config, frames)
    rows = list_events(store.engine)
    assert [r["rule_type"] for r in rows] == ["line_crossing"]
    with store.engine.connect() as conn:
        tracker = conn.exec_driver_sql(
            "select tracker_id from tracks where id = ?", (rows[0]["stored_track_ids"][0],)
        )
        assert tracker.scalar() == 2
        assert names_its_track(conn, rows[0], rows[0]["stored_track_ids"])


def test_a_blip_that_raised_an_event_is_kept_and_other_blips_are_dropped(tmp_path):
    """Two 2-detection tracks (finishing drops tracks under 3): the one inside the zone raised an
    intrusion and stays stored; the one outside is dropped."""
    store = DataStore.open(tmp_path / "data")
    config = CameraConfig.model_validate(
        {
            "name": "yard",
            "source": {"url": "yard.mp4"},
            "zones": [{"name": "yard", "polygon": [[0, 0], [300, 0], [300, 479], [0, 479]], "inertia": 1}],
            "rules": [{"type": "intrusion", "zone": "yard", "cooldown_s": 0}],
        }
    )
    frames = [[(1, person(100)), (2, person(500))], [(1, person(102)), (2, person(502))]]
    play(store, config, frames)
    with store.engine.connect() as conn:
        stored = [r[0] for r in conn.exec_driver_sql("select tracker_id from tracks").all()]
    assert stored == [1]
    assert_every_event_names_its_track(store)


def test_an_event_is_shown_again_once_its_track_is_stored(tmp_path):
    """An event saved before its track's first row: published with no track, then again naming it."""
    from scenewatch.api.feed import EventFeed
    from scenewatch.notify.stream import AlertStream

    store = DataStore.open(tmp_path / "data")
    camera_id = repo.ensure_camera(store.engine, "gate", "file", 640, 480, 10.0)
    run_id = repo.start_run(store.engine, camera_id, "file", "index")
    hub = AlertStream()
    sub = hub.subscribe()
    feed = EventFeed(store.engine, hub)
    event = Event("identity-feed", "door", "intrusion", "gate", time.time(), None, [7], {})
    event_id = save_event(store.engine, store.media, event, camera_id, run_id)
    assert feed.poll() == 1
    assert [b["track_ids"] for _k, b in sub.drain()] == [[]]
    writer = TrackWriter(store, "gate", camera_id, run_id)
    frame = Frame(np.zeros((480, 640, 3), np.uint8), "gate", 0, time.time(), 0.0)
    writer.add(frame, Detections([person(100)], [0.9], [0], [7]))
    writer.flush()
    assert feed.poll() == 1
    (_kind, body), *_ = sub.drain()
    assert (
        body["id"] == event_id and body["track_ids"] == get_event(store.engine, event_id)["stored_track_ids"]
    )
    assert len(body["track_ids"]) == 1
    assert feed.poll() == 0  # shown once more, not again and again


# -- crowds: everyone counted, where each was seen ------------------------------------------------

CAMPUS_MOT = MOT / "TUD-Campus" / "TUD-Campus.mp4"  # 640x480, 71 frames at 25 fps: a group walks by


@pytest.fixture(scope="module")
def crowded(tmp_path_factory) -> DataStore:
    """TUD-Campus indexed with crowd rules over its pavement: people walk out of view while the
    group is counted (a counted person stays counted for a second after its last sighting)."""
    from scenewatch.pipeline import index_file

    if not CAMPUS_MOT.is_file():
        pytest.skip(f"team data not found: {CAMPUS_MOT} (set SCENEWATCH_SHARED)")
    config = CameraConfig.model_validate(
        {
            "name": "pavement",
            "source": {"url": str(CAMPUS_MOT)},
            "zones": [{"name": "pavement", "polygon": [[0, 300], [639, 300], [639, 479], [0, 479]]}],
            "rules": [
                {"type": "crowd", "name": f"crowd{n}", "zone": "pavement", "count": n, "time_s": 1.0}
                for n in (2, 3, 4, 5, 6)
            ],
        }
    )
    store = DataStore.open(tmp_path_factory.mktemp("crowded") / "data")
    index_file(store, AppConfig(cameras=[config]), CAMPUS_MOT, "pavement")
    return store


@needs_mot
@needs_models
def test_crowd_events_name_each_counted_track_where_it_was_seen(crowded):
    """Every crowd event's named tracks show the people it counted, each where the event says it
    was last seen; some were counted off the frame that raised the event (they had walked out of
    view), and their stored tracks show them there, not on that frame."""
    rows = assert_every_event_names_its_track(crowded)
    assert {r["rule_type"] for r in rows} == {"crowd"}
    off_frame = [
        seen for r in rows for seen in r["detail"]["seen"] if seen["frame"] < r["detail"]["frame"] - 3
    ]
    assert off_frame, [r["detail"] for r in rows]


@needs_mot
@needs_models
def test_a_crowd_event_naming_its_people_in_the_wrong_order_fails_the_check(crowded):
    """The check is per person: the same stored tracks named against each other's sightings do not
    name them."""
    rows = list_events(crowded.engine, limit=1000)
    swappable = [
        r
        for r in rows
        if len(r["stored_track_ids"]) >= 2
        and r["detail"]["seen"][0]["frame"] == r["detail"]["seen"][1]["frame"] == r["detail"]["frame"]
    ]
    assert swappable, [r["detail"] for r in rows]
    with crowded.engine.connect() as conn:
        for row in swappable:
            first, second, *rest = row["stored_track_ids"]
            assert names_its_track(conn, row, row["stored_track_ids"])
            assert not names_its_track(conn, row, [second, first, *rest])
