"""API latency under load: p50/p95 of search and event listing with 50 concurrent clients while the
pipeline runs (the real `scenewatch serve` process, sample footage as a live camera).

    .venv/bin/python bench/api.py [--clients 50] [--seconds 30] [--warmup 20]
        [--pipeline process|thread|both|none] [--rounds N] [--cost-seconds S] [--profile DIR]
        [--prepared DIR] [--client lean|httpx]

Before the runs it indexes the sample footage once (so search has real tracks) and seeds some
events; each run starts `scenewatch serve` on a copy of that data on a free port (the cameras in
their own process, or with `thread` in threads of the server: `serve --pipeline-thread`), waits
for the pipeline to run, signs in with a bearer token, then has ``--clients`` concurrent clients
alternate search queries and event listings. ``both`` interleaves the two, ``--rounds`` times each;
``none`` serves with no cameras (``--no-pipeline``): the API's own floor on this machine.
Prints per run the figures, the load average of the machine before and after the load, the
pipeline's detections per second during the load with its lag (from the server's Prometheus
metrics) and the cores the server's child processes (pipeline, clip renderer) used then, the
server process's CPU milliseconds per request (over the mixed load, then over ``--cost-seconds``
of search alone and of events alone: with a closed loop of clients, p95 follows this cost; the
server's own background work is included, so its CPU per second during the warm-up, with no
requests, is printed beside) and the clients' own CPU (this process), then the medians per mode
and the machine; target p95 <= 200 ms. ``--profile DIR`` samples the server with py-spy during
the load (collapsed stacks, one file per run).

The clients share the server's cores here (real ones are browsers elsewhere), so they are made
cheap: each of the ``--clients`` keeps one HTTP/1.1 connection alive and sends its GETs on it with
the small client of ``bench/http_client.py`` on uvloop, about 0.1 ms of CPU a request. Until
7 Dec 2026 they were httpx clients on the standard loop (``--client httpx``), about 1.2-1.4 ms a
request: 0.4 of the 2 cores at 280 requests/s, taken from the server and the pipeline. The request
mix (searches of the six queries in turn alternating with event pages) and the 50 concurrent
clients are unchanged; figures before that date were measured with httpx clients. A request that
fails (connection refused or broken, 30 s without an answer) is counted among the errors and the
client goes on, where it used to end the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np

try:
    import uvloop
except ImportError:  # Windows: the standard loop
    uvloop = None

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_client import HttpError, KeepAliveClient  # noqa: E402
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
    store.engine.dispose()  # the database complete in its file: runs start on copies of it


def request_path(kind: str, n: int) -> str:
    """The n-th request of a client: one of the queries in turn, or the first event page."""
    if kind == "search":
        return f"/api/search?q={quote(QUERIES[n % len(QUERIES)])}&limit=20"
    return "/api/events?limit=50"


async def client(
    base: str,
    token: str,
    stop_at: float,
    lat: dict[str, list[float]],
    errors: list[str],
    kinds: tuple[str, ...],
    lean: bool = True,
) -> None:
    headers = {"authorization": f"Bearer {token}"}
    if lean:
        http: KeepAliveClient | httpx.AsyncClient = KeepAliveClient(base, headers, timeout=30)
    else:
        http = httpx.AsyncClient(base_url=base, headers=headers, timeout=30)
    async with http:
        n = random.randrange(1000)
        while time.monotonic() < stop_at:
            n += 1
            kind = kinds[n % len(kinds)]
            started = time.perf_counter()
            try:
                if isinstance(http, KeepAliveClient):
                    status, _body = await http.get(request_path(kind, n))
                else:
                    status = (await http.get(request_path(kind, n))).status_code
            except (TimeoutError, HttpError, httpx.HTTPError, OSError) as exc:
                errors.append(f"{kind}: {type(exc).__name__}")
                await asyncio.sleep(0.1)  # a server gone refuses at once: no busy loop meanwhile
                continue
            lat[kind].append(time.perf_counter() - started)
            if status != 200:
                errors.append(f"{kind}: {status}")


async def load(
    base: str,
    token: str,
    clients: int,
    seconds: float,
    kinds: tuple[str, ...] = ("events", "search"),
    lean: bool = True,
) -> tuple[dict[str, list[float]], list[str]]:
    lat: dict[str, list[float]] = {"search": [], "events": []}
    errors: list[str] = []
    stop_at = time.monotonic() + seconds
    await asyncio.gather(*(client(base, token, stop_at, lat, errors, kinds, lean) for _ in range(clients)))
    return lat, errors


def run_load(*args, **kwargs) -> tuple[dict[str, list[float]], list[str]]:
    """:func:`load` on uvloop where it is installed (the clients' own CPU counts here)."""
    runner = getattr(uvloop, "run", None) if uvloop is not None else None
    return (runner or asyncio.run)(load(*args, **kwargs))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (not its children: the pipeline process is apart)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the processes ``pid`` started (the pipeline, the clip renderer)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def profile(pid: int, mode: str, args: argparse.Namespace) -> subprocess.Popen:
    """py-spy sampling the server (all its threads, native frames left out) over the load, as
    collapsed stacks (one "frame;frame;... count" a line) in ``args.profile``."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile / f"api-{mode}-{time.strftime('%H%M%S')}.txt"
    command = [spy, "record", "-p", str(pid), "-d", str(int(args.seconds)), "-r", "100", "-f", "raw"]
    return subprocess.Popen([*command, "-o", str(out)], stdout=subprocess.DEVNULL)


def cpu_per_request(pid: int, base: str, token: str, args: argparse.Namespace) -> dict[str, float]:
    """The server's CPU milliseconds per request of each kind: a load of that kind alone."""
    cost = {}
    for kind in ("search", "events"):
        before = cpu_seconds(pid)
        lat, _errors = run_load(base, token, args.clients, args.cost_seconds, (kind,), args.client == "lean")
        cost[kind] = (cpu_seconds(pid) - before) * 1000 / max(1, len(lat[kind]))
    return cost


def scrape(url: str) -> dict[str, float]:
    """The sample camera's figures from the server's Prometheus text (name -> value)."""
    figures = {}
    for line in httpx.get(url, timeout=10).text.splitlines():
        if line.startswith("scenewatch_camera_") and 'camera="sample"' in line:
            figures[line.split("{")[0]] = float(line.rsplit(" ", 1)[1])
    return figures


def run_once(prepared: Path, pipeline: str, args: argparse.Namespace) -> dict:
    """One server on a copy of the prepared data, loaded for ``args.seconds``; its figures."""
    data = Path(tempfile.mkdtemp(prefix=f"sw-bench-api-{pipeline}-")) / "data"
    shutil.copytree(prepared, data)
    port = free_port()
    cli = str(Path(sys.executable).parent / "scenewatch")
    command = [cli, "--data", str(data), "serve", "--port", str(port), "--metrics-port", "0"]
    command += ["--pipeline-nice", str(args.nice)] if pipeline == "process" and args.nice else []
    server = subprocess.Popen(
        command + {"thread": ["--pipeline-thread"], "none": ["--no-pipeline"]}.get(pipeline, []),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert server.stdout is not None
    try:
        password = metrics_url = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if found := re.search(r"password: (\S+)", line):
                password = found.group(1)
            if found := re.search(r"metrics at (\S+)", line):
                metrics_url = found.group(1)
            if "SceneWatch is at" in line:
                break
        assert password and metrics_url, "the server did not print the admin's password and metrics URL"
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
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
        auth = {"authorization": f"Bearer {token}"}
        for query in QUERIES:  # the first search loads the search modules: not part of the cost
            httpx.get(base + "/api/search", params={"q": query, "limit": 20}, headers=auth, timeout=60)
        httpx.get(base + "/api/events?limit=50", headers=auth, timeout=60)
        idle_cpu, idle_from = cpu_seconds(server.pid), time.monotonic()
        time.sleep(args.warmup)
        # what the server spends with no requests (relaying the pipeline's live frames, metrics)
        idle_ms_per_s = (cpu_seconds(server.pid) - idle_cpu) * 1000 / (time.monotonic() - idle_from)
        running = httpx.get(base + "/api/health", headers=auth).json()["pipeline"]["running"]
        before, load_before, started = scrape(metrics_url), os.getloadavg()[0], time.monotonic()
        cpu_before, client_before = cpu_seconds(server.pid), time.process_time()
        children_before = children_cpu_seconds(server.pid)
        profiler = profile(server.pid, pipeline, args) if args.profile else None
        lat, errors = run_load(base, token, args.clients, args.seconds, lean=args.client == "lean")
        if profiler is not None:
            profiler.wait(60)
        served = max(1, sum(map(len, lat.values())))
        cpu_mixed = (cpu_seconds(server.pid) - cpu_before) * 1000 / served
        client_ms = (time.process_time() - client_before) * 1000 / served
        children_cores = (children_cpu_seconds(server.pid) - children_before) / (time.monotonic() - started)
        after, load_after = scrape(metrics_url), os.getloadavg()[0]
        elapsed = time.monotonic() - started
        still = httpx.get(base + "/api/health", headers=auth).json()["pipeline"]["running"]
        cost = cpu_per_request(server.pid, base, token, args) if args.cost_seconds > 0 else {}
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(data.parent, ignore_errors=True)
    detected = "scenewatch_camera_frames_detected_total"
    figures = {
        "mode": pipeline,
        "pipeline": f"{pipeline} nice {args.nice}" if pipeline == "process" and args.nice else pipeline,
        "running": running and still,
        "load": (load_before, load_after),
        "detect_per_s": (after.get(detected, 0.0) - before.get(detected, 0.0)) / elapsed,
        "lag_p95_s": after.get("scenewatch_camera_lag_p95_seconds", float("nan")),
        "errors": errors,
        "cpu_ms": cpu_mixed,
        "idle_ms_per_s": idle_ms_per_s,
        "client_ms": client_ms,
        "client_cores": client_ms * served / 1000 / elapsed,
        "children_cores": children_cores,
        "cost": cost,
    }
    for kind, values in lat.items():
        ms = np.array(values) * 1000
        figures[kind] = (len(ms), *np.percentile(ms, [50, 95, 99]))
    return figures


def report(f: dict, seconds: float) -> None:
    print(
        f"[{f['pipeline']:7s}] load average {f['load'][0]:.1f} -> {f['load'][1]:.1f}; pipeline running "
        f"{f['running']}, {f['detect_per_s']:.2f} detections/s during the load, lag p95 {f['lag_p95_s']:.2f} s; "
        f"errors {len(f['errors'])} {sorted(set(f['errors']))[:3]}; the server's child processes "
        f"(pipeline, clip renderer) {f['children_cores']:.2f} cores"
    )
    alone = "".join(f", {kind} alone {ms:.1f}" for kind, ms in f["cost"].items())
    print(
        f"[{f['pipeline']:7s}] server CPU ms per request: mixed {f['cpu_ms']:.1f}{alone}; "
        f"idle before the load {f['idle_ms_per_s']:.0f} ms/s; the clients (this process) "
        f"{f['client_ms']:.1f} ms per request, {f['client_cores']:.2f} cores"
    )
    for kind in ("search", "events"):
        n, p50, p95, p99 = f[kind]
        verdict = "ok" if p95 <= 200 else "OVER the 200 ms target"
        print(
            f"[{f['pipeline']:7s}] {kind:7s} n={n:5d}  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms  "
            f"{n / seconds:6.1f} req/s  -> {verdict}",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--warmup", type=float, default=20.0, help="seconds of pipeline running before the load"
    )
    parser.add_argument(
        "--pipeline",
        choices=["process", "thread", "both", "none"],
        default="process",
        help="where the server runs its cameras (both: interleaved runs of each; none: no cameras, "
        "the API's own floor)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs of each mode")
    parser.add_argument(
        "--client",
        choices=["lean", "httpx"],
        default="lean",
        help="the load generator's HTTP client (httpx: the one used before, about 5x the CPU a request)",
    )
    parser.add_argument("--nice", type=int, default=0, help="serve --pipeline-nice N (process mode)")
    parser.add_argument(
        "--prepared",
        type=Path,
        default=None,
        help="keep the indexed sample in this folder and reuse it in later runs (made when missing)",
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="folder for a py-spy profile of the server per run"
    )
    parser.add_argument(
        "--cost-seconds",
        type=float,
        default=10.0,
        help="after the load, this long of search alone then events alone: the server's CPU ms per "
        "request of each (0: skip)",
    )
    args = parser.parse_args()
    print(describe_machine())
    if args.prepared is not None and (args.prepared / "scenewatch.db").is_file():
        prepared = args.prepared
        print(f"using the prepared data in {prepared}", flush=True)
    else:
        prepared = args.prepared or Path(tempfile.mkdtemp(prefix="sw-bench-api-")) / "data"
        print(f"preparing {prepared} (indexing the sample once) ...", flush=True)
        prepare(prepared)
    modes = ["thread", "process"] if args.pipeline == "both" else [args.pipeline]
    results: list[dict] = []
    try:
        for _ in range(args.rounds):
            for mode in modes:
                results.append(run_once(prepared, mode, args))
                report(results[-1], args.seconds)
    finally:
        if args.prepared is None:
            shutil.rmtree(prepared.parent, ignore_errors=True)
    if len(results) > len(modes):
        print("medians over the runs:")
        for mode in modes:
            runs = [r for r in results if r["mode"] == mode]
            line = ", ".join(
                f"{kind} p50 {np.median([r[kind][1] for r in runs]):.0f} / p95 "
                f"{np.median([r[kind][2] for r in runs]):.0f} ms"
                for kind in ("search", "events")
            )
            rate = np.median([r["detect_per_s"] for r in runs])
            cpu = "".join(
                f", {kind} {np.median([r['cost'][kind] for r in runs]):.1f}"
                for kind in ("search", "events")
                if all(kind in r["cost"] for r in runs)
            )
            print(
                f"  {mode:7s} ({len(runs)} runs): {line}; {rate:.2f} detections/s; "
                f"server CPU ms per request: mixed {np.median([r['cpu_ms'] for r in runs]):.1f}{cpu}; "
                f"cores: child processes {np.median([r['children_cores'] for r in runs]):.2f}, "
                f"clients {np.median([r['client_cores'] for r in runs]):.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
