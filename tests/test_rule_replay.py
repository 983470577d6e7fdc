"""Trying a rule on the past: replaying a real run's stored tracks through the rule engine gives the
events the live run raised; bad input is named; the API and the CLI answer the same."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import VTEST, needs_models, needs_samples
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from scenewatch.api import auth
from scenewatch.api.app import create_app
from scenewatch.config import AppConfig, CameraConfig
from scenewatch.rules.replay import ReplayError, parse_since, replay
from scenewatch.rules.store import list_events
from scenewatch.store import repo
from scenewatch.store.data import DataStore
from scenewatch.store.schema import boxes
from scenewatch.store.schema import tracks as track_rows
from scenewatch.store.sightings import box_rows, pack_finished, packed_rows

PASSWORD = "correct-horse-battery"
FRAME_S = 0.1  # vtest.avi runs at 10 fps
CAMERA = {
    "name": "campus",
    # the lower half of the picture, where people walk across the campus road; the middle column
    "zones": [{"name": "walk", "polygon": [[0, 300], [767, 300], [767, 575], [0, 575]]}],
    "lines": [{"name": "middle", "a": [384, 0], "b": [384, 575]}],
    "rules": [
        {"type": "intrusion", "zone": "walk", "cooldown_s": 0},
        {"type": "loitering", "zone": "walk", "time_s": 3.0, "cooldown_s": 0},
        {"type": "line_crossing", "line": "middle", "cooldown_s": 0},
        {"type": "wrong_way", "line": "middle", "allowed": "in", "classes": ["person"], "cooldown_s": 0},
    ],
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> tuple[DataStore, AppConfig, Path]:
    """Ten seconds of vtest.avi through the real pipeline with the rules above."""
    from scenewatch.pipeline import index_file

    root = tmp_path_factory.mktemp("replay")
    clip = root / "campus.avi"
    command = ["ffmpeg", "-loglevel", "error", "-y", "-i", str(VTEST), "-t", "10", "-c", "copy", str(clip)]
    subprocess.run(command, check=True)
    camera = CameraConfig.model_validate({**CAMERA, "source": {"url": str(clip)}})
    settings = AppConfig(cameras=[camera])
    store = DataStore.open(root / "data")
    index_file(store, settings, clip, "campus")
    config = root / "cams.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json", exclude_defaults=True)))
    return store, settings, config


@needs_samples
@needs_models
def test_replaying_stored_tracks_gives_the_live_events(indexed):
    store, settings, _config = indexed
    camera = settings.cameras[0]
    live = list_events(store.engine, camera="campus")
    assert {e["rule_type"] for e in live} >= {"intrusion", "line_crossing"}  # the clip does fire
    for rule in camera.rules:
        was = sorted((e["start_ts"], e["stored_track_ids"]) for e in live if e["rule"] == rule.name)
        result = replay(store.engine, camera, rule.name, 0)
        got = sorted((e.start, e.track_ids) for e in result.events)
        assert len(got) == len(was), (rule.name, was, got)
        if rule.type in ("line_crossing", "wrong_way"):  # the crossings found without the engine
            assert result.alone == result.replayed > 0 and result.frames == 0, rule.name
        for (live_start, live_tracks), (start, tracks) in zip(was, got, strict=True):
            assert abs(start - live_start) <= 2 * FRAME_S + 1e-6, (rule.name, was, got)
            assert tracks == live_tracks, (rule.name, was, got)


@needs_samples
@needs_models
def test_the_pipeline_packs_each_finished_tracks_live_boxes(indexed):
    """Every track the live run finished has its sightings packed: its live rows of the boxes
    table, value for value (the replay above read these)."""
    store, _settings, _config = indexed
    with store.engine.connect() as conn:
        ids = conn.scalars(select(track_rows.c.id).where(track_rows.c.finished)).all()
        (packed, counts, values), rows = packed_rows(conn, list(ids)), box_rows(conn, list(ids))
    assert len(ids) and packed.tolist() == sorted(ids)
    assert np.column_stack([np.repeat(packed, counts), values]).tobytes() == rows.tobytes()


@needs_samples
@needs_models
def test_bad_input_is_named(indexed, tmp_path):
    store, settings, _config = indexed
    camera = settings.cameras[0]
    with pytest.raises(ReplayError) as caught:
        parse_since("7 days")
    assert caught.value.field == "since"
    with pytest.raises(ReplayError) as caught:
        replay(store.engine, camera, "no-such-rule", 0)
    assert caught.value.field == "rule" and "intrusion-walk" in caught.value.message
    with pytest.raises(ReplayError) as caught:  # a camera that never ran
        replay(DataStore.open(tmp_path / "empty").engine, camera, "intrusion-walk", 0)
    assert caught.value.field == "camera" and "no stored tracks" in caught.value.message
    with pytest.raises(ReplayError) as caught:  # nothing stored in that window
        replay(store.engine, camera, "intrusion-walk", 0, until=1.0)
    assert caught.value.field == "camera"


@needs_samples
@needs_models
def test_api_tries_an_unsaved_rule_and_names_bad_fields(indexed, tmp_path):
    store, settings, _config = indexed
    if not auth.count_users(store.engine):
        auth.create_user(store.engine, "oper", PASSWORD, "operator")
    app = create_app(store, settings, config_path=tmp_path / "scenewatch.yaml")
    live = [e for e in list_events(store.engine, camera="campus") if e["rule"] == "intrusion-walk"]
    form = {k: CAMERA[k] for k in ("zones", "lines")} | {
        "rules": [{"type": "intrusion", "zone": "walk", "cooldown_s": 0, "name": "try-walk"}],
        "rule": "try-walk",
        "since": "1d",
    }
    with TestClient(app) as client:
        login = client.post(
            "/api/auth/login", json={"username": "oper", "password": PASSWORD, "bearer": True}
        )
        headers = {"authorization": f"Bearer {login.json()['token']}"}
        url = "/api/config/cameras/campus/rules/test"
        answer = client.post(url, json=form, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["count"] == len(live) == len(body["events"])
        thumbnail = body["events"][0]["thumbnail_urls"][0]
        assert client.get(thumbnail, headers=headers).headers["content-type"] == "image/jpeg"
        for change, field in (({"since": "soon"}, "since"), ({"rule": "nope"}, "rule")):
            answer = client.post(url, json={**form, **change}, headers=headers)
            assert (answer.status_code, answer.json()["field"]) == (422, field), answer.text
        wrong = {**form, "rules": [{"type": "loitering", "zone": "walk", "name": "try-walk"}]}
        answer = client.post(url, json=wrong, headers=headers)  # time_s missing, as the YAML says
        assert answer.status_code == 422 and answer.json()["field"].endswith("time_s"), answer.text


@needs_samples
@needs_models
def test_cli_prints_the_count(indexed, run_cli):
    store, _settings, config = indexed
    data = str(Path(store.engine.url.database).parent)
    live = [e for e in list_events(store.engine, camera="campus") if e["rule"] == "line_crossing-middle"]
    args = (
        "--data",
        data,
        "rules",
        "test",
        "line_crossing-middle",
        "--camera",
        "campus",
        "--config",
        str(config),
    )
    answer = run_cli(*args, "--since", "2d", "--json")
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["count"] == len(live)
    answer = run_cli(*args, "--since", "yesterday")
    assert answer.returncode == 2 and "--since: 'yesterday' is not a duration" in answer.stderr


@needs_samples
@needs_models
def test_the_samples_demo_rule_fires_on_the_sample(indexed):
    """The embedded default ships one rule so that Alerts is not empty: it fires on vtest.avi."""
    from scenewatch.pipeline import default_config

    store, _settings, _config = indexed
    sample = default_config().cameras[0]
    (demo,) = sample.rules
    result = replay(store.engine, sample.model_copy(update={"name": "campus"}), demo.name, 0)
    assert len(result.events) >= 2


@needs_samples
@needs_models
def test_api_refuses_another_cameras_rules_and_hostile_bodies(indexed, tmp_path):
    store, settings, _config = indexed
    for name, cameras in (("oper-elsewhere", ["elsewhere"]), ("oper", None)):
        if auth.find_user(store.engine, name) is None:
            auth.create_user(store.engine, name, PASSWORD, "operator", cameras=cameras)
    app = create_app(store, settings, config_path=tmp_path / "scenewatch.yaml")
    url = "/api/config/cameras/campus/rules/test"
    form = {k: CAMERA[k] for k in ("zones", "lines", "rules")} | {"rule": "intrusion-walk", "since": "1d"}

    def headers(client: TestClient, name: str) -> dict[str, str]:
        login = client.post("/api/auth/login", json={"username": name, "password": PASSWORD, "bearer": True})
        return {"authorization": f"Bearer {login.json()['token']}"}

    with TestClient(app) as client:
        # an operator of another camera learns nothing about this one, not even that it exists:
        # the answer is the one for a camera that does not exist
        other = headers(client, "oper-elsewhere")
        answer = client.post(url, json=form, headers=other)
        missing = client.post(url.replace("campus", "nowhere"), json=form, headers=other)
        assert answer.status_code == missing.status_code == 404, answer.text
        assert answer.json() == {
            **missing.json(),
            "error": missing.json()["error"].replace("nowhere", "campus"),
        }
        own = headers(client, "oper")
        for body, field in (
            ([form], "body"),  # not an object
            ({**form, "since": "9" * 5000}, "since"),  # a huge value
            ({**form, "rules": [{"type": "intrusion", "zone": "walk"}] * 500}, "rules"),  # too many
        ):
            answer = client.post(url, json=body, headers=own)
            assert answer.status_code == 422, answer.text[:300]
            assert field in str(answer.json().get("field") or ""), answer.text[:300]


# -- the prefilter: the tracks and frames it leaves out change nothing -----------------------------

FPS = 10.0
SYNTHETIC = {
    "name": "yard",
    "source": {"url": "rtsp://127.0.0.1/yard"},
    # the lower part of a 640x480 picture, and a line down the middle
    "zones": [{"name": "lawn", "polygon": [[100, 300], [540, 300], [540, 479], [100, 479]]}],
    "lines": [{"name": "middle", "a": [320, 0], "b": [320, 479]}],
    "rules": [
        {"type": "intrusion", "zone": "lawn", "cooldown_s": 0},
        {"type": "loitering", "zone": "lawn", "time_s": 1.5, "cooldown_s": 0},
        {"type": "line_crossing", "line": "middle", "cooldown_s": 0},
        {"type": "wrong_way", "line": "middle", "allowed": "in", "classes": ["person"]},
        {"type": "crowd", "zone": "lawn", "count": 2, "time_s": 0.5},
    ],
}


def _walk(start: float, a: tuple[float, float], b: tuple[float, float], seconds: float, gap=None):
    """Sightings on the 10 fps frame grid of a person walking a -> b (bottom-centre); ``gap`` (from,
    to) in seconds of the walk leaves frames out (an occlusion)."""
    first = round(start * FPS)
    steps = np.arange(round(seconds * FPS) + 1)
    if gap is not None:
        steps = steps[(steps < gap[0] * FPS) | (steps > gap[1] * FPS)]
    share = steps / steps[-1]
    x = a[0] + share * (b[0] - a[0])
    y = a[1] + share * (b[1] - a[1])
    return first + steps, np.stack([x - 25, y - 150, x + 25, y], axis=1)


def _store_history(root: Path, walks: list) -> DataStore:
    store = DataStore.open(root)
    camera_id = repo.ensure_camera(store.engine, "yard", SYNTHETIC["source"]["url"], 640, 480, FPS)
    run = repo.start_run(store.engine, camera_id, SYNTHETIC["source"]["url"], "live")
    with store.engine.begin() as conn:
        for tracker_id, (frames, xyxy) in enumerate(walks, 1):
            ts = frames / FPS
            feet = np.stack([ts, (xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], axis=1)
            path = np.concatenate([feet[:-1:5], feet[-1:]])  # a sample every half second, and the end
            db_id = conn.execute(
                insert(track_rows).returning(track_rows.c.id),
                {
                    "camera_id": camera_id,
                    "run_id": run,
                    "tracker_id": tracker_id,
                    "class_name": "person",
                    "first_ts": float(ts[0]),
                    "last_ts": float(ts[-1]),
                    "first_frame": int(frames[0]),
                    "last_frame": int(frames[-1]),
                    "detections": len(ts),
                    "score": 0.8,
                    "path": path.round(3).tolist(),
                    "finished": True,
                },
            ).scalar_one()
            conn.execute(
                insert(boxes),
                [
                    {"track_id": db_id, "frame": int(f), "ts": float(t), "score": 0.8, "interpolated": False}
                    | dict(zip(("x1", "y1", "x2", "y2"), map(float, box), strict=True))
                    for f, t, box in zip(frames, ts, xyxy, strict=True)
                ],
            )
    return store


def test_prefiltered_replay_gives_the_unfiltered_events(tmp_path):
    """A history of people far from the lawn and its line, walking across them (one through an
    occlusion at the border), standing in it, and one lost far away whose identity a newcomer on
    the lawn carries on (the stitcher joins them, so the far track decides how the newcomer's stay
    is dated): feeding only what the prefilter chooses gives the events of feeding everything."""
    rng = np.random.default_rng(3)
    t0 = 1_700_000_000.0
    walks = [
        # lost at the top, heading down; a newcomer on the lawn 1.5 s later where it would be by then
        _walk(t0 + 5, (320, 100), (320, 220), 2.0),
        _walk(t0 + 8.5, (320, 310), (330, 420), 3.0),
        _walk(t0 + 4, (20, 60), (140, 60), 6.0),  # far, on view meanwhile: the frames go on
        _walk(t0 + 20, (50, 200), (600, 420), 6.0, gap=(2.0, 2.6)),  # across the border, occluded there
        _walk(t0 + 22, (200, 400), (210, 410), 4.0),  # standing on the lawn: loiters
    ]
    for k in range(40):
        start = t0 + 40 + 7 * k + rng.uniform(0, 3)
        if k % 2:  # far: along the top
            walks.append(_walk(start, (rng.uniform(0, 640), 60), (rng.uniform(0, 640), 120), 4.0))
        else:  # across the lawn, the line, or both
            a = (rng.uniform(0, 640), rng.uniform(150, 479))
            walks.append(_walk(start, a, (rng.uniform(0, 640), rng.uniform(150, 479)), rng.uniform(2, 6)))
    store = _store_history(tmp_path / "data", walks)
    camera = CameraConfig.model_validate(SYNTHETIC)
    fired = set()
    for rule in camera.rules:
        runs = [
            replay(store.engine, camera, rule.name, t0, until=t0 + 1000, prefilter=chosen)
            for chosen in (True, False)
        ]
        prefiltered, everything = (
            [(round(e.start, 6), e.end and round(e.end, 6), e.track_ids, e.detail) for e in r.events]
            for r in runs
        )
        assert prefiltered == everything, rule.name
        assert runs[0].frames < runs[1].frames or rule.type == "crowd", rule.name  # it did leave out
        fired |= {rule.type} if everything else set()
    assert fired == {r.type for r in camera.rules}, fired  # every rule had something to judge


def _wander(rng: np.random.Generator, start: float) -> tuple[np.ndarray, np.ndarray]:
    """A person on the 10 fps grid along 2-4 random waypoints at random speeds, jittering a few
    pixels (a box dithering on a border), some standing still a while, some unseen for a while."""
    points = rng.uniform((0, 150), (640, 479), (rng.integers(2, 5), 2))
    if rng.random() < 0.3:  # along the lawn's top border, where the side keeps flipping
        points[:, 1] = 300 + rng.uniform(-6, 6, len(points))
    legs = [
        np.linspace(0, 1, max(2, int(np.hypot(*(b - a)) / rng.uniform(5, 30))))
        for a, b in zip(points[:-1], points[1:], strict=True)
    ]
    feet = np.concatenate(
        [a + np.outer(s, b - a) for s, a, b in zip(legs, points[:-1], points[1:], strict=True)]
    )
    if rng.random() < 0.3:  # stands still somewhere along the way
        at = rng.integers(len(feet))
        feet = np.concatenate(
            [feet[:at], np.repeat(feet[at : at + 1], rng.integers(10, 60), axis=0), feet[at:]]
        )
    feet = feet + rng.normal(0, 2, feet.shape)
    steps = np.arange(len(feet))
    if rng.random() < 0.4 and len(feet) > 4:  # occluded for a few frames (the tracker kept its id)
        at = rng.integers(1, len(feet) - 1)
        steps = np.r_[steps[:at], steps[at + rng.integers(2, 12) :]]
    steps = steps[steps < len(feet)]
    height = rng.uniform(80, 200)
    x, y = feet[steps, 0], feet[steps, 1]
    return round(start * FPS) + steps, np.stack([x - height / 4, y - height, x + height / 4, y], axis=1)


def _handed_over(rng: np.random.Generator, start: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """One person the tracker loses and a new id picks up 0.3-2.5 s later (the stitcher may carry
    the identity on); sometimes the old id finds the person again a little later as well (a
    fresh identity), sometimes the new id is a stranger elsewhere."""
    frames, xyxy = _wander(rng, start)
    if len(frames) < 8:
        return [(frames, xyxy)]
    cut = int(rng.integers(3, len(frames) - 4))
    skip = int(rng.integers(3, 25))
    later = frames[cut:] + skip
    moved = xyxy[cut:] + (rng.normal(0, 40, 4) if rng.random() < 0.3 else 0.0)
    pieces = [(frames[:cut], xyxy[:cut]), (later, moved)]
    if rng.random() < 0.4:  # the old id found again, beside the new one
        back = later[: max(1, len(later) // 3)] + int(rng.integers(2, 15))
        pieces[0] = (np.r_[frames[:cut], back], np.r_[xyxy[:cut], moved[: len(back)] + 3.0])
    return pieces


@pytest.mark.parametrize("seed", [11, 12])
def test_stays_judged_alone_give_the_engines_events(tmp_path, seed):
    """Random people wandering over, along and across the lawn's border, some standing, some
    occluded, many on view at once: the intrusion and loitering rules (debounce, cooldown and
    schedule varied) raise the same events, ends and details whether the tracks no other can
    touch are judged a whole track at a time or every sighting goes through the engine; and
    most tracks are judged alone."""
    rng = np.random.default_rng(seed)
    t0 = 1_700_000_000.0
    walks = [_wander(rng, t0 + start) for start in np.sort(rng.uniform(0, 600, 160))]
    walks += [piece for start in rng.uniform(0, 600, 40) for piece in _handed_over(rng, t0 + start)]
    walks.append(_walk(t0 + 990, (20, 60), (140, 60), 4.0))  # far, long after: the run goes on
    store = _store_history(tmp_path / "data", walks)
    variants = [
        ({"type": "intrusion", "zone": "lawn", "cooldown_s": 0}, {}),
        ({"type": "intrusion", "zone": "lawn", "cooldown_s": 5}, {"inertia": 1}),
        ({"type": "loitering", "zone": "lawn", "time_s": 2.0, "cooldown_s": 3}, {"inertia": 4}),
        (
            {
                "type": "intrusion",
                "zone": "lawn",
                "cooldown_s": 0,
                "schedule": {"windows": [{"start": "00:00", "end": "22:18"}]},
            },
            {},
        ),
    ]
    alone = 0
    for rule, zone in variants:
        fast, reference = _fast_and_reference(store, rule, zone, t0)
        assert reference.events, rule  # the rule had something to judge
        assert [asdict(e) for e in fast.events] == [asdict(e) for e in reference.events], rule
        alone += fast.alone
    assert alone > 0.5 * len(walks) * len(variants), alone


def _pacer(rng: np.random.Generator, start: float) -> tuple[np.ndarray, np.ndarray]:
    """A person on the 10 fps grid going back and forth across the middle line (x = 320), a few
    pixels to a few dozen past it each time, jittering, sometimes standing right on it (whole
    pixels: the bottom-centre is exactly on the line), sometimes unseen for a while."""
    count = int(rng.integers(2, 6))
    turns = 320 + rng.choice([-1, 1]) * rng.uniform(2, 60, count) * np.resize([1, -1], count)
    y = rng.uniform(120, 470, len(turns))
    legs = [np.linspace(0, 1, int(rng.integers(2, 12))) for _ in turns[1:]]
    feet = np.concatenate(
        [
            np.stack([a + s * (b - a), ya + s * (yb - ya)], axis=1)
            for s, a, b, ya, yb in zip(legs, turns[:-1], turns[1:], y[:-1], y[1:], strict=True)
        ]
    )
    feet = feet + rng.normal(0, 1.5, feet.shape)
    height = rng.uniform(60, 200)
    steps = np.arange(len(feet))
    if rng.random() < 0.4 and len(feet) > 4:  # occluded for a few frames (the tracker kept its id)
        at = rng.integers(1, len(feet) - 1)
        steps = np.r_[steps[:at], steps[at + rng.integers(2, 12) :]]
    steps = steps[steps < len(feet)]
    x, y = feet[steps, 0], feet[steps, 1]
    xyxy = np.stack([x - height / 4, y - height, x + height / 4, y], axis=1)
    if rng.random() < 0.4:  # whole pixels, some sightings right on the line
        on = rng.random(len(x)) < 0.3
        x = np.where(on, 320.0, np.round(x))
        half = round(height / 4)
        xyxy = np.round(np.stack([x - half, y - height, x + half, y], axis=1))
    return round(start * FPS) + steps, xyxy


def _twins(rng: np.random.Generator, start: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """One person the tracker splits into two ids a frame apart, a pixel or two apart: each
    crossing is counted once."""
    frames, xyxy = _pacer(rng, start)
    return [(frames, xyxy), (frames + 1, xyxy + rng.uniform(-2, 2, 4))]


@pytest.mark.parametrize("seed", [31, 32])
def test_crossings_judged_alone_give_the_engines_events(tmp_path, seed):
    """People pacing back and forth across the middle line, jittering on it, standing right on
    it, occluded, handed over to new ids, split into two ids, wandering elsewhere: the line
    crossing rule (both or one direction, inertia, cooldown, schedule, a shorter or slanted
    line) and the wrong-way rule (how far past and how soon) raise the same events, counts and details whether the crossings are found a whole
    identity at a time or every sighting goes through the engine; and the runs are judged alone."""
    rng = np.random.default_rng(seed)
    t0 = 1_700_000_000.0
    walks = [_pacer(rng, t0 + start) for start in np.sort(rng.uniform(0, 600, 140))]
    walks += [_wander(rng, t0 + start) for start in np.sort(rng.uniform(0, 600, 40))]
    walks += [piece for start in rng.uniform(0, 600, 30) for piece in _handed_over(rng, t0 + start)]
    walks += [piece for start in rng.uniform(0, 600, 12) for piece in _twins(rng, t0 + start)]
    store = _store_history(tmp_path / "data", walks)
    variants = [
        ({"type": "line_crossing", "line": "middle", "cooldown_s": 0}, {}),
        ({"type": "line_crossing", "line": "middle", "cooldown_s": 4}, {"inertia": 1}),
        ({"type": "line_crossing", "line": "middle", "cooldown_s": 0, "direction": "in"}, {"inertia": 3}),
        (
            {
                "type": "line_crossing",
                "line": "middle",
                "cooldown_s": 2,
                "schedule": {"windows": [{"start": "00:00", "end": "22:18"}]},
            },
            {"a": [320, 200], "b": [320, 400], "positive_side": "right"},
        ),
        ({"type": "line_crossing", "line": "middle", "cooldown_s": 0}, {"a": [250, 100], "b": [400, 470]}),
        ({"type": "wrong_way", "line": "middle", "allowed": "in", "classes": ["person"]}, {}),
        (
            {
                "type": "wrong_way",
                "line": "middle",
                "allowed": "out",
                "classes": ["person"],
                "min_travel": 0.15,
                "window_s": 0.6,
                "cooldown_s": 3,
            },
            {"inertia": 1, "a": [250, 100], "b": [400, 470]},
        ),
    ]
    for rule, line in variants:
        fast, reference = _fast_and_reference(store, rule, {}, t0, line)
        assert reference.events, rule  # the rule had something to judge
        assert [asdict(e) for e in fast.events] == [asdict(e) for e in reference.events], (rule, line)
        assert fast.alone == fast.replayed and fast.frames == 0, (rule, fast.alone, fast.replayed)


def test_packed_sightings_replay_as_the_box_rows(tmp_path):
    """Half the tracks with their sightings packed (as the writer packs them when a track ends),
    half stored before sightings were packed: each rule raises the same events reading the packed
    values, reading the boxes table alone, and fed every sighting."""
    rng = np.random.default_rng(21)
    t0 = 1_700_000_000.0
    walks = [_wander(rng, t0 + start) for start in np.sort(rng.uniform(0, 200, 50))]
    walks += [piece for start in rng.uniform(0, 200, 12) for piece in _handed_over(rng, t0 + start)]
    store = _store_history(tmp_path / "data", walks)
    with store.engine.begin() as conn:
        ids = conn.scalars(select(track_rows.c.id).order_by(track_rows.c.id)).all()
        assert pack_finished(conn, list(ids[::2])) == len(ids[::2])
    camera = CameraConfig.model_validate(SYNTHETIC)
    for rule in camera.rules:
        runs = [
            replay(store.engine, camera, rule.name, t0, until=t0 + 1000, prefilter=prefilter, packed=packed)
            for prefilter, packed in ((True, True), (True, False), (False, True))
        ]
        assert runs[0].events, rule.name  # the rule had something to judge
        for other in runs[1:]:
            assert [asdict(e) for e in runs[0].events] == [asdict(e) for e in other.events], rule.name


def _fast_and_reference(
    store, rule: dict, zone: dict, t0: float, line: dict | None = None, alone: bool = True
):
    """``rule`` (on the synthetic camera, its zone changed by ``zone``, its line by ``line``)
    replayed over 1,000 s of ``store`` as shipped (``alone=False``: the engine fed what the
    prefilter chooses) and fed every sighting (the reference)."""
    config = {
        **SYNTHETIC,
        "zones": [{**SYNTHETIC["zones"][0], **zone}],
        "lines": [{**SYNTHETIC["lines"][0], **(line or {})}],
        "rules": [{**rule, "name": "try"}],
    }
    camera = CameraConfig.model_validate(config)
    return tuple(
        replay(store.engine, camera, "try", t0, until=t0 + 1000, prefilter=chosen, alone=alone)
        for chosen in (True, False)
    )


def test_a_busy_camera_reads_the_boxes_of_the_tracks_that_can_matter(tmp_path):
    """Small far-away people stream along the top-left corner all the time (every life overlaps
    the next one's, so time alone chains them all together), a few cross the lawn, and some far ones are
    lost where a newcomer on the lawn carries their identity on, once through a far middleman:
    the replay reads the boxes of the lawn's tracks, their identities' chain and the tracks on
    view meanwhile, not the whole stream, and raises the events of feeding everything."""
    rng = np.random.default_rng(5)
    t0 = 1_700_000_000.0
    walks = []
    for k in range(300):  # small, far away, heading right: a newcomer at the left is no one lost
        frames, xyxy = _walk(t0 + 2.0 * k, (rng.uniform(10, 30), rng.uniform(30, 120)), (200, 60), 5.0)
        middle = (xyxy[:, 0] + xyxy[:, 2]) / 2
        walks.append((frames, np.stack([middle - 10, xyxy[:, 3] - 60, middle + 10, xyxy[:, 3]], axis=1)))
    for k in range(6):  # across the lawn now and then
        start = t0 + 15 + 45 * k + rng.uniform(0, 5)
        walks.append(_walk(start, (rng.uniform(120, 500), 250), (rng.uniform(120, 500), 460), 4.0))
    for start in (t0 + 40, t0 + 140):  # lost heading down, picked up on the lawn 1.5 s later
        walks += [_walk(start, (150, 120), (150, 200), 1.0), _walk(start + 2.5, (150, 320), (160, 420), 3.0)]
    # lost far, carried on far by a middleman, who is lost in turn and carried onto the lawn
    walks += [
        _walk(t0 + 220, (60, 150), (120, 150), 1.0),
        _walk(t0 + 221.8, (160, 150), (200, 190), 1.0),
        _walk(t0 + 223.5, (240, 290), (260, 400), 3.0),
    ]
    store = _store_history(tmp_path / "data", walks)
    for rule, zone in (
        ({"type": "intrusion", "zone": "lawn", "cooldown_s": 0}, {}),
        ({"type": "intrusion", "zone": "lawn", "cooldown_s": 0}, {"inertia": 4}),
        ({"type": "loitering", "zone": "lawn", "time_s": 1.5, "cooldown_s": 0}, {}),
        ({"type": "line_crossing", "line": "middle", "cooldown_s": 0}, {}),
    ):
        fast, reference = _fast_and_reference(store, rule, zone, t0)
        assert reference.events, rule
        assert [asdict(e) for e in fast.events] == [asdict(e) for e in reference.events], (rule, zone)
        assert fast.replayed < 0.4 * fast.tracks, (rule, fast.replayed, fast.tracks)


def _crowd_variants() -> list[tuple[dict, dict]]:
    return [
        ({"type": "crowd", "zone": "lawn", "count": 3, "time_s": 1.0, "cooldown_s": 0}, {}),
        ({"type": "crowd", "zone": "lawn", "count": 2, "time_s": 0.0, "cooldown_s": 4}, {"inertia": 1}),
        ({"type": "crowd", "zone": "lawn", "count": 4, "time_s": 2.5, "cooldown_s": 0}, {"inertia": 4}),
        (
            {
                "type": "crowd",
                "zone": "lawn",
                "count": 3,
                "time_s": 0.5,
                "cooldown_s": 0,
                "schedule": {"windows": [{"start": "00:00", "end": "22:18"}]},
            },
            {},
        ),
    ]


@pytest.mark.parametrize("seed", [21, 22])
def test_crowds_counted_alone_give_the_engines_events(tmp_path, seed):
    """Random people wandering over, along and across the lawn's border in bursts (many on view at
    once, crowds forming and thinning), some standing, some occluded, some handed over to a new
    id: the crowd rule (count, hold time, debounce, cooldown and schedule varied) raises the same
    events, ends, counts, peaks and named tracks whether the counts are worked out with NumPy or
    every sighting goes through the engine; and the runs are judged without the engine."""
    rng = np.random.default_rng(seed)
    t0 = 1_700_000_000.0
    bursts = np.r_[rng.uniform(0, 500, 12), rng.uniform(0, 500, 60)]  # a few busy moments, and others
    starts = np.sort(np.r_[np.repeat(bursts[:12], 8) + rng.uniform(0, 6, 96), bursts[12:]])
    walks = [_wander(rng, t0 + start) for start in starts]
    walks += [piece for start in rng.uniform(0, 500, 30) for piece in _handed_over(rng, t0 + start)]
    walks.append(_walk(t0 + 990, (20, 60), (140, 60), 4.0))  # far, long after: the run goes on
    store = _store_history(tmp_path / "data", walks)
    for rule, zone in _crowd_variants():
        fast, reference = _fast_and_reference(store, rule, zone, t0)
        assert len(reference.events) >= 2, (rule, len(reference.events))  # crowds formed and ended
        assert [asdict(e) for e in fast.events] == [asdict(e) for e in reference.events], (rule, zone)
        assert fast.alone > 0 and fast.frames == 0, (rule, fast.alone, fast.frames)


@pytest.mark.parametrize("seed", [41, 42])
def test_the_engine_fed_the_chosen_sightings_gives_the_engines_events(tmp_path, seed):
    """People pacing across the middle line, wandering over the lawn, and lost near the line where a
    new id takes over on the other side, or beside someone the stitcher must not join them to:
    the engine fed only the tracks that change sides or pass an identity on (the path the replay
    takes where it cannot judge alone) raises the events of the engine fed every sighting. A
    crossing made during a hand-over (neither track crosses) counts, and a lost track fed in
    part would look lost earlier and elsewhere to the stitcher."""
    rng = np.random.default_rng(seed)
    t0 = 1_700_000_000.0
    walks = [_pacer(rng, t0 + start) for start in np.sort(rng.uniform(0, 600, 60))]
    walks += [_wander(rng, t0 + start) for start in np.sort(rng.uniform(0, 600, 60))]
    walks += [piece for start in rng.uniform(0, 600, 40) for piece in _handed_over(rng, t0 + start)]
    for start in rng.uniform(0, 600, 20):  # lost just before the line, picked up past it
        x = rng.uniform(200, 300)
        cut = rng.uniform(0.5, 1.5)
        walks += [
            _walk(t0 + start, (x, 300), (312, 320), 2.0),
            _walk(t0 + start + 2.0 + cut, (312 + 40 * cut, 320), (500, 360), 2.0),
        ]
    store = _store_history(tmp_path / "data", walks)
    for rule in (
        {"type": "line_crossing", "line": "middle", "cooldown_s": 0},
        {"type": "wrong_way", "line": "middle", "allowed": "in", "classes": ["person"]},
        {"type": "intrusion", "zone": "lawn", "cooldown_s": 0},
        {"type": "loitering", "zone": "lawn", "time_s": 2.0, "cooldown_s": 0},
    ):
        engine, reference = _fast_and_reference(store, rule, {}, t0, alone=False)
        assert reference.events, rule
        assert [asdict(e) for e in engine.events] == [asdict(e) for e in reference.events], rule
        assert engine.frames < reference.frames, rule  # it did leave frames out


def test_a_crowd_member_back_on_the_border_counts_as_the_engine_counts_it(tmp_path):
    """Two people stand on the lawn; a third walks in, unseen for a moment, and is seen again
    exactly on the lawn's border (the engine dates the crossing at that sighting and starts its
    count afresh at the next): the crowd of three forms at the frame the engine sees it form."""
    t0 = 1_700_000_000.0
    walks = [
        _walk(t0 + 10, (200, 400), (205, 405), 12.0),
        _walk(t0 + 10, (400, 420), (395, 425), 12.0),
        _walk(t0 + 12, (300, 250), (300, 350), 4.0, gap=(1.5, 1.95)),  # back at y = 300, the border
        _walk(t0 + 40, (20, 60), (140, 60), 4.0),  # far, later: the run goes on
    ]
    store = _store_history(tmp_path / "data", walks)
    for inertia in (2, 3):
        rule = {"type": "crowd", "zone": "lawn", "count": 3, "time_s": 0.3, "cooldown_s": 0}
        fast, reference = _fast_and_reference(store, rule, {"inertia": inertia}, t0)
        assert len(reference.events) == 1, inertia
        assert [asdict(e) for e in fast.events] == [asdict(e) for e in reference.events], inertia
        assert fast.frames == 0, inertia


def test_a_crowd_that_ends_among_unread_frames_is_judged_by_the_engine(tmp_path):
    """Three people stand on the lawn, then leave together; the next frames are of people far
    away, long after (their tracks are not read): the crowd event ends the way the engine fed
    every sighting ends it, dated by the first of those frames, because the run goes through the
    engine with every sighting of the run rather than being closed at the run's end."""
    t0 = 1_700_000_000.0
    walks = [_walk(t0 + 10, (150 + 100 * k, 400), (155 + 100 * k, 405), 6.0) for k in range(3)]
    walks += [_walk(t0 + 25 + 4 * k, (20, 60), (140, 60), 3.0) for k in range(10)]  # far, later
    store = _store_history(tmp_path / "data", walks)
    rule = {"type": "crowd", "zone": "lawn", "count": 3, "time_s": 4.0, "cooldown_s": 0}
    fast, reference = _fast_and_reference(store, rule, {}, t0)
    assert [e.end for e in reference.events] == [t0 + 25]  # the first frame after them
    assert [asdict(e) for e in fast.events] == [asdict(e) for e in reference.events]
    assert fast.frames > 0 and fast.replayed == fast.tracks, (fast.replayed, fast.frames)  # all read


