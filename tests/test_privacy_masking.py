"""Privacy masking fails closed: clips and images keep no readable detail of people for users
without 'unmasked', also where the detector missed frames, where boxes are gone, and on a central
that holds no video of what its edges shipped.

Detail is measured as the mean of min(|dx|, |dy|) over a box: a mosaic cell is flat inside and
its edges run in one direction at a time, so only cell corners count; a person in the clear (or
behind a 2 px mosaic) has detail in both directions nearly everywhere. The bounds were picked from
the real footage (figures below): a masked person scores well under half of what a 2 px mosaic
(faces readable) scores; the clear person scores 5-7.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import needs_samples

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402
from test_api import (  # noqa: E402
    BASE_TS,
    FPS,
    PASSWORD,
    SAMPLE,
    bearer,
    clip_frames,
    decode,
    detail_energy,
    ids,
    person_box,
    read_frame,
    seed_store,
    shrink,
)
from test_recording import add_person, clip, record_file  # noqa: E402, F401 (clip: a fixture)

from scenewatch.api import auth, create_app  # noqa: E402
from scenewatch.api.sightings import EXTEND_S, HOLD_S, SPREAD, Sightings  # noqa: E402
from scenewatch.config import AppConfig  # noqa: E402
from scenewatch.rules.events import Event  # noqa: E402
from scenewatch.rules.store import save_event  # noqa: E402
from scenewatch.store import repo  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402
from scenewatch.store.schema import boxes, cameras, edges, events, runs, tracks  # noqa: E402

pytestmark = needs_samples
# Fine detail in a masked person's box, as the real mosaic gives it (as a 2 px mosaic gives it):
SNAPSHOT_MAX = 2.0  # a snapshot: 1.3 (3.8)
THUMB_MAX = 3.0  # a thumbnail, small JPEG with more ringing: 2.4 (4.0)
CLIP_MAX = 3.2  # one clip frame (VP8): up to 2.6 (4.6-4.9 on the frames 12-15) ...
CLIP_MEAN_MAX = 2.4  # ... and over the walker's frames 11-22: 1.5-1.7 (3.7)
CLEAR_MIN = 4.0  # the same person in the clear: the measure does see them
SNAPSHOT_ENERGY_MAX = 22.0  # detail_energy (mean |Laplacian|): masked 15.5, 2 px mosaic 32, clear 42


def fine_detail(image: np.ndarray, box) -> float:
    """Mean of min(|dx|, |dy|) of the grey image inside ``box`` (see the module docstring)."""
    x1, y1, x2, y2 = (int(v) for v in box)
    grey = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY).astype(np.float32)
    dx = np.abs(np.diff(grey, axis=1))[:-1, :]
    dy = np.abs(np.diff(grey, axis=0))[:, :-1]
    return float(np.minimum(dx, dy).mean())


BACKGROUND = (40, 40, 300, 200)  # trees and a building top left, never a person in these frames
# The person walking left through test_api's PERSON box, as centernet finds them frame by frame
# (about 10 px a frame); past frame 22 they walk behind the signpost.
WALKER = {
    11: (541, 235, 570, 325), 12: (531, 235, 564, 327), 13: (514, 236, 546, 324),
    14: (508, 234, 534, 322), 15: (497, 236, 526, 323), 16: (482, 235, 523, 322),
    17: (471, 236, 505, 319), 18: (463, 232, 495, 316), 19: (456, 230, 489, 318),
    20: (441, 233, 476, 315), 21: (432, 234, 468, 315), 22: (430, 234, 461, 313),
}  # fmt: skip


def walker(frame: int) -> tuple[float, float, float, float]:
    return tuple(float(v) for v in WALKER[frame])


def add_track(
    store: DataStore, camera: str, first: int, last: int, boxed: list[int], box_of=walker
) -> tuple[int, int, int]:
    """A person track of ``camera`` (indexed from the sample file) over frames [first, last] with
    boxes ``box_of(frame)`` on the ``boxed`` frames only; returns (camera id, run id, track id)."""
    cam = repo.ensure_camera(store.engine, camera, str(SAMPLE), 768, 576, FPS)
    run = repo.start_run(store.engine, cam, str(SAMPLE), "index")
    with store.engine.begin() as conn:
        track = conn.execute(
            insert(tracks)
            .values(camera_id=cam, run_id=run, tracker_id=1, class_name="person",
                    first_ts=BASE_TS + first / FPS, last_ts=BASE_TS + last / FPS, first_frame=first,
                    last_frame=last, detections=len(boxed), score=0.8, path=[[BASE_TS, 450.0, 270.0]],
                    thumbnail=None, finished=True, attributes={})
            .returning(tracks.c.id)
        ).scalar_one()  # fmt: skip
        if boxed:
            conn.execute(
                insert(boxes),
                [dict(track_id=track, frame=f, ts=BASE_TS + f / FPS, x1=box_of(f)[0], y1=box_of(f)[1],
                      x2=box_of(f)[2], y2=box_of(f)[3], score=0.8, interpolated=False) for f in boxed],
            )  # fmt: skip
    repo.end_run(store.engine, run, "done", 100, 100)
    return cam, run, track


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    """The seeded edge store plus one camera per case below, a masked and an unmasked viewer of
    every camera."""
    store, settings = seed_store(tmp_path_factory.mktemp("masking") / "data")
    cases = {
        # the first box on frame 14 (the walker is in view from 11), boxes missed on frames 16-18,
        # none after 22 (the walker goes behind the signpost) while the track lasts to frame 60
        "gaps": add_track(store, "gaps", 11, 60, [14, 15, 19, 20, 21, 22]),
        # the detector's box 10 % tighter than the person on each side
        "tight": add_track(store, "tight", 11, 22, list(range(11, 23)), lambda f: shrink_by(walker(f), 0.1)),
        # the walker as detected on every frame
        "exact": add_track(store, "exact", 11, 22, list(range(11, 23))),
        # a track whose boxes are gone (never stored, or deleted)
        "bare": add_track(store, "bare", 11, 40, []),
    }
    cam, run, _track = cases["bare"]
    event = Event("bare-e1", "door", "intrusion", "bare", BASE_TS + 1.1, BASE_TS + 2.2, [1], {})
    window = {"path": str(SAMPLE), "start_s": 1.1, "end_s": 2.2}
    save_event(store.engine, store.media, event, cam, run, window)
    # an event whose track is gone (retention deleted tracks before events): its snapshot stays
    cam = repo.ensure_camera(store.engine, "gone", str(SAMPLE), 768, 576, FPS)
    run = repo.start_run(store.engine, cam, str(SAMPLE), "index")
    event = Event(
        "gone-e1", "door", "intrusion", "gone", BASE_TS + 2.0, BASE_TS + 2.0, [1], {}, read_frame(20)
    )
    save_event(store.engine, store.media, event, cam, run)
    auth.create_user(store.engine, "watch", PASSWORD, "viewer")
    auth.create_user(store.engine, "sees", PASSWORD, "viewer", unmasked=True)
    return store, settings, {name: track for name, (_c, _r, track) in cases.items()}


def shrink_by(box, fraction: float):
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * fraction, (y2 - y1) * fraction
    return x1 + dx, y1 + dy, x2 - dx, y2 - dy


def frames(client: TestClient, url: str, who: str, folder: Path) -> list[np.ndarray]:
    answer = client.get(url, headers=bearer(client, who))
    assert answer.status_code == 200, answer.text
    return clip_frames(answer.content, folder)


# -- the measure, on snapshots, thumbnails and clip frames ---------------------------------------


def test_masked_images_and_clip_frames_keep_no_fine_detail(edge, tmp_path):
    """An absolute bound: a 2 px mosaic (faces readable) fails it, the real mosaic passes."""
    store, settings, cases = edge
    track, event = ids(store, "gate")
    box = shrink(person_box(20))
    with TestClient(create_app(store, settings)) as client:
        shots = {
            who: decode(client.get(f"/api/events/{event}/snapshot.jpg", headers=bearer(client, who)).content)
            for who in ("view", "clear")
        }
        assert fine_detail(shots["clear"], box) > CLEAR_MIN
        assert fine_detail(shots["view"], box) < SNAPSHOT_MAX
        assert detail_energy(shots["view"], box) < SNAPSHOT_ENERGY_MAX < detail_energy(shots["clear"], box)
        thumbs = {
            who: decode(client.get(f"/api/tracks/{track}/thumbnail.jpg", headers=bearer(client, who)).content)
            for who in ("view", "clear")
        }
        inner = (2, 2, thumbs["clear"].shape[1] - 2, thumbs["clear"].shape[0] - 2)
        assert fine_detail(thumbs["clear"], inner) > CLEAR_MIN
        assert fine_detail(thumbs["view"], inner) < THUMB_MAX
        url = f"/api/clips/track/{cases['exact']}?before=0&after=0"  # frames 11-22 of the video
        masked, clear = frames(client, url, "watch", tmp_path), frames(client, url, "sees", tmp_path)
    assert min(fine_detail(f, shrink(walker(11 + k), 2)) for k, f in enumerate(clear[:12])) > CLEAR_MIN
    kept = [fine_detail(f, shrink(walker(11 + k), 1)) for k, f in enumerate(masked[:12])]
    assert max(kept) < CLIP_MAX and np.mean(kept) < CLIP_MEAN_MAX, f"masked clip frames keep {kept}"


# -- the edge: missed detections, padding, no boxes -----------------------------------------------


def test_clip_masks_a_person_the_detector_missed_for_a_moment(edge, tmp_path):
    """Boxes missing for 0.3 s before a track's first box and for 0.3 s in its middle: the walker
    is still pixelated where they really are; a long gap inside the track masks the whole frame."""
    store, settings, cases = edge
    url = f"/api/clips/track/{cases['gaps']}?before=0.5&after=0"  # frames 6-60
    with TestClient(create_app(store, settings)) as client:
        masked, clear = frames(client, url, "watch", tmp_path), frames(client, url, "sees", tmp_path)
    assert len(masked) == len(clear) >= 50

    def person(video: list[np.ndarray], frame: int) -> float:
        return fine_detail(video[frame - 6], shrink(walker(frame), 2))

    for f in (11, 12, 13, 16, 17, 18):  # missed: before the first box, then in a short gap
        assert person(clear, f) > CLEAR_MIN  # the walker is there
        assert person(masked, f) < CLIP_MAX, f"frame {f}: the missed walker is in the clear"
    # known boxes: only the walker is pixelated, the rest of the picture stays as it is
    for f in (15, 20):
        assert fine_detail(masked[f - 6], BACKGROUND) > 0.8 * fine_detail(clear[f - 6], BACKGROUND)
    # no box for longer than the hold inside the track: where the person is is not known
    for f in range(28, 56, 3):
        assert fine_detail(masked[f - 6], BACKGROUND) < 0.3 * fine_detail(clear[f - 6], BACKGROUND)


def test_padding_covers_a_person_larger_than_the_detection(edge, tmp_path):
    store, settings, cases = edge
    url = f"/api/clips/track/{cases['tight']}?before=0&after=0"  # frames 11-22
    with TestClient(create_app(store, settings)) as client:
        masked = frames(client, url, "watch", tmp_path)
    assert len(masked) >= 11
    for k, image in enumerate(masked[:12]):
        whole = shrink(walker(11 + k), 1)  # the person, not the detector's tighter box
        assert fine_detail(image, whole) < CLIP_MAX, f"frame {11 + k}: the person's edge is sharp"


def test_clips_without_boxes_are_pixelated_whole_for_masked_users(edge, tmp_path):
    """A track whose boxes are gone, and an event whose track is gone: nobody's place is known,
    so every frame is pixelated whole for a masked user (and left clear for an unmasked one)."""
    store, settings, cases = edge
    with TestClient(create_app(store, settings)) as client:
        event = client.get("/api/events?camera=bare", headers=bearer(client, "watch")).json()[0]["id"]
        for url in (f"/api/clips/track/{cases['bare']}?before=0&after=0", f"/api/clips/event/{event}"):
            masked, clear = frames(client, url, "watch", tmp_path), frames(client, url, "sees", tmp_path)
            assert len(masked) == len(clear) >= 11  # both start at frame 11
            for image, plain in zip(masked, clear, strict=True):
                assert fine_detail(image, BACKGROUND) < 0.3 * fine_detail(plain, BACKGROUND), url
            for f in range(11, 23):
                assert fine_detail(clear[f - 11], shrink(walker(f), 2)) > CLEAR_MIN, url
                assert fine_detail(masked[f - 11], shrink(walker(f), 2)) < CLIP_MAX, url


def test_event_snapshot_whose_tracks_are_gone_is_pixelated_whole(edge):
    store, settings, _cases = edge
    with TestClient(create_app(store, settings)) as client:
        event = client.get("/api/events?camera=gone", headers=bearer(client, "watch")).json()[0]["id"]
        shots = {
            who: decode(client.get(f"/api/events/{event}/snapshot.jpg", headers=bearer(client, who)).content)
            for who in ("watch", "sees")
        }
    person = shrink(walker(20), 2)
    assert fine_detail(shots["sees"], person) > CLEAR_MIN
    assert fine_detail(shots["watch"], person) < SNAPSHOT_MAX
    assert fine_detail(shots["watch"], BACKGROUND) < 0.3 * fine_detail(shots["sees"], BACKGROUND)


def test_sightings_carry_boxes_over_short_gaps_for_every_track_at_once():
    """Two tracks: one with a short gap (bridged by the union of the boxes around it), one with a
    long gap (unknown inside it); holds before the first and after the last box."""
    owner = np.array([0, 0, 1, 1])
    times = np.array([0.0, HOLD_S, 0.0, HOLD_S + 1.0])
    box = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [100, 100, 110, 110], [100, 100, 110, 110]])
    seen = Sightings(np.array([[0.0, HOLD_S], [0.0, HOLD_S + 1.0]]), owner, times, box)
    assert seen.at(HOLD_S / 2) is None  # track 1 is in view, its place unknown
    short = Sightings(seen.spans[:1], owner[:2], times[:2], box[:2])
    assert short.at(HOLD_S / 2).tolist() == [[0, 0, 30, 10]]
    grown = EXTEND_S / 2 * SPREAD * 10  # held boxes grow with the time held
    assert short.at(-EXTEND_S / 2).tolist() == [[-grown, -grown, 10 + grown, 10 + grown]]
    assert short.at(HOLD_S + EXTEND_S / 2).tolist() == [[20 - grown, -grown, 30 + grown, 10 + grown]]
    assert short.at(HOLD_S + 2 * EXTEND_S).shape == (0, 4)
    assert seen.at(0.0).shape == (2, 4)
    assert Sightings.unknown().at(0.0) is None
    assert seen.fingerprint() != short.fingerprint()


def test_recorded_clip_places_people_from_its_first_frame(clip, tmp_path):  # noqa: F811 (the fixture)
    """A clip cut from recordings starts at the keyframe before the asked start (here 0.8 s
    early): people are placed from the cut's real first frame, not from the asked start."""
    store = DataStore.open(tmp_path / "data")
    camera, recorder = record_file(store, clip, 3.0)  # a keyframe every second
    t0 = recorder.segments[0].start
    box = (100.0, 60.0, 220.0, 180.0)
    track = add_person(store, camera, box, t0 + 5.0, t0 + 5.4)
    auth.create_user(store.engine, "watch", PASSWORD, "viewer")
    auth.create_user(store.engine, "sees", PASSWORD, "viewer", unmasked=True)
    url = f"/api/clips/track/{track}?before=0.2&after=0.2"  # asks for t0 + 4.8 ... t0 + 5.6
    with TestClient(create_app(store, AppConfig())) as client:
        masked, clear = frames(client, url, "watch", tmp_path), frames(client, url, "sees", tmp_path)
    assert len(masked) == len(clear) >= 40  # from the keyframe at t0 + 4.0

    def hidden(at: float) -> float:  # how much masking changed the box at wall time t0 + at
        i = round((at - 4.0) * 25)
        x1, y1, x2, y2 = (int(v) for v in box)
        return float(np.abs(masked[i][y1:y2, x1:x2].astype(int) - clear[i][y1:y2, x1:x2]).mean())

    assert min(hidden(at) for at in (5.0, 5.2, 5.4)) > 10  # the person is there
    assert max(hidden(at) for at in (4.0, 4.2, 4.4)) < 3  # nobody yet


