"""How fresh the cached search and event answers are, and what they cost: the cameras' writes (made
in the pipeline process, reported over its pipe) show within ``fresh_s`` without a recomputation
per write; the server's own writes show at once; concurrent misses compute once; an outdated
answer is recomputed in the background while it may still be served."""

from __future__ import annotations

import asyncio
import threading
import time
from multiprocessing import Pipe
from pathlib import Path
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from test_api import bearer, seed_store

from scenewatch.api import cache, create_app
from scenewatch.api.cache import ResponseCache, cached_answer
from scenewatch.api.child_process import Outbox
from scenewatch.api.context import ServerOptions
from scenewatch.api.live_frames import LiveFrames
from scenewatch.api.pipeline_child import WriteReporter
from scenewatch.api.pipeline_process import ProcessRunner
from scenewatch.search.index import reindex
from scenewatch.store.data import DataStore
from scenewatch.store.schema import tracks

CACHED = ("tracks", "track_terms", "search_zones", "cameras", "events")
DEADLINE_S = 60.0


class Clock:
    """``time.monotonic`` of the cache module, moved by hand."""

    def __init__(self, monkeypatch):
        self.now = 1000.0
        monkeypatch.setattr(cache, "time", SimpleNamespace(monotonic=lambda: self.now))


def test_an_outdated_answer_is_served_within_fresh_s_and_due_again_before_it(monkeypatch):
    clock = Clock(monkeypatch)
    answers = ResponseCache(ttl_s=5.0, fresh_s=1.0)
    answers.put("q", b"old", seen=(1,))
    assert answers.lookup("q", (1,)) == (b"old", False)  # current
    clock.now += 0.7
    assert answers.lookup("q", (2,)) == (b"old", False)  # outdated, young: served as it is
    clock.now += 0.1
    assert answers.lookup("q", (2,)) == (b"old", True)  # outdated, near fresh_s: recompute it
    clock.now += 0.2
    assert answers.lookup("q", (2,)) == (None, False)  # fresh_s after it began: never served
    answers.put("q", b"new", seen=(2,))
    clock.now += 4.9
    assert answers.lookup("q", (2,)) == (b"new", False)  # current: served until ttl_s
    clock.now += 0.2
    assert answers.lookup("q", (2,)) == (None, False)  # writers no one reports: seen after ttl_s


def test_concurrent_misses_of_one_key_compute_it_once():
    answers = ResponseCache()
    release, calls = threading.Event(), []

    def compute() -> bytes:
        calls.append(1)
        release.wait(DEADLINE_S)
        return b"answer"

    got: list[bytes] = []
    threads = [threading.Thread(target=lambda: got.append(answers.fill("q", compute))) for _ in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + DEADLINE_S
    while not answers.busy("q") and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the other seven reach the gate
    release.set()
    for thread in threads:
        thread.join(DEADLINE_S)
    assert got == [b"answer"] * 8
    assert len(calls) == 1 and answers.computed == 1


def test_a_due_answer_is_served_while_it_is_computed_again_in_the_background(monkeypatch):
    clock = Clock(monkeypatch)
    answers = ResponseCache(fresh_s=1.0)
    version = [1]
    values = iter([b"first", b"second"])

    async def ask() -> bytes:
        return await cached_answer(answers, "q", lambda: next(values), lambda: tuple(version))

    async def scenario() -> list[bytes]:
        seen = [await ask()]  # a miss: computed in a worker thread
        version[0] = 2  # the cameras wrote
        clock.now += 0.8  # near fresh_s
        seen.append(await ask())  # the old answer at once; the new one computed behind it
        deadline = time.monotonic() + DEADLINE_S
        while answers.computed < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        seen.append(await ask())
        return seen

    assert asyncio.run(scenario()) == [b"first", b"first", b"second"]
    assert answers.computed == 2


def _newer_track(store: DataStore) -> int:
    """A copy of the newest track, a minute later, indexed: what a camera stores."""
    with store.engine.begin() as conn:
        row = conn.execute(select(tracks).order_by(tracks.c.first_ts.desc()).limit(1)).mappings().one()
        values = {k: v for k, v in row.items() if k != "id"}
        values.update(first_ts=row["first_ts"] + 60, last_ts=row["last_ts"] + 60, tracker_id=99)
        track_id = conn.execute(insert(tracks).values(**values).returning(tracks.c.id)).scalar_one()
    reindex(store.engine)
    return track_id


def _result_ids(client: TestClient, headers: dict[str, str]) -> list[int]:
    answer = client.get("/api/search?q=person", headers=headers)
    assert answer.status_code == 200
    return [hit["track_id"] for hit in answer.json()["results"]]


def test_the_cameras_writes_show_in_search_within_fresh_s_without_a_recomputation_each(tmp_path: Path):
    store, settings = seed_store(tmp_path / "data")
    runner = ProcessRunner(store, settings, LiveFrames())  # not started: its pipe is played below
    app = create_app(store, settings, runner=runner, options=ServerOptions())
    # the cameras' process: its own database connection, its writes reported as the child does
    camera_store = DataStore.open(tmp_path / "data")
    reports, child_end = Pipe(duplex=False)
    WriteReporter(camera_store.engine, CACHED, Outbox(child_end))

    def relay() -> None:  # the server's side of the pipe (ProcessRunner._pump)
        while reports.poll(0.05):
            kind, *rest = reports.recv()
            runner._handle(kind, rest)

    with TestClient(app) as client:
        admin = bearer(client, "admin")
        answers = app.state.ctx.search_cache
        answers.fresh_s = answers.ttl_s = DEADLINE_S  # while an answer may lag: none per write
        before = _result_ids(client, admin)
        computed = answers.computed
        for _ in range(3):
            new = _newer_track(camera_store)
            relay()
            assert _result_ids(client, admin) == before  # within fresh_s: the answer held
        assert answers.computed == computed

        answers.fresh_s = 0.5  # past fresh_s the cameras' tracks show
        deadline = time.monotonic() + DEADLINE_S
        while new not in (shown := _result_ids(client, admin)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert new in shown and answers.computed > computed

        answers.fresh_s = DEADLINE_S  # the server's own writes show at once, however fresh_s
        mine = _newer_track(store)
        assert mine in _result_ids(client, admin)
    camera_store.engine.dispose()


def test_an_outdated_answer_is_served_past_fresh_s_only_while_its_successor_is_computed(monkeypatch):
    # a slow recomputation (a busy machine) must not make every request wait for it
    clock = Clock(monkeypatch)
    answers = ResponseCache(ttl_s=5.0, fresh_s=1.0)
    answers.put("q", b"old", seen=(1,))
    started, release = threading.Event(), threading.Event()

    def compute() -> bytes:
        started.set()
        release.wait(DEADLINE_S)
        return b"new"

    clock.now += 0.8
    worker = threading.Thread(target=answers.fill, args=("q", compute, lambda: (2,)))
    worker.start()
    assert started.wait(DEADLINE_S)
    clock.now += 1.0  # past fresh_s, the successor still computing
    assert answers.lookup("q", (2,)) == (b"old", True)
    clock.now += 3.3  # past ttl_s: never served, however long the computation takes
    assert answers.lookup("q", (2,)) == (None, False)
    release.set()
    worker.join(DEADLINE_S)
    assert answers.lookup("q", (2,)) == (b"new", False)
