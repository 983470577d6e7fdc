"""The review timeline's API: counts per bucket (tracks in view by class, events by rule), footage
spans, the events page, filters, scoping, bad input, a bounded number of SQL statements whatever
the bucket count, and the clip of the footage from a clicked moment (masked and audited)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import needs_samples
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select, update
from test_api import BASE_TS, bearer, change, clip_frames, person_box, read_frame, seed_store, shrink
from test_central import central_url, cluster  # noqa: F401  (PostgreSQL fixtures)

from scenewatch.api import create_app
from scenewatch.api.context import ServerOptions
from scenewatch.config import AppConfig
from scenewatch.rules.events import Event
from scenewatch.rules.store import save_event
from scenewatch.search.index import reindex
from scenewatch.store import repo
from scenewatch.store.data import DataStore
from scenewatch.store.schema import audit_log, runs, tracks

pytestmark = needs_samples
# Six buckets of 10 s around the seeded gate track (BASE_TS + 0.5 .. + 6) and event (+ 2).
WINDOW = f"start={BASE_TS - 10}&end={BASE_TS + 50}&buckets=6"
EXTRA_TRACKS = [  # class, first, last (seconds from BASE_TS), zones
    ("car", 15.0, 47.0, ["lot"]),  # buckets 2..5
    ("person", -100.0, 12.0, []),  # in view before the window starts: buckets 0..2
    ("person", 60.0, 70.0, []),  # after the window
    ("person", 25.0, 26.0, ["lot"]),  # bucket 3
]
EXTRA_EVENTS = [("lot-loiter", "loitering", 33.0, "lot"), ("lot-loiter", "loitering", 34.0, "lot")]
EXTRA_EVENTS += [("door", "intrusion", 55.0, None)]  # after the window


def seed(root: Path) -> tuple[DataStore, AppConfig]:
    """test_api's store (SCENEWATCH_DATABASE_URL picks its database) with the rows above."""
    store, settings = seed_store(root)
    engine = store.engine
    camera = repo.camera_id(engine, "gate")
    run = repo.start_run(engine, camera, "rtsp://192.0.2.10/stream1", "run")  # a live session, no file
    with engine.begin() as conn:
        for number, (class_name, first, last, zones) in enumerate(EXTRA_TRACKS):
            conn.execute(
                insert(tracks).values(
                    camera_id=camera,
                    run_id=run,
                    tracker_id=100 + number,
                    class_name=class_name,
                    first_ts=BASE_TS + first,
                    last_ts=BASE_TS + last,
                    first_frame=number * 100,
                    last_frame=number * 100 + 10,
                    detections=10,
                    score=0.7,
                    path=[],
                    finished=True,
                    attributes={"zones": zones},
                )
            )
    for number, (rule, kind, at, zone) in enumerate(EXTRA_EVENTS):
        detail = {"zone": zone} if zone else {}
        happened = Event(
            f"review-{number}", rule, kind, "gate", BASE_TS + at, BASE_TS + at + 1, [], detail, None
        )
        save_event(engine, store.media, happened, camera, run)
    reindex(engine)
    return store, settings


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return seed(tmp_path_factory.mktemp("review") / "data")


def serve(store: DataStore, settings: AppConfig, folder: Path) -> TestClient:
    return TestClient(create_app(store, settings, options=ServerOptions(), config_path=folder / "sw.yaml"))


@pytest.fixture
def client(store, tmp_path):
    with serve(*store, tmp_path) as client:
        yield client


