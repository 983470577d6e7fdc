"""The search cache against a camera that keeps storing tracks: search answers computed per second and
the server's CPU per search, with the writes arriving at a fixed rate (so the figures do not hang on
how fast the pipeline runs on a busy machine, as ``bench/api.py``'s do).

    .venv/bin/python bench/api_cache.py [--prepared DIR] [--rate 2] [--seconds 20] [--clients 8]

The app runs in this process (FastAPI's TestClient) on a copy of ``bench/api.py``'s prepared data
(the sample indexed once). A second database connection plays the pipeline process: ``--rate``
times a second it stores a track (a copy of a stored one, a minute later, with its boxes) and
indexes it, and its writes reach the server as the pipeline's do (``WriteReporter`` over a pipe
to ``ProcessRunner``). ``--clients`` threads ask the six queries of ``bench/api.py`` in turn.
Prints the searches served, the answers computed (calls of the search engine) per second, and the
CPU per search of the server and its clients together (this process's CPU less the camera
thread's: the clients' share is the same whatever the cache does).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from multiprocessing import Pipe
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import QUERIES, prepare  # noqa: E402
from machine import describe_machine  # noqa: E402

PASSWORD = "bench-password-1"
CACHED = ("tracks", "track_terms", "search_zones", "cameras", "events")


def store_track(store, shift: float) -> None:
    """A copy of the oldest track ``shift`` seconds later, with its boxes, indexed."""
    from sqlalchemy import insert, select

    from scenewatch.search.index import index_tracks
    from scenewatch.store.schema import boxes, tracks

    with store.engine.begin() as conn:
        row = conn.execute(select(tracks).order_by(tracks.c.id).limit(1)).mappings().one()
        values = {k: v for k, v in row.items() if k != "id"}
        values.update(first_ts=row["first_ts"] + shift, last_ts=row["last_ts"] + shift)
        new = conn.execute(insert(tracks).values(**values).returning(tracks.c.id)).scalar_one()
        copied = conn.execute(select(boxes).where(boxes.c.track_id == row["id"])).mappings().all()
        conn.execute(
            insert(boxes), [{**{k: v for k, v in b.items() if k != "id"}, "track_id": new} for b in copied]
        )
        index_tracks(conn, values["camera_id"], [(new, values)])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--prepared", type=Path, default=None, help="bench/api.py's prepared data")
    parser.add_argument("--rate", type=float, default=2.0, help="tracks the camera stores a second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    print(describe_machine())

    from fastapi.testclient import TestClient

    import scenewatch.search.engine as engine
    from scenewatch.api import auth, create_app
    from scenewatch.api.child_process import Outbox
    from scenewatch.api.context import ServerOptions
    from scenewatch.api.live_frames import LiveFrames
    from scenewatch.api.pipeline_child import WriteReporter
    from scenewatch.api.pipeline_process import ProcessRunner
    from scenewatch.config import AppConfig
    from scenewatch.store.data import DataStore

    work = Path(tempfile.mkdtemp(prefix="sw-bench-cache-"))
    data = work / "data"
    try:
        if args.prepared is not None and (args.prepared / "scenewatch.db").is_file():
            shutil.copytree(args.prepared, data)
        else:
            prepare(data)
        store = DataStore.open(data)
        auth.create_user(store.engine, "bench", PASSWORD, "admin")
        settings = AppConfig()
        runner = ProcessRunner(store, settings, LiveFrames())  # never started: the pipe is played here
        app = create_app(store, settings, runner=runner, options=ServerOptions())
        computed = [0]
        search = engine.search

        def counted(*a, **k):
            computed[0] += 1
            return search(*a, **k)

        engine.search = counted
        camera = DataStore.open(data)
        reports, child_end = Pipe(duplex=False)
        WriteReporter(camera.engine, CACHED, Outbox(child_end))
        stop = threading.Event()
        camera_cpu = [0.0]

        def camera_loop() -> None:  # stores tracks and relays its reports, as the pipe's two ends
            n = 0
            while not stop.wait(1 / args.rate):
                n += 1
                store_track(camera, 60.0 * n)
                while reports.poll(0):
                    kind, *rest = reports.recv()
                    runner._handle(kind, rest)
            camera_cpu[0] = time.thread_time()

        with TestClient(app) as client:
            token = client.post(
                "/api/auth/login", json={"username": "bench", "password": PASSWORD, "bearer": True}
            ).json()["token"]
            headers = {"authorization": f"Bearer {token}"}
            for query in QUERIES:
                client.get("/api/search", params={"q": query, "limit": 20}, headers=headers)
            served = [0]

            def ask(offset: int) -> None:
                n = offset
                while not stop.is_set():
                    n += 1
                    answer = client.get(
                        "/api/search", params={"q": QUERIES[n % len(QUERIES)], "limit": 20}, headers=headers
                    )
                    assert answer.status_code == 200, answer.text
                    served[0] += 1

            writer = threading.Thread(target=camera_loop)
            askers = [threading.Thread(target=ask, args=(i,)) for i in range(args.clients)]
            computed[0], cpu, started = 0, time.process_time(), time.monotonic()
            for thread in [writer, *askers]:
                thread.start()
            time.sleep(args.seconds)
            stop.set()
            for thread in [writer, *askers]:
                thread.join()
            elapsed = time.monotonic() - started
            cpu_used = time.process_time() - cpu - camera_cpu[0]
        print(
            f"camera storing {args.rate:g} tracks/s, {args.clients} clients, {elapsed:.0f} s: "
            f"{served[0]} searches, {computed[0] / elapsed:.1f} answers computed a second "
            f"({computed[0] / max(1, served[0]) * 100:.1f} per 100 searches); server and clients CPU "
            f"{cpu_used * 1000 / max(1, served[0]):.2f} ms a search"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
