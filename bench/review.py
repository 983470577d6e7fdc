"""The review timeline's data route: how long one view takes with a busy day in the store.

A camera is given ``--tracks`` tracks (default 10,000) and ``--events`` events (default 1,000)
over one day, with the day's recording segments (60 s each), as a live camera stores them:
people and vehicles with random start times and lengths (most a few seconds to a minute, some an
hour), each finished track indexed for search with one of three zones, events of four rules.
Each view asks ``GET /api/review/{camera}`` through the real app in-process (routing, sign-in,
SQL, JSON) ``--repeat`` times; the median and the slowest are printed with the answer's size.

Run: .venv/bin/python bench/review.py [--tracks 10000] [--events 1000] [--repeat 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402

DAY = 86400.0
START = 1_700_000_000.0 - 1_700_000_000.0 % DAY  # a UTC midnight
CLASSES = ["person", "car", "bicycle", "truck"]
ZONES = ["gate", "yard", "road"]
COLOURS = ["red", "blue", "black", "white", "green", "grey"]
RULES = [("door", "intrusion"), ("linger", "loitering"), ("crowd", "crowd"), ("gateway", "line_crossing")]


def seed(root: Path, n_tracks: int, n_events: int, names: tuple[str, ...] = ("busy",)):
    """A data folder with ``n_tracks`` tracks and ``n_events`` events over one day, dealt in turn
    to the cameras ``names`` (each with the day's recording segments), indexed for search; the
    user ``admin``. Media files are not written (the rows name them)."""
    from scenewatch.api import auth
    from scenewatch.config import AppConfig, CameraConfig
    from scenewatch.config.source import SourceConfig
    from scenewatch.search.index import reindex
    from scenewatch.store import repo
    from scenewatch.store.data import DataStore
    from scenewatch.store.schema import events, recording_segments, tracks

    rng = np.random.default_rng(7)
    store = DataStore.open(root)
    engine = store.engine
    url = "rtsp://192.0.2.10/stream1"
    made = [repo.ensure_camera(engine, name, url, 1280, 720, 10.0) for name in names]
    runs = [repo.start_run(engine, camera, url, "run") for camera in made]
    starts = START + np.sort(rng.uniform(0, DAY, n_tracks))
    lengths = np.where(
        rng.random(n_tracks) < 0.02, rng.uniform(600, 3600, n_tracks), rng.lognormal(2.5, 1.0, n_tracks)
    )
    classes = rng.choice(CLASSES, n_tracks, p=[0.7, 0.2, 0.05, 0.05])
    tops = np.random.default_rng(11).choice(COLOURS, n_tracks)  # own stream: the draws after it keep theirs
    rows = [
        dict(
            camera_id=made[i % len(names)],
            run_id=runs[i % len(names)],
            tracker_id=i + 1,
            class_name=str(classes[i]),
            first_ts=float(starts[i]),
            last_ts=float(starts[i] + lengths[i]),
            first_frame=int((starts[i] - START) * 10),
            last_frame=int((starts[i] + lengths[i] - START) * 10),
            detections=int(lengths[i] * 10),
            score=0.7,
            path=[],
            thumbnail=f"thumbnails/{names[i % len(names)]}/run{runs[i % len(names)]}/{i // 1000:04d}/{i + 1}.jpg",
            finished=True,
            attributes={"zones": [ZONES[i % 3]], "colours": {"upper": {str(tops[i]): 0.8}}},
        )
        for i in range(n_tracks)
    ]
    at = START + np.sort(rng.uniform(0, DAY, n_events))
    happened = [
        dict(
            key=f"bench-{i}",
            camera_id=made[i % len(names)],
            run_id=runs[i % len(names)],
            rule=RULES[i % 4][0],
            rule_type=RULES[i % 4][1],
            start_ts=float(at[i]),
            end_ts=float(at[i] + 5),
            track_ids=[i + 1],
            detail={"zone": ZONES[i % 3]},
            snapshot=f"events/{names[i % len(names)]}/x/bench-{i}.jpg",
            clip=None,
            state="new",
            created_at=float(at[i]),
        )
        for i in range(n_events)
    ]
    segments = [
        dict(
            camera_id=camera,
            path=f"rec/{name}/{i}.mp4",
            start_ts=START + 60 * i,
            end_ts=START + 60 * (i + 1),
            bytes=1,
            codec="h264",
        )
        for name, camera in zip(names, made, strict=True)
        for i in range(int(DAY // 60))
    ]
    with engine.begin() as conn:
        conn.execute(insert(tracks), rows)
        conn.execute(insert(events), happened)
        conn.execute(insert(recording_segments), segments)
    reindex(engine)
    auth.create_user(engine, "admin", "correct-horse-battery", "admin")
    settings = AppConfig(cameras=[CameraConfig(name=name, source=SourceConfig(url=url)) for name in names])
    return store, settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from scenewatch.api import create_app

    with tempfile.TemporaryDirectory() as tmp:
        made = time.perf_counter()
        store, settings = seed(Path(tmp) / "data", args.tracks, args.events)
        print(
            f"store: {args.tracks} tracks, {args.events} events, one day ({time.perf_counter() - made:.1f} s to seed)"
        )
        app = create_app(store, settings, config_path=Path(tmp) / "scenewatch.yaml")
        views = [
            ("day, 1440 buckets", f"start={START}&end={START + DAY}&buckets=1440"),
            ("day, 2000 buckets", f"start={START}&end={START + DAY}&buckets=2000"),
            ("day, people only", f"start={START}&end={START + DAY}&buckets=1440&class=person"),
            ("day, zone yard", f"start={START}&end={START + DAY}&buckets=1440&zone=yard"),
            ("one hour, 1280 buckets", f"start={START + 12 * 3600}&end={START + 13 * 3600}&buckets=1280"),
            ("31 days, 2000 buckets", f"start={START - 30 * DAY}&end={START + DAY}&buckets=2000"),
        ]
        with TestClient(app) as client:
            login = {"username": "admin", "password": "correct-horse-battery", "bearer": True}
            token = client.post("/api/auth/login", json=login).json()["token"]
            headers = {"authorization": f"Bearer {token}"}
            for name, query in views:
                times, size = [], 0
                for _ in range(args.repeat):
                    began = time.perf_counter()
                    answer = client.get(f"/api/review/busy?{query}", headers=headers)
                    times.append(time.perf_counter() - began)
                    assert answer.status_code == 200, answer.text
                    size = len(answer.content)
                body = answer.json()
                peak = max(sum(c[i] for c in body["track_counts"].values()) for i in range(body["buckets"]))
                print(
                    f"{name:24s} median {1000 * statistics.median(times):7.1f} ms, slowest "
                    f"{1000 * max(times):7.1f} ms, {size / 1024:6.1f} KiB, {len(body['events'])} events listed, "
                    f"peak {peak} tracks in view"
                )
    print(f"machine: {describe_machine()}, load average {os.getloadavg()[0]:.1f} (timings are noisy above 2)")


if __name__ == "__main__":
    main()