def test_stored_paths_parse_as_json_reads_them():
    """The paths' JSON texts parsed in one pass give what ``json.loads`` gives each, as the column
    stores them (compact or spaced, integers, exponents) and with an empty path among them."""
    from scenewatch.rules.replay_load import _paths

    rng = np.random.default_rng(5)
    paths = [
        np.c_[1.8e9 + np.cumsum(rng.uniform(0.1, 0.6, k)), rng.uniform(0, 640, (k, 2)).round(1)]
        for k in rng.integers(1, 40, 300)
    ]
    texts = [json.dumps(p.tolist()) for p in paths]
    texts[7] = json.dumps(paths[7].tolist(), separators=(",", ":"))
    texts[9] = "[[1700000000, 3, 4], [1.7e9, 5e-1, 6.25]]"

    def expected(texts: list[str]) -> tuple[np.ndarray, list[int]]:
        parsed = [np.asarray(json.loads(t), np.float64).reshape(-1, 3) for t in texts]
        return np.concatenate(parsed), [len(p) for p in parsed]

    for case in (texts, [*texts[:50], "[]", *texts[50:]], texts[:1]):
        points, lengths = _paths(case)
        want, counts = expected(case)
        assert lengths.tolist() == counts
        np.testing.assert_array_equal(points, want)


