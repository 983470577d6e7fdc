"""Opening an alert's clip: the wait before it plays when it is rendered on request (cold) and when
it was rendered ahead of time after the event was stored.

    .venv/bin/python bench/clips.py [--events 5] [--seconds 4]

Seeds a store with the sample footage (vtest.avi) as a file camera, stores ``--events`` events
with clip windows of ``--seconds`` spread over the file, and times ``GET /api/clips/event/{id}``
for each as an admin and as a masked viewer (cold: rendered by the request); then stores as many
new events while the server runs, waits for the background renderer, and times the same requests
again. Prints the medians, how many requests found their clip already rendered, and the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402

from scenewatch.api import auth, create_app  # noqa: E402
from scenewatch.config import AppConfig  # noqa: E402
from scenewatch.rules.events import Event  # noqa: E402
from scenewatch.rules.store import save_event  # noqa: E402
from scenewatch.samples import find_sample  # noqa: E402
from scenewatch.store import repo  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402

PASSWORD = "correct-horse-battery"
DEADLINE_S = 600.0


def store_events(
    store: DataStore, camera: int, run: int, video: Path, first: int, count: int, seconds: float
):
    ids = []
    for n in range(first, first + count):
        start = 3.0 + n * (seconds + 1)
        event = Event(
            f"bench-{n}-{time.monotonic_ns()}", "door", "intrusion", "cam", start, start + 1, [], {}, None
        )
        clip = {"path": str(video), "start_s": start, "end_s": start + seconds}
        ids.append(save_event(store.engine, store.media, event, camera, run, clip))
    return ids


def cached(store: DataStore) -> int:
    folder = store.media.absolute("cache/clips")
    return len(list(folder.glob("*.webm"))) if folder.is_dir() else 0


def open_all(client: TestClient, ids: list[int], tokens: dict[str, dict]) -> list[float]:
    waits = []
    for event_id in ids:
        for headers in tokens.values():
            began = time.perf_counter()
            answer = client.get(f"/api/clips/event/{event_id}", headers=headers)
            assert answer.status_code == 200, answer.text
            waits.append(time.perf_counter() - began)
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    video = find_sample("vtest.avi")
    if video is None:
        sys.exit("vtest.avi not found (../shared/data/video or the opencv-doc package)")
    with tempfile.TemporaryDirectory() as tmp:
        store = DataStore.open(Path(tmp) / "data")
        camera = repo.ensure_camera(store.engine, "cam", str(video), 768, 576, 10.0)
        run = repo.start_run(store.engine, camera, str(video), "index")
        auth.create_user(store.engine, "admin", PASSWORD, "admin")
        auth.create_user(store.engine, "view", PASSWORD, "viewer")
        cold_ids = store_events(store, camera, run, video, 0, args.events, args.seconds)
        app = create_app(store, AppConfig())
        with TestClient(app) as client:
            tokens = {}
            for name in ("admin", "view"):
                login = {"username": name, "password": PASSWORD, "bearer": True}
                token = client.post("/api/auth/login", json=login).json()["token"]
                tokens[name] = {"authorization": f"Bearer {token}"}
            cold = open_all(client, cold_ids, tokens)
            ahead_ids = store_events(store, camera, run, video, args.events, args.events, args.seconds)
            began = time.perf_counter()
            while app.state.prerender.rendered < len(ahead_ids) and time.perf_counter() - began < DEADLINE_S:
                time.sleep(0.1)
            rendered_in = time.perf_counter() - began
            files = cached(store)
            ahead = open_all(client, ahead_ids, tokens)
            found = len(ahead) - (cached(store) - files)  # a request that rendered added a file
    print(f"clips of {args.seconds:g} s, {args.events} events x 2 masks (admin unmasked, viewer masked)")
    print(f"  cold (rendered on request): median wait {statistics.median(cold):.2f} s, max {max(cold):.2f} s")
    print(
        f"  rendered ahead: median wait {statistics.median(ahead):.3f} s, max {max(ahead):.3f} s; "
        f"{found} of {len(ahead)} found already rendered; background rendering took {rendered_in:.1f} s"
    )
    print(f"  machine: {describe_machine()}")


if __name__ == "__main__":
    main()
