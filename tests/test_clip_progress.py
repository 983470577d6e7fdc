"""Clips: the renderer's progress (frames done of total) through ``?part=progress``, alert clips
rendered ahead of time after an event is stored, in a process apart from the server's (and never
an unmasked render for a masked user), the matched object's boxes over the clip's time
(``?part=boxes``, scoped like the clip), and the search API's camera and time pickers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import VTEST, needs_samples
from test_api import (
    BASE_TS,
    FPS,
    bearer,
    change,
    clip_frames,
    ids,
    person_box,
    read_frame,
    seed_store,
    shrink,
)

from scenewatch.api import clipper, create_app, privacy
from scenewatch.api.context import ServerOptions

pytestmark = needs_samples
pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    store, settings = seed_store(root / "data")
    return store, settings


def make_app(seeded):
    store, settings = seeded
    return create_app(store, settings, options=ServerOptions(login_max_failures=50))


def cached(store) -> set[Path]:
    folder = store.media.absolute("cache/clips")
    return set(folder.glob("*.webm")) if folder.is_dir() else set()


def poll(client: TestClient, url: str, headers: dict) -> list[dict]:
    """Every progress answer until the clip is finished (or the deadline passes)."""
    seen: list[dict] = []
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        answer = client.get(url + "?part=progress", headers=headers)
        assert answer.status_code == 200, answer.text
        seen.append(answer.json())
        if seen[-1]["stage"] in ("ready", "failed", "waiting"):
            break
        time.sleep(0.05)
    return seen


# -- progress ---------------------------------------------------------------------------------------


def test_renderer_reports_frames_done_of_total(tmp_path):
    """The total is known from the first frame on and the count reaches it."""
    seen: list[tuple[int, int]] = []
    progress = clipper.Progress()

    def people(_t: float):
        seen.append((progress.done, progress.total))
        return np.zeros((0, 4))

    mask = privacy.Mask((), True, None)
    with clipper.reporting(progress):
        clipper.render(VTEST, 1.5, 4.0, tmp_path / "c.webm", mask, people)
    assert progress.stage == "ready"
    assert progress.done == progress.total == len(seen) == 26  # frames 15..40 at 10 frames/s
    assert seen[0] == (0, 26)  # the total before the first frame is written
    assert [d for d, _ in seen] == list(range(26))


def test_progress_reaches_ready_then_the_clip_plays(seeded, tmp_path):
    store, _settings = seeded
    _track, event = ids(store, "yard")
    with TestClient(make_app(seeded)) as client:
        view = bearer(client, "admin")
        before = cached(store)
        url = f"/api/clips/event/{event}"
        seen = poll(client, url, view)
        assert seen[-1]["stage"] == "ready", seen
        assert {"done", "total", "elapsed_s", "message"} <= set(seen[-1])
        rendered = cached(store) - before
        assert len(rendered) == 1  # rendered by the progress request, before the video was asked for
        if len(seen) > 1:  # watched while it rendered: frames counted up to the total
            assert seen[-1]["done"] == seen[-1]["total"] == 26
        answer = client.get(url, headers=view)
        assert answer.status_code == 200 and answer.headers["content-type"] == "video/webm"
        assert answer.content == next(iter(rendered)).read_bytes()  # served from what was rendered
        assert len(clip_frames(answer.content, tmp_path)) == 26


def test_progress_of_a_clip_the_user_may_not_see_is_not_found(seeded):
    store, _settings = seeded
    _track, event = ids(store, "yard")
    with TestClient(make_app(seeded)) as client:
        answer = client.get(f"/api/clips/event/{event}?part=progress", headers=bearer(client, "view"))
        assert answer.status_code == 404
        assert client.get(f"/api/clips/event/{event}?part=progress").status_code == 401


# -- ahead of time ----------------------------------------------------------------------------------


def test_alert_clip_is_rendered_ahead_and_masked_users_get_the_masked_one(seeded, tmp_path):
    from scenewatch.rules.events import Event
    from scenewatch.rules.store import save_event
    from scenewatch.store import repo

    store, _settings = seeded
    app = make_app(seeded)  # events stored from now on are rendered ahead
    camera = repo.camera_id(store.engine, "gate")
    run = repo.list_tracks(store.engine, camera="gate")[0]["run_id"]
    with TestClient(app) as client:
        before = cached(store)
        event = Event(
            f"ahead-{time.monotonic_ns()}",
            "door",
            "intrusion",
            "gate",
            BASE_TS + 2.2,
            BASE_TS + 3.0,
            [1],
            {},
            read_frame(22),
        )
        event_id = save_event(
            store.engine, store.media, event, camera, run, {"path": str(VTEST), "start_s": 1.0, "end_s": 3.5}
        )
        deadline = time.monotonic() + DEADLINE_S
        while len(cached(store) - before) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        ahead = cached(store) - before
        # gate is seen by masked users (oper, view) and unmasked ones (admin, clear): one of each
        assert len(ahead) == 2, "the event's clips were not rendered ahead of time"
        by_content = {p.read_bytes(): p for p in ahead}
        masked = client.get(f"/api/clips/event/{event_id}", headers=bearer(client, "view"))
        clear = client.get(f"/api/clips/event/{event_id}", headers=bearer(client, "clear"))
        assert masked.status_code == clear.status_code == 200
        assert masked.content in by_content and clear.content in by_content  # played at once
        assert masked.content != clear.content
        assert cached(store) - before == ahead  # nothing rendered on request
        # by a process of its own, which reports what it did
        prerender = app.state.prerender
        assert prerender.pid is not None and prerender.pid != os.getpid()
        deadline = time.monotonic() + DEADLINE_S
        while prerender.rendered < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert prerender.rendered == 1 and prerender.last_id == event_id
    # and the masked one really hides the person: frame 20 is the clip's 10th (it starts at 1.0 s)
    inner, original = shrink(person_box(20)), read_frame(20)
    masked_frame = clip_frames(masked.content, tmp_path)[10]
    clear_frame = clip_frames(clear.content, tmp_path)[10]
    assert change(masked_frame, original, inner) > 2.5 * change(clear_frame, original, inner)


def test_prerender_queue_is_bounded_and_keeps_the_newest(seeded):
    from scenewatch.api.clip_prerender import MAX_PENDING, ClipPrerender

    app = make_app(seeded)
    worker = ClipPrerender(app.state.ctx)
    worker.last_id -= 1  # pretend one stored event is new ...
    worker.poll(time.time())
    newest = max(worker.pending)
    for extra in range(1, MAX_PENDING + 5):  # ... then far more than the queue holds arrive
        worker.pending[newest + extra] = (0.0, 0.0)
    worker.poll(time.time())
    assert len(worker.pending) == MAX_PENDING and worker.skipped >= 5
    assert max(worker.pending) == newest + MAX_PENDING + 4  # the oldest were skipped


def test_the_prerender_process_takes_the_changed_config_and_stops_when_told(seeded):
    """What the server sends the pre-rendering process: the config of now (cameras, recording),
    then stop; a server gone (its end of the pipe closed) stops it too."""
    import multiprocessing
    import threading

    from scenewatch.api.clip_prerender import _commands
    from scenewatch.api.context import ServerContext
    from scenewatch.config import AppConfig

    store, settings = seeded
    ctx = ServerContext(store=store, settings=settings, options=ServerOptions())
    changed = AppConfig(cameras=settings.cameras[:1])
    for last in ("stop", None):
        received, sent = multiprocessing.Pipe(duplex=False)
        stop = threading.Event()
        reader = threading.Thread(target=_commands, args=(received, ctx, stop), daemon=True)
        reader.start()
        sent.send(("settings", changed))
        if last:
            sent.send((last,))
        else:
            sent.close()
        assert stop.wait(DEADLINE_S)
        assert ctx.settings == changed and ctx.settings is not changed  # a copy came through the pipe
        ctx.settings = settings


# -- boxes ------------------------------------------------------------------------------------------


def test_boxes_over_the_clip_time_scoped_like_the_clip(seeded):
    from scenewatch.rules.store import get_event

    store, _settings = seeded
    track, event = ids(store, "gate")
    _yard_track, yard_event = ids(store, "yard")
    with TestClient(make_app(seeded)) as client:
        view = bearer(client, "view")  # gate only
        answer = client.get(f"/api/clips/event/{event}?part=boxes", headers=view)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["width"], body["height"]) == (768, 576)
        [only] = body["tracks"]
        assert only["track_id"] == track and only["class"] == "person"
        # the event's clip is 2.5 s of the file (e.g. 1.5 s to 4.0 s: frames 15..40, clip time 0..2.5)
        first_frame = round(get_event(store.engine, event)["clip"]["start_s"] * FPS)
        first, last = only["boxes"][0], only["boxes"][-1]
        assert first[0] == pytest.approx(0.0) and last[0] == pytest.approx(2.5)
        assert first[1:5] == pytest.approx(person_box(first_frame), abs=0.1)
        assert len(only["boxes"]) == 26
        # a track's clip starts 2 s before it (at 0 s of the file): its first box at frame 5
        answer = client.get(f"/api/clips/track/{track}?part=boxes", headers=view)
        assert answer.json()["tracks"][0]["boxes"][0][0] == pytest.approx(5 / FPS)
        # another camera's event: as if it did not exist, exactly like its clip
        for part in ("boxes", "video"):
            refused = client.get(f"/api/clips/event/{yard_event}?part={part}", headers=view)
            assert refused.status_code == 404
        assert client.get(f"/api/clips/event/{event}?part=boxes").status_code == 401


# -- search pickers ---------------------------------------------------------------------------------


def found(client: TestClient, headers: dict, query: str) -> list[str]:
    answer = client.get("/api/search?q=person" + query, headers=headers)
    assert answer.status_code == 200, answer.text
    return [h["camera"] for h in answer.json()["results"]]


def test_search_honours_the_camera_and_time_pickers(seeded):
    with TestClient(make_app(seeded)) as client:
        admin = bearer(client, "admin")
        assert sorted(found(client, admin, "")) == ["gate", "yard"]
        assert found(client, admin, "&cameras=yard") == ["yard"]
        assert sorted(found(client, admin, "&cameras=yard&cameras=gate")) == ["gate", "yard"]
        # yard's track starts 100 s after gate's: a window from 50 s excludes the older one
        assert found(client, admin, f"&start={BASE_TS + 50}") == ["yard"]
        assert found(client, admin, f"&end={BASE_TS + 50}") == ["gate"]
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_TS + 50))
        assert found(client, admin, f"&start={iso}") == ["yard"]
        # the picked window is part of the reading shown, and narrows the text's own camera
        answer = client.get(f"/api/search?q=person&start={BASE_TS + 50}", headers=admin).json()
        assert answer["understood"]["time"]["start"] is not None
        assert found(client, admin, "+on+gate&cameras=yard") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("&cameras=nowhere", "cameras"),
        ("&start=yesterday-ish", "start"),
        ("&end=2026-13-45T99:00", "end"),
        (f"&start={BASE_TS + 50}&end={BASE_TS}", "end"),
    ],
)
def test_search_pickers_refuse_bad_values_naming_the_field(seeded, query, field):
    with TestClient(make_app(seeded)) as client:
        answer = client.get("/api/search?q=person" + query, headers=bearer(client, "admin"))
        assert answer.status_code == 400 and answer.json()["field"] == field, answer.text


def test_a_camera_the_user_may_not_see_is_answered_as_unknown(seeded):
    with TestClient(make_app(seeded)) as client:
        view = bearer(client, "view")  # gate only
        hidden = client.get("/api/search?q=person&cameras=yard", headers=view)
        missing = client.get("/api/search?q=person&cameras=nowhere", headers=view)
        assert hidden.status_code == missing.status_code == 400
        assert hidden.json()["error"].replace("yard", "X") == missing.json()["error"].replace("nowhere", "X")
        assert found(client, view, "&cameras=gate") == ["gate"]


def test_the_same_frames_encode_to_the_same_clip_whatever_the_load(tmp_path):
    """VP8 at a fixed speed: a masked clip's pixels must not depend on how busy the machine was
    while it was cut (the encoder's own timing once chose its speed, and so its detail)."""
    import av

    rng = np.random.default_rng(7)
    images = [rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(30)]

    def encode(path: Path) -> list[bytes]:
        with av.open(str(path), "w", format="webm") as output:
            encoder = clipper._encoder(output, images[0].shape, FPS, 640)
            packets = []
            for k, image in enumerate(images):
                picture = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(
                    encoder.width, encoder.height, "yuv420p"
                )
                picture.pts = k
                packets += [bytes(p) for p in encoder.encode(picture)]
                if k % 3 == 0:
                    time.sleep(0.02)  # uneven frame times, as a loaded machine gives
            packets += [bytes(p) for p in encoder.encode(None)]
        return packets

    first, second = encode(tmp_path / "a.webm"), encode(tmp_path / "b.webm")
    assert len(first) == len(images)
    assert first == second