# -- the central: no video, no path an edge sent -------------------------------------------------


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """Every video file PyAV opens during the test (the real av.open runs)."""
    seen: list[str] = []
    real = av.open

    def spy(target, *args, **kwargs):
        seen.append(str(target))
        return real(target, *args, **kwargs)

    monkeypatch.setattr(av, "open", spy)
    return seen


def test_central_refuses_clips_of_edge_rows_and_never_opens_their_paths(tmp_path, opened):
    """A central's store holding an edge's camera, run, track and event, whose run source and clip
    path name a real video on the central's disk, with no boxes: a masked viewer (and an admin)
    get a clear refusal naming the edge, and the file is never opened."""
    from scenewatch.central.server import central_app

    store = DataStore.open(tmp_path / "central")
    with store.engine.begin() as conn:
        edge_id = conn.execute(
            insert(edges)
            .values(name="e1", site="north", token_hash="0" * 64, created_at=time.time())
            .returning(edges.c.id)
        ).scalar_one()
    cam, run, track = add_track(store, "north/gate", 11, 40, [])
    event = Event("e1-9", "door", "intrusion", "north/gate", BASE_TS + 2.0, BASE_TS + 3.0, [1], {})
    event_id = save_event(
        store.engine, store.media, event, cam, run, {"path": str(SAMPLE), "start_s": 2, "end_s": 3}
    )
    with store.engine.begin() as conn:
        for table, row in ((cameras, cam), (runs, run), (tracks, track), (events, event_id)):
            conn.execute(update(table).where(table.c.id == row).values(edge_id=edge_id, edge_row=row))
    auth.create_user(store.engine, "admin", PASSWORD, "admin")
    auth.create_user(store.engine, "watch", PASSWORD, "viewer", cameras=["north/gate"])
    with TestClient(central_app(store, AppConfig())) as client:
        for who in ("watch", "admin"):
            for url in (f"/api/clips/track/{track}", f"/api/clips/event/{event_id}"):
                answer = client.get(url, headers=bearer(client, who))
                assert answer.status_code == 404, f"{who}: {url} served {answer.headers['content-type']}"
                assert answer.json()["error"].startswith("clips stay on edge 'e1'; open them there")
    assert str(SAMPLE) not in opened
    assert not store.media.absolute("cache").exists()  # nothing cut or rendered


