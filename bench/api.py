"""API latency under load: p50/p95 of search and event listing with 50 concurrent clients while the
pipeline runs (the real `scenewatch serve` process, sample footage as a live camera).

    .venv/bin/python bench/api.py [--clients 50] [--seconds 30] [--warmup 20]

Before the run it indexes the sample footage once (so search has real tracks), seeds some events,
starts `scenewatch serve` on a free port, waits for the pipeline to run, signs in with a bearer
token, then has ``--clients`` concurrent clients alternate search queries and event listings.
Prints the figures and the machine; target p95 <= 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["person", "person walking", "person in a red top", "穿红色上衣的人", "person in black", "car"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(data: Path) -> None:
    """Index the sample once and seed 200 events, so both endpoints read real rows."""
    from scenewatch.config import AppConfig
    from scenewatch.pipeline import index_file
    from scenewatch.rules.events import Event
    from scenewatch.rules.store import save_event
    from scenewatch.samples import sample_video
    from scenewatch.store import repo
    from scenewatch.store.data import DataStore

    store = DataStore.open(data)
    index_file(store, AppConfig(), sample_video(), "archive", detect_fps=5)
    cam = repo.camera_id(store.engine, "archive")
    now = time.time()
    for n in range(200):
        event = Event(f"bench-{n}", "door", "intrusion", "archive", now - n * 30, now - n * 30 + 5, [1], {})
        save_event(store.engine, store.media, event, cam)


async def client(
    base: str, token: str, stop_at: float, lat: dict[str, list[float]], errors: list[str]
) -> None:
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        n = random.randrange(1000)
        while time.monotonic() < stop_at:
            n += 1
            kind = "search" if n % 2 else "events"
            path = (
                f"/api/search?q={QUERIES[n % len(QUERIES)]}&limit=20"
                if kind == "search"
                else "/api/events?limit=50"
            )
            started = time.perf_counter()
            answer = await http.get(path)
            lat[kind].append(time.perf_counter() - started)
            if answer.status_code != 200:
                errors.append(f"{kind}: {answer.status_code}")


async def load(
    base: str, token: str, clients: int, seconds: float
) -> tuple[dict[str, list[float]], list[str]]:
    lat: dict[str, list[float]] = {"search": [], "events": []}
    errors: list[str] = []
    stop_at = time.monotonic() + seconds
    await asyncio.gather(*(client(base, token, stop_at, lat, errors) for _ in range(clients)))
    return lat, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--warmup", type=float, default=20.0, help="seconds of pipeline running before the load"
    )
    args = parser.parse_args()
    print(describe_machine())
    data = Path(tempfile.mkdtemp(prefix="sw-bench-api-"))
    print(f"preparing {data} (indexing the sample once) ...", flush=True)
    prepare(data)
    port = free_port()
    cli = str(Path(sys.executable).parent / "scenewatch")
    server = subprocess.Popen(
        [cli, "--data", str(data), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        password = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if found := re.search(r"password: (\S+)", line):
                password = found.group(1)
            if "SceneWatch is at" in line:
                break
        assert password, "the server did not print the first admin's password"
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/api/version", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        token = httpx.post(
            base + "/api/auth/login", json={"username": "admin", "password": password, "bearer": True}
        ).json()["token"]
        # drain the server's output so its pipe never fills (progress lines every few seconds)
        import threading

        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
        time.sleep(args.warmup)
        health = httpx.get(base + "/api/health", headers={"authorization": f"Bearer {token}"}).json()
        print(
            f"pipeline running: {health['pipeline']['running']}; load: {args.clients} clients, {args.seconds:g} s"
        )
        lat, errors = asyncio.run(load(base, token, args.clients, args.seconds))
        health = httpx.get(base + "/api/health", headers={"authorization": f"Bearer {token}"}).json()
        still = health["pipeline"]["running"]
    finally:
        server.terminate()
        server.wait(30)
    print(f"pipeline still running after the load: {still}")
    for kind, values in lat.items():
        ms = np.array(values) * 1000
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        verdict = "ok" if p95 <= 200 else "OVER the 200 ms target"
        print(
            f"{kind:7s} n={len(ms):5d}  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms  "
            f"{len(ms) / args.seconds:6.1f} req/s  -> {verdict}"
        )
    print(f"errors: {len(errors)} {sorted(set(errors))[:5]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
