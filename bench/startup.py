"""Seconds from `make run` (models already cached) until the UI answers and the first track shows.

Starts the real command in a fresh temporary data folder on a free port: by default
``make -s run DATA=DIR PORT=N`` from the project root (all that `make run` does on a machine that
is set up: the step checks, ``models fetch``, then ``serve`` on the sample footage), with
``--serve-only`` just ``.venv/bin/scenewatch --data DIR serve --port N``. It polls every 0.1 s:

- ui: ``GET /`` answers 200 (after its redirect to the UI's first page);
- api: ``GET /api/version`` answers 200;
- live track: signed in as the first admin (its password read from the output), the sample
  camera's live objects (``/api/cameras/sample/objects``, the boxes the Live page draws) are
  not empty;
- stored track: ``GET /api/tracks?camera=sample`` is not empty.

Then it stops the command with Ctrl-C (SIGINT to its process group) and waits for it to exit.
Each run prints the seconds, the CPU seconds its processes had used by then (less sensitive than
the wall clock to a busy machine) and the 1-minute load average at its start; ``--verbose`` adds
when each output line came. ``--compare DIR`` alternates runs of the working tree with runs of
the ``scenewatch`` package in DIR (another checkout, put first on PYTHONPATH), so that both see
the same machine, and prints the ratio of their medians.

    .venv/bin/python bench/startup.py --runs 3
    .venv/bin/python bench/startup.py --runs 3 --serve-only --compare /tmp/before
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CAMERA = "sample"  # the embedded default config's camera
MARKS = ("ui", "api", "live track", "stored track")
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_cpu(session: int) -> float:
    """CPU seconds used by the processes of ``session``, with their children that have ended."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[3]) == session:  # fields from the state on: state ppid pgrp session ...
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / TICK


class Output:
    """The command's output lines, each with the second it came, read on a thread."""

    def __init__(self, stream, started: float):
        self.lines: list[tuple[float, str]] = []
        self.started = started
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append((time.monotonic() - self.started, line.rstrip()))

    def password(self) -> str | None:
        found = [line.split("password:", 1)[1].strip() for _, line in self.lines if "password:" in line]
        return found[0] if found else None


def one_run(args: argparse.Namespace, label: str, tree: Path | None) -> dict[str, tuple[float, float]]:
    """One start; returns per mark (seconds, CPU seconds)."""
    data = Path(tempfile.mkdtemp(prefix="scenewatch-startup-"))
    port = free_port()
    if args.serve_only:
        command = [str(ROOT / ".venv/bin/scenewatch"), "--data", str(data), "serve", "--port", str(port)]
    else:
        command = ["make", "-s", "--no-print-directory", "run", f"DATA={data}", f"PORT={port}"]
    load = os.getloadavg()[0]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # output lines timed as they are printed
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, env=env,
    )  # fmt: skip
    output = Output(process.stdout, started)
    base = f"http://127.0.0.1:{port}"
    marks: dict[str, tuple[float, float]] = {}
    token: str | None = None
    try:
        with httpx.Client(timeout=5.0, follow_redirects=True) as client:  # / goes to the Live page
            while len(marks) < len(MARKS) and time.monotonic() - started < args.timeout:
                if process.poll() is not None:
                    raise SystemExit(f"{label}: the command ended early:\n" + _tail(output))
                now = (time.monotonic() - started, session_cpu(process.pid))
                try:
                    if "ui" not in marks and client.get(base + "/").status_code == 200:
                        marks["ui"] = now
                    if "api" not in marks and client.get(base + "/api/version").status_code == 200:
                        marks["api"] = now
                    if token is None and (password := output.password()):
                        token = _sign_in(client, base, password)
                    if token is not None:
                        _poll_tracks(client, base, token, marks, now)
                except httpx.TransportError:
                    pass  # not listening yet
                time.sleep(0.1)
    finally:
        stop_started = time.monotonic()
        _stop(process)
        stopped = time.monotonic() - stop_started
        shutil.rmtree(data, ignore_errors=True)
    shown = ", ".join(
        f"{name} {marks[name][0]:.1f} s (CPU {marks[name][1]:.1f} s)" if name in marks else f"{name} -"
        for name in MARKS
    )
    print(f"{label}: {shown}; stopped in {stopped:.1f} s; load average at start {load:.1f}", flush=True)
    if args.verbose:
        for at, line in output.lines:
            if "password:" not in line:
                print(f"  {at:6.1f} s  {line}")
    return marks


def _sign_in(client: httpx.Client, base: str, password: str) -> str | None:
    body = {"username": "admin", "password": password, "bearer": True}
    answer = client.post(base + "/api/auth/login", json=body)
    return answer.json()["token"] if answer.status_code == 200 else None


def _poll_tracks(client: httpx.Client, base: str, token: str, marks: dict, now: tuple[float, float]) -> None:
    headers = {"authorization": f"Bearer {token}"}
    if "live track" not in marks:
        answer = client.get(f"{base}/api/cameras/{CAMERA}/objects", headers=headers)
        if answer.status_code == 200 and answer.json()["objects"]:
            marks["live track"] = now
    if "stored track" not in marks:
        answer = client.get(f"{base}/api/tracks", params={"camera": CAMERA}, headers=headers)
        if answer.status_code == 200 and answer.json():
            marks["stored track"] = now


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C to the command's process group (make and the server it started), then harder."""
    for sig, wait in ((signal.SIGINT, 40), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            print(f"  (still running {wait} s after {sig.name})")


def _tail(output: Output, lines: int = 20) -> str:
    return "\n".join(f"  {t:6.1f} s  {line}" for t, line in output.lines[-lines:])


def medians(runs: list[dict[str, tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    return {
        name: (statistics.median(r[name][0] for r in runs), statistics.median(r[name][1] for r in runs))
        for name in MARKS
        if all(name in r for r in runs)
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve-only", action="store_true", help="run `scenewatch serve`, not `make run`")
    parser.add_argument("--compare", type=Path, help="alternate with runs of the scenewatch package in DIR")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up on a run after this long")
    parser.add_argument("--verbose", action="store_true", help="print the command's output with times")
    args = parser.parse_args()
    from scenewatch.models import MODEL_NAMES, ModelStore

    missing = [name for name in MODEL_NAMES if not (ModelStore().cache_dir / name).is_file()]
    if missing:
        raise SystemExit(f"models not cached: {', '.join(missing)} (run `make models` first)")
    print(f"machine: {describe_machine()}")
    what = "scenewatch serve" if args.serve_only else "make run"
    print(f"{what}, models cached, a fresh data folder each run; seconds from the start:")
    trees: dict[str, Path | None] = {"working tree": None}
    if args.compare is not None:
        trees[str(args.compare)] = args.compare.resolve()
    runs: dict[str, list] = {name: [] for name in trees}
    for number in range(1, args.runs + 1):
        for name, tree in trees.items():
            runs[name].append(one_run(args, f"run {number} ({name})", tree))
    found = {name: medians(done) for name, done in runs.items()}
    for name, figures in found.items():
        shown = ", ".join(f"{mark} {wall:.1f} s (CPU {cpu:.1f} s)" for mark, (wall, cpu) in figures.items())
        print(f"median of {args.runs} ({name}): {shown}")
    if args.compare is not None:
        mine, other = found["working tree"], found[str(args.compare)]
        ratios = [f"{mark} {mine[mark][0] / other[mark][0]:.2f}" for mark in mine if mark in other]
        print(f"working tree / {args.compare}, seconds: {', '.join(ratios)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