def test_identities_read_only_the_paired_tracks_and_decide_as_over_all(tmp_path):
    """The identity walk reads the sightings of the tracks in a carry pair alone: many walkers
    with hand-overs among them give the same identities as the walk over every sighting, and
    some tracks in no pair keep their tracker ids."""
    from scenewatch.rules.replay_identity import _identities, identities
    from scenewatch.rules.replay_load import load_sightings, load_tracks
    from scenewatch.rules.replay_select import CarryLinks

    rng = np.random.default_rng(8)
    t0 = 1_700_000_000.0
    walks = [_wander(rng, t0 + start) for start in np.sort(rng.uniform(0, 300, 80))]
    walks += [piece for start in rng.uniform(0, 300, 25) for piece in _handed_over(rng, t0 + start)]
    store = _store_history(tmp_path / "data", walks)
    stored = load_tracks(store.engine, 1, ["person"], t0, t0 + 1000)
    run = load_sightings(store.engine, stored, np.arange(len(stored.db_ids)), (640, 480))
    links = CarryLinks.of(run["row"], run["ts"], run["xyxy"], run["frame"])
    rows = run["row"][links.starts]
    args = (
        links.starts,
        stored.tracker_ids[rows],
        run["ts"],
        run["xyxy"],
        stored.class_ids[rows],
        stored.last_ts[rows],
        np.unique(run["ts"]),
        1.0,
        links.track[links.loss],
        links.track[links.birth],
    )
    paired = np.unique(np.r_[links.track[links.loss], links.track[links.birth]])
    assert 0 < len(paired) < len(rows)  # some tracks are left out of the walk
    found = identities(*args)
    assert (found != np.repeat(stored.tracker_ids[rows], np.diff(np.r_[links.starts, len(found)]))).any()
    np.testing.assert_array_equal(found, _identities(*args))