def test_central_on_postgres_refuses_clips_of_shipped_rows(tmp_path, opened):
    """The same through a real shipment into PostgreSQL: the edge's run source and event clip
    path arrive on the central; its clip routes refuse them without opening anything."""
    pytest.importorskip("psycopg", reason="psycopg 3 (pip install 'psycopg[binary]') is not installed")
    from scenewatch.central.pg import TempCluster, pg_bin_dir

    if pg_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries not found (Debian package postgresql)")
    with TempCluster() as cluster:
        _ship_and_ask(cluster.create_database("masking", "swmask", "pw-mask"), tmp_path)
    assert str(SAMPLE) not in opened


def _ship_and_ask(central_url: str, tmp_path: Path) -> None:
    from test_central import _Central, _get, _sync

    from scenewatch.central import edges as registry
    from scenewatch.central import outbox

    edge = DataStore.open(tmp_path / "edge")
    outbox.install(edge.engine)
    cam, run, _track = add_track(edge, "gate", 11, 22, list(range(11, 23)))
    event = Event("gate-e1", "door", "intrusion", "gate", BASE_TS + 2.0, BASE_TS + 3.0, [1], {})
    save_event(edge.engine, edge.media, event, cam, run, {"path": str(SAMPLE), "start_s": 2, "end_s": 3})
    central = DataStore.open(tmp_path / "central", database_url=central_url)
    token = registry.add_edge(central, "e1", "north")
    auth.create_user(central.engine, "watch", PASSWORD, "viewer", cameras=["north/gate"])
    with _Central(central) as server:
        sync = _sync(edge, server.url, "e1", "north", token)
        while sync.ship_once():
            pass
        with central.engine.connect() as conn:
            track = conn.scalar(select(tracks.c.id).where(tracks.c.edge_id.is_not(None)))
            event_id = conn.scalar(select(events.c.id).where(events.c.edge_id.is_not(None)))
            source = conn.scalar(select(runs.c.source).where(runs.c.edge_id.is_not(None)))
        assert track is not None and event_id is not None and source == str(SAMPLE)
        login = json.dumps({"username": "watch", "password": PASSWORD, "bearer": True}).encode()
        request = urllib.request.Request(
            f"{server.url}/api/auth/login", data=login, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            key = json.loads(answer.read())["token"]
        for url in (f"/api/clips/track/{track}", f"/api/clips/event/{event_id}"):
            status, body, kind = _get(server.url + url, key)
            assert status == 404, f"{url} served {kind}"
            assert json.loads(body)["error"].startswith("clips stay on edge 'e1'")
    assert not central.media.absolute("cache").exists()


@needs_samples
def test_the_live_view_masks_people_before_the_tracker_reports_them(tmp_path):
    # a person is masked from the first frame the detector keeps them, not once their track is
    # confirmed (a track needs several detections, and a still one more evidence than that)
    import threading

    from conftest import VTEST

    from scenewatch.api.live_frames import LiveFrames
    from scenewatch.config import AppConfig, CameraConfig
    from scenewatch.config.source import SourceConfig
    from scenewatch.pipeline import run_cameras
    from scenewatch.store.data import DataStore
    from scenewatch.vision.labels import class_id

    person = class_id("person")
    live = LiveFrames()
    reported: dict[int, int] = {}  # frame index -> people the tracker reported
    masked: dict[int, int] = {}  # frame index -> people boxes the live view masks

    def tracked_people(frame, tracked, _finished) -> None:
        reported[frame.index] = int((tracked.class_ids == person).sum())

    enough = threading.Event()  # the run stops once enough frames were seen (a slow machine: later)

    def live_people(frame, _detected, _tracked) -> None:
        latest = live.latest("gate")
        masked[frame.index] = 0 if latest is None else len(latest.people)
        if len(masked) >= 12:
            enough.set()

    settings = AppConfig(cameras=[CameraConfig(name="gate", source=SourceConfig(url=str(VTEST)))])
    run_cameras(
        DataStore.open(tmp_path / "data"),
        settings,
        enough,
        duration=60,
        track_observers={"gate": [tracked_people]},
        detection_observers={"gate": [live.observer("gate"), live_people]},
    )
    frames = sorted(set(masked) & set(reported))
    assert len(frames) >= 10
    assert all(masked[i] >= reported[i] for i in frames)
    first = frames[0]
    assert reported[first] == 0 and masked[first] >= 3  # vtest opens on several walkers