def test_buckets_count_tracks_in_view_by_class_and_events_by_rule(client):
    answer = client.get(f"/api/review/gate?{WINDOW}", headers=bearer(client, "admin"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["bucket_s"] == pytest.approx(10.0) and body["buckets"] == 6
    # the seeded track in bucket 1; one from before the window to bucket 2; one in bucket 3
    assert body["track_counts"] == {"car": [0, 0, 1, 1, 1, 1], "person": [1, 2, 1, 1, 0, 0]}
    assert body["event_counts"] == {"door": [0, 1, 0, 0, 0, 0], "lot-loiter": [0, 0, 0, 0, 2, 0]}
    assert [(e["rule"], e["start_ts"] - BASE_TS) for e in body["events"]] == [
        ("door", 2.0),
        ("lot-loiter", 33.0),
        ("lot-loiter", 34.0),
    ]
    assert body["events_next"] is None
    # the indexed file is the footage: from its start for the 100 frames analysed (10 s)
    assert [(s["kind"], s["start"] - BASE_TS, s["end"] - BASE_TS) for s in body["spans"]] == [
        ("file", 0.0, 10.0)
    ]
    assert body["zones"] == ["lot"] and body["rules"] == ["door", "lot-loiter"]
    sample = next(track for bucket, track in body["samples"] if bucket == 1)
    thumbnail = client.get(f"/api/tracks/{sample}/thumbnail.jpg", headers=bearer(client, "admin"))
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"


def test_the_same_counts_on_postgresql(central_url, tmp_path, monkeypatch):  # noqa: F811
    """A central's store: PostgreSQL rounds where SQLite truncates, its JSON reads differ."""
    monkeypatch.setenv("SCENEWATCH_DATABASE_URL", central_url)
    with serve(*seed(tmp_path / "data"), tmp_path) as client:
        admin = bearer(client, "admin")
        body = client.get(f"/api/review/gate?{WINDOW}", headers=admin).json()
        assert body["track_counts"] == {"car": [0, 0, 1, 1, 1, 1], "person": [1, 2, 1, 1, 0, 0]}
        assert body["event_counts"] == {"door": [0, 1, 0, 0, 0, 0], "lot-loiter": [0, 0, 0, 0, 2, 0]}
        assert [s["kind"] for s in body["spans"]] == ["file"]
        in_lot = client.get(f"/api/review/gate?{WINDOW}&zone=lot", headers=admin).json()
        assert in_lot["track_counts"]["person"] == [0, 0, 0, 1, 0, 0] and list(in_lot["event_counts"]) == [
            "lot-loiter"
        ]


def test_one_request_serves_a_whole_day(client):
    day = f"start={BASE_TS - 3600}&end={BASE_TS - 3600 + 86400}&buckets=1440"
    body = client.get(f"/api/review/gate?{day}", headers=bearer(client, "admin")).json()
    person = body["track_counts"]["person"]
    # minute 60 holds the seeded track, the short one at +25 s and the one in view since minute 58;
    # minute 61 the one at +60 s
    assert len(person) == 1440 and person[58:62] == [1, 1, 3, 1] and sum(person) == 6
    assert sum(body["event_counts"]["door"]) == 2 and sum(body["event_counts"]["lot-loiter"]) == 2


def test_filters_by_class_zone_and_rule(client):
    admin = bearer(client, "admin")
    get = lambda query: client.get(f"/api/review/gate?{WINDOW}&{query}", headers=admin).json()  # noqa: E731
    assert get("class=car")["track_counts"] == {"car": [0, 0, 1, 1, 1, 1]}
    in_lot = get("zone=lot")
    assert in_lot["track_counts"] == {"car": [0, 0, 1, 1, 1, 1], "person": [0, 0, 0, 1, 0, 0]}
    assert list(in_lot["event_counts"]) == ["lot-loiter"]
    by_type = get("rule=loitering")  # a rule's type or its name; tracks stay as they are
    assert list(by_type["event_counts"]) == ["lot-loiter"] and len(by_type["events"]) == 2
    assert by_type["track_counts"]["person"] == [1, 2, 1, 1, 0, 0]
    assert [e["rule"] for e in get("rule=door")["events"]] == ["door"]


def test_events_come_a_page_at_a_time(client):
    admin = bearer(client, "admin")
    seen, cursor = [], ""
    for _ in range(5):
        body = client.get(f"/api/review/gate?{WINDOW}&events_limit=1{cursor}", headers=admin).json()
        seen += [e["start_ts"] - BASE_TS for e in body["events"]]
        if body["events_next"] is None:
            break
        cursor = f"&events_after={body['events_next']}"
    assert seen == [2.0, 33.0, 34.0]
    assert sum(body["event_counts"]["lot-loiter"]) == 2  # the counts are of the whole window


def test_scoped_to_the_users_cameras(client):
    viewer = bearer(client, "view")  # granted gate only
    assert client.get(f"/api/review/gate?{WINDOW}", headers=viewer).status_code == 200
    for path in (f"/api/review/yard?{WINDOW}", f"/api/review/nowhere?{WINDOW}", "/api/review/yard/clip?at=1"):
        answer = client.get(path, headers=viewer)
        assert answer.status_code == 404 and answer.json()["error"].endswith("not found"), path
    assert client.get(f"/api/review/yard?{WINDOW}", headers=bearer(client, "admin")).status_code == 200
    assert client.get(f"/api/review/gate?{WINDOW}").status_code == 401


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        (f"start={BASE_TS + 10}&end={BASE_TS}", "start", "before end"),
        (f"start={BASE_TS}&end={BASE_TS + 32 * 86400}", "end", "31 days"),
        (f"start={BASE_TS}&end={BASE_TS + 60}&buckets=0", "buckets", "between 1 and 2000"),
        (f"start={BASE_TS}&end={BASE_TS + 60}&buckets=2001", "buckets", "between 1 and 2000"),
        (f"{WINDOW}&class=unicorn", "class", "unknown class 'unicorn'"),
        (f"{WINDOW}&zone=pool", "zone", "zones: lot"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, query, field, words):
    answer = client.get(f"/api/review/gate?{query}", headers=bearer(client, "admin"))
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field and words in answer.json()["error"]


def test_statements_do_not_grow_with_the_bucket_count(client, store):
    engine = store[0].engine
    admin = bearer(client, "admin")
    counted: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        # the request's own (sync routes and dependencies run in AnyIO's worker threads), not the
        # app's background threads polling the same database
        if threading.current_thread().name.startswith("AnyIO worker"):
            counted.append(statement)

    day = f"start={BASE_TS - 3600}&end={BASE_TS - 3600 + 86400}"
    client.get(f"/api/review/gate?{day}", headers=admin)  # the session's first use writes once more
    statements = []
    event.listen(engine, "before_cursor_execute", count)
    try:
        for buckets in (1, 100, 2000):
            counted.clear()
            answer = client.get(f"/api/review/gate?{day}&buckets={buckets}", headers=admin)
            assert answer.status_code == 200 and len(answer.json()["track_counts"]["person"]) == buckets
            statements.append(len(counted))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert 5 <= statements[0] == statements[1] == statements[2] <= 15, statements


def test_clip_plays_the_footage_from_the_clicked_moment(client, store, tmp_path):
    clear = bearer(client, "clear")  # a viewer of gate who sees people unmasked
    answer = client.get(f"/api/review/gate/clip?at={BASE_TS + 1}&seconds=3", headers=clear)
    assert answer.status_code == 200 and answer.headers["content-type"] == "video/webm", answer.text
    frames = clip_frames(answer.content, tmp_path)
    assert 28 <= len(frames) <= 32  # 3 s at 10 frames/s
    # it starts at 1.0 s into the file (frame 10), not at its start or later
    whole = (0, 0, 768, 576)
    distance = {index: change(frames[0], read_frame(index), whole) for index in (0, 10, 20)}
    assert min(distance, key=distance.get) == 10, distance
    # a masked viewer gets the people pixelated, as in every clip (frame 20 is the clip's 10th)
    masked = clip_frames(
        client.get(
            f"/api/review/gate/clip?at={BASE_TS + 1}&seconds=3", headers=bearer(client, "view")
        ).content,
        tmp_path,
    )
    inner = shrink(person_box(20))
    assert change(masked[10], read_frame(20), inner) > 2.5 * change(frames[10], read_frame(20), inner)
    with store[0].engine.connect() as conn:
        targets = conn.execute(select(audit_log.c.user, audit_log.c.action, audit_log.c.target)).all()
    assert ("clear", "clip_view", f"review:gate:{BASE_TS + 1:.1f}") in targets


def test_clip_refusals(client):
    viewer = bearer(client, "view")
    at = BASE_TS + 1
    answer = client.get(f"/api/review/gate/clip?at={at}&seconds=600", headers=viewer)
    assert answer.status_code == 400 and answer.json()["field"] == "seconds"
    assert client.get(f"/api/review/gate/clip?at={at}&download=true", headers=viewer).status_code == 403
    nothing = client.get(f"/api/review/gate/clip?at={BASE_TS + 5000}&seconds=2", headers=viewer)
    assert nothing.status_code == 404, nothing.text


def test_a_looped_files_later_pass_plays_the_same_moment_of_the_file(tmp_path):
    """A file camera that loops keeps counting frames; a moment of its second pass plays the
    file from the same place in it, not past its end."""
    store, settings = seed_store(tmp_path / "d")
    engine = store.engine
    with engine.connect() as conn:
        gate = conn.execute(select(tracks.c.camera_id, tracks.c.run_id).order_by(tracks.c.id).limit(1)).one()
    frames_in_file = 795  # vtest.avi: 79.5 s at 10 frames/s; its second pass starts at frame 795
    with engine.begin() as conn:
        later = conn.execute(
            insert(tracks)
            .returning(tracks.c.id)
            .values(
                camera_id=gate.camera_id,
                run_id=gate.run_id,
                tracker_id=900,
                class_name="person",
                first_ts=BASE_TS + (frames_in_file + 10) / 10,
                last_ts=BASE_TS + (frames_in_file + 60) / 10,
                first_frame=frames_in_file + 10,
                last_frame=frames_in_file + 60,
                detections=51,
                score=0.8,
                path=[],
                finished=True,
                attributes={},
            )
        ).scalar_one()
        # the run went on into the second pass: its frame count runs past the file's
        conn.execute(update(runs).where(runs.c.id == gate.run_id).values(frames_decoded=frames_in_file + 60))
    with serve(store, settings, tmp_path) as client:
        at = BASE_TS + (frames_in_file + 10) / 10
        answer = client.get(f"/api/review/gate/clip?at={at}&seconds=3", headers=bearer(client, "clear"))
        assert answer.status_code == 200, answer.text
        played = [clip_frames(answer.content, tmp_path)]
        # the track of that pass plays from its own first frame too
        answer = client.get(f"/api/clips/track/{later}?before=0&after=0", headers=bearer(client, "clear"))
        assert answer.status_code == 200, answer.text
        played.append(clip_frames(answer.content, tmp_path))
    whole = (0, 0, 768, 576)
    for frames in played:
        assert len(frames) >= 25
        distance = {index: change(frames[0], read_frame(index), whole) for index in (0, 10, 20, 790)}
        assert min(distance, key=distance.get) == 10, distance
